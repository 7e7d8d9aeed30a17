// libFuzzer over the training archive readers (train/dataset.h): the first byte picks the format and the
// options, the rest is the file.
//   bits 0-1: format  0 .csv, 1 .tsv, 2 .jsonl, 3 TweetEval <split>_text.txt (+ _labels.txt after a NUL)
//   bits 2-3: task    0 single (names a,b,c), 1 single (3 ids), 2 multi (names a,b,c), 3 regression
//   bit 4:    skip_bad_rows        bit 5: labels_required = false
//   bit 6:    quoting forced to RFC 4180 (else Auto; bit 7 with it: None)
// Each read must return a dataset or throw tern::Error: never crash, hang, leak or throw anything else;
// and every row it returns must have its targets (width floats per row) and a line number.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "tensor/check.h"
#include "train/dataset.h"

namespace {

std::string scratch(const std::string& name) {
  static const std::string dir = [] {
    const std::string d = std::string(access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp") +
                          "/tern_fuzz_archives_" + std::to_string(getpid());
    std::string cmd = "mkdir -p " + d;
    if (std::system(cmd.c_str()) != 0) std::abort();
    return d;
  }();
  return dir + "/" + name;
}

void write_file(const std::string& path, const char* data, size_t n) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();
  if (n && std::fwrite(data, 1, n, f) != n) std::abort();
  std::fclose(f);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  using namespace tern::train;
  const uint8_t k = data[0];
  const std::string body(reinterpret_cast<const char*>(data + 1), size - 1);
  LabelSpec spec;
  switch ((k >> 2) & 3) {
    case 0:
      spec = {Task::Single, {"a", "b", "c"}, 0};
      break;
    case 1:
      spec = {Task::Single, {}, 3};
      break;
    case 2:
      spec = {Task::Multi, {"a", "b", "c"}, 0};
      break;
    default:
      spec = {Task::Regression, {}, 0};
      break;
  }
  ReadOptions opt;
  opt.skip_bad_rows = k & 16;
  opt.labels_required = !(k & 32);
  if (k & 64) opt.quoting = (k & 128) ? Quoting::None : Quoting::Rfc4180;
  if (spec.task == Task::Multi && (k & 128)) opt.label_fields = {"label"};  // one field holding a list
  std::string path;
  switch (k & 3) {
    case 0:
      path = scratch("data.csv");
      write_file(path, body.data(), body.size());
      break;
    case 1:
      path = scratch("data.tsv");
      write_file(path, body.data(), body.size());
      break;
    case 2:
      path = scratch("data.jsonl");
      write_file(path, body.data(), body.size());
      break;
    default: {
      const size_t cut = body.find('\0');
      path = scratch("split_text.txt");
      write_file(path, body.data(), cut == std::string::npos ? body.size() : cut);
      const std::string labels = scratch("split_labels.txt");
      if (cut == std::string::npos) {
        std::remove(labels.c_str());
      } else {
        write_file(labels, body.data() + cut + 1, body.size() - cut - 1);
      }
    }
  }
  try {
    Dataset d = read_dataset(path, spec, opt);
    if (d.lines.size() != d.texts.size()) std::abort();
    if (!d.targets.empty() && d.targets.size() != d.texts.size() * static_cast<size_t>(d.width)) std::abort();
    if (opt.labels_required && d.targets.size() != d.texts.size() * static_cast<size_t>(d.width))
      std::abort();
  } catch (const tern::Error&) {
  } catch (const std::exception& e) {
    std::fprintf(stderr, "unexpected exception type: %s\n", e.what());
    std::abort();
  }
  // The record splitter on its own, with both quoting rules.
  for (Quoting q : {Quoting::Rfc4180, Quoting::None}) {
    std::vector<Record> r = parse_delimited(body, (k & 1) ? '\t' : ',', q);
    int64_t last = 0;
    for (const auto& rec : r) {
      if (rec.line <= last) std::abort();  // line numbers strictly increase
      last = rec.line;
    }
  }
  return 0;
}
