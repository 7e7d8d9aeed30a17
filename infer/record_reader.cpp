// Streaming record readers (record_reader.h). Bytes come through zlib's gzread, which passes a plain file
// through unchanged and decompresses gzip (detected by its magic bytes, concatenated members included).
#include "infer/record_reader.h"

#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <iconv.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <nlohmann/json.hpp>

#include "tensor/check.h"
#include "tokenizer/tokenizer.h"

namespace tern::infer {

using json = nlohmann::json;

InputFormat input_format_from_name(const std::string& s) {
  if (s == "auto") return InputFormat::Auto;
  if (s == "jsonl" || s == "ndjson" || s == "json") return InputFormat::Jsonl;
  if (s == "csv") return InputFormat::Csv;
  if (s == "tsv") return InputFormat::Tsv;
  if (s == "text" || s == "txt") return InputFormat::Text;
  TERN_FAIL("unknown input format '" << s << "' (jsonl, csv, tsv, text or auto)");
}

const char* input_format_name(InputFormat f) {
  switch (f) {
    case InputFormat::Auto:
      return "auto";
    case InputFormat::Jsonl:
      return "jsonl";
    case InputFormat::Csv:
      return "csv";
    case InputFormat::Tsv:
      return "tsv";
    case InputFormat::Text:
      return "text";
  }
  return "?";
}

Record::Record() : json_(std::make_unique<nlohmann::json>()) {}
Record::~Record() = default;
Record::Record(Record&&) noexcept = default;
Record& Record::operator=(Record&&) noexcept = default;

namespace {

bool ends_with(const std::string& s, const std::string& suf) {
  return s.size() >= suf.size() && s.compare(s.size() - suf.size(), suf.size(), suf) == 0;
}

InputFormat format_from_name(std::string path) {
  for (auto& c : path) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (ends_with(path, ".gz")) path.resize(path.size() - 3);
  if (ends_with(path, ".jsonl") || ends_with(path, ".ndjson") || ends_with(path, ".json"))
    return InputFormat::Jsonl;
  if (ends_with(path, ".csv")) return InputFormat::Csv;
  if (ends_with(path, ".tsv") || ends_with(path, ".tab")) return InputFormat::Tsv;
  if (ends_with(path, ".txt")) return InputFormat::Text;
  return InputFormat::Auto;
}

bool is_utf8_name(const std::string& e) {
  std::string l;
  for (char c : e) l += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return l.empty() || l == "utf-8" || l == "utf8";
}

}  // namespace

struct LineReader::Impl {
  std::string name;
  int64_t max_line = 0;  // 0: no limit
  int fd = -1;
  bool owned = false;
  gzFile gz = nullptr;
  int64_t total = 0;
  std::vector<char> buf = std::vector<char>(1 << 20);
  size_t pos = 0, end = 0;
  bool eof = false;
  int64_t lineno = 0;  // lines consumed so far

  ~Impl() {
    if (gz)
      gzclose(gz);  // closes fd too
    else if (owned && fd >= 0)
      ::close(fd);
  }

  bool fill() {
    if (eof) return false;
    if (pos > 0) {
      std::memmove(buf.data(), buf.data() + pos, end - pos);
      end -= pos;
      pos = 0;
    }
    if (end == buf.size()) buf.resize(buf.size() * 2);
    const int n = gzread(gz, buf.data() + end, static_cast<unsigned>(buf.size() - end));
    if (n < 0) {
      int err = 0;
      const char* msg = gzerror(gz, &err);
      TERN_FAIL(name << ": read error after line " << lineno << ": "
                     << (err == Z_ERRNO ? std::strerror(errno) : msg));
    }
    if (n == 0) {
      // gzread returns 0 at the end; a truncated or damaged gzip stream is reported by gzerror.
      int err = 0;
      const char* msg = gzerror(gz, &err);
      // zlib prefixes its message with "<fd:N>: " (a descriptor number): only the reason is kept.
      std::string why = msg ? msg : "";
      if (why.rfind("<fd:", 0) == 0 && why.find(": ") != std::string::npos)
        why = why.substr(why.find(": ") + 2);
      TERN_CHECK(err == Z_OK, name << ": damaged compressed input after line " << lineno << ": " << why);
      eof = true;
      return false;
    }
    end += static_cast<size_t>(n);
    return true;
  }

