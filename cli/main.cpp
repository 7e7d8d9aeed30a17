// tern: thin front end. Parses the subcommand and hands over to cmd_<name>.
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

#include "cli/commands.h"

namespace tern::cli {
// The social-media commands (cmd_trends.cpp, cmd_coordinate.cpp, cmd_report.cpp).
int cmd_trends(int argc, char** argv);
int cmd_coordinate(int argc, char** argv);
int cmd_report(int argc, char** argv);
int cmd_engagement(int argc, char** argv);
}  // namespace tern::cli

namespace {

struct Command {
  const char* name;
  int (*run)(int, char**);
  const char* summary;
};

const Command kCommands[] = {
    {"infer", tern::cli::cmd_infer,
     "annotate a tweet archive (JSONL / CSV / TSV / text, gz, stdin) with a model's predictions"},
    {"convert", tern::cli::cmd_convert, "import a Hugging Face checkpoint into one tern model .h5"},
    {"forward", tern::cli::cmd_forward, "run a model on token ids from an .h5 file, write its outputs"},
    {"tokenize", tern::cli::cmd_tokenize, "tokenize texts (one per line) into ids as JSONL"},
    {"train", tern::cli::cmd_train,
     "fine-tune a classification / regression head (and the encoder) on labelled tweets"},
    {"eval", tern::cli::cmd_eval, "evaluate a model on a labelled file, print the metrics as JSON"},
    {"pack", tern::cli::cmd_pack,
     "re-save a model for shipping: smaller dtype, no optimizer state, metadata"},
    {"grad", tern::cli::cmd_grad, "loss and every parameter's gradient of a batch, as HF computes them"},
    {"trends", tern::cli::cmd_trends, "per-trend manipulation metrics over tweet archives (CSV / JSON)"},
    {"coordinate", tern::cli::cmd_coordinate,
     "coordination networks between accounts (GraphML, edges, components)"},
    {"report", tern::cli::cmd_report, "self-contained HTML report: trends, accounts, coordination graph"},
    {"tweeteval", tern::cli::cmd_tweeteval,
     "fine-tune and score the 7 TweetEval tasks (official metrics), single-task and multi-task"},
    {"topics", tern::cli::cmd_topics, "multi-label tweet topics: train (tuned thresholds), eval, predict"},
    {"engagement", tern::cli::cmd_engagement,
     "engagement prediction (likes / retweets / replies): train | eval | predict"},
};

void usage(FILE* f) {
  std::fprintf(f, "usage: tern <command> [options]   (tern <command> --help for its options)\n\ncommands:\n");
  for (const auto& c : kCommands) std::fprintf(f, "  %-10s %s\n", c.name, c.summary);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") ||
      !std::strcmp(argv[1], "help")) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  for (const auto& c : kCommands) {
    if (std::strcmp(argv[1], c.name) == 0) {
      try {
        return c.run(argc - 1, argv + 1);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "tern %s: error: %s\n", c.name, e.what());
        return 1;
      }
    }
  }
  std::fprintf(stderr, "tern: unknown command '%s'\n\n", argv[1]);
  usage(stderr);
  return 2;
}
