// Archive annotation (`tern infer`, the Python module's file API): records in, one prediction row per
// readable record out, in input order; bad rows to an errors file; output committed in whole lines so a
// crash loses nothing and --resume continues where the committed output ends.
//
// Flow: a reader thread parses records, looks up the text / id / kept fields and tokenises a window of
// `window` readable records (once per distinct tokenizer) while the main thread runs the models on the
// previous window in length-sorted batches and writes its rows in input order. Windows are numbered by
// readable-record index, so a resumed run recomputes exactly the batches of an uninterrupted one: the
// output is the same bytes.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "infer/predictor.h"
#include "infer/record_reader.h"

namespace tern::infer {

enum class OutputFormat { Auto, Jsonl, Csv };  // Auto: by the output's extension (.csv), else JSONL
OutputFormat output_format_from_name(const std::string& s);

// Defaults of field lookup (dotted paths; the first a row has wins).
const std::vector<std::string>&
default_text_fields();  // text, full_text, rawContent, content, tweet, data.text
const std::vector<std::string>& default_id_fields();  // id, id_str, tweet_id, tweet.id, data.id

struct AnnotateOptions {
  std::vector<std::string> models;  // paths or shipped names; empty: the default model
  std::string input = "-";          // "-" = stdin
  std::string output = "-";         // "-" = stdout
  OutputFormat format = OutputFormat::Auto;
  ReaderOptions reader;
  std::string text_field;  // empty: default_text_fields()
  std::string id_field;    // empty: default_id_fields(), else the 1-based line number
  std::vector<std::string> keep_fields;
  bool logits = false;
  Pool embeddings = Pool::None;
  std::string
      embeddings_out;  // HDF5: embeddings (N, C) float32, lines (N) int64, ids (N) int64 when integral
  std::string errors;  // empty: OUTPUT.errors.jsonl, or stderr when the output is stdout; "-": stderr
  bool resume = false;
  int64_t window = 4096;
  int64_t batch_size = 32;
  int64_t batch_tokens = 256;  // PredictOptions::batch_tokens
  // Once the models are loaded, unmap the main program's code pages (release_loaded_code): for the tern
  // binary (`tern infer` sets it), not for a host process such as Python.
  bool release_loaded_code = false;
  InferModel::Options model;  // normalize_tweets / max_length overrides
};

struct AnnotateProgress {
  int64_t rows = 0;         // rows written (this run)
  int64_t bad_rows = 0;     // bad rows met (this run)
  int64_t bytes_read = 0;   // input bytes consumed (compressed bytes for gzip)
  int64_t total_bytes = 0;  // 0 when unknown
  double seconds = 0;
};

struct AnnotateSummary {
  int64_t rows = 0;          // rows written by this run
  int64_t resumed_rows = 0;  // rows found already committed (--resume)
  int64_t bad_rows = 0;  // bad rows met by this run (each line once, including those before the resume point)
  int64_t replaced = 0;  // rows kept with invalid UTF-8 replaced
  double seconds = 0;
  std::string output, errors;  // where rows and bad rows went
  std::vector<std::string> model_names;
};

using ProgressFn = std::function<void(const AnnotateProgress&)>;

// Runs the whole annotation. Throws tern::Error on a fatal problem (bad model, unreadable input, write
// failure) after the rows committed so far are safely in the output.
AnnotateSummary annotate(const AnnotateOptions& opt, const ProgressFn& progress = {});

}  // namespace tern::infer