  bool next(std::string& out, bool& too_long) {
    out.clear();
    too_long = false;
    const size_t limit = max_line > 0 ? static_cast<size_t>(max_line) : SIZE_MAX;
    bool any = false;
    for (;;) {
      if (pos == end && !fill()) {
        if (!any) return false;
        break;
      }
      any = true;
      const char* s = buf.data() + pos;
      const void* nl = std::memchr(s, '\n', end - pos);
      const size_t n = nl ? static_cast<size_t>(static_cast<const char*>(nl) - s) : end - pos;
      if (!too_long) {
        if (out.size() + n > limit) {
          too_long = true;
          out.clear();
        } else {
          out.append(s, n);
        }
      }
      pos += n;
      if (nl) {
        ++pos;
        break;
      }
    }
    ++lineno;
    return true;
  }
};

LineReader::LineReader(const std::string& path, int64_t max_line_bytes) : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.max_line = max_line_bytes;
  if (path == "-") {
    m.name = "<stdin>";
    m.fd = STDIN_FILENO;
  } else {
    m.name = path;
    m.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    TERN_CHECK(m.fd >= 0, path << ": cannot open: " << std::strerror(errno));
    m.owned = true;
    struct stat st;
    TERN_CHECK(::fstat(m.fd, &st) == 0, path << ": " << std::strerror(errno));
    TERN_CHECK(!S_ISDIR(st.st_mode), path << ": is a directory");
    if (S_ISREG(st.st_mode)) m.total = st.st_size;
  }
  // gzread closes the descriptor it was given; stdin is duplicated so that it stays open.
  const int gfd = m.owned ? m.fd : ::dup(m.fd);
  TERN_CHECK(gfd >= 0, m.name << ": " << std::strerror(errno));
  m.gz = gzdopen(gfd, "rb");
  TERN_CHECK(m.gz, m.name << ": cannot read");
  gzbuffer(m.gz, 1 << 18);
}
LineReader::~LineReader() = default;
bool LineReader::next(std::string& line, bool* too_long) {
  bool tl = false;
  const bool got = impl_->next(line, tl);
  if (too_long) *too_long = tl;
  return got;
}
int64_t LineReader::line() const {
  return impl_->lineno;
}
const std::string& LineReader::name() const {
  return impl_->name;
}
int64_t LineReader::bytes_read() const {
  return impl_->gz ? static_cast<int64_t>(gzoffset(impl_->gz)) : 0;
}
int64_t LineReader::total_bytes() const {
  return impl_->total;
}

struct RecordReader::Impl {
  std::string name;
  ReaderOptions opt;
  InputFormat format = InputFormat::Auto;
  std::unique_ptr<LineReader> lines;
  iconv_t cd = reinterpret_cast<iconv_t>(-1);
  int64_t lineno = 0;  // lines consumed so far

  std::vector<std::string> columns;
  bool header_done = false;
  bool started = false;

  ~Impl() {
    if (cd != reinterpret_cast<iconv_t>(-1)) iconv_close(cd);
  }

  // One physical line without "\n" and without one trailing "\r". Returns false at the end. A line
  // longer than the limit is consumed and flagged (`too_long`), its bytes dropped.
  bool read_line(std::string& out, bool& too_long) {
    if (!lines->next(out, &too_long)) return false;
    lineno = lines->line();
    if (!out.empty() && out.back() == '\r') out.pop_back();
    return true;
  }

  // Converts from the --encoding to UTF-8; invalid input bytes become U+FFFD or an error.
  bool transcode(std::string& s, std::string& error, bool& replaced) {
    if (cd == reinterpret_cast<iconv_t>(-1)) return true;
    std::string out;
    out.resize(s.size() * 4 + 16);
    char* in = s.data();
    size_t in_left = s.size();
    char* o = out.data();
    size_t o_left = out.size();
    iconv(cd, nullptr, nullptr, nullptr, nullptr);
    while (in_left > 0) {
      const size_t rc = iconv(cd, &in, &in_left, &o, &o_left);
      if (rc != static_cast<size_t>(-1)) break;
      if (errno == EILSEQ || errno == EINVAL) {
        if (opt.invalid_utf8 == InvalidUtf8::Error) {
          error = "byte 0x" + hex(static_cast<unsigned char>(*in)) + " at column " +
                  std::to_string(in - s.data() + 1) + " is invalid in " + opt.encoding;
          return false;
        }
        replaced = true;
        ++in, --in_left;
        if (o_left < 3) break;
        std::memcpy(o, "\xEF\xBF\xBD", 3);
        o += 3, o_left -= 3;
      } else {
        break;  // E2BIG cannot happen with 4x room
      }
    }
    out.resize(out.size() - o_left);
    s.swap(out);
    return true;
  }

  static std::string hex(unsigned char c) {
    const char* d = "0123456789abcdef";
    return std::string{d[c >> 4], d[c & 15]};
  }

