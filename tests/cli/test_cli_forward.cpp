// `tern convert` + `tern forward` as subprocesses, exactly as the acceptance check runs them, against the
// Hugging Face reference outputs; and the exit codes / messages of bad invocations.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "tests/util/test_util.h"
#include "weights/h5_arrays.h"

using namespace tern;
namespace fs = std::filesystem;

namespace {

using Result = tern::test::RunResult;

Result run(const std::string& args) {
  return tern::test::run_tern(args, "", 0);
}

std::string tmp(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("tern_cli_test_" + std::to_string(getpid()));
  fs::create_directories(d);
  return (d / name).string();
}

float masked_max_diff(const Tensor& a, const Tensor& b, const Tensor* mask) {
  EXPECT_EQ(a.shape(), b.shape());
  const int64_t rows = mask ? mask->numel() : a.size(0);
  const int64_t C = a.numel() / rows;
  float m = 0;
  for (int64_t r = 0; r < rows; ++r) {
    if (mask && !mask->i64()[r]) continue;
    for (int64_t c = 0; c < C; ++c) m = std::max(m, std::fabs(a.f32()[r * C + c] - b.f32()[r * C + c]));
  }
  return m;
}

void convert_and_compare(const std::string& fixture, const std::string& from) {
  const std::string model = tmp(fs::path(fixture).filename().string() + ".h5"), out = tmp("out.h5");
  Result c = run("convert --from " + from + " --out " + model);
  ASSERT_EQ(c.code, 0) << c.out;
  Result f = run("forward --model " + model + " --input " + fixture + "/reference.h5 --output " + out +
                 " --threads 2");
  ASSERT_EQ(f.code, 0) << f.out;
  const std::string ref = fixture + "/reference.h5";
  TensorMap want = read_h5_arrays(
      ref, std::vector<std::string>{"last_hidden_state", "pooler_output", "logits"}, "outputs", false);
  TensorMap got = read_h5_arrays(
      out, std::vector<std::string>{"last_hidden_state", "pooler_output", "logits"}, "", false);
  TensorMap in = read_h5_arrays(ref, std::vector<std::string>{"attention_mask"}, "inputs");
  ASSERT_EQ(want.size(), got.size()) << from;
  EXPECT_LT(masked_max_diff(got.at("last_hidden_state"), want.at("last_hidden_state"), &in["attention_mask"]),
            1e-4f);
  for (const char* k : {"pooler_output", "logits"})
    if (want.count(k)) EXPECT_LT(masked_max_diff(got.at(k), want.at(k), nullptr), 1e-4f) << from << " " << k;
}

}  // namespace

TEST(Cli, ConvertAndForwardEveryTinyFixture) {
  int n = 0;
  for (const auto& e : fs::directory_iterator("tests/data/tiny")) {
    const std::string dir = e.path().string();
    if (!fs::exists(dir + "/reference.h5")) continue;
    convert_and_compare(dir, dir);
    if (fs::exists(dir + "/tf_model.h5")) convert_and_compare(dir, dir + "/tf_model.h5");
    ++n;
  }
  EXPECT_EQ(n, 6);
}

TEST(Cli, RealVocabFromShared) {
  if (!fs::exists("../shared")) GTEST_SKIP() << "../shared is absent";
  // With ../shared present, its real-vocab fixtures must be there: an empty or missing folder fails.
  const std::string root = "../shared/fixtures/real-vocab";
  int n = 0;
  if (fs::exists(root)) {
    for (const auto& e : fs::directory_iterator(root)) {
      if (!fs::exists(e.path() / "reference.h5")) continue;
      SCOPED_TRACE(e.path().string());
      convert_and_compare(e.path().string(), e.path().string());
      ++n;
    }
  }
  EXPECT_GT(n, 0) << root << " holds no fixture (a folder with reference.h5)";
  std::printf("[ fixtures ] %d real-vocab fixtures converted and compared\n", n);
}

TEST(Cli, HelpAndUsageErrors) {
  EXPECT_EQ(run("--help").code, 0);
  EXPECT_EQ(run("convert --help").code, 0);
  EXPECT_EQ(run("forward --help").code, 0);
  EXPECT_EQ(run("").code, 2);
  Result u = run("frobnicate");
  EXPECT_EQ(u.code, 2);
  EXPECT_NE(u.out.find("unknown command"), std::string::npos);
  Result o = run("forward --modle x.h5");
  EXPECT_EQ(o.code, 1);
  EXPECT_NE(o.out.find("unknown option --modle"), std::string::npos);
  Result m = run("forward --input x.h5 --output y.h5");
  EXPECT_EQ(m.code, 1);
  EXPECT_NE(m.out.find("--model"), std::string::npos);
}

TEST(Cli, BadInputsFailCleanlyNamingTheFile) {
  const std::string model = tmp("single3.h5");
  ASSERT_EQ(run("convert --from tests/data/tiny/bert_seqcls_single3 --out " + model).code, 0);
  // Not an HDF5 file.
  const std::string junk = tmp("junk.h5");
  std::ofstream(junk) << "this is not hdf5";
  Result r = run("forward --model " + junk +
                 " --input tests/data/tiny/bert_seqcls_single3/reference.h5 --output " + tmp("o.h5"));
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find(junk), std::string::npos) << r.out;
  // Input without input_ids.
  Result i = run("forward --model " + model + " --input " + model + " --output " + tmp("o.h5"));
  EXPECT_EQ(i.code, 1);
  EXPECT_NE(i.out.find("input_ids"), std::string::npos) << i.out;
  // Token id out of range.
  const std::string bad = tmp("bad_ids.h5");
  int64_t ids[4] = {2, 5000, 3, 0}, mask[4] = {1, 1, 1, 0};
  write_h5_arrays(bad, {{"input_ids", Tensor::from_data(ids, {1, 4})},
                        {"attention_mask", Tensor::from_data(mask, {1, 4})}});
  Result t = run("forward --model " + model + " --input " + bad + " --output " + tmp("o.h5"));
  EXPECT_EQ(t.code, 1);
  EXPECT_NE(t.out.find("token id 5000"), std::string::npos) << t.out;
  // A checkpoint directory without config.json.
  fs::create_directories(tmp("noconfig"));
  Result nc = run("convert --from " + tmp("noconfig") + " --out " + tmp("x.h5"));
  EXPECT_EQ(nc.code, 1);
  EXPECT_FALSE(fs::exists(tmp("x.h5")));
}

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace

