#include "weights/seal.h"

#include <fcntl.h>
#include <nmmintrin.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <exception>
#include <thread>
#include <vector>

#include "tensor/check.h"
#include "tensor/threads.h"

namespace tern::seal {

namespace {

// Header layout (little-endian), at offset 0 of the user block:
//   0  char[16] magic "\x89TERN-MODEL\r\n\x1a\n\0\0"
//  16  uint32   header version (1)
//  20  uint32   user block size (4096)
//  24  uint64   file size in bytes
//  32  uint32   CRC-32C of bytes [4096, file size)
//  36  uint32   CRC-32C of bytes [0, 36)
constexpr char kMagic[16] = {'\x89', 'T', 'E', 'R',  'N',  '-',    'M',  'O',
                             'D',    'E', 'L', '\r', '\n', '\x1a', '\n', 0};
constexpr uint32_t kVersion = 1;
constexpr size_t kHeader = 40;

struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

void put32(unsigned char* p, uint32_t v) {
  std::memcpy(p, &v, 4);
}
void put64(unsigned char* p, uint64_t v) {
  std::memcpy(p, &v, 8);
}
uint32_t get32(const unsigned char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
uint64_t get64(const unsigned char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

// CRC-32C of the file's bytes [from, to), read in 4 MiB chunks.
uint32_t crc_of_range(int fd, uint64_t from, uint64_t to, const std::string& path) {
  std::vector<unsigned char> buf(4 << 20);
  uint32_t crc = 0;
  uint64_t pos = from;
  while (pos < to) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), to - pos));
    const ssize_t got = ::pread(fd, buf.data(), want, static_cast<off_t>(pos));
    if (got < 0) TERN_FAIL(path << ": read error: " << std::strerror(errno));
    if (got == 0)
      TERN_FAIL(path << ": file ended at byte " << pos << " while " << to << " were expected (truncated)");
    crc = crc32c(buf.data(), static_cast<size_t>(got), crc);
    pos += static_cast<uint64_t>(got);
  }
  return crc;
}

// The same over two threads for a large file (a BERT-base model: 439 MB, ~0.1 s on one core): each reads
// and checksums one half; crc32c_combine joins them.
uint32_t crc_of_file(int fd, uint64_t from, uint64_t to, const std::string& path) {
  if (to - from < (uint64_t{64} << 20) || num_threads() < 2) return crc_of_range(fd, from, to, path);
  const uint64_t mid = from + (to - from) / 2;
  uint32_t hi = 0;
  std::exception_ptr err;
  std::thread t([&] {
    try {
      hi = crc_of_range(fd, mid, to, path);
    } catch (...) {
      err = std::current_exception();
    }
  });
  uint32_t lo = 0;
  try {
    lo = crc_of_range(fd, from, mid, path);
  } catch (...) {
    t.join();
    throw;
  }
  t.join();
  if (err) std::rethrow_exception(err);
  return crc32c_combine(lo, hi, to - mid);
}

// Product of a and b modulo the CRC-32C polynomial, bit-reflected (bit 31 is x^0).
uint32_t multmodp(uint32_t a, uint32_t b) {
  constexpr uint32_t kPoly = 0x82F63B78u;
  uint32_t m = 1u << 31, p = 0;
  for (;;) {
    if (a & m) {
      p ^= b;
      if ((a & (m - 1)) == 0) break;
    }
    m >>= 1;
    b = b & 1 ? (b >> 1) ^ kPoly : b >> 1;
  }
  return p;
}

}  // namespace

// CRC-32C (Castagnoli) with the SSE4.2 crc32 instruction, 8 bytes at a time.
__attribute__((target("sse4.2"))) uint32_t crc32c(const void* data, size_t n, uint32_t crc) {
  const unsigned char* p = static_cast<const unsigned char*>(data);
  uint64_t c = ~crc;
  while (n >= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    c = _mm_crc32_u64(c, v);
    p += 8;
    n -= 8;
  }
  uint32_t c32 = static_cast<uint32_t>(c);
  while (n--) c32 = _mm_crc32_u8(c32, *p++);
  return ~c32;
}

