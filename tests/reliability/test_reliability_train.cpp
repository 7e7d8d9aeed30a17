// The bad-input catalogue (docs/errors.md) for the training side: damaged archives through
// train::read_dataset (what tern train / tern eval read), and checkpoints: byte-identical for the same
// model, data, seed and thread count.
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "tensor/check.h"
#include "tests/util/test_util.h"
#include "tests/util/tiny_model.h"
#include "train/dataset.h"
#include "weights/import.h"
#include "weights/model_file.h"

namespace tern::cli {
int cmd_train(int argc, char** argv);
}  // namespace tern::cli

using namespace tern;
namespace fs = std::filesystem;

namespace {

using Scratch = tern::test::ScratchDir;
using tern::test::read_bytes;
using tern::test::write_bytes;

std::string gzip(const std::string& data) {
  uLongf n = compressBound(data.size()) + 64;
  std::string out(n, '\0');
  z_stream z{};
  deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);  // gzip wrapper
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

const train::LabelSpec kSpec{train::Task::Single, {"negative", "neutral", "positive"}, 0};

// The message of the tern::Error that reading `path` throws ("" if it reads).
std::string read_error(const std::string& path, const train::ReadOptions& opt = {}) {
  try {
    train::read_dataset(path, kSpec, opt);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

std::string csv_rows(int n) {
  std::string s = "label,text\n";
  for (int i = 0; i < n; ++i)
    s += std::to_string(i % 3) + ",\"tweet " + std::to_string(i) + ", with a comma\"\n";
  return s;
}

}  // namespace

TEST(BadArchives, EmptyGarbageAndUnbalancedQuotesNameFileAndLine) {
  Scratch s;
  struct Case {
    std::string name, text;
    std::vector<std::string> says;
  };
  std::mt19937 g(9);
  std::string junk(20000, '\0');
  for (auto& c : junk) c = static_cast<char>(g());
  const std::vector<Case> cases = {
      {"empty.csv", "", {"empty file"}},
      {"header_only.csv", "label,text\n", {"no rows"}},
      {"garbage.csv", junk, {}},
      {"garbage.jsonl", junk, {":1:"}},
      {"unbalanced.csv", "label,text\n0,\"fine\"\n1,\"never closed\n2,next\n", {":3:", "quote"}},
      {"text_after_quote.csv", "label,text\n0,\"a\"b\n", {":2:"}},
      {"ragged.csv", "label,text\n0,a\n1,b,c\n", {":3:", "expected 2 fields"}},
      {"bad_label.csv", "label,text\n0,a\nangry,b\n", {":3:", "angry"}},
      {"no_text_column.tsv", "label\ttweet\n0\ta\n", {"no column 'text'"}},
      {"bad_json.jsonl",
       "{\"text\": \"a\", \"label\": 0}\n{\"text\": \"b\", \"label\": \n",
       {":2:", "invalid JSON"}},
      {"invalid_utf8.jsonl",
       "{\"text\": \"a\", \"label\": 0}\n{\"text\": \"\xff\", \"label\": 1}\n",
       {":2:"}},
      {"tweeteval_mismatch_text.txt", "a\nb\nc\n", {"3 lines", "2"}},
  };
  write_bytes(s.path("tweeteval_mismatch_labels.txt"), "0\n1\n");
  for (const auto& c : cases) {
    const std::string p = s.path(c.name);
    write_bytes(p, c.text);
    const std::string msg = read_error(p);
    ASSERT_FALSE(msg.empty()) << c.name << " was read without an error";
    EXPECT_NE(msg.find(p), std::string::npos) << c.name << ": " << msg;
    for (const auto& n : c.says)
      EXPECT_NE(msg.find(n), std::string::npos) << c.name << ": no '" << n << "' in " << msg;
  }
  // With skip_bad_rows the unbalanced quote swallows the rest of the file as one bad record: counted.
  train::ReadOptions skip;
  skip.skip_bad_rows = true;
  train::Dataset d = train::read_dataset(s.path("unbalanced.csv"), kSpec, skip);
  EXPECT_EQ(d.size(), 1u);
  EXPECT_EQ(d.skipped, 1);
  ASSERT_FALSE(d.skip_reasons.empty());
  EXPECT_NE(d.skip_reasons[0].find(":3:"), std::string::npos) << d.skip_reasons[0];
}

TEST(BadArchives, TenMegabyteSingleLineAndField) {
  Scratch s;
  std::string big = "label,text\n1,\"";
  while (big.size() < (10u << 20)) big += "long tweet, \"\"quoted\"\" ";
  big += "\"\n";
  write_bytes(s.path("big.csv"), big);
  train::Dataset d = train::read_dataset(s.path("big.csv"), kSpec);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_GT(d.texts[0].size(), 9u << 20);
  // One 10 MB line of JSONL, unterminated: an error naming line 1, in bounded time.
  write_bytes(s.path("big.jsonl"), "{\"text\": \"" + std::string(10 << 20, 'x'));
  const std::string msg = read_error(s.path("big.jsonl"));
  EXPECT_NE(msg.find(s.path("big.jsonl") + ":1:"), std::string::npos) << msg.substr(0, 300);
}

// A gzip archive cut short (an interrupted download) must be an error, not silently fewer rows.
// PENDING (train/dataset.cpp is the training helper's): today half a .csv.gz reads as 1450 of 3000 rows
// without an error; read_text_file must check gzerror() for Z_BUF_ERROR ("unexpected end of file") after
// its read loop (fixed: gzerror is checked after the loop).
TEST(BadArchives, TruncatedGzipIsAnError) {
  Scratch s;
  const std::string z = gzip(csv_rows(3000));
  write_bytes(s.path("whole.csv.gz"), z);
  EXPECT_EQ(train::read_dataset(s.path("whole.csv.gz"), kSpec).size(), 3000u);
  for (size_t cut : {z.size() / 2, z.size() - 4, z.size() - 1}) {
    const std::string p = s.path("cut" + std::to_string(cut) + ".csv.gz");
    write_bytes(p, z.substr(0, cut));
    std::string msg;
    size_t rows = 0;
    try {
      rows = train::read_dataset(p, kSpec).size();
    } catch (const Error& e) {
      msg = e.what();
    }
    EXPECT_FALSE(msg.empty()) << p << ": read " << rows << " of 3000 rows without an error";
    EXPECT_NE(msg.find(p), std::string::npos) << msg;
  }
  // Not gzip at all behind a .gz name: read as plain text (zlib's transparent mode), as documented.
  write_bytes(s.path("plain.csv.gz"), csv_rows(5));
  EXPECT_EQ(train::read_dataset(s.path("plain.csv.gz"), kSpec).size(), 5u);
}

// ---- Checkpoints: the same model, data, seed and threads give byte-identical checkpoint files. ---------

namespace {

// The tiny BERT fixture with a 1000-token WordPiece vocabulary (the first 1000 lines of bert-base-uncased:
// [PAD], [UNK] = 100, [CLS], [SEP], [MASK] and unused slots; real words become [UNK], which is fine here).
std::string tiny_model_with_tokenizer(const Scratch& s) {
  return tern::test::save_tiny_model("bert_seqcls_single3", s.path("tiny.h5"));
}

int run_train(const std::vector<std::string>& args0) {
  std::vector<std::string> args = args0;
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return cli::cmd_train(static_cast<int>(argv.size()), argv.data());
}

// Two runs of `train_args` into the same paths; returns the bytes of (best, last) of each run.
struct TwoRuns {
  std::string best1, last1, best2, last2;
};
TwoRuns train_twice(const Scratch& s) {
  const std::string model = tiny_model_with_tokenizer(s);
  write_bytes(s.path("train.csv"), csv_rows(48));
  write_bytes(s.path("val.csv"), csv_rows(16));
  const std::string out = s.path("best.h5"), last = s.path("last.h5");
  const std::vector<std::string> args = {"train",
                                         "--model",
                                         model,
                                         "--train",
                                         s.path("train.csv"),
                                         "--val",
                                         s.path("val.csv"),
                                         "--labels",
                                         "negative,neutral,positive",
                                         "--epochs",
                                         "2",
                                         "--batch-size",
                                         "8",
                                         "--lr",
                                         "1e-3",
                                         "--max-length",
                                         "16",
                                         "--seed",
                                         "5",
                                         "--threads",
                                         "2",
                                         "--dropout",
                                         "0.1",
                                         "--out",
                                         out,
                                         "--save-last",
                                         last,
                                         "--no-progress"};
  TwoRuns r;
  EXPECT_EQ(run_train(args), 0);
  r.best1 = read_bytes(out), r.last1 = read_bytes(last);
  EXPECT_EQ(run_train(args), 0);
  r.best2 = read_bytes(out), r.last2 = read_bytes(last);
  return r;
}

void expect_same_state(const Scratch& s, const std::string& a_bytes, const std::string& b_bytes) {
  write_bytes(s.path("a.h5"), a_bytes);
  write_bytes(s.path("b.h5"), b_bytes);
  ModelBundle a = load_model(s.path("a.h5")), b = load_model(s.path("b.h5"));
  ASSERT_FALSE(a.tensors.empty());
  EXPECT_EQ(a.tensors.size(), b.tensors.size());
  for (const auto& [n, t] : a.tensors) {
    ASSERT_TRUE(b.tensors.count(n)) << n;
    ASSERT_EQ(t.nbytes(), b.tensors.at(n).nbytes()) << n;
    EXPECT_EQ(std::memcmp(t.contiguous().raw(), b.tensors.at(n).contiguous().raw(), t.nbytes()), 0) << n;
  }
  EXPECT_EQ(a.extra.size(), b.extra.size());
  for (const auto& [n, t] : a.extra) {
    ASSERT_TRUE(b.extra.count(n)) << n;
    ASSERT_EQ(t.nbytes(), b.extra.at(n).nbytes()) << n;
    EXPECT_EQ(std::memcmp(t.contiguous().raw(), b.extra.at(n).contiguous().raw(), t.nbytes()), 0) << n;
  }
  EXPECT_EQ(a.config_json, b.config_json);
  EXPECT_EQ(a.tokenizer_files, b.tokenizer_files);
}

}  // namespace

// Same model, data, seed and threads (with dropout on): weights, optimizer state, config and tokenizer of
// both the best model and the last checkpoint are bit-identical.
TEST(Determinism, TrainingTwiceGivesBitIdenticalWeightsAndOptimizerState) {
  Scratch s;
  TwoRuns r = train_twice(s);
  expect_same_state(s, r.best1, r.best2);
  expect_same_state(s, r.last1, r.last2);
}

// Wall times are printed, not stored in the checkpoint, so the files are byte-identical.
TEST(Determinism, TrainingTwiceGivesByteIdenticalCheckpointFiles) {
  Scratch s;
  TwoRuns r = train_twice(s);
  EXPECT_TRUE(r.best1 == r.best2)
      << "tern train wrote different best-model bytes for the same seed and threads";
  EXPECT_TRUE(r.last1 == r.last2)
      << "tern train wrote different checkpoint bytes for the same seed and threads";
}
