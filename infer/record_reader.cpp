// TEMPORARY stand-in for the lead's streaming record reader.
#include "infer/record_reader.h"

#include <zlib.h>

#include <cstdio>
#include <vector>

#include <nlohmann/json.hpp>

#include "tensor/check.h"

namespace tern::infer {

Record::Record() : json_(std::make_unique<nlohmann::json>()) {}
Record::~Record() = default;
const nlohmann::json& Record::json() const { return *json_; }

namespace {
bool ends_with(const std::string& s, const std::string& e) {
  return s.size() >= e.size() && s.compare(s.size() - e.size(), e.size(), e) == 0;
}
}  // namespace

struct RecordReader::Impl {
  std::string name;
  gzFile gz = nullptr;
  InputFormat fmt = InputFormat::Auto;
  ReaderOptions opt;
  int64_t line = 0;
  std::vector<std::string> header;
  bool eof = false;
  std::string pending;
  bool has_pending = false;

  bool getline(std::string& out) {
    if (has_pending) { out.swap(pending); has_pending = false; return true; }
    out.clear();
    if (eof) return false;
    char buf[65536];
    bool any = false;
    while (gzgets(gz, buf, sizeof buf)) {
      any = true;
      out += buf;
      if (!out.empty() && out.back() == '\n') break;
    }
    if (!any) { eof = true; return false; }
    if (!out.empty() && out.back() == '\n') out.pop_back();
    if (!out.empty() && out.back() == '\r') out.pop_back();
    ++line;
    return true;
  }

  // One CSV/TSV record; a quoted field may span physical lines.
  bool read_row(std::vector<std::string>& cells, int64_t& start) {
    std::string l;
    if (!getline(l)) return false;
    start = line;
    cells.clear();
    char d = fmt == InputFormat::Tsv ? '\t' : ',';
    std::string cur;
    bool inq = false;
    size_t i = 0;
    while (true) {
      if (i >= l.size()) {
        if (inq) {
          std::string more;
          if (!getline(more)) break;
          cur += '\n';
          l = more;
          i = 0;
          continue;
        }
        break;
      }
      char c = l[i];
      if (inq) {
        if (c == '"') {
          if (i + 1 < l.size() && l[i + 1] == '"') { cur += '"'; i += 2; continue; }
          inq = false; ++i; continue;
        }
        cur += c; ++i;
      } else {
        if (c == '"' && cur.empty()) { inq = true; ++i; continue; }
        if (c == d) { cells.push_back(cur); cur.clear(); ++i; continue; }
        cur += c; ++i;
      }
    }
    cells.push_back(cur);
    return true;
  }
};

RecordReader::RecordReader(const std::string& path, const ReaderOptions& opt) : impl_(std::make_unique<Impl>()) {
  impl_->opt = opt;
  impl_->name = path == "-" ? "<stdin>" : path;
  impl_->gz = path == "-" ? gzdopen(0, "rb") : gzopen(path.c_str(), "rb");
  if (!impl_->gz) TERN_FAIL("cannot open " << path);
  std::string p = path;
  if (ends_with(p, ".gz")) p.resize(p.size() - 3);
  InputFormat f = opt.format;
  if (f == InputFormat::Auto) {
    if (ends_with(p, ".jsonl") || ends_with(p, ".ndjson") || ends_with(p, ".json")) f = InputFormat::Jsonl;
    else if (ends_with(p, ".csv")) f = InputFormat::Csv;
    else if (ends_with(p, ".tsv")) f = InputFormat::Tsv;
    else if (ends_with(p, ".txt")) f = InputFormat::Text;
    else {
      std::string first;
      if (impl_->getline(first)) {
        impl_->pending = first;
        impl_->has_pending = true;
        impl_->line = 0;
        f = (!first.empty() && first[0] == '{') ? InputFormat::Jsonl
            : first.find('\t') != std::string::npos ? InputFormat::Tsv : InputFormat::Csv;
      } else {
        f = InputFormat::Jsonl;
      }
    }
  }
  impl_->fmt = f;
  if ((f == InputFormat::Csv || f == InputFormat::Tsv) && opt.header) {
    int64_t s;
    impl_->read_row(impl_->header, s);
    if (impl_->has_pending) impl_->line = 1;
  }
}

RecordReader::~RecordReader() {
  if (impl_->gz) gzclose(impl_->gz);
}

bool RecordReader::next(Record& r) {
  r.error.clear();
  r.utf8_replaced = false;
  auto& j = *r.json_;
  j = nlohmann::json::object();
  if (impl_->fmt == InputFormat::Jsonl || impl_->fmt == InputFormat::Text) {
    std::string l;
    bool had_pending = impl_->has_pending;
    if (!impl_->getline(l)) return false;
    r.line = had_pending ? 1 : impl_->line;
    if (had_pending) impl_->line = 1;
    if (impl_->fmt == InputFormat::Text) { j["text"] = l; return true; }
    if (l.empty()) { r.error = "empty line"; return true; }
    try {
      j = nlohmann::json::parse(l);
      if (!j.is_object()) { r.error = "not a JSON object"; j = nlohmann::json::object(); }
    } catch (const std::exception& e) {
      r.error = std::string("invalid JSON: ") + e.what();
      j = nlohmann::json::object();
    }
    return true;
  }
  std::vector<std::string> cells;
  int64_t start = 0;
  if (!impl_->read_row(cells, start)) return false;
  r.line = start;
  for (size_t i = 0; i < cells.size(); ++i) {
    std::string k = i < impl_->header.size() ? impl_->header[i] : std::to_string(i);
    try {
      j[k] = nlohmann::json(cells[i]);
      (void)j[k].dump();
    } catch (const std::exception&) {
      r.error = "invalid UTF-8";
    }
  }
  return true;
}

const std::string& RecordReader::name() const { return impl_->name; }
InputFormat RecordReader::format() const { return impl_->fmt; }
int64_t RecordReader::bytes_read() const { return 0; }
int64_t RecordReader::total_bytes() const { return 0; }

const nlohmann::json* find_field(const nlohmann::json& obj, const std::string& dotted) {
  const nlohmann::json* cur = &obj;
  size_t pos = 0;
  while (true) {
    size_t dot = dotted.find('.', pos);
    std::string k = dotted.substr(pos, dot == std::string::npos ? std::string::npos : dot - pos);
    if (!cur->is_object()) return nullptr;
    auto it = cur->find(k);
    if (it == cur->end()) return nullptr;
    cur = &*it;
    if (dot == std::string::npos) return cur;
    pos = dot + 1;
  }
}

}  // namespace tern::infer
