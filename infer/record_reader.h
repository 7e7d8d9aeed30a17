// TEMPORARY stand-in for the lead's streaming record reader (same API); replaced when the real one lands.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace tern::infer {

enum class InputFormat { Auto, Jsonl, Csv, Tsv, Text };
enum class InvalidUtf8 { Error, Replace };

struct ReaderOptions {
  InputFormat format = InputFormat::Auto;
  std::string encoding;
  InvalidUtf8 invalid_utf8 = InvalidUtf8::Error;
  int64_t max_line_bytes = 1 << 20;
  bool header = true;
};

struct Record {
  Record();
  ~Record();
  int64_t line = 0;
  std::string error;
  bool utf8_replaced = false;
  const nlohmann::json& json() const;
  std::unique_ptr<nlohmann::json> json_;
};

class RecordReader {
 public:
  RecordReader(const std::string& path, const ReaderOptions& opt = {});
  ~RecordReader();
  bool next(Record& r);
  const std::string& name() const;
  InputFormat format() const;
  int64_t bytes_read() const;
  int64_t total_bytes() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

const nlohmann::json* find_field(const nlohmann::json& obj, const std::string& dotted);

}  // namespace tern::infer
