#include "train/dataset.h"

#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "tensor/check.h"

namespace tern::train {

namespace fs = std::filesystem;

Task task_from_name(const std::string& s) {
  if (s == "single" || s == "single_label_classification") return Task::Single;
  if (s == "multi" || s == "multi_label_classification") return Task::Multi;
  if (s == "regression") return Task::Regression;
  TERN_FAIL("unknown task '" << s << "' (single, multi, regression)");
}

const char* task_name(Task t) {
  return t == Task::Single ? "single" : t == Task::Multi ? "multi" : "regression";
}

std::string read_text_file(const std::string& path) {
  TERN_CHECK(fs::is_regular_file(path), path << ": no such file");
  gzFile f = gzopen(path.c_str(), "rb");  // reads plain files transparently
  if (!f) TERN_FAIL(path << ": cannot open: " << std::strerror(errno));
  gzbuffer(f, 1 << 17);
  std::string out;
  std::vector<char> buf(1 << 17);
  for (;;) {
    const int n = gzread(f, buf.data(), static_cast<unsigned>(buf.size()));
    if (n < 0) {
      int code = 0;
      std::string msg = gzerror(f, &code);
      gzclose(f);
      TERN_FAIL(path << ": read error (corrupt gzip data?): " << msg);
    }
    if (n == 0) break;
    out.append(buf.data(), static_cast<size_t>(n));
  }
  // A truncated .gz ends the reads early without an error from gzread: ask zlib how the stream ended.
  int code = Z_OK;
  const char* zmsg = gzerror(f, &code);
  if (code != Z_OK) {
    const std::string msg = zmsg ? zmsg : "";
    gzclose(f);
    TERN_FAIL(path << ": truncated or corrupt gzip data: " << msg);
  }
  gzclose(f);
  return out;
}

std::vector<Record> parse_delimited(const std::string& t, char delim, Quoting quoting) {
  std::vector<Record> out;
  const size_t n = t.size();
  size_t i = 0;
  int64_t line = 1;
  const bool quotes = quoting != Quoting::None;
  while (i < n) {
    // Blank line (LF or CRLF): skipped.
    if (t[i] == '\n') {
      ++i, ++line;
      continue;
    }
    if (t[i] == '\r' && i + 1 < n && t[i + 1] == '\n') {
      i += 2, ++line;
      continue;
    }
    Record r;
    r.line = line;
    std::string field;
    bool done = false;
    while (!done) {
      field.clear();
      if (quotes && i < n && t[i] == '"') {
        // Quoted field: "" is a quote; delimiters and newlines are literal until the closing quote.
        const int64_t start_line = line;
        ++i;
        bool closed = false;
        while (i < n) {
          const char c = t[i];
          if (c == '"') {
            if (i + 1 < n && t[i + 1] == '"') {
              field += '"';
              i += 2;
              continue;
            }
            ++i;
            closed = true;
            break;
          }
          if (c == '\n') ++line;
          field += c;
          ++i;
        }
        if (!closed) {
          r.error = "unterminated quoted field (opened on line " + std::to_string(start_line) + ")";
          r.fields.push_back(field);
          out.push_back(std::move(r));
          return out;
        }
        // After the closing quote: a delimiter, the end of the record, or garbage.
        if (i < n && t[i] != delim && t[i] != '\n' && !(t[i] == '\r' && i + 1 < n && t[i + 1] == '\n') &&
            !(t[i] == '\r' && i + 1 == n)) {
          if (r.error.empty())
            r.error = "text after a closing quote in field " + std::to_string(r.fields.size() + 1);
          while (i < n && t[i] != delim && t[i] != '\n') field += t[i++];
          if (!field.empty() && field.back() == '\r' && (i >= n || t[i] == '\n')) field.pop_back();
        }
      } else {
        while (i < n && t[i] != delim && t[i] != '\n') field += t[i++];
        if (!field.empty() && field.back() == '\r' && (i >= n || t[i] == '\n')) field.pop_back();
      }
      r.fields.push_back(field);
      if (i < n && t[i] == delim) {
        ++i;
        continue;
      }
      if (i < n && t[i] == '\r') ++i;  // CR of a CRLF after a quoted field
      if (i < n && t[i] == '\n') ++i, ++line;
      done = true;
    }
    out.push_back(std::move(r));
  }
  return out;
}

namespace {

std::string trim(const std::string& s) {
  size_t a = 0, b = s.size();
  while (a < b && std::isspace(static_cast<unsigned char>(s[a]))) ++a;
  while (b > a && std::isspace(static_cast<unsigned char>(s[b - 1]))) --b;
  return s.substr(a, b - a);
}

bool parse_double(const std::string& s0, double* out) {
  const std::string s = trim(s0);
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || errno == ERANGE || !std::isfinite(v)) return false;
  *out = v;
  return true;
}

// A class id or name -> id in [0, L).
int64_t class_id(const std::string& raw, const LabelSpec& spec, int64_t L) {
  const std::string s = trim(raw);
  double d;
  if (parse_double(s, &d) && d == std::floor(d)) {
    // Range check in double first: casting a value outside int64's range is undefined.
    if (d < 0 || d >= static_cast<double>(L))
      TERN_FAIL("label " << s << " is not a class id in [0, " << L << ")");
    return static_cast<int64_t>(d);
  }
  for (size_t k = 0; k < spec.names.size(); ++k)
    if (spec.names[k] == s) return static_cast<int64_t>(k);
  if (spec.names.empty()) TERN_FAIL("label '" << s << "' is not a class id (give --labels to map names)");
  std::string known;
  for (size_t k = 0; k < spec.names.size() && k < 20; ++k) known += (k ? ", " : "") + spec.names[k];
  TERN_FAIL("label '" << s << "' is neither a class id in [0, " << L << ") nor one of the labels (" << known
                      << ")");
}

}  // namespace

