// tern tokenize: texts (one per line) -> token ids as JSON lines, with exactly Hugging Face's ids.
#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "tensor/check.h"
#include "tokenizer/tokenizer.h"
#include "weights/model_file.h"

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
    "file keeps only complete lines: those of the first texts.";

struct File {
  FILE* f = nullptr;
  bool owned = false;
  std::string name;
  char* buf = nullptr;  // getline() buffer
  size_t cap = 0;
  ~File() {
    if (owned && f) std::fclose(f);
    std::free(buf);
  }
};

void open_file(File& fl, const std::string& path, bool write) {
  fl.name = path == "-" ? (write ? "<stdout>" : "<stdin>") : path;
  if (path == "-") {
    fl.f = write ? stdout : stdin;
    return;
  }
  fl.f = std::fopen(path.c_str(), write ? "wb" : "rb");
  TERN_CHECK(fl.f,
             path << ": cannot open for " << (write ? "writing" : "reading") << ": " << std::strerror(errno));
  fl.owned = true;
}

// The JSONL output, written with write(2) so that what reached the file is known exactly. On a write error
// (disk full, file size limit) the file is cut back to its last complete line: a reader never sees half a
// JSON line, and the lines kept are exactly the first `lines` texts.
struct Output {
  int fd = -1;
  bool owned = false, regular = false;
  std::string name;
  off_t base = 0;       // offset where our output starts (stdout may be appended to)
  off_t committed = 0;  // bytes of complete lines written after base
  size_t lines = 0;     // complete lines written
  ~Output() {
    if (owned && fd >= 0) ::close(fd);
  }
  void open(const std::string& path) {
    name = path == "-" ? "<stdout>" : path;
    if (path == "-") {
      fd = STDOUT_FILENO;
    } else {
      fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
      TERN_CHECK(fd >= 0, path << ": cannot open for writing: " << std::strerror(errno));
      owned = true;
    }
    struct stat st;
    regular = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    if (regular) {
      base = ::lseek(fd, 0, SEEK_CUR);
      if (base < 0) base = 0;
    }
  }
  // `buf` holds complete lines only.
  void write_lines(const std::string& buf) {
    size_t done = 0;
    while (done < buf.size()) {
      const ssize_t n = ::write(fd, buf.data() + done, buf.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) fail(n < 0 ? errno : EIO, buf, done);
      done += static_cast<size_t>(n);
    }
    for (char c : buf) lines += c == '\n';
    committed += static_cast<off_t>(buf.size());
  }
  void close_file() {
    if (!owned) return;
    const int rc = ::close(fd);
    fd = -1;
    TERN_CHECK(rc == 0, name << ": write error on close: " << std::strerror(errno));
  }
  [[noreturn]] void fail(int err, const std::string& buf, size_t done) {
    // Keep the complete lines of the part of `buf` that was written, cut the rest.
    size_t keep = 0;
    for (size_t i = 0; i < done; ++i)
      if (buf[i] == '\n') keep = i + 1, ++lines;
    std::string what;
    if (regular) {
      if (::ftruncate(fd, base + committed + static_cast<off_t>(keep)) == 0)
        what = "; kept the first " + std::to_string(lines) + " lines, each complete";
      else
        what = std::string("; could not cut the partial last line: ") + std::strerror(errno);
    } else {
      what = "; the first " + std::to_string(lines) + " lines were written complete";
    }
    TERN_FAIL(name << ": write error: " << std::strerror(err) << what);
  }
};

// Reads one line without its "\n" (embedded NUL bytes kept); false at end of file.
bool read_line(File& fl, std::string& line) {
  line.clear();
  const ssize_t n = ::getline(&fl.buf, &fl.cap, fl.f);
  if (n < 0) {
    TERN_CHECK(!std::ferror(fl.f), fl.name << ": read error: " << std::strerror(errno));
    return false;
  }
  size_t len = static_cast<size_t>(n);
  if (len > 0 && fl.buf[len - 1] == '\n') --len;
  line.assign(fl.buf, len);
  return true;
}

void append_int(std::string& out, long v) {
  char buf[24];
  const int n = std::snprintf(buf, sizeof buf, "%ld", v);
  out.append(buf, static_cast<size_t>(n));
}

