// A short `tern train` run gives, byte for byte, the checkpoint that the code before the Trainer API
// (issue 9) wrote for the same command, seed and threads: tests/data/train/PROVENANCE.txt says how the
// reference was made. The run goes through cmd_train in the scratch folder with relative paths, so the
// paths and the command line stored in the checkpoint's metadata are the same as in the reference run.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "tensor/kernels.h"
#include "tests/util/test_util.h"
#include "train/dataset.h"
#include "weights/import.h"
#include "weights/model_file.h"

using namespace tern;
namespace fs = std::filesystem;

namespace tern::cli {
int cmd_train(int argc, char** argv);
}

namespace {

using tern::test::read_bytes;
using tern::test::write_bytes;

const std::string kReference = "tests/data/train/tiny_single3_last.h5";

// Runs in `dir` until destroyed, then returns to the folder it came from.
class InDir {
 public:
  explicit InDir(const fs::path& dir) : back_(fs::current_path()) { fs::current_path(dir); }
  ~InDir() { fs::current_path(back_); }

 private:
  fs::path back_;
};

int run_train(std::vector<std::string> args) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return cli::cmd_train(static_cast<int>(argv.size()), argv.data());
}

// The inputs of the reference run, written into `dir`: the tiny BERT fixture with the first 1000 lines of
// the bert-base-uncased vocabulary as tern model file, 48 training and 16 validation rows.
void write_inputs(const tern::test::ScratchDir& s) {
  ModelBundle b = import_hf("tests/data/tiny/bert_seqcls_single3");
  const std::string v = train::read_text_file("tests/data/tokenizer/bert-base-uncased/vocab.txt.gz");
  size_t pos = 0;
  for (int i = 0; i < 1000; ++i) pos = v.find('\n', pos) + 1;
  b.tokenizer_files["vocab.txt"] = v.substr(0, pos);
  b.tokenizer_files["tokenizer_config.json"] = "{\"do_lower_case\": true}";
  save_model(s.path("tiny.h5"), b);
  auto rows = [](int n, int salt) {
    std::string t = "label,text\n";
    for (int i = 0; i < n; ++i)
      t += std::to_string((i * 7 + salt) % 3) + ",\"the tweet " + std::to_string(i) + ", [unused" +
           std::to_string((i + salt) % 50) + "] and more\"\n";
    return t;
  };
  write_bytes(s.path("train.csv"), rows(48, 0));
  write_bytes(s.path("val.csv"), rows(16, 1));
}

// The command of the reference run: 48 rows / batch 8 / accumulation 2 = 3 steps per epoch; it stops
// after 4 of the 6 steps, inside epoch 2, with dropout, warm-up, clipping, class weights and smoothing on.
const std::vector<std::string> kCommand = {"train",
                                           "--model",
                                           "tiny.h5",
                                           "--train",
                                           "train.csv",
                                           "--val",
                                           "val.csv",
                                           "--labels",
                                           "negative,neutral,positive",
                                           "--epochs",
                                           "2",
                                           "--batch-size",
                                           "8",
                                           "--grad-accum",
                                           "2",
                                           "--lr",
                                           "1e-3",
                                           "--warmup",
                                           "0.2",
                                           "--clip",
                                           "0.5",
                                           "--max-length",
                                           "16",
                                           "--seed",
                                           "5",
                                           "--threads",
                                           "2",
                                           "--dropout",
                                           "0.1",
                                           "--class-weights",
                                           "auto",
                                           "--label-smoothing",
                                           "0.1",
                                           "--no-decay-bias-ln",
                                           "--max-steps",
                                           "4",
                                           "--out",
                                           "best.h5",
                                           "--save-last",
                                           "last.h5",
                                           "--no-progress"};

}  // namespace

TEST(TrainCheckpoint, ByteIdenticalToThePreTrainerReference) {
  if (std::strcmp(kernels_isa(), "avx512") != 0)
    GTEST_SKIP() << "the reference was written with the AVX-512 kernels; this machine runs " << kernels_isa();
  tern::test::ScratchDir s;
  write_inputs(s);
  {
    InDir in(s.path());
    ASSERT_EQ(run_train(kCommand), 0);
  }
  const std::string got = read_bytes(s.path("last.h5"));
  if (std::getenv("TERN_WRITE_REFERENCE")) {  // how the reference was made (PROVENANCE.txt)
    write_bytes(kReference, got);
    GTEST_SKIP() << "wrote " << kReference;
  }
  const std::string want = read_bytes(kReference);
  ASSERT_FALSE(want.empty()) << kReference << " is missing";
  if (got == want) return;
  ADD_FAILURE() << "last.h5 (" << got.size() << " bytes) differs from " << kReference << " (" << want.size()
                << " bytes)";
  // Say what differs.
  ModelBundle a = load_model(s.path("last.h5")), b = load_model(kReference);
  for (const auto& [n, t] : b.tensors) {
    ASSERT_TRUE(a.tensors.count(n)) << "no tensor " << n;
    EXPECT_TRUE(tern::test::bit_equal(a.tensors.at(n), t)) << n;
  }
  for (const auto& [n, t] : b.extra) {
    ASSERT_TRUE(a.extra.count(n)) << "no extra " << n;
    EXPECT_TRUE(tern::test::bit_equal(a.extra.at(n), t)) << n;
  }
  EXPECT_EQ(a.config_json, b.config_json);
  EXPECT_EQ(a.tokenizer_files, b.tokenizer_files);
  EXPECT_EQ(a.metadata, b.metadata);
}