  // Checks UTF-8; on invalid bytes either fails the record or replaces them.
  bool check_utf8(std::string& s, std::string& error, bool& replaced) {
    size_t bad = 0;
    std::string fixed = tok::sanitize_utf8(s, &bad);
    if (bad == 0) return true;
    if (opt.invalid_utf8 == InvalidUtf8::Error) {
      // Locate the first bad byte for the message.
      size_t i = 0;
      while (i < s.size() && i < fixed.size() && s[i] == fixed[i]) ++i;
      error =
          "invalid UTF-8 at byte " + std::to_string(i + 1) + " (use --encoding or --invalid-utf8 replace)";
      return false;
    }
    replaced = true;
    s.swap(fixed);
    return true;
  }

  // Splits a CSV record (RFC 4180). Returns false with `error` on a malformed one; `need_more` when a
  // quoted field runs past the end of the text (the record continues on the next line).
  static bool split_csv(const std::string& s, char delim, std::vector<std::string>& fields,
                        std::string& error, bool& need_more) {
    fields.clear();
    need_more = false;
    std::string cur;
    size_t i = 0;
    const size_t n = s.size();
    for (;;) {
      cur.clear();
      if (i < n && s[i] == '"') {
        ++i;
        for (;;) {
          if (i >= n) {
            need_more = true;
            return false;
          }
          if (s[i] == '"') {
            if (i + 1 < n && s[i + 1] == '"') {
              cur += '"';
              i += 2;
              continue;
            }
            ++i;
            break;
          }
          cur += s[i++];
        }
        if (i < n && s[i] != delim) {
          error = "text after a closing quote at column " + std::to_string(i + 1);
          return false;
        }
      } else {
        while (i < n && s[i] != delim) {
          if (s[i] == '"') {
            error = "a quote inside an unquoted field at column " + std::to_string(i + 1);
            return false;
          }
          cur += s[i++];
        }
      }
      fields.push_back(std::move(cur));
      if (i >= n) return true;
      ++i;  // delimiter
    }
  }

  void decide_format(const std::string& first_line) {
    if (format != InputFormat::Auto) return;
    size_t i = 0;
    while (i < first_line.size() && (first_line[i] == ' ' || first_line[i] == '\t')) ++i;
    // A UTF-8 byte-order mark is skipped in the sniff.
    if (first_line.compare(i, 3, "\xEF\xBB\xBF") == 0) i += 3;
    format = i < first_line.size() && first_line[i] == '{' ? InputFormat::Jsonl : InputFormat::Text;
  }

  bool next(Record& r) {
    r.error.clear();
    r.utf8_replaced = false;
    json& j = r.json();
    j = nullptr;
    std::string line;
    bool too_long = false;
    for (;;) {
      if (!read_line(line, too_long)) return false;
      r.line = lineno;
      if (!started) {
        started = true;
        if (line.compare(0, 3, "\xEF\xBB\xBF") == 0) line.erase(0, 3);  // BOM
        decide_format(line);
      }
      if ((format == InputFormat::Csv || format == InputFormat::Tsv) && opt.header && !header_done) {
        if (too_long)
          TERN_FAIL(name << ": line 1: the header is longer than " << opt.max_line_bytes << " bytes");
        std::string err;
        bool rep = false;
        bool more = false;
        std::vector<std::string> f;
        if (format == InputFormat::Csv) {
          std::string cont;
          bool tl = false;
          while (!split_csv(line, ',', f, err, more)) {
            TERN_CHECK(more, name << ": line 1 (header): " << err);
            TERN_CHECK(read_line(cont, tl) && !tl, name << ": the header's quoted field never ends");
            line += '\n' + cont;
          }
        } else {
          split_tsv(line, f);
        }
        // Column names are transcoded and checked like cells (a quoted name may span lines).
        for (auto& c : f)
          TERN_CHECK(transcode(c, err, rep) && check_utf8(c, err, rep), name << ": line 1 (header): " << err);
        columns = std::move(f);
        header_done = true;
        continue;
      }
      break;
    }
    if (too_long) {
      r.error = "line longer than " + std::to_string(opt.max_line_bytes) + " bytes (--max-line-bytes)";
      return true;
    }
    if (format == InputFormat::Csv) {
      // A quoted field may hold newlines: the record goes on over further lines.
      std::vector<std::string> fields;
      std::string err, cont;
      bool more = false;
      while (!split_csv(line, ',', fields, err, more)) {
        if (!more) {
          r.error = err;
          return true;
        }
        bool tl = false;
        if (!read_line(cont, tl)) {
          r.error = "a quoted field is not closed before the end of the input";
          return true;
        }
        if (tl || line.size() + cont.size() + 1 > static_cast<size_t>(opt.max_line_bytes)) {
          r.error = "record longer than " + std::to_string(opt.max_line_bytes) + " bytes (--max-line-bytes)";
          return true;
        }
        line += '\n';
        line += cont;
      }
      return fill_table(r, line, fields);
    }
    if (line.empty() || line.find_first_not_of(" \t") == std::string::npos) {
      r.error = "empty line";
      return true;
    }
    std::string err;
    if (!transcode(line, err, r.utf8_replaced) || !check_utf8(line, err, r.utf8_replaced)) {
      r.error = err;
      return true;
    }
    if (format == InputFormat::Tsv) {
      std::vector<std::string> fields;
      split_tsv(line, fields);
      return fill_table(r, std::string(), fields);
    }
    if (format == InputFormat::Text) {
      j = json::object();
      j["text"] = std::move(line);
      return true;
    }
    // JSONL
    try {
      j = json::parse(line);
    } catch (const json::exception& e) {
      // parse_error, and out_of_range for a number too large for a double ("1E999999"): a bad row.
      r.error = std::string("invalid JSON: ") + short_json_error(e.what());
      j = nullptr;
      return true;
    }
    if (!j.is_object()) {
      r.error = std::string("not a JSON object (a ") + j.type_name() + ")";
      j = nullptr;
    }
    return true;
  }

