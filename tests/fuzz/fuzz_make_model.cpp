// Seed maker for fuzz_weights: imports a Hugging Face fixture directory and saves it as a tern model file.
//   fuzz_make_model tests/data/tiny/bert_seqcls_single3 out.h5
#include <cstdio>
#include <exception>

#include "weights/import.h"
#include "weights/model_file.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: fuzz_make_model HF_DIR OUT.h5\n");
    return 2;
  }
  try {
    tern::save_model(argv[2], tern::import_hf(argv[1]));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz_make_model: %s\n", e.what());
    return 1;
  }
  return 0;
}
