#include "infer/tokenize_file.h"

#include <cstdio>
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

  TokenizeFileSummary sum;
  std::vector<std::string> texts;
  std::vector<std::pair<std::string, std::string>> pair_texts;
  std::string line, line2, buf;
  bool eof = false;
  while (!eof) {
    texts.clear();
    pair_texts.clear();
    while (static_cast<int64_t>(pairs ? pair_texts.size() : texts.size()) < o.chunk) {
      const bool got = in.next(line);
      if (pairs) {
        const bool got2 = in2->next(line2);
        TERN_CHECK(got == got2, (got ? in2->name() : in.name())
                                    << " ends at line " << sum.lines << " but "
                                    << (got ? in.name() : in2->name()) << " goes on");
      }
      if (!got) {
        eof = true;
        break;
      }
      ++sum.lines;
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
      sum.invalid_utf8 += bad > 0;
    }
    std::vector<tok::Encoding> enc;
    try {
      enc = pairs ? tk.encode_batch_pairs(pair_texts, o.encode, {}, o.threads)
                  : tk.encode_batch(texts, o.encode, {}, o.threads);
    } catch (const tok::TokenizerError& e) {
      const int64_t n = static_cast<int64_t>(pairs ? pair_texts.size() : texts.size());
      TERN_FAIL(in.name() << " (lines " << (sum.lines - n + 1) << "-" << sum.lines << "): " << e.what());
    }
    buf.clear();
    for (const auto& e : enc) write_json(buf, e, o.offsets, pairs);
    out.write(buf);
  }
  out.close();
  return sum;
}

}  // namespace tern::infer
