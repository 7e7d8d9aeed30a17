#include "infer/tokenize_file.h"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

#include "infer/record_reader.h"
#include "infer/writer.h"
#include "tensor/check.h"
#include "weights/model_file.h"

namespace tern::infer {

tok::Tokenizer tokenizer_from_model(const std::string& model_path) {
  LoadOptions opt;
  opt.read_tensors = false;
  const ModelBundle bundle = load_model(model_path, opt);
  TERN_CHECK(!bundle.tokenizer_files.empty(),
             model_path << ": the model file holds no tokenizer files; use --tokenizer DIR");
  try {
    return tok::Tokenizer::from_files(bundle.tokenizer_files, model_path);
  } catch (const tok::TokenizerError& e) {
    TERN_FAIL(e.what());
  }
}

tok::Tokenizer tokenizer_from_dir(const std::string& dir) {
  try {
    return tok::Tokenizer::from_dir(dir);
  } catch (const tok::TokenizerError& e) {
    TERN_FAIL(e.what());
  }
}

namespace {

// Decimal digits of a non-negative int, two at a time.
char* put_uint(char* p, uint32_t v) {
  static const char kPairs[] =
      "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
      "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
      "8081828384858687888990919293949596979899";
  char tmp[10];
  char* t = tmp + sizeof tmp;
  while (v >= 100) {
    const uint32_t r = v % 100;
    v /= 100;
    t -= 2;
    t[0] = kPairs[2 * r];
    t[1] = kPairs[2 * r + 1];
  }
  if (v >= 10) {
    t -= 2;
    t[0] = kPairs[2 * v];
    t[1] = kPairs[2 * v + 1];
  } else {
    *--t = static_cast<char>('0' + v);
  }
  const size_t n = static_cast<size_t>(tmp + sizeof tmp - t);
  std::memcpy(p, t, n);
  return p + n;
}

char* put_int(char* p, int32_t v) {
  if (v < 0) {
    *p++ = '-';
    return put_uint(p, 0u - static_cast<uint32_t>(v));
  }
  return put_uint(p, static_cast<uint32_t>(v));
}

template <size_t N>
char* put(char* p, const char (&s)[N]) {  // a string literal, without its NUL
  std::memcpy(p, s, N - 1);
  return p + N - 1;
}

// Appends `[a,b,c]`.
char* put_list(char* p, const std::vector<int32_t>& v) {
  *p++ = '[';
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) *p++ = ',';
    p = put_int(p, v[i]);
  }
  *p++ = ']';
  return p;
}

// One JSON line, appended to `out` (no allocation once `out` has grown to a block's size).
void write_json(std::string& out, const tok::Encoding& e, bool offsets, bool type_ids) {
  // Bound: 12 bytes per int (sign, 10 digits, comma) and a few per offset pair, plus the keys.
  const size_t n = e.ids.size();
  const size_t bound = 64 + 12 * n * (1 + (type_ids ? 1 : 0)) + (offsets ? 26 * n : 0);
  const size_t at = out.size();
  out.resize(at + bound);
  char* p = out.data() + at;
  p = put(p, "{\"ids\":");
  p = put_list(p, e.ids);
  if (type_ids) {
    p = put(p, ",\"type_ids\":");
    p = put_list(p, e.type_ids);
  }
  if (offsets) {
    p = put(p, ",\"offsets\":[");
    for (size_t i = 0; i < e.offsets.size(); ++i) {
      if (i) *p++ = ',';
      *p++ = '[';
      p = put_int(p, e.offsets[i].first);
      *p++ = ',';
      p = put_int(p, e.offsets[i].second);
      *p++ = ']';
    }
    *p++ = ']';
  }
  p = put(p, "}\n");
  out.resize(static_cast<size_t>(p - out.data()));
}

constexpr int64_t kBlock = 256;  // texts per parallel task: tokenised and formatted by one thread

}  // namespace

TokenizeFileSummary tokenize_file(const tok::Tokenizer& tk, const TokenizeFileOptions& o) {
  TERN_CHECK(o.chunk >= 1, "chunk must be >= 1, got " << o.chunk);
  const bool pairs = !o.pair_input.empty();
  if (o.encode.max_length > 0) {
    const size_t need = tk.num_special_tokens(pairs);
    TERN_CHECK(o.encode.max_length >= need, "max length " << o.encode.max_length << " leaves no room for the "
                                                          << need << " special tokens");
  }
  LineReader in(o.input);
  std::unique_ptr<LineReader> in2;
  if (pairs) in2 = std::make_unique<LineReader>(o.pair_input);
  LineWriter out(o.output, LineWriter::Mode::Truncate);
  const int threads = o.threads > 0 ? o.threads : omp_get_max_threads();

  // Each chunk: read (this thread), then blocks of kBlock texts tokenised and formatted as JSON in
  // parallel, each into its own buffer, then the buffers written in input order. Line strings, encodings
  // and buffers are reused from chunk to chunk.
  TokenizeFileSummary sum;
  std::vector<std::string> texts, texts2;
  std::vector<std::string> bufs;
  std::vector<int64_t> bad_lines;
  bool eof = false;
  while (!eof) {
    int64_t n = 0;
    while (n < o.chunk) {
      if (static_cast<int64_t>(texts.size()) <= n) {
        texts.emplace_back();
        if (pairs) texts2.emplace_back();
      }
      const bool got = in.next(texts[n]);
      if (pairs) {
        const bool got2 = in2->next(texts2[n]);
        TERN_CHECK(got == got2, (got ? in2->name() : in.name())
                                    << " ends at line " << sum.lines + n << " but "
                                    << (got ? in.name() : in2->name()) << " goes on");
      }
      if (!got) {
        eof = true;
        break;
      }
      ++n;
    }
    if (n == 0) break;
    const int64_t blocks = (n + kBlock - 1) / kBlock;
    if (static_cast<int64_t>(bufs.size()) < blocks) bufs.resize(blocks);
    bad_lines.assign(blocks, 0);
    std::string error;
    int64_t error_line = -1;
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
    for (int64_t b = 0; b < blocks; ++b) {
      thread_local tok::Encoding enc;
      std::string& buf = bufs[b];
      buf.clear();
      const int64_t end = std::min(n, (b + 1) * kBlock);
      for (int64_t i = b * kBlock; i < end; ++i) {
        try {
          size_t bad = tok::count_invalid_utf8(texts[i]);
          if (pairs) {
            bad += tok::count_invalid_utf8(texts2[i]);
            tk.encode_pair_into(texts[i], texts2[i], o.encode, enc);
          } else {
            tk.encode_into(texts[i], o.encode, enc);
          }
          bad_lines[b] += bad > 0;
          write_json(buf, enc, o.offsets, pairs);
        } catch (const tok::TokenizerError& e) {
#pragma omp critical(tern_tokenize_file_error)
          if (error_line < 0 || i < error_line) {
            error_line = i;
            error = e.what();
          }
          break;
        }
      }
    }
    if (error_line >= 0) TERN_FAIL(in.name() << " (line " << (sum.lines + error_line + 1) << "): " << error);
    for (int64_t b = 0; b < blocks; ++b) {
      out.write(bufs[b]);
      sum.invalid_utf8 += bad_lines[b];
    }
    sum.lines += n;
  }
  out.close(o.sync);
  return sum;
}

}  // namespace tern::infer
