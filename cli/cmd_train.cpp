// tern train: fine-tune an encoder + sequence-classification head on labelled texts (docs/training.md).
#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "tensor/check.h"
#include "train/trainer.h"

namespace tern::cli {

namespace {

const char* kAbout =
    "Fine-tunes a tern model (from tern convert) with a sequence-classification head on labelled texts.\n"
    "Validates every epoch, keeps the best epoch's model in --out (weights + config with labels +\n"
    "tokenizer + metadata 'training' with the recipe and per-epoch metrics + optimizer state for --resume).\n"
    "\n"
    "DATA: TweetEval <split>_text.txt[.gz] (+ <split>_labels.txt[.gz]) or its prefix <dir>/<split>; .csv\n"
    "(RFC 4180), .tsv (no quoting unless --quoting rfc4180) or .jsonl, any of them .gz.";

}  // namespace

int cmd_train(int argc, char** argv) {
  CLI::App app("", "tern train");
  app.footer(kAbout);
  init_app(app);
  train::TrainConfig c;
  std::string task = "single", labels, quoting = "auto", seed = "42";
  int threads = 0;
  bool no_progress = false;

  const char* g = "data";
  app.add_option("--model", c.model_path, "tern model to fine-tune (.h5; not needed with --resume)")
      ->type_name("FILE")
      ->group(g);
  app.add_option("--train", c.train_path, "training data")->type_name("DATA")->required()->group(g);
  app.add_option("--val", c.val_path,
                 "validation data: metrics every epoch, best-epoch selection, early stopping")
      ->type_name("DATA")
      ->group(g);
  app.add_option("--test", c.test_path, "test data: metrics every epoch (reported, never used for selection)")
      ->type_name("DATA")
      ->group(g);
  app.add_option("--text-field", c.read.text_field, "column / key of the text")->type_name("F")->group(g);
  app.add_option(
         "--label-field", c.read.label_fields,
         "column / key of the label; repeat for multi-label (one 0/1 field per label) or multi-target "
         "regression (default label; multi with --labels: the names)")
      ->type_name("F")
      ->group(g);
  add_switch(app, "--skip-bad-rows", c.read.skip_bad_rows,
             "skip (and count) malformed rows instead of failing on the first")
      ->group(g);
  app.add_option("--quoting", quoting, "CSV / TSV quoting (auto: CSV rfc4180, TSV none)")
      ->type_name("auto|rfc4180|none")
      ->check(CLI::IsMember({"auto", "rfc4180", "none"}).description(""))
      ->group(g);
  add_switch(app, "--normalize-tweets", c.normalize_tweets,
             "TweetEval preprocessing (@handle -> @user, http... -> http) before tokenizing")
      ->group(g);

  g = "task";
  app.add_option("--task", task, "single|multi|regression")->type_name("T")->group(g);
  app.add_option(
         "--labels", labels,
         "class names in id order (labels in the data: ids or these names), or their number; default: "
         "the model's head labels; regression: the label fields")
      ->type_name("a,b,c")
      ->group(g);
  app.add_option("--loss", c.loss, "ce|bce|mse|mae|huber|quantile (default: ce / bce / mse by task)")
      ->type_name("L")
      ->group(g);
  app.add_option("--huber-delta", c.huber_delta, "Huber loss delta")->type_name("D")->group(g);
  app.add_option("--quantile-tau", c.quantile_tau, "quantile (pinball) loss tau")
      ->type_name("T")
      ->check(CLI::Range(0.0, 1.0))
      ->group(g);
  app.add_option("--label-smoothing", c.label_smoothing, "cross-entropy label smoothing")
      ->type_name("X")
      ->check(CLI::Range(0.0, 1.0))
      ->group(g);
  app.add_option("--class-weights", c.class_weights,
                 "cross-entropy / BCE class weights: auto (sklearn 'balanced') or w1,w2,...")
      ->type_name("auto|W,...")
      ->group(g);
  app.add_option("--target-scale", c.target_scale,
                 "regression target scaling, inverted for metrics: none|log1p|robust")
      ->type_name("S")
      ->group(g);

  g = "optimisation";
  app.add_option("--max-length", c.max_length, "tokens per text incl. special tokens")
      ->type_name("N")
      ->check(CLI::Range(2, 1 << 20))
      ->group(g);
  app.add_option("--batch-size", c.batch_size, "rows per micro-batch")
      ->type_name("N")
      ->check(CLI::Range(1, 1 << 20))
      ->group(g);
  app.add_option("--grad-accum", c.grad_accum, "micro-batches per optimizer step")
      ->type_name("K")
      ->check(CLI::Range(1, 1 << 20))
      ->group(g);
  app.add_option("--epochs", c.epochs, "")->type_name("N")->check(CLI::Range(1, 1 << 20))->group(g);
  app.add_option("--lr", c.lr, "peak learning rate")->type_name("LR")->group(g);
  app.add_option("--warmup", c.warmup, "warm-up: a fraction of the steps (0.06) or a step count (100)")
      ->type_name("X")
      ->group(g);
  app.add_option("--weight-decay", c.weight_decay, "AdamW decoupled weight decay")->type_name("W")->group(g);
  add_switch(app, "--no-decay-bias-ln", c.no_decay_bias_ln,
             "no weight decay for biases and LayerNorm weights (HF Trainer grouping)")
      ->group(g);
  app.add_option("--clip", c.clip, "clip the global gradient norm at C (0: off)")->type_name("C")->group(g);
  const CLI::Option* freeze_opt = app.add_option("--freeze-layers", c.freeze_layers,
                                                 "freeze the embeddings and the first K encoder layers")
                                      ->type_name("K")
                                      ->check(CLI::Range(0, 1 << 20))
                                      ->group(g);
  add_switch(app, "--head-only", c.head_only, "freeze the whole encoder")->group(g);
  app.add_option("--dropout", c.dropout, "the config's dropout probabilities (default), or P for all")
      ->type_name("default|P")
      ->group(g);
  app.add_option("--seed", seed, "init of new parameters, shuffling, dropout")->type_name("S")->group(g);
  add_threads_option(app, threads);
  app.get_option("--threads")->group(g);

  g = "selection and output";
  app.add_option(
         "--metric", c.metric,
         "accuracy|macro_f1|macro_recall|micro_f1|mae|rmse|spearman|loss (on val; default: macro_f1 / "
         "micro_f1 / mae by task)")
      ->type_name("M")
      ->group(g);
  app.add_option("--early-stopping", c.early_stopping,
                 "stop after P epochs without improvement of the val metric (0: off)")
      ->type_name("P")
      ->check(CLI::Range(0, 1 << 20))
      ->group(g);
  app.add_option("--out", c.out_path, "best model (.h5)")->type_name("FILE")->required()->group(g);
  app.add_option("--save-last", c.save_last_path, "also save the state after every epoch (for --resume)")
      ->type_name("FILE")
      ->group(g);
  app.add_option("--resume", c.resume_path,
                 "continue a run from a checkpoint of --out / --save-last (same options)")
      ->type_name("CKPT")
      ->group(g);
  app.add_option("--eval-batch-size", c.eval_batch_size, "rows per forward pass in evaluation")
      ->type_name("N")
      ->check(CLI::Range(1, 1 << 20))
      ->group(g);
  app.add_option("--max-steps", c.max_steps, "stop after N optimizer steps (0: no limit)")
      ->type_name("N")
      ->check(CLI::Range(0, 1 << 30))
      ->group(g);
  add_switch(app, "--no-progress", no_progress, "no progress bar on stderr")->group(g);

  if (!parse_args(app, argc, argv)) return 0;
  apply_threads(threads);
  for (int i = 0; i < argc; ++i) c.command_line += (i ? " " : "tern ") + std::string(argv[i]);
  TERN_CHECK(!c.resume_path.empty() || !c.model_path.empty(), "missing required option --model (see --help)");
  c.task = train::task_from_name(task);
  if (!labels.empty() || app.count("--labels")) {
    std::string cur;
    for (char ch : labels + ",") {
      if (ch == ',') {
        TERN_CHECK(!cur.empty(), "--labels: empty label name in '" << labels << "'");
        c.labels.push_back(cur);
        cur.clear();
      } else {
        cur += ch;
      }
    }
  }
  c.read.quoting = quoting == "auto"   ? train::Quoting::Auto
                   : quoting == "none" ? train::Quoting::None
                                       : train::Quoting::Rfc4180;
  TERN_CHECK(!(c.head_only && freeze_opt->count()), "give --head-only or --freeze-layers, not both");
  {
    char* end = nullptr;
    c.seed = std::strtoull(seed.c_str(), &end, 10);
    TERN_CHECK(!seed.empty() && seed[0] != '-' && end && *end == 0,
               "--seed needs an integer >= 0, got '" << seed << "'");
  }
  c.progress = !no_progress;
  return train::run_training(c);
}

}  // namespace tern::cli
