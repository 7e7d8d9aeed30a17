// Labelled text datasets for training and evaluation:
//   - TweetEval pairs: `<split>_text.txt` + `<split>_labels.txt` (one per line; either may be .gz). Give the
//     text file or the prefix `<dir>/<split>`.
//   - CSV (RFC 4180: quoted fields with embedded delimiters, newlines and doubled quotes; LF or CRLF),
//     TSV (by default without quoting, as Python's csv.QUOTE_NONE reads the TweetEval sentiment
//     reconstruction), JSONL (one JSON object per line). A header row names the CSV / TSV columns.
//   Any file may be gzip-compressed (.gz). A bad row is an error naming the file and line, or is skipped
//   and counted with ReadOptions::skip_bad_rows.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace tern::train {

enum class Task { Single, Multi, Regression };
Task task_from_name(const std::string& s);  // single | multi | regression (or HF problem_type names)
const char* task_name(Task t);

struct LabelSpec {
  Task task = Task::Single;
  // Single / Multi: class names in id order (a label may be given as its id or its name). May be empty
  // when labels are ids, then num_labels must be set.
  std::vector<std::string> names;
  // Single / Multi: number of classes (0 = names.size()); Regression: targets per row (0 = number of
  // label fields).
  int64_t num_labels = 0;
};

enum class Quoting { Auto, Rfc4180, None };  // Auto: CSV and JSONL as RFC 4180, TSV None

struct ReadOptions {
  std::string text_field = "text";
  // Empty: "label". Single: one field. Multi: one field holding a list of ids / names ("1,4", "[1, 4]",
  // "sports|music") or one 0/1 field per label. Regression: one field per target.
  std::vector<std::string> label_fields;
  bool skip_bad_rows = false;
  Quoting quoting = Quoting::Auto;
  bool labels_required = true;  // false: rows without labels are fine (targets left empty)
};

struct Dataset {
  std::string source;
  std::vector<std::string> texts;
  // Single: (N) class ids as floats; Multi: (N, L) 0/1; Regression: (N, L). Empty without labels.
  std::vector<float> targets;
  int64_t width = 1;                      // floats per row of targets
  std::vector<int64_t> lines;             // 1-based line (of the text file / record start) of each row
  int64_t skipped = 0;                    // bad rows skipped
  std::vector<std::string> skip_reasons;  // the first few ("file:line: why")
  size_t size() const { return texts.size(); }
  bool has_targets() const { return !targets.empty() || texts.empty(); }
};

Dataset read_dataset(const std::string& path, const LabelSpec& spec, const ReadOptions& opt = {});

// ---- Building blocks (exposed for tests and the CLI) ----

// Whole file, gunzipped when compressed (zlib; a plain file is read as is). Errors name the file.
std::string read_text_file(const std::string& path);

struct Record {
  std::vector<std::string> fields;
  int64_t line = 0;   // 1-based line where the record starts
  std::string error;  // non-empty: the record is malformed (unterminated quote, text after a closing quote)
};
// Splits delimited text into records. Blank lines are skipped (as Python's csv.DictReader does).
std::vector<Record> parse_delimited(const std::string& text, char delim, Quoting quoting);

// The label fields of one row into `out` (`L` floats, or 1 for Single) for `spec`; throws tern::Error
// with the reason. Single: one value (id or name). Multi: one value with a list, or L values 0/1.
// Regression: L numbers.
void encode_labels(const std::vector<std::string>& values, const LabelSpec& spec, int64_t L, float* out);

// Number of classes / targets a spec gives with `n_fields` label fields.
int64_t label_count(const LabelSpec& spec, size_t n_fields);

}  // namespace tern::train
