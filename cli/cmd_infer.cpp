// tern infer: annotate a tweet archive (infer/annotate.h holds the logic; this file parses and reports).
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <CLI/CLI.hpp>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "infer/annotate.h"
#include "tensor/check.h"
#include "tensor/packed_weight.h"
#include "tensor/threads.h"

namespace tern::cli {

namespace {

std::string hms(double s) {
  if (!std::isfinite(s) || s < 0) s = 0;
  const long t = std::lround(s);
  char b[32];
  if (t >= 3600)
    std::snprintf(b, sizeof b, "%ldh%02ldm%02lds", t / 3600, (t / 60) % 60, t % 60);
  else
    std::snprintf(b, sizeof b, "%ldm%02lds", t / 60, t % 60);
  return b;
}

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  size_t a = 0;
  while (a <= s.size()) {
    const size_t b = s.find(',', a);
    const std::string f = s.substr(a, b == std::string::npos ? std::string::npos : b - a);
    if (!f.empty()) out.push_back(f);
    if (b == std::string::npos) break;
    a = b + 1;
  }
  return out;
}

}  // namespace

int cmd_infer(int argc, char** argv) {
#ifdef __GLIBC__
  // One malloc arena for the process (the reader thread's freed windows otherwise stay in an arena of their
  // own): peak RSS -1.0 to -1.2 MB on the default model, user CPU unchanged (TweetEval sentiment test, 3
  // runs).
  mallopt(M_ARENA_MAX, 1);
#endif
  CLI::App app{
      "Annotates a tweet archive: one prediction row per readable input record, in input order.\n"
      "Input: JSONL (snscrape, Twitter API v2), CSV, TSV or text, optionally gzip; '-' = stdin.\n"
      "Output: JSONL (default) or CSV; '-' = stdout. Bad rows go to an errors file and the run goes on\n"
      "(exit code 3); exit 1 on a fatal error with the committed rows intact.",
      "tern infer"};
  init_app(app);
  std::string input, output_pos, output_opt, format = "auto", in_format = "auto", text_field, id_field, keep,
                                             errors, encoding, invalid = "error", embeddings, embeddings_out;
  std::vector<std::string> models;
  bool logits = false, resume = false, quiet = false, progress_flag = false, verbose = false;
  std::string precision;  // default: fp32, int8 for a model with int8-stored weights
  int64_t window = 4096, batch = 32, batch_tokens = 256, max_line = int64_t{1} << 20, max_length = 0;
  int threads = 0;
  std::string normalize = "model";
  app.add_option("input", input, "archive to read ('-' = stdin)")->required();
  app.add_option("output", output_pos, "where rows go ('-' = stdout; default stdout)");
  app.add_option("-o,--output", output_opt, "same as the positional OUTPUT");
  app.add_option("-m,--model", models,
                 "model file (.h5) or shipped model name; repeat for several models in one pass "
                 "(default: the shipped 'sentiment' model)")
      ->take_all()
      ->allow_extra_args(false);
  app.add_option("--format", format, "output format")->check(CLI::IsMember({"auto", "jsonl", "csv"}));
  app.add_option("--input-format", in_format, "input format (auto: by extension, else sniffed)")
      ->check(CLI::IsMember({"auto", "jsonl", "csv", "tsv", "text"}));
  app.add_option("--text-field", text_field,
                 "field holding the text, dotted for nested keys (default: first of text, full_text, "
                 "rawContent, content, tweet, data.text)");
  app.add_option("--id-field", id_field,
                 "field holding the id (default: first of id, id_str, tweet_id, tweet.id, data.id; else the "
                 "line number)");
  app.add_option("--keep-fields", keep, "comma-separated input fields copied into each row");
  add_switch(app, "--logits", logits, "add the raw logits (float32, round-trip exact)");
  app.add_option("--embeddings", embeddings, "pooled encoder embeddings of the first model")
      ->check(CLI::IsMember({"cls", "mean"}));
  app.add_option("--embeddings-out", embeddings_out,
                 "HDF5 file for --embeddings (embeddings (N,C), lines, ids)");
  app.add_option("--errors", errors,
                 "bad rows as JSON lines (default: OUTPUT.errors.jsonl; stderr for stdout)");
  add_switch(app, "--resume", resume, "continue after the rows already committed in OUTPUT (after a crash)");
  app.add_option("--encoding", encoding, "input encoding (iconv name: windows-1252, latin1, macintosh, ...)");
  app.add_option("--invalid-utf8", invalid, "a row with invalid UTF-8: a bad row, or kept with U+FFFD")
      ->check(CLI::IsMember({"error", "replace"}));
  app.add_option("--max-line-bytes", max_line, "a longer line is a bad row")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 40));
  app.add_option("--normalize-tweets", normalize,
                 "TweetEval @user / http preprocessing: as the model was trained, or on / off")
      ->check(CLI::IsMember({"model", "on", "off"}));
  app.add_option("--max-length", max_length,
                 "tokens per text incl. special ones (0: as the model was trained)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 20));
  app.add_option("--window", window, "rows read ahead and length-sorted together")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 24));
  app.add_option("--batch-size", batch, "rows per encoder batch")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 16));
  app.add_option("--batch-tokens", batch_tokens,
                 "a batch also ends before its real tokens pass this many (0: rows only)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 30));
  add_precision_option(app, precision);
  add_threads_option(app, threads);
  add_switch(app, "-v,--verbose", verbose, "print the kernels that run");
  add_switch(app, "-q,--quiet", quiet, "no progress bar and no summary line");
  add_switch(app, "--progress", progress_flag, "progress bar even when stderr is not a terminal");
  if (!parse_args(app, argc, argv)) return 0;
  TERN_CHECK(output_pos.empty() || output_opt.empty(), "give the output once: positional OUTPUT or --output");
  apply_threads(threads);

  infer::AnnotateOptions o;
  o.models = models;
  o.input = input;
  o.output = !output_opt.empty() ? output_opt : !output_pos.empty() ? output_pos : "-";
  o.format = infer::output_format_from_name(format);
  o.reader.format = infer::input_format_from_name(in_format);
  o.reader.encoding = encoding;
  o.reader.invalid_utf8 = invalid == "replace" ? infer::InvalidUtf8::Replace : infer::InvalidUtf8::Error;
  o.reader.max_line_bytes = max_line;
  o.text_field = text_field;
  o.id_field = id_field;
  for (const auto& k : split_commas(keep)) o.keep_fields.push_back(k);
  o.logits = logits;
  o.embeddings = infer::pool_from_name(embeddings);
  o.embeddings_out = embeddings_out;
  o.errors = errors;
  o.resume = resume;
  o.window = window;
  o.batch_size = batch;
  o.batch_tokens = batch_tokens;
  o.release_loaded_code = true;
  if (normalize != "model") o.model.normalize_tweets = normalize == "on";
  if (max_length > 0) o.model.max_length = max_length;
  if (!precision.empty()) o.model.precision = parse_precision(precision);
  if (verbose) {
    const Precision p = o.model.precision.value_or(Precision::F32);
    std::fprintf(
        stderr, "tern infer: %d worker thread(s), one packed batch each; %s%s; %s%s\n", num_threads(),
        precision_name(p), o.model.precision ? "" : " (int8 for an int8-stored model)",
        precision_description(p).c_str(),
        o.model.precision ? "" : ("; an int8-stored model: " + precision_description(Precision::I8)).c_str());
  }

  const bool show = !quiet && (progress_flag || ::isatty(STDERR_FILENO));
  double last = -1;
  auto report = [&](const infer::AnnotateProgress& p) {
    if (!show || (p.seconds - last < 0.25 && last >= 0)) return;
    last = p.seconds;
    const double rate = p.rows / std::max(1e-9, p.seconds);
    std::string eta;
    if (p.total_bytes > 0 && p.bytes_read > 0 && p.bytes_read <= p.total_bytes) {
      const double frac = static_cast<double>(p.bytes_read) / static_cast<double>(p.total_bytes);
      const int bars = static_cast<int>(frac * 24);
      eta = "[" + std::string(static_cast<size_t>(bars), '#') +
            std::string(static_cast<size_t>(24 - bars), '.') + "] " +
            std::to_string(static_cast<int>(frac * 100)) + "%  ETA " +
            hms(p.seconds * (1 - frac) / std::max(frac, 1e-9));
    }
    std::fprintf(stderr, "\rtern infer %s %lld rows  %.0f tweets/s  %lld bad  ", eta.c_str(),
                 static_cast<long long>(p.rows), rate, static_cast<long long>(p.bad_rows));
    std::fflush(stderr);
  };
  const infer::AnnotateSummary s = infer::annotate(o, report);
  if (show) std::fprintf(stderr, "\n");
  if (!quiet) {
    std::string models_s;
    for (const auto& n : s.model_names) models_s += (models_s.empty() ? "" : ",") + n;
    std::fprintf(
        stderr, "tern infer: %lld rows%s, %lld bad rows%s%s, %.1f s, %.0f tweets/s (model %s) -> %s\n",
        static_cast<long long>(s.rows),
        s.resumed_rows ? (" (+" + std::to_string(s.resumed_rows) + " already committed)").c_str() : "",
        static_cast<long long>(s.bad_rows), s.bad_rows ? (" -> " + s.errors).c_str() : "",
        s.replaced ? (", " + std::to_string(s.replaced) + " with invalid UTF-8 replaced").c_str() : "",
        s.seconds, s.rows / std::max(1e-9, s.seconds), models_s.c_str(), s.output.c_str());
  }
  return s.bad_rows > 0 ? 3 : 0;
}

}  // namespace tern::cli
