// tern tokenize: texts (one per line) -> token ids as JSON lines, with exactly Hugging Face's ids.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>
#include <vector>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "infer/tokenize_file.h"
#include "tensor/check.h"

namespace tern::cli {

namespace {

const char* kAbout =
    "Tokenizes one text per input line and writes one JSON line per text, in input order:\n"
    "  {\"ids\":[101,7592,102]}                       special tokens included\n"
    "  {\"ids\":[...],\"offsets\":[[0,0],[0,5],...]}    with --offsets: [start, end) in code points\n"
    "With --pair-input each line of TEXTS.txt is paired with the same line of TEXTS2.txt (the files must\n"
    "have as many lines) and \"type_ids\" is written too.\n"
    "\n"
    "A text is its line without the trailing \"\\n\"; everything else is kept verbatim, including a \"\\r\"\n"
    "before the \"\\n\" (Hugging Face tokenizes the text as given: BERT treats \\r as whitespace, RoBERTa "
    "keeps\n"
    "it as a token). Invalid UTF-8 is replaced by U+FFFD per ill-formed sequence (as Python's\n"
    "errors=\"replace\"); the count of such lines is reported on stderr. Input is processed in chunks, so\n"
    "archives of any size stream through. On a write error (disk full) tern exits with 1 and the output\n"
    "file keeps only complete lines: those of the first texts. The output is not flushed to the disk\n"
    "(fdatasync) unless --sync is given.";

}  // namespace

int cmd_tokenize(int argc, char** argv) {
  CLI::App app("", "tern tokenize");
  app.footer(kAbout);
  init_app(app);
  std::string model, tokenizer, in_path, out_path, pair_path;
  int max_length = 0, chunk = 16384, threads = 0;
  bool offsets = false, normalize = false, sync = false;
  const CLI::Option* model_opt =
      app.add_option("--model", model, "tern model (.h5) whose stored tokenizer files to use")
          ->type_name("FILE");
  const CLI::Option* tokenizer_opt =
      app.add_option(
             "--tokenizer", tokenizer,
             "a Hugging Face tokenizer folder (tokenizer.json, or vocab.txt, or vocab.json + merges.txt, "
             "with tokenizer_config.json / special_tokens_map.json)")
          ->type_name("DIR");
  app.add_option("--input", in_path, "texts, one per line (- = stdin)")->type_name("FILE|-")->required();
  app.add_option("--output", out_path, "JSON lines (- = stdout)")->type_name("FILE|-")->required();
  app.add_option("--max-length", max_length,
                 "truncate to N tokens including the special ones (longest-first for pairs; 0: no limit)")
      ->type_name("N")
      ->check(CLI::Range(0, 1 << 24));
  add_switch(app, "--offsets", offsets, "also write character offsets");
  add_switch(app, "--normalize-tweets", normalize,
             "TweetEval preprocessing: @mentions -> @user, http... -> http (off by default)");
  const CLI::Option* pair_opt =
      app.add_option("--pair-input", pair_path, "second texts of pairs, one per line")->type_name("FILE");
  add_switch(app, "--sync", sync, "flush the output to the disk (fdatasync) before exiting");
  add_threads_option(app, threads);
  app.add_option("--chunk", chunk, "texts tokenized per parallel batch")
      ->type_name("N")
      ->check(CLI::Range(1, 1 << 24));
  if (!parse_args(app, argc, argv)) return 0;
  TERN_CHECK(model_opt->count() != tokenizer_opt->count(),
             "give exactly one of --model and --tokenizer (see --help)");
  apply_threads(threads);
  const bool pairs = pair_opt->count() > 0;

  const tok::Tokenizer tk =
      tokenizer_opt->count() ? infer::tokenizer_from_dir(tokenizer) : infer::tokenizer_from_model(model);
  infer::TokenizeFileOptions o;
  o.input = in_path;
  o.output = out_path;
  o.pair_input = pairs ? pair_path : "";
  o.encode.max_length = static_cast<size_t>(max_length);
  o.encode.normalize_tweets = normalize;
  o.offsets = offsets;
  o.threads = threads;
  o.chunk = chunk;
  o.sync = sync;
  const infer::TokenizeFileSummary sum = infer::tokenize_file(tk, o);
  if (sum.invalid_utf8)
    std::fprintf(stderr, "tern tokenize: %lld of %lld lines held invalid UTF-8 (replaced by U+FFFD)\n",
                 static_cast<long long>(sum.invalid_utf8), static_cast<long long>(sum.lines));
  return 0;
}

}  // namespace tern::cli