int64_t label_count(const LabelSpec& spec, size_t n_fields) {
  if (spec.task == Task::Regression)
    return spec.num_labels > 0 ? spec.num_labels : static_cast<int64_t>(n_fields);
  return spec.num_labels > 0 ? spec.num_labels : static_cast<int64_t>(spec.names.size());
}

void encode_labels(const std::vector<std::string>& values, const LabelSpec& spec, int64_t L, float* out) {
  switch (spec.task) {
    case Task::Single: {
      TERN_CHECK(values.size() == 1, "single-label task with " << values.size() << " label fields");
      out[0] = static_cast<float>(class_id(values[0], spec, L));
      return;
    }
    case Task::Multi: {
      std::fill(out, out + L, 0.f);
      if (values.size() == 1 && L != 1) {
        // A list of ids / names: "1,4", "[1, 4]", "[\"music\", \"sports\"]", "music|sports"; empty = none.
        std::string s = trim(values[0]);
        if (s.size() >= 2 && s.front() == '[' && s.back() == ']') s = s.substr(1, s.size() - 2);
        std::string tok;
        auto flush = [&]() {
          std::string x = trim(tok);
          if (x.size() >= 2 && x.front() == '"' && x.back() == '"') x = x.substr(1, x.size() - 2);
          if (!x.empty()) out[class_id(x, spec, L)] = 1.f;
          tok.clear();
        };
        for (char c : s) {
          if (c == ',' || c == ';' || c == '|')
            flush();
          else
            tok += c;
        }
        flush();
        return;
      }
      TERN_CHECK(static_cast<int64_t>(values.size()) == L,
                 "multi-label task: " << values.size() << " label fields for " << L << " labels");
      for (int64_t k = 0; k < L; ++k) {
        const std::string s = trim(values[k]);
        double d;
        if (s == "true" || s == "True")
          d = 1;
        else if (s == "false" || s == "False")
          d = 0;
        else if (!parse_double(s, &d))
          TERN_FAIL("label field " << k + 1 << ": '" << s << "' is not 0/1");
        if (d < 0 || d > 1) TERN_FAIL("label field " << k + 1 << ": " << s << " is not in [0, 1]");
        out[k] = static_cast<float>(d);
      }
      return;
    }
    case Task::Regression: {
      TERN_CHECK(static_cast<int64_t>(values.size()) == L,
                 "regression: " << values.size() << " label fields for " << L << " targets");
      for (int64_t k = 0; k < L; ++k) {
        double d;
        if (!parse_double(values[k], &d))
          TERN_FAIL("target '" << trim(values[k]) << "' is not a finite number");
        out[k] = static_cast<float>(d);
      }
      return;
    }
  }
}