// Same input, model and thread count: byte-identical output files (also across a clock second: HDF5's
// object timestamps are off).
TEST(Cli, ConvertAndForwardAreDeterministic) {
  const std::string model = tmp("det.h5"), model2 = tmp("det2.h5");
  ASSERT_EQ(run("convert --from tests/data/tiny/roberta_seqcls3 --out " + model).code, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  ASSERT_EQ(run("convert --from tests/data/tiny/roberta_seqcls3 --out " + model2).code, 0);
  EXPECT_TRUE(slurp(model) == slurp(model2)) << "tern convert wrote different bytes for the same checkpoint";
  for (int threads : {1, 2}) {
    const std::string a = tmp("a.h5"), b = tmp("b.h5");
    const std::string in =
        " --input tests/data/tiny/roberta_seqcls3/reference.h5 --threads " + std::to_string(threads);
    ASSERT_EQ(run("forward --model " + model + in + " --output " + a).code, 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));
    ASSERT_EQ(run("forward --model " + model + in + " --output " + b).code, 0);
    EXPECT_TRUE(slurp(a) == slurp(b)) << "different output bytes with " << threads << " threads";
  }
}

// A disk that fills up while the output is written: an error, and no half-written output file is left
// where a reader would take it for a result (the output is written to a temporary name and renamed).
TEST(Cli, DiskFullWhileWritingOutput) {
  const std::string model = tmp("full.h5"), out = tmp("full_out.h5");
  ASSERT_EQ(run("convert --from tests/data/tiny/bert_seqcls_single3 --out " + model).code, 0);
  fs::remove(out);
  // ulimit -f caps files at 16 KiB (the output is 37 KiB); SIGXFSZ ignored so the write fails with EFBIG
  // instead of killing tern.
  const std::string cmd =
      "bash -c 'trap \"\" XFSZ; ulimit -f 16; " + std::string(TERN_BIN) + " forward --model " + model +
      " --input tests/data/tiny/bert_seqcls_single3/reference.h5 --output " + out + "' 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string text;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) text.append(buf, n);
  const int st = pclose(p);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 1) << text;
  EXPECT_NE(text.find(out), std::string::npos) << text;
  EXPECT_FALSE(fs::exists(out)) << "a partial output was left behind";
}

// Every command (CLI11): --help lists the options with their defaults; an option given twice, a switch
// given a value, a stray argument and an out-of-range value are errors naming what is wrong, before any
// file is touched.
TEST(Cli, EveryCommandRefusesRepeatedStrayAndOutOfRangeArguments) {
  struct Case {
    std::string cmd, required, default_shown, range_arg, twice;
  };
  const std::vector<Case> cases = {
      {"convert", "--from a --out b.h5", "--dtype T=keep", "--dtype int8", "--out"},
      {"forward", "--model a --input b --output c", "=64", "--batch-size 0", "--threads"},
      {"tokenize", "--tokenizer a --input b --output c", "=16384", "--chunk 0", "--threads"},
      {"train", "--model a --train b --out c", "=0.01", "--epochs 0", "--threads"},
      {"eval", "--model a --input b", "=64", "--batch-size 0", "--threads"},
      {"grad", "--model a --input b --output c", "--threads", "--threads -1", "--threads"},
  };
  for (const Case& c : cases) {
    Result h = run(c.cmd + " --help");
    EXPECT_EQ(h.code, 0) << c.cmd;
    EXPECT_NE(h.out.find(c.default_shown), std::string::npos) << c.cmd << ": " << h.out;
    Result twice = run(c.cmd + " " + c.required + " " + c.twice + " 1 " + c.twice + " 2");
    EXPECT_EQ(twice.code, 1) << c.cmd;
    EXPECT_NE(twice.out.find(c.twice + " given more than once"), std::string::npos)
        << c.cmd << ": " << twice.out;
    Result stray = run(c.cmd + " " + c.required + " leftover");
    EXPECT_EQ(stray.code, 1) << c.cmd;
    EXPECT_NE(stray.out.find("unexpected argument 'leftover'"), std::string::npos)
        << c.cmd << ": " << stray.out;
    Result range = run(c.cmd + " " + c.required + " " + c.range_arg);
    EXPECT_EQ(range.code, 1) << c.cmd;
    EXPECT_NE(range.out.find(c.range_arg.substr(0, c.range_arg.find(' '))), std::string::npos)
        << c.cmd << ": " << range.out;
  }
  Result flag = run("forward --model a --input b --output c --allow-nonfinite=1");
  EXPECT_EQ(flag.code, 1);
  EXPECT_NE(flag.out.find("--allow-nonfinite takes no value"), std::string::npos) << flag.out;
  Result flag2 = run("tokenize --tokenizer a --input b --output c --offsets --offsets");
  EXPECT_EQ(flag2.code, 1);
  EXPECT_NE(flag2.out.find("--offsets given more than once"), std::string::npos) << flag2.out;
}
