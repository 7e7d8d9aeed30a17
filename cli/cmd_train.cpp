// tern train: fine-tune an encoder + sequence-classification head on labelled texts (docs/training.md).
#include <cstdio>
#include <cstdlib>
#include <string>

#include "cli/args.h"
#include "cli/commands.h"
#include "tensor/check.h"
#include "train/trainer.h"

namespace tern::cli {

namespace {

const char* kHelp =
    "usage: tern train --model M.h5 --train DATA --labels a,b,c --out best.h5 [options]\n"
    "\n"
    "Fine-tunes a tern model (from tern convert) with a sequence-classification head on labelled texts.\n"
    "Validates every epoch, keeps the best epoch's model in --out (weights + config with labels +\n"
    "tokenizer + metadata 'training' with the recipe and per-epoch metrics + optimizer state for --resume).\n"
    "\n"
    "DATA: TweetEval <split>_text.txt[.gz] (+ <split>_labels.txt[.gz]) or its prefix <dir>/<split>; .csv\n"
    "(RFC 4180), .tsv (no quoting unless --quoting rfc4180) or .jsonl, any of them .gz.\n"
    "\n"
    "data:\n"
    "  --train DATA            training data (required)\n"
    "  --val DATA              validation data: metrics every epoch, best-epoch selection, early stopping\n"
    "  --test DATA             test data: metrics every epoch (reported, never used for selection)\n"
    "  --text-field F          column / key of the text (default text)\n"
    "  --label-field F         column / key of the label; repeat for multi-label (one 0/1 field per label)\n"
    "                          or multi-target regression (default label; multi with --labels: the names)\n"
    "  --skip-bad-rows         skip (and count) malformed rows instead of failing on the first\n"
    "  --quoting auto|rfc4180|none   CSV / TSV quoting (auto: CSV rfc4180, TSV none)\n"
    "  --normalize-tweets      TweetEval preprocessing (@handle -> @user, http... -> http) before "
    "tokenizing\n"
    "task:\n"
    "  --task single|multi|regression   (default single)\n"
    "  --labels a,b,c          class names in id order (labels in the data: ids or these names), or their\n"
    "                          number; default: the model's head labels; regression: the label fields\n"
    "  --loss ce|bce|mse|mae|huber|quantile   (default: ce / bce / mse by task)\n"
    "  --huber-delta D         (default 1)       --quantile-tau T   (default 0.5)\n"
    "  --label-smoothing X     cross-entropy label smoothing (default 0)\n"
    "  --class-weights auto|w1,w2,...   cross-entropy / BCE class weights (auto: sklearn 'balanced')\n"
    "  --target-scale none|log1p|robust regression target scaling, inverted for metrics (default none)\n"
    "optimisation:\n"
    "  --max-length N          tokens per text incl. special tokens (default 64)\n"
    "  --batch-size N          (default 32)       --grad-accum K   micro-batches per step (default 1)\n"
    "  --epochs N              (default 3)        --lr LR          peak learning rate (default 1e-4)\n"
    "  --warmup X              warm-up: fraction of the steps (0.06) or a step count (100) (default 0)\n"
    "  --weight-decay W        AdamW decoupled weight decay (default 0.01)\n"
    "  --no-decay-bias-ln      no weight decay for biases and LayerNorm weights (HF Trainer grouping)\n"
    "  --clip C                clip the global gradient norm at C (default 1.0; 0 = off)\n"
    "  --freeze-layers K       freeze the embeddings and the first K encoder layers\n"
    "  --head-only             freeze the whole encoder\n"
    "  --dropout default|P     the config's dropout probabilities, or P for all (default: default)\n"
    "  --seed S                init of new parameters, shuffling, dropout (default 42)\n"
    "  --threads N             threads (default: all cores); results are deterministic per seed and N\n"
    "selection and output:\n"
    "  --metric M              accuracy|macro_f1|macro_recall|micro_f1|mae|rmse|spearman|loss (val)\n"
    "  --early-stopping P      stop after P epochs without improvement of the val metric (default off)\n"
    "  --out FILE              best model (.h5), required\n"
    "  --save-last FILE        also save the state after every epoch (for --resume)\n"
    "  --resume CKPT           continue a run from a checkpoint of --out / --save-last (same options)\n"
    "  --eval-batch-size N     (default 64)       --max-steps N   stop after N optimizer steps\n"
    "  --no-progress           no progress bar on stderr\n";

}  // namespace

int cmd_train(int argc, char** argv) {
  Args a(argc, argv, {"model",           "train",         "val",          "test",
                      "text-field",      "label-field",   "quoting",      "task",
                      "labels",          "loss",          "huber-delta",  "quantile-tau",
                      "label-smoothing", "class-weights", "target-scale", "max-length",
                      "batch-size",      "grad-accum",    "epochs",       "lr",
                      "warmup",          "weight-decay",  "clip",         "freeze-layers",
                      "dropout",         "seed",          "threads",      "metric",
                      "early-stopping",  "out",           "save-last",    "resume",
                      "eval-batch-size", "max-steps"},
         {"skip-bad-rows", "normalize-tweets", "no-decay-bias-ln", "head-only", "no-progress"});
  if (a.help()) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  apply_threads(a);
  train::TrainConfig c;
  for (int i = 0; i < argc; ++i) c.command_line += (i ? " " : "tern ") + std::string(argv[i]);
  c.resume_path = a.get("resume").value_or("");
  c.model_path = c.resume_path.empty() ? a.require("model") : a.get("model").value_or("");
  c.train_path = a.require("train");
  c.val_path = a.get("val").value_or("");
  c.test_path = a.get("test").value_or("");
  c.out_path = a.require("out");
  c.save_last_path = a.get("save-last").value_or("");
  c.task = train::task_from_name(a.get("task").value_or("single"));
  if (auto l = a.get("labels")) {
    std::string cur;
    for (char ch : *l + ",") {
      if (ch == ',') {
        TERN_CHECK(!cur.empty(), "--labels: empty label name in '" << *l << "'");
        c.labels.push_back(cur);
        cur.clear();
      } else {
        cur += ch;
      }
    }
  }
  c.read.text_field = a.get("text-field").value_or("text");
  c.read.label_fields = a.get_all("label-field");
  c.read.skip_bad_rows = a.has("skip-bad-rows");
  const std::string q = a.get("quoting").value_or("auto");
  TERN_CHECK(q == "auto" || q == "rfc4180" || q == "none", "--quoting: auto, rfc4180 or none");
  c.read.quoting = q == "auto"   ? train::Quoting::Auto
                   : q == "none" ? train::Quoting::None
                                 : train::Quoting::Rfc4180;
  c.normalize_tweets = a.has("normalize-tweets");
  c.loss = a.get("loss").value_or("");
  c.huber_delta = static_cast<float>(a.get_double("huber-delta", 1.0));
  c.quantile_tau = static_cast<float>(a.get_double("quantile-tau", 0.5));
  c.label_smoothing = static_cast<float>(a.get_double("label-smoothing", 0.0));
  c.class_weights = a.get("class-weights").value_or("");
  c.target_scale = a.get("target-scale").value_or("none");
  c.max_length = a.get_int("max-length", 64);
  c.batch_size = a.get_int("batch-size", 32);
  c.grad_accum = a.get_int("grad-accum", 1);
  c.epochs = a.get_int("epochs", 3);
  c.eval_batch_size = a.get_int("eval-batch-size", 64);
  TERN_CHECK(c.eval_batch_size >= 1, "--eval-batch-size must be >= 1");
  c.max_steps = a.get_int("max-steps", 0);
  c.lr = a.get_double("lr", 1e-4);
  c.warmup = a.get("warmup").value_or("0");
  c.weight_decay = a.get_double("weight-decay", 0.01);
  c.no_decay_bias_ln = a.has("no-decay-bias-ln");
  c.clip = a.get_double("clip", 1.0);
  c.head_only = a.has("head-only");
  c.freeze_layers = a.get_int("freeze-layers", 0);
  TERN_CHECK(!(c.head_only && a.has("freeze-layers")), "give --head-only or --freeze-layers, not both");
  TERN_CHECK(c.freeze_layers >= 0, "--freeze-layers must be >= 0");
  c.dropout = a.get("dropout").value_or("default");
  {
    const std::string s = a.get("seed").value_or("42");
    char* end = nullptr;
    c.seed = std::strtoull(s.c_str(), &end, 10);
    TERN_CHECK(!s.empty() && s[0] != '-' && end && *end == 0,
               "--seed needs an integer >= 0, got '" << s << "'");
  }
  c.metric = a.get("metric").value_or("");
  c.early_stopping = a.get_int("early-stopping", 0);
  c.progress = !a.has("no-progress");
  return train::run_training(c);
}

}  // namespace tern::cli