namespace {

bool ends_with(const std::string& s, const std::string& e) {
  return s.size() >= e.size() && s.compare(s.size() - e.size(), e.size(), e) == 0;
}

std::string strip_gz(const std::string& p) {
  return ends_with(p, ".gz") ? p.substr(0, p.size() - 3) : p;
}

std::string existing(const std::string& base) {
  if (fs::is_regular_file(base)) return base;
  if (fs::is_regular_file(base + ".gz")) return base + ".gz";
  return "";
}

// Collects rows; handles bad ones by the options.
struct Builder {
  Dataset& d;
  const LabelSpec& spec;
  const ReadOptions& opt;
  int64_t L = 1;
  bool with_labels = true;

  void bad(const std::string& where, const std::string& why) {
    const std::string msg = where + ": " + why;
    if (!opt.skip_bad_rows) TERN_FAIL(msg << " (use --skip-bad-rows to skip such rows)");
    ++d.skipped;
    if (d.skip_reasons.size() < 5) d.skip_reasons.push_back(msg);
  }
  void add(std::string text, const std::vector<std::string>& labels, int64_t line, const std::string& where) {
    if (with_labels) {
      std::vector<float> y(static_cast<size_t>(d.width));
      try {
        encode_labels(labels, spec, L, y.data());
      } catch (const Error& e) {
        bad(where, e.what());
        return;
      }
      d.targets.insert(d.targets.end(), y.begin(), y.end());
    }
    d.texts.push_back(std::move(text));
    d.lines.push_back(line);
  }
};

std::vector<std::string> split_lines(const std::string& t) {
  std::vector<std::string> out;
  size_t a = 0;
  while (a < t.size()) {
    size_t b = t.find('\n', a);
    if (b == std::string::npos) b = t.size();
    std::string l = t.substr(a, b - a);
    if (!l.empty() && l.back() == '\r') l.pop_back();
    out.push_back(std::move(l));
    a = b + 1;
  }
  return out;
}

void read_tweeteval(const std::string& text_path, const std::string& labels_path, Builder& b) {
  const std::vector<std::string> texts = split_lines(read_text_file(text_path));
  std::vector<std::string> labels;
  if (!labels_path.empty()) {
    labels = split_lines(read_text_file(labels_path));
    if (labels.size() != texts.size())
      TERN_FAIL(text_path << " has " << texts.size() << " lines but " << labels_path << " has "
                          << labels.size());
  } else if (b.with_labels) {
    TERN_FAIL(
        text_path << ": no labels file next to it (expected "
                  << strip_gz(text_path).substr(0, strip_gz(text_path).size() - std::strlen("_text.txt"))
                  << "_labels.txt)");
  }
  b.d.width = b.spec.task == Task::Single ? 1 : b.L;
  for (size_t i = 0; i < texts.size(); ++i) {
    std::vector<std::string> v;
    if (b.with_labels) v = {labels[i]};
    b.add(texts[i], v, static_cast<int64_t>(i) + 1,
          (b.with_labels ? labels_path : text_path) + ":" + std::to_string(i + 1));
  }
}

void read_table(const std::string& path, char delim, Builder& b) {
  Quoting q = b.opt.quoting;
  if (q == Quoting::Auto) q = delim == '\t' ? Quoting::None : Quoting::Rfc4180;
  std::vector<Record> recs = parse_delimited(read_text_file(path), delim, q);
  TERN_CHECK(!recs.empty(), path << ": empty file (a header row is needed)");
  const Record& h = recs[0];
  TERN_CHECK(h.error.empty(), path << ":" << h.line << ": bad header: " << h.error);
  auto column = [&](const std::string& name, bool required) -> int64_t {
    for (size_t k = 0; k < h.fields.size(); ++k)
      if (h.fields[k] == name) return static_cast<int64_t>(k);
    if (!required) return -1;
    std::string cols;
    for (size_t k = 0; k < h.fields.size() && k < 30; ++k) cols += (k ? ", " : "") + h.fields[k];
    TERN_FAIL(path << ": no column '" << name << "' in the header (columns: " << cols << ")");
  };
  const int64_t tc = column(b.opt.text_field, true);
  std::vector<int64_t> lc;
  if (b.with_labels) {
    for (const auto& f : b.opt.label_fields) lc.push_back(column(f, true));
  }
  const size_t ncol = h.fields.size();
  for (size_t r = 1; r < recs.size(); ++r) {
    const Record& rec = recs[r];
    const std::string where = path + ":" + std::to_string(rec.line);
    if (!rec.error.empty()) {
      b.bad(where, rec.error);
      continue;
    }
    if (rec.fields.size() != ncol) {
      b.bad(where, "expected " + std::to_string(ncol) + " fields (as the header), found " +
                       std::to_string(rec.fields.size()));
      continue;
    }
    std::vector<std::string> v;
    for (int64_t c : lc) v.push_back(rec.fields[c]);
    b.add(rec.fields[tc], v, rec.line, where);
  }
}

// A JSON value as the string encode_labels() parses.
std::string json_label(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "1" : "0";
  if (v.is_number_integer() || v.is_number_unsigned()) return v.dump();
  if (v.is_number_float()) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.9g", v.get<double>());
    return buf;
  }
  if (v.is_array()) {
    std::string s;
    for (size_t k = 0; k < v.size(); ++k) {
      TERN_CHECK(!v[k].is_array() && !v[k].is_object(), "nested label list");
      s += (k ? "," : "") + json_label(v[k]);
    }
    return s;
  }
  TERN_FAIL("label value " << v.dump() << " is not a number, string or list");
}