// crc(A B) from crc(A), crc(B) and |B|: crc(A) times x^(8 |B|) mod P, plus crc(B) (the pre- and
// post-inversions cancel, as for zlib's crc32_combine). x^(8 n) by squaring: power[k] = x^(2^k).
uint32_t crc32c_combine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b) {
  uint32_t power[68];
  power[0] = 1u << 30;  // x^1
  for (int k = 1; k < 68; ++k) power[k] = multmodp(power[k - 1], power[k - 1]);
  uint32_t x = 1u << 31;  // x^0
  int k = 3;              // 8 n = n * 2^3
  for (uint64_t n = len_b; n != 0; n >>= 1, ++k)
    if (n & 1) x = multmodp(power[k], x);
  return multmodp(x, crc_a) ^ crc_b;
}

void write(const std::string& path) {
  Fd f{::open(path.c_str(), O_RDWR | O_CLOEXEC)};
  if (f.fd < 0) TERN_FAIL(path << ": cannot open to seal: " << std::strerror(errno));
  struct stat st;
  if (::fstat(f.fd, &st) != 0) TERN_FAIL(path << ": cannot stat: " << std::strerror(errno));
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  TERN_CHECK(size >= kUserBlock, path << ": smaller than its user block");
  unsigned char h[kHeader] = {0};
  std::memcpy(h, kMagic, 16);
  put32(h + 16, kVersion);
  put32(h + 20, static_cast<uint32_t>(kUserBlock));
  put64(h + 24, size);
  put32(h + 32, crc_of_file(f.fd, kUserBlock, size, path));
  put32(h + 36, crc32c(h, 36));
  if (::pwrite(f.fd, h, kHeader, 0) != static_cast<ssize_t>(kHeader))
    TERN_FAIL(path << ": cannot write the model header: " << std::strerror(errno));
  if (::fsync(f.fd) != 0) TERN_FAIL(path << ": cannot sync: " << std::strerror(errno));
}

State verify(const std::string& path) {
  Fd f{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (f.fd < 0) TERN_FAIL(path << ": cannot open: " << std::strerror(errno));
  struct stat st;
  if (::fstat(f.fd, &st) != 0) TERN_FAIL(path << ": cannot stat: " << std::strerror(errno));
  if (S_ISDIR(st.st_mode)) TERN_FAIL(path << ": is a directory, not a model file");
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  unsigned char h[kHeader] = {0};
  const ssize_t got = ::pread(f.fd, h, kHeader, 0);
  if (got < static_cast<ssize_t>(16) || std::memcmp(h, kMagic, 16) != 0) return State::NoSeal;
  if (got < static_cast<ssize_t>(kHeader) || get32(h + 36) != crc32c(h, 36))
    TERN_FAIL(path << ": the tern model header is damaged (header checksum mismatch)");
  if (get32(h + 16) != kVersion)
    TERN_FAIL(path << ": tern model header version " << get32(h + 16) << " is not supported (expected "
                   << kVersion << ")");
  const uint64_t want = get64(h + 24);
  if (size != want)
    TERN_FAIL(
        path << ": the file is " << size << " bytes but the model header says " << want
             << (size < want ? " (truncated: an incomplete copy or download?)" : " (extra bytes appended)"));
  const uint32_t crc = crc_of_file(f.fd, kUserBlock, size, path);
  if (crc != get32(h + 32))
    TERN_FAIL(path << ": the model file is corrupted (CRC-32C of its contents is " << std::hex << crc
                   << ", the header says " << get32(h + 32) << ")");
  return State::Sealed;
}

bool has_header(const std::string& path) {
  Fd f{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (f.fd < 0) return false;
  struct stat st;
  if (::fstat(f.fd, &st) != 0 || !S_ISREG(st.st_mode)) return false;
  unsigned char h[16] = {0};
  return ::pread(f.fd, h, 16, 0) == 16 && std::memcmp(h, kMagic, 16) == 0;
}

}  // namespace tern::seal
