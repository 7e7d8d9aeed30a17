// Streaming record readers: an archive (JSONL, CSV, TSV or plain text, optionally gzip-compressed, from a
// file or stdin) read one record at a time with the line it starts on. Every format is exposed as a JSON
// object (CSV / TSV cells as strings, a text line as {"text": line}) so that field lookup is one thing.
// A malformed record is not an exception: it comes back with `error` set (a bad row), and reading goes on.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace tern::infer {

enum class InputFormat { Auto, Jsonl, Csv, Tsv, Text };
enum class InvalidUtf8 { Error, Replace };

// "jsonl", "csv", "tsv", "text" (and "auto"); throws naming the value otherwise.
InputFormat input_format_from_name(const std::string& s);
const char* input_format_name(InputFormat f);

struct ReaderOptions {
  // Auto: by the name's extension (.jsonl .ndjson .json / .csv / .tsv / .txt, also under .gz); otherwise
  // (stdin, other names) JSONL when the first non-blank byte is '{', else plain text.
  InputFormat format = InputFormat::Auto;
  std::string encoding;  // "" (or utf-8): the bytes are UTF-8; else an iconv name (windows-1252, latin1, ...)
  InvalidUtf8 invalid_utf8 = InvalidUtf8::Error;
  int64_t max_line_bytes = int64_t{1} << 20;  // a longer line (record) is a bad row
  bool header = true;                         // CSV / TSV: the first record names the columns
};

struct Record {
  Record();
  ~Record();
  Record(Record&&) noexcept;
  Record& operator=(Record&&) noexcept;

  int64_t line = 0;   // 1-based line of the input where the record starts
  std::string error;  // non-empty: a bad row, and the reason (invalid JSON, invalid UTF-8, too long, ...)
  bool utf8_replaced = false;  // invalid UTF-8 was replaced by U+FFFD (InvalidUtf8::Replace)
  // JSONL: the parsed object; CSV / TSV: {column: cell}; text: {"text": line}. Null for a bad row.
  const nlohmann::json& json() const { return *json_; }
  nlohmann::json& json() { return *json_; }

 private:
  std::unique_ptr<nlohmann::json> json_;
};

class RecordReader {
 public:
  // "-" = stdin. gzip is detected by its magic bytes (any name). Throws tern::Error naming the file when
  // it cannot be opened, or when an --encoding is unknown.
  explicit RecordReader(const std::string& path, const ReaderOptions& opt = {});
  ~RecordReader();
  RecordReader(const RecordReader&) = delete;
  RecordReader& operator=(const RecordReader&) = delete;

  // The next record; false at the end of the input. Throws tern::Error (naming the file) only when the
  // input cannot be read (an I/O error, a damaged gzip stream).
  bool next(Record& r);

  const std::string& name() const;                  // the path, or "<stdin>"
  InputFormat format() const;                       // the resolved format (after the first next())
  const std::vector<std::string>& columns() const;  // CSV / TSV header (after the first next())
  int64_t bytes_read() const;                       // of the file as stored (compressed bytes for gzip)
  int64_t total_bytes() const;                      // size of a regular file, 0 when unknown (stdin, pipes)

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// Dotted lookup into nested objects: find_field(obj, "data.text"), "user.username". A key that itself
// contains the dots ("tweet.id" as one key) is found first. nullptr when absent.
const nlohmann::json* find_field(const nlohmann::json& obj, const std::string& dotted);

// The first of `candidates` that `obj` has (dotted paths), or "" when none.
std::string first_present_field(const nlohmann::json& obj, const std::vector<std::string>& candidates);

}  // namespace tern::infer
