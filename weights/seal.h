// The tern model file's seal: the first 4096 bytes of the file are an HDF5 user block (HDF5 and h5py skip
// it) holding a small header with the file's size and a CRC-32C of everything after the block. load_model
// verifies it before libhdf5 parses a byte, so a truncated or corrupted model is a clean error, never a
// crash inside the HDF5 library.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace tern::seal {

constexpr uint64_t kUserBlock = 4096;

uint32_t crc32c(const void* data, size_t n, uint32_t crc = 0);
// The CRC-32C of A followed by B, from crc32c(A), crc32c(B) and B's length.
uint32_t crc32c_combine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b);

// Writes the header into the user block of the finished file `path` (computes the CRC over the rest).
void write(const std::string& path);

enum class State { Sealed, NoSeal };
// Sealed: size and CRC verified (throws tern::Error naming `path` on a mismatch). NoSeal: the file has no
// tern header (an HDF5 file written by another tool); the caller decides.
State verify(const std::string& path);
// True when `path` is a regular file whose first bytes are tern's header magic (a file tern wrote; nothing
// else is checked: verify() does that).
bool has_header(const std::string& path);

}  // namespace tern::seal
