// tern tokenize (cli/cmd_tokenize.cpp), run in-process on real files: ids and offsets against the HF gold.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "tests/tokenizer/gold.h"
#include "tokenizer/tokenizer.h"
#include "weights/model_file.h"

namespace tern::tok {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/tern_tok_cli_XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string file(const std::string& n) const { return (path / n).string(); }
};

void write(const std::string& path, const std::string& data) {
  std::ofstream(path, std::ios::binary) << data;
}

// A plain tokenizer folder from the (gzipped) copies in tests/data.
std::string make_dir(const TempDir& t, const std::string& name, const std::vector<std::string>& files) {
  const fs::path d = t.path / name;
  fs::create_directories(d);
  for (const auto& f : files) {
    const std::string src = "tests/data/tokenizer/" + name + "/" + f;
    write((d / f).string(), test::read_file(test::file_exists(src) ? src : src + ".gz"));
  }
  return d.string();
}

int run(std::vector<std::string> args) {
  args.insert(args.begin(), "tokenize");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return cli::cmd_tokenize(static_cast<int>(argv.size()), argv.data());
}

std::vector<nlohmann::json> read_jsonl(const std::string& path) {
  std::vector<nlohmann::json> out;
  for (const auto& l : test::read_lines(path)) out.push_back(nlohmann::json::parse(l));
  return out;
}

struct Fixture {
  TempDir tmp;
  std::vector<test::GoldRow> rows;  // gold rows whose text fits on one line
  std::string input;
  Fixture() {
    std::string in;
    for (auto& r : test::read_gold("tests/data/tokenizer/dev_full_sample.jsonl.gz")) {
      if (r.text.find('\n') != std::string::npos) continue;
      in += r.text + "\n";
      rows.push_back(std::move(r));
      if (rows.size() == 600) break;
    }
    input = tmp.file("in.txt");
    write(input, in);
  }
};

TEST(CmdTokenize, IdsAndOffsetsMatchGoldForBothTokenizers) {
  Fixture fx;
  const std::string bert = make_dir(fx.tmp, "bert-base-uncased", {"tokenizer.json"});
  const std::string rob =
      make_dir(fx.tmp, "roberta-base", {"vocab.json", "merges.txt", "special_tokens_map.json"});
  for (const auto& [dir, is_bert] : {std::pair{bert, true}, std::pair{rob, false}}) {
    const std::string out = fx.tmp.file("out.jsonl");
    ASSERT_EQ(run({"--tokenizer", dir, "--input", fx.input, "--output", out, "--offsets", "--threads", "2",
                   "--chunk", "97"}),
              0);
    const auto lines = read_jsonl(out);
    ASSERT_EQ(lines.size(), fx.rows.size());
    size_t bad = 0;
    for (size_t i = 0; i < lines.size(); ++i) {
      const auto& r = fx.rows[i];
      const auto ids = lines[i]["ids"].get<std::vector<int>>();
      const auto off = lines[i]["offsets"].get<std::vector<std::pair<int, int>>>();
      if (ids != (is_bert ? r.bert_ids : r.roberta_ids) ||
          off != (is_bert ? r.bert_offsets : r.roberta_offsets))
        ++bad;
    }
    EXPECT_EQ(bad, 0u) << dir;
  }
}

