// The sealed header of tern model files: truncation and corruption are caught before libhdf5 parses the
// file; an HDF5 file without the seal (another writer) still loads.
#include <gtest/gtest.h>

#include "tests/util/test_util.h"
#include "weights/import.h"
#include "weights/model_file.h"
#include "weights/seal.h"

using namespace tern;
using namespace tern::test;

namespace {

std::string saved_model(const std::string& dir) {
  ModelBundle b = import_hf("tests/data/tiny/bert_seqcls_single3");
  const std::string path = dir + "/m.h5";
  save_model(path, b);
  return path;
}

}  // namespace

TEST(Seal, Crc32cKnownValues) {
  // RFC 3720 B.4 test vectors.
  std::string zeros(32, '\0'), ones(32, '\xff');
  EXPECT_EQ(seal::crc32c(zeros.data(), 32), 0x8A9136AAu);
  EXPECT_EQ(seal::crc32c(ones.data(), 32), 0x62A8AB43u);
  EXPECT_EQ(seal::crc32c("123456789", 9), 0xE3069283u);
  // Incremental equals one-shot.
  EXPECT_EQ(seal::crc32c("6789", 4, seal::crc32c("12345", 5)), 0xE3069283u);
}

TEST(Seal, Crc32cCombineJoinsTwoParts) {
  // crc(A B) from crc(A), crc(B), |B|: every split of a random buffer, lengths 0 .. 300 and one of 5 MB.
  std::string data(300, '\0');
  uint64_t r = 0x9E3779B97F4A7C15ull;
  for (char& c : data) c = static_cast<char>((r = r * 6364136223846793005ull + 1442695040888963407ull) >> 56);
  for (size_t n = 0; n <= data.size(); n += 7)
    for (size_t cut = 0; cut <= n; ++cut)
      ASSERT_EQ(seal::crc32c_combine(seal::crc32c(data.data(), cut), seal::crc32c(data.data() + cut, n - cut),
                                     n - cut),
                seal::crc32c(data.data(), n))
          << "n " << n << " cut " << cut;
  std::string big(5 << 20, 'x');
  for (size_t i = 0; i < big.size(); i += 4093) big[i] = static_cast<char>(i * 31);
  const size_t cut = big.size() / 3;
  EXPECT_EQ(seal::crc32c_combine(seal::crc32c(big.data(), cut),
                                 seal::crc32c(big.data() + cut, big.size() - cut), big.size() - cut),
            seal::crc32c(big.data(), big.size()));
}

// A file large enough for verify() to checksum its two halves on two threads (>= 64 MiB after the block):
// sealed, it verifies; a flipped byte in either half is corruption.
TEST(Seal, LargeFileVerifiesInTwoHalves) {
  ScratchDir d;
  const std::string p = (d.path() / "big.bin").string();
  std::string bytes((size_t{70} << 20) + 4096 + 13, '\0');
  for (size_t i = 4096; i < bytes.size(); i += 61) bytes[i] = static_cast<char>(i);
  write_bytes(p, bytes);
  seal::write(p);
  EXPECT_EQ(seal::verify(p), seal::State::Sealed);
  const std::string good = read_bytes(p);
  for (size_t pos : {size_t{5000}, good.size() - 7}) {
    std::string bad = good;
    bad[pos] = static_cast<char>(bad[pos] ^ 0x10);
    write_bytes(p, bad);
    const std::string e = error_of([&] { seal::verify(p); });
    EXPECT_NE(e.find("corrupted"), std::string::npos) << "byte " << pos << ": " << e;
  }
}

TEST(Seal, SavedModelsAreSealedAndVerify) {
  ScratchDir d;
  const std::string p = saved_model(d.path().string());
  EXPECT_EQ(seal::verify(p), seal::State::Sealed);
  EXPECT_NO_THROW(load_model(p));
}

TEST(Seal, FlippedByteAnywhereIsCorruption) {
  ScratchDir d;
  const std::string p = saved_model(d.path().string());
  const std::string good = read_bytes(p);
  for (size_t pos : {size_t{4096}, size_t{5000}, good.size() / 2, good.size() - 1}) {
    std::string bad = good;
    bad[pos] = static_cast<char>(bad[pos] ^ 0x40);
    write_bytes(p, bad);
    const std::string e = error_of([&] { load_model(p); });
    EXPECT_NE(e.find("corrupted"), std::string::npos) << "byte " << pos << ": " << e;
    EXPECT_NE(e.find(p), std::string::npos) << e;
  }
  // The header itself.
  std::string bad = good;
  bad[25] = static_cast<char>(bad[25] ^ 1);
  write_bytes(p, bad);
  EXPECT_NE(error_of([&] { load_model(p); }).find("header is damaged"), std::string::npos);
}

TEST(Seal, TruncatedOrExtendedFileIsNamed) {
  ScratchDir d;
  const std::string p = saved_model(d.path().string());
  const std::string good = read_bytes(p);
  write_bytes(p, good.substr(0, good.size() - 100));
  const std::string e = error_of([&] { load_model(p); });
  EXPECT_NE(e.find("truncated"), std::string::npos) << e;
  write_bytes(p, good + "junk");
  EXPECT_NE(error_of([&] { load_model(p); }).find("extra bytes"), std::string::npos);
  write_bytes(p, good.substr(0, 20));  // cut inside the header
  EXPECT_NE(error_of([&] { load_model(p); }).find("damaged"), std::string::npos);
}

TEST(Seal, UnsealedHdf5IsRefusedUnlessAllowed) {
  unsetenv("TERN_ALLOW_UNSEALED");
  const std::string ref = "tests/data/tiny/bert_seqcls_single3/reference.h5";
  const std::string e = error_of([&] { load_model(ref); });
  EXPECT_NE(e.find("not a tern model"), std::string::npos) << e;
  EXPECT_NE(e.find("TERN_ALLOW_UNSEALED"), std::string::npos) << e;
  // Allowed: libhdf5 reads it, and it is still not a tern model (no format attribute).
  LoadOptions o;
  o.allow_unsealed = true;
  EXPECT_NE(error_of([&] { load_model(ref, o); }).find("no 'format' attribute"), std::string::npos);
  // Not HDF5 at all.
  ScratchDir d;
  write_bytes(d.file("x.h5"), std::string(5000, 'x'));
  EXPECT_NE(error_of([&] { load_model(d.file("x.h5")); }).find("not an HDF5 file"), std::string::npos);
}
