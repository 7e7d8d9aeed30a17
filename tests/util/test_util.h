// Helpers shared by the test folders: scratch directories, raw files, running the tern binary, error
// matching, tensor equality. Header-only; include as "tests/util/test_util.h".
#pragma once
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace tern::test {

namespace fs = std::filesystem;

inline const std::string kTiny = "tests/data/tiny";
inline const std::string kShared = "../shared";

// A fresh directory for the running test (named after its suite and name, and the process), removed at the
// end of the test.
class ScratchDir {
 public:
  ScratchDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = std::string("tern_") +
                       (info ? std::string(info->test_suite_name()) + "_" + info->name() : "x") + "_" +
                       std::to_string(getpid());
    for (char& c : name)
      if (c == '/') c = '_';
    path_ = fs::temp_directory_path() / name;
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  std::string path(const std::string& name) const { return file(name); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

inline std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// The exit code and the combined stdout + stderr of a shell command.
struct RunResult {
  int code;         // exit status; 128 + signal when killed
  std::string out;  // stdout + stderr
};

inline RunResult run_shell(const std::string& cmd) {
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  RunResult r{-1, ""};
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int st = pclose(p);
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
  return r;
}

#ifdef TERN_BIN
// The tern binary with `args`, under `timeout` (seconds; 0 = none). `prefix` runs first in the same bash
// (ulimit, trap, environment).
inline RunResult run_tern(const std::string& args, const std::string& prefix = "", int timeout_s = 10) {
  const std::string t = timeout_s > 0 ? "timeout -k 2 " + std::to_string(timeout_s) + " " : "";
  return run_shell("bash -c '" + prefix + " exec " + t + std::string(TERN_BIN) + " " + args + "'");
}
#endif

// The message of the tern::Error that `f` throws; a test failure when it throws nothing or something else.
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const tern::Error& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "threw a non-tern exception: " << e.what();
    return "";
  }
  ADD_FAILURE() << "no error was thrown";
  return "";
}

// Expects `f` to throw a tern::Error whose message holds every one of `needles`.
#define EXPECT_TERN_ERROR(stmt, ...)                                                  \
  do {                                                                                \
    std::string msg_ = ::tern::test::error_of([&] { stmt; });                         \
    for (const std::string& needle_ : std::vector<std::string>{__VA_ARGS__})          \
      EXPECT_NE(msg_.find(needle_), std::string::npos) << "message: " << msg_ << "\n" \
                                                       << "lacks: " << needle_;       \
  } while (0)

// Same dtype, shape and bytes.
inline ::testing::AssertionResult bit_equal(const Tensor& a, const Tensor& b) {
  if (!a.defined() || !b.defined()) return ::testing::AssertionFailure() << "undefined tensor";
  if (a.dtype() != b.dtype() || a.shape() != b.shape())
    return ::testing::AssertionFailure() << a.describe() << " vs " << b.describe();
  Tensor ca = a.contiguous(), cb = b.contiguous();
  if (std::memcmp(ca.raw(), cb.raw(), ca.nbytes()) != 0) {
    size_t es = dtype_size(a.dtype());
    for (size_t i = 0; i * es < ca.nbytes(); ++i)
      if (std::memcmp(static_cast<char*>(ca.raw()) + i * es, static_cast<char*>(cb.raw()) + i * es, es) != 0)
        return ::testing::AssertionFailure() << a.describe() << " differs first at flat index " << i;
  }
  return ::testing::AssertionSuccess();
}

// n normal(0, scale) floats from a seeded generator.
inline std::vector<float> randn(size_t n, uint32_t seed, float scale = 1.f) {
  std::mt19937 g(seed);
  std::normal_distribution<float> d(0.f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(g);
  return v;
}

inline Tensor random_f32(const Shape& shape, uint32_t seed, float scale = 1.0f) {
  Tensor t = Tensor::empty(shape, DType::F32);
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, scale);
  for (int64_t i = 0; i < t.numel(); ++i) t.f32()[i] = nd(rng);
  return t;
}

inline Tensor iota_i64(const Shape& shape, int64_t start = 0) {
  Tensor t = Tensor::empty(shape, DType::I64);
  for (int64_t i = 0; i < t.numel(); ++i) t.i64()[i] = start + i * 7 - 3;
  return t;
}

inline bool shared_available() {
  return fs::exists(kShared + "/models");
}

}  // namespace tern::test