TEST(CmdTokenize, MaxLengthPairsCarriageReturnsAndInvalidUtf8) {
  Fixture fx;
  const std::string dir = make_dir(fx.tmp, "bert-base-uncased", {"tokenizer.json"});
  const Tokenizer tok = Tokenizer::from_dir(dir);
  // "\r\n": only "\n" is stripped; a last line without "\n" still counts; NUL and bad bytes survive.
  const std::string in = fx.tmp.file("crlf.txt");
  write(in, std::string("one\r\ntwo three four five six seven\n\nca\xff"
                        "fe\n") +
                std::string("a\0b\n", 4) + "last");
  const std::string out = fx.tmp.file("o.jsonl");
  ASSERT_EQ(run({"--tokenizer", dir, "--input", in, "--output", out, "--max-length", "6"}), 0);
  const auto lines = read_jsonl(out);
  ASSERT_EQ(lines.size(), 6u);
  EncodeOptions o;
  o.max_length = 6;
  const std::vector<std::string> want = {"one\r",
                                         "two three four five six seven",
                                         "",
                                         "ca\xff"
                                         "fe",
                                         std::string("a\0b", 3),
                                         "last"};
  for (size_t i = 0; i < want.size(); ++i) {
    const auto ids = lines[i]["ids"].get<std::vector<int32_t>>();
    EXPECT_EQ(ids, tok.encode(want[i], o).ids) << i;
    EXPECT_LE(ids.size(), 6u);
    EXPECT_FALSE(lines[i].contains("offsets"));
  }
  // Pairs: type ids are written; unequal line counts are an error naming both files.
  const std::string in2 = fx.tmp.file("second.txt");
  write(in2, "x\ny\n\nz\nw\nv\n");
  ASSERT_EQ(run({"--tokenizer", dir, "--input", in, "--pair-input", in2, "--output", out}), 0);
  const auto pl = read_jsonl(out);
  ASSERT_EQ(pl.size(), 6u);
  EXPECT_EQ(pl[1]["ids"].get<std::vector<int32_t>>(), tok.encode_pair(want[1], "y").ids);
  EXPECT_EQ(pl[1]["type_ids"].get<std::vector<int32_t>>(), tok.encode_pair(want[1], "y").type_ids);
  write(in2, "x\ny\n");
  try {
    run({"--tokenizer", dir, "--input", in, "--pair-input", in2, "--output", out});
    ADD_FAILURE() << "unequal pair files were accepted";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("second.txt ends at line 2"), std::string::npos) << e.what();
  }
  // Errors and help.
  EXPECT_EQ(run({"--help"}), 0);
  EXPECT_THROW(run({"--input", in, "--output", out}), std::exception);  // neither --model nor --tokenizer
  EXPECT_THROW(run({"--tokenizer", dir, "--input", fx.tmp.file("missing.txt"), "--output", out}),
               std::exception);
  EXPECT_THROW(run({"--tokenizer", dir, "--input", in, "--output", out, "--max-length", "1"}),
               std::exception);
  EXPECT_THROW(run({"--tokenizer", fx.tmp.file("nodir"), "--input", in, "--output", out}), std::exception);
}

TEST(CmdTokenize, BlocksAndChunksKeepInputOrder) {
  // 1,800 lines: several parallel blocks of 256 texts, chunk boundaries inside blocks and between them.
  Fixture fx;
  const std::string dir = make_dir(fx.tmp, "bert-base-uncased", {"tokenizer.json"});
  const Tokenizer tok = Tokenizer::from_dir(dir);
  std::string all;
  std::vector<std::string> texts;
  for (int rep = 0; rep < 3; ++rep) {
    for (const auto& r : fx.rows) {
      texts.push_back(rep == 1 ? r.text + " " + std::to_string(texts.size()) : r.text);
      all += texts.back() + "\n";
    }
  }
  const std::string in = fx.tmp.file("many.txt");
  write(in, all);
  const std::string out = fx.tmp.file("many.jsonl");
  for (const char* chunk : {"300", "1000", "16384"}) {
    for (const char* threads : {"1", "2", "3"}) {
      ASSERT_EQ(run({"--tokenizer", dir, "--input", in, "--output", out, "--offsets", "--threads", threads,
                     "--chunk", chunk}),
                0);
      const auto lines = read_jsonl(out);
      ASSERT_EQ(lines.size(), texts.size()) << chunk << " " << threads;
      for (size_t i = 0; i < lines.size(); ++i) {
        const Encoding e = tok.encode(texts[i]);
        ASSERT_EQ(lines[i]["ids"].get<std::vector<int32_t>>(), e.ids) << i << " chunk " << chunk;
        ASSERT_EQ((lines[i]["offsets"].get<std::vector<std::pair<int32_t, int32_t>>>()), e.offsets) << i;
      }
    }
  }
}

TEST(CmdTokenize, ModelFileCarriesTheTokenizer) {
  Fixture fx;
  ModelBundle m;
  m.config_json = "{\"model_type\": \"roberta\"}";
  for (const char* f : {"vocab.json", "merges.txt", "special_tokens_map.json"}) {
    const std::string src = std::string("tests/data/tokenizer/roberta-base/") + f;
    m.tokenizer_files[f] = test::read_file(test::file_exists(src) ? src : src + ".gz");
  }
  const std::string model = fx.tmp.file("m.h5");
  save_model(model, m);
  const std::string out = fx.tmp.file("o.jsonl");
  ASSERT_EQ(run({"--model", model, "--input", fx.input, "--output", out}), 0);
  const auto lines = read_jsonl(out);
  ASSERT_EQ(lines.size(), fx.rows.size());
  for (size_t i = 0; i < lines.size(); ++i)
    ASSERT_EQ(lines[i]["ids"].get<std::vector<int>>(), fx.rows[i].roberta_ids) << i;
}

}  // namespace
}  // namespace tern::tok
