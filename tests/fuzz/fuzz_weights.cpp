// libFuzzer over the weight readers: the first byte picks the reader, the rest is the file.
//   0: safetensors (header JSON, dtypes, offsets) -> read_safetensors
//   1: tern model file (.h5, sealed header first)  -> load_model. Files without the seal (foreign HDF5
//      writers) are skipped: load_model hands them to libhdf5 unprotected, whose hangs on damaged files
//      (docs/errors.md) would drown everything else; fuzz_tf_h5 covers that path, report-only.
//   2: config.json                                 -> parse_config, then a model built from it with no
//      checkpoint tensors (each must be reported missing: nothing absurd is allocated)
// Each must load or throw tern::Error: never crash, hang, leak or throw anything else.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "nn/model.h"
#include "tensor/check.h"
#include "weights/import.h"
#include "weights/model_file.h"
#include "weights/seal.h"

namespace {

std::string scratch_file(const char* ext) {
  static const std::string dir = [] {
    const char* shm = "/dev/shm";
    return std::string(access(shm, W_OK) == 0 ? shm : "/tmp");
  }();
  return dir + "/tern_fuzz_" + std::to_string(getpid()) + ext;
}

void write_file(const std::string& path, const uint8_t* data, size_t n) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();
  if (n && std::fwrite(data, 1, n, f) != n) std::abort();
  std::fclose(f);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t kind = data[0] % 3;
  ++data;
  --size;
  try {
    if (kind == 0) {
      const std::string p = scratch_file(".safetensors");
      write_file(p, data, size);
      tern::TensorMap t = tern::read_safetensors(p);
      for (auto& [name, v] : t) (void)v.numel();
    } else if (kind == 1) {
      const std::string p = scratch_file(".h5");
      write_file(p, data, size);
      if (tern::seal::verify(p) == tern::seal::State::NoSeal) return 0;
      tern::ModelBundle b = tern::load_model(p);
      (void)b.tensors.size();
    } else {
      const std::string text(reinterpret_cast<const char*>(data), size);
      tern::ModelConfig c = tern::parse_config(text, "config.json");
      tern::Model m(c, {}, "fuzz");  // no tensors: must fail naming the first missing one
    }
  } catch (const tern::Error&) {
  } catch (const std::exception& e) {
    std::fprintf(stderr, "unexpected exception type: %s\n", e.what());
    std::abort();
  }
  return 0;
}