  static std::string short_json_error(const std::string& what) {
    // "[json.exception.parse_error.101] parse error at line 1, column 5: syntax error ..." -> after "]".
    const size_t p = what.find("] ");
    return p == std::string::npos ? what : what.substr(p + 2);
  }

  static void split_tsv(const std::string& s, std::vector<std::string>& f) {
    f.clear();
    size_t a = 0;
    for (;;) {
      const size_t b = s.find('\t', a);
      f.push_back(s.substr(a, b == std::string::npos ? std::string::npos : b - a));
      if (b == std::string::npos) break;
      a = b + 1;
    }
  }

  // CSV / TSV cells -> {column: cell}. `raw` (CSV) is already split into `fields`; the cells are transcoded
  // and checked one by one.
  bool fill_table(Record& r, const std::string& raw, std::vector<std::string>& fields) {
    json& j = r.json();
    if (fields.size() == 1 && fields[0].find_first_not_of(" \t") == std::string::npos) {
      r.error = "empty line";
      return true;
    }
    std::string err;
    for (auto& f : fields) {
      if (!transcode(f, err, r.utf8_replaced) || !check_utf8(f, err, r.utf8_replaced)) {
        r.error = err;
        return true;
      }
    }
    if (!opt.header) {
      if (columns.empty())
        for (size_t i = 0; i < fields.size(); ++i) columns.push_back("col" + std::to_string(i + 1));
    }
    if (fields.size() != columns.size()) {
      r.error =
          std::to_string(fields.size()) + " fields where the header has " + std::to_string(columns.size());
      return true;
    }
    j = json::object();
    for (size_t i = 0; i < fields.size(); ++i)
      if (!j.contains(columns[i])) j[columns[i]] = std::move(fields[i]);
    return true;
  }
};

RecordReader::RecordReader(const std::string& path, const ReaderOptions& opt)
    : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.opt = opt;
  TERN_CHECK(opt.max_line_bytes > 0, "max_line_bytes must be > 0");
  m.lines = std::make_unique<LineReader>(path, opt.max_line_bytes);
  m.name = m.lines->name();
  m.format = opt.format == InputFormat::Auto && path != "-" ? format_from_name(path) : opt.format;
  if (!is_utf8_name(opt.encoding)) {
    m.cd = iconv_open("UTF-8", opt.encoding.c_str());
    TERN_CHECK(
        m.cd != reinterpret_cast<iconv_t>(-1),
        "unknown encoding '" << opt.encoding << "' (iconv names: windows-1252, latin1, macintosh, ...)");
  }
}

RecordReader::~RecordReader() = default;

bool RecordReader::next(Record& r) {
  return impl_->next(r);
}
const std::string& RecordReader::name() const {
  return impl_->name;
}
InputFormat RecordReader::format() const {
  return impl_->format;
}
const std::vector<std::string>& RecordReader::columns() const {
  return impl_->columns;
}
int64_t RecordReader::bytes_read() const {
  return impl_->lines->bytes_read();
}
int64_t RecordReader::total_bytes() const {
  return impl_->lines->total_bytes();
}

const json* find_field(const json& obj, const std::string& dotted) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(dotted);
  if (it != obj.end()) return &*it;
  const size_t dot = dotted.find('.');
  if (dot == std::string::npos) return nullptr;
  // Try every split point: "a.b.c" = a -> "b.c", or "a.b" -> c.
  for (size_t p = dot; p != std::string::npos; p = dotted.find('.', p + 1)) {
    auto h = obj.find(dotted.substr(0, p));
    if (h == obj.end() || !h->is_object()) continue;
    if (const json* f = find_field(*h, dotted.substr(p + 1))) return f;
  }
  return nullptr;
}

std::string first_present_field(const json& obj, const std::vector<std::string>& candidates) {
  for (const auto& c : candidates)
    if (find_field(obj, c)) return c;
  return "";
}

}  // namespace tern::infer