void read_jsonl(const std::string& path, Builder& b) {
  const std::vector<std::string> lines = split_lines(read_text_file(path));
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string where = path + ":" + std::to_string(i + 1);
    if (trim(lines[i]).empty()) continue;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(lines[i]);
    } catch (const std::exception& e) {
      b.bad(where, std::string("invalid JSON: ") + e.what());
      continue;
    }
    if (!j.is_object()) {
      b.bad(where, "not a JSON object");
      continue;
    }
    auto it = j.find(b.opt.text_field);
    if (it == j.end() || !it->is_string()) {
      b.bad(where, "no string field '" + b.opt.text_field + "'");
      continue;
    }
    std::vector<std::string> v;
    bool ok = true;
    if (b.with_labels) {
      for (const auto& f : b.opt.label_fields) {
        auto lt = j.find(f);
        if (lt == j.end() || lt->is_null()) {
          b.bad(where, "no label field '" + f + "'");
          ok = false;
          break;
        }
        try {
          v.push_back(json_label(*lt));
        } catch (const Error& e) {
          b.bad(where, "field '" + f + "': " + e.what());
          ok = false;
          break;
        }
      }
    }
    if (ok) b.add(it->get<std::string>(), v, static_cast<int64_t>(i) + 1, where);
  }
}

}  // namespace

Dataset read_dataset(const std::string& path, const LabelSpec& spec, const ReadOptions& opt0) {
  ReadOptions opt = opt0;
  if (opt.label_fields.empty()) {
    // Multi-label with named labels and no field given: one 0/1 column per label name.
    if (spec.task == Task::Multi && !spec.names.empty())
      opt.label_fields = spec.names;
    else
      opt.label_fields = {"label"};
  }
  Dataset d;
  d.source = path;
  Builder b{d, spec, opt};
  b.with_labels = opt.labels_required;
  b.L = label_count(spec, opt.label_fields.size());
  if (b.with_labels) TERN_CHECK(b.L >= 1, "the number of labels is unknown (give --labels)");
  d.width = spec.task == Task::Single ? 1 : b.L;

  const std::string base = strip_gz(path);
  if (ends_with(base, ".csv")) {
    read_table(path, ',', b);
  } else if (ends_with(base, ".tsv") || ends_with(base, ".tab")) {
    read_table(path, '\t', b);
  } else if (ends_with(base, ".jsonl") || ends_with(base, ".ndjson") || ends_with(base, ".json")) {
    read_jsonl(path, b);
  } else {
    // TweetEval: <prefix>_text.txt[.gz] + <prefix>_labels.txt[.gz].
    std::string prefix;
    if (ends_with(base, "_text.txt"))
      prefix = base.substr(0, base.size() - std::strlen("_text.txt"));
    else if (!existing(base + "_text.txt").empty())
      prefix = base;
    else
      TERN_FAIL(path << ": unknown data format (expected .csv, .tsv, .jsonl (optionally .gz), a TweetEval "
                        "<split>_text.txt or the prefix <dir>/<split> of one)");
    const std::string tp = fs::is_regular_file(path) ? path : existing(prefix + "_text.txt");
    TERN_CHECK(!tp.empty(), path << ": no such file");
    std::string lp = existing(prefix + "_labels.txt");
    if (!b.with_labels) lp.clear();
    read_tweeteval(tp, lp, b);
  }
  TERN_CHECK(!d.texts.empty(), path << ": no rows" << (d.skipped ? " (every row was bad and skipped)" : ""));
  return d;
}

}  // namespace tern::train
