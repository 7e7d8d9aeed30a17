// tern tweeteval --model PRETRAINED.h5 --data ../shared/data/tweeteval --out DIR: fine-tunes and scores the
// seven TweetEval tasks with their official metrics (social/tweeteval.h).
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <string>

#include "cli/cli_common.h"
#include "social/tweeteval.h"
#include "tensor/check.h"
#include "tensor/threads.h"

namespace tern::cli {

namespace {

const char* kAbout =
    "Fine-tunes the pretrained checkpoint on each TweetEval task (emoji, emotion, hate, irony, offensive,\n"
    "sentiment, stance: one model per stance target, predictions pooled) with tern's Trainer and scores the\n"
    "test sets with the official metrics (macro-F1; sentiment macro-recall; irony F1 of the ironic class;\n"
    "stance mean of F1(against) and F1(favor); ALL = mean of the 7). --multitask also trains ONE encoder\n"
    "with a head per task (task-balanced sampling, --loss-weight per task) saved as "
    "DIR/models/multitask.h5.\n"
    "Sentiment trains on sentiment/train_reconstructed_from_semeval.tsv.gz (the official train text is\n"
    "absent). Budget: a task with more rows than --examples trains 1 epoch on a seeded subset of that many\n"
    "rows; a smaller one round(examples / rows) epochs (at most --max-epochs). Writes DIR/models/*.h5,\n"
    "DIR/predictions/*.txt, DIR/results.json and DIR/results.md (after every task).";

}  // namespace

int cmd_tweeteval(int argc, char** argv) {
  CLI::App app("", "tern tweeteval");
  app.footer(kAbout);
  init_app(app);
  social::TweetEvalOptions o;
  std::vector<std::string> reuse, loss_weights;
  bool multitask = false, skip_single = false;
  int threads = 0, max_length = 64, batch = 32;
  long long examples = o.budget.examples, max_epochs = o.budget.max_epochs, steps = o.budget.multitask_steps;
  long long seed = 42;
  app.add_option("--model", o.model_path, "pretrained checkpoint (tern .h5, from tern convert)")
      ->type_name("FILE")
      ->required();
  app.add_option("--data", o.data_dir, "the TweetEval folder (../shared/data/tweeteval)")
      ->type_name("DIR")
      ->required();
  app.add_option("--out", o.out_dir, "output folder (created)")->type_name("DIR")->required();
  app.add_option("--tasks", o.tasks, "tasks to run (default: all seven)")
      ->type_name("T,...")
      ->delimiter(',')
      ->check(CLI::IsMember({"emoji", "emotion", "hate", "irony", "offensive", "sentiment", "stance"}));
  add_switch(app, "--multitask", multitask, "also train one multi-task model (one head per task)");
  add_switch(app, "--skip-single", skip_single, "do not train the single-task models");
  app.add_option("--reuse", reuse,
                 "TASK=MODEL.h5: score that model instead of training the task (e.g. "
                 "sentiment=weights/models/sentiment.h5, trained from tweet-bert-mini; "
                 "multitask=DIR/models/multitask.h5 "
                 "scores a multi-task model); repeatable")
      ->type_name("T=F");
  app.add_option("--loss-weight", loss_weights, "TASK=W: multi-task loss weight (default 1); repeatable")
      ->type_name("T=W");
  app.add_option("--examples", examples, "training examples per task (the budget cap)")
      ->type_name("N")
      ->check(CLI::Range(1LL, 1LL << 40));
  app.add_option("--max-epochs", max_epochs, "epochs at most for a small task")
      ->type_name("N")
      ->check(CLI::Range(1LL, 1000LL));
  app.add_option("--multitask-steps", steps, "optimizer steps of the multi-task run")
      ->type_name("N")
      ->check(CLI::Range(1LL, 1LL << 40));
  app.add_option("--max-length", max_length, "tokens per text incl. special tokens")
      ->type_name("N")
      ->check(CLI::Range(2, 1 << 16));
  app.add_option("--batch-size", batch, "training batch size")->type_name("N")->check(CLI::Range(1, 1 << 16));
  app.add_option("--lr", o.lr, "peak learning rate (linear warm-up 6%, then linear decay)")
      ->type_name("X")
      ->check(CLI::Range(1e-12, 1.0));
  app.add_option("--seed", seed, "seed of subsets, shuffles, init and dropout")
      ->type_name("N")
      ->check(CLI::Range(0LL, 1LL << 62));
  add_threads_option(app, threads);
  if (!parse_args(app, argc, argv)) return 0;
  apply_threads(threads);
  o.single = !skip_single;
  o.multitask = multitask;
  o.budget.examples = examples;
  o.budget.max_epochs = max_epochs;
  o.budget.multitask_steps = steps;
  o.max_length = max_length;
  o.batch_size = batch;
  o.seed = static_cast<uint64_t>(seed);
  for (const auto& r : reuse) {
    const size_t eq = r.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == r.size())
      TERN_FAIL("--reuse " << r << ": expected TASK=MODEL.h5");
    o.reuse[r.substr(0, eq)] = r.substr(eq + 1);
  }
  for (const auto& r : loss_weights) {
    const size_t eq = r.find('=');
    float w = -1;
    try {
      if (eq != std::string::npos) w = std::stof(r.substr(eq + 1));
    } catch (const std::exception&) {
    }
    if (eq == std::string::npos || eq == 0 || !(w >= 0))
      TERN_FAIL("--loss-weight " << r << ": expected TASK=W, W >= 0");
    o.loss_weights[r.substr(0, eq)] = w;
  }
  for (int i = 0; i < argc; ++i) o.command_line += (i ? " " : "tern ") + std::string(argv[i]);
  const auto t0 = std::chrono::steady_clock::now();
  const social::TweetEvalResults r = social::run_tweeteval(o, [](const std::string& s) {
    std::fprintf(stderr, "%s\n", s.c_str());
    std::fflush(stderr);
  });
  std::printf("%s", r.markdown.c_str());
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::fprintf(stderr, "tern tweeteval: %.1f s (%d threads); %s/results.{md,json}\n", s, num_threads(),
               o.out_dir.c_str());
  return 0;
}

}  // namespace tern::cli