void write_json(std::string& out, const tok::Encoding& e, bool offsets, bool type_ids) {
  out += "{\"ids\":[";
  for (size_t i = 0; i < e.ids.size(); ++i) {
    if (i) out += ',';
    append_int(out, e.ids[i]);
  }
  out += ']';
  if (type_ids) {
    out += ",\"type_ids\":[";
    for (size_t i = 0; i < e.type_ids.size(); ++i) {
      if (i) out += ',';
      append_int(out, e.type_ids[i]);
    }
    out += ']';
  }
  if (offsets) {
    out += ",\"offsets\":[";
    for (size_t i = 0; i < e.offsets.size(); ++i) {
      if (i) out += ',';
      out += '[';
      append_int(out, e.offsets[i].first);
      out += ',';
      append_int(out, e.offsets[i].second);
      out += ']';
    }
    out += ']';
  }
  out += "}\n";
}

}  // namespace

int cmd_tokenize(int argc, char** argv) {
  CLI::App app("", "tern tokenize");
  app.footer(kAbout);
  init_app(app);
  std::string model, tokenizer, in_path, out_path, pair_path;
  int max_length = 0, chunk = 16384, threads = 0;
  bool offsets = false, normalize = false;
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
  add_threads_option(app, threads);
  app.add_option("--chunk", chunk, "texts tokenized per parallel batch")
      ->type_name("N")
      ->check(CLI::Range(1, 1 << 24));
  if (!parse_args(app, argc, argv)) return 0;
  TERN_CHECK(model_opt->count() != tokenizer_opt->count(),
             "give exactly one of --model and --tokenizer (see --help)");
  apply_threads(threads);
  const bool pairs = pair_opt->count() > 0;

  std::unique_ptr<tok::Tokenizer> tk;
  try {
    if (tokenizer_opt->count()) {
      tk = std::make_unique<tok::Tokenizer>(tok::Tokenizer::from_dir(tokenizer));
    } else {
      LoadOptions opt;
      opt.read_tensors = false;
      const ModelBundle bundle = load_model(model, opt);
      TERN_CHECK(!bundle.tokenizer_files.empty(),
                 model << ": the model file holds no tokenizer files; use --tokenizer DIR");
      tk = std::make_unique<tok::Tokenizer>(tok::Tokenizer::from_files(bundle.tokenizer_files, model));
    }
  } catch (const tok::TokenizerError& e) {
    TERN_FAIL(e.what());
  }

  tok::EncodeOptions eo;
  eo.max_length = static_cast<size_t>(max_length);
  eo.normalize_tweets = normalize;
  if (max_length > 0) {
    const size_t need = tk->num_special_tokens(pairs);
    TERN_CHECK(static_cast<size_t>(max_length) >= need,
               "--max-length " << max_length << " leaves no room for the " << need << " special tokens");
  }

  File in, in2;
  Output out;
  open_file(in, in_path, false);
  if (pairs) open_file(in2, pair_path, false);
  out.open(out_path);

  std::vector<std::string> texts;
  std::vector<std::pair<std::string, std::string>> pair_texts;
  std::string line, line2, buf;
  size_t lineno = 0, invalid = 0;
  bool eof = false;
  while (!eof) {
    texts.clear();
    pair_texts.clear();
    while (static_cast<int>(pairs ? pair_texts.size() : texts.size()) < chunk) {
      const bool got = read_line(in, line);
      if (pairs) {
        const bool got2 = read_line(in2, line2);
        TERN_CHECK(got == got2, (got ? in2.name : in.name) << " ends at line " << lineno << " but "
                                                           << (got ? in.name : in2.name) << " goes on");
      }
      if (!got) {
        eof = true;
        break;
      }
      ++lineno;
      size_t bad = 0;
      tok::sanitize_utf8(line, &bad);
      if (pairs) {
        size_t bad2 = 0;
        tok::sanitize_utf8(line2, &bad2);
        bad += bad2;
        pair_texts.emplace_back(std::move(line), std::move(line2));
      } else {
        texts.push_back(std::move(line));
      }
      invalid += bad > 0;
    }
    std::vector<tok::Encoding> enc;
    try {
      enc = pairs ? tk->encode_batch_pairs(pair_texts, eo, {}, threads)
                  : tk->encode_batch(texts, eo, {}, threads);
    } catch (const tok::TokenizerError& e) {
      TERN_FAIL(in.name << " (lines " << (lineno - (pairs ? pair_texts.size() : texts.size()) + 1) << "-"
                        << lineno << "): " << e.what());
    }
    buf.clear();
    for (const auto& e : enc) write_json(buf, e, offsets, pairs);
    out.write_lines(buf);
  }
  out.close_file();
  if (invalid)
    std::fprintf(stderr, "tern tokenize: %zu of %zu lines held invalid UTF-8 (replaced by U+FFFD)\n", invalid,
                 lineno);
  return 0;
}

}  // namespace tern::cli
