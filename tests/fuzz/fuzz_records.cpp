// libFuzzer over the streaming record readers of infer/ (JSONL / CSV / TSV / text, gzip, encodings) and the
// dotted field lookup. The first byte picks the options, the rest is the file:
//   bits 0-2: format 0 auto (sniffed), 1 jsonl, 2 csv, 3 tsv, 4 text, 5-7 auto
//   bit 3: invalid UTF-8 replaced (else a bad row)   bit 4: encoding windows-1252
//   bit 5: CSV / TSV without a header                bit 6: max line 64 bytes (else 1 MiB)
// Reading must end (every record either parsed or a bad row with its reason and a line number that grows),
// never crash, hang, leak or throw anything but tern::Error (only for a damaged gzip stream).
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <nlohmann/json.hpp>

#include "infer/record_reader.h"
#include "tensor/check.h"

namespace {

std::string scratch() {
  static const std::string path = std::string(access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp") +
                                  "/tern_fuzz_records_" + std::to_string(getpid());
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  using namespace tern::infer;
  const uint8_t k = data[0];
  const std::string path = scratch();
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();
  if (size > 1 && std::fwrite(data + 1, 1, size - 1, f) != size - 1) std::abort();
  std::fclose(f);
  ReaderOptions o;
  const InputFormat formats[] = {InputFormat::Auto, InputFormat::Jsonl, InputFormat::Csv, InputFormat::Tsv,
                                 InputFormat::Text, InputFormat::Auto,  InputFormat::Auto, InputFormat::Auto};
  o.format = formats[k & 7];
  o.invalid_utf8 = (k & 8) ? InvalidUtf8::Replace : InvalidUtf8::Error;
  if (k & 16) o.encoding = "windows-1252";
  o.header = !(k & 32);
  o.max_line_bytes = (k & 64) ? 64 : (1 << 20);
  try {
    RecordReader r(path, o);
    Record rec;
    int64_t last = 0;
    while (r.next(rec)) {
      if (rec.line <= last) std::abort();  // line numbers grow
      last = rec.line;
      if (rec.error.empty()) {
        if (!rec.json().is_object()) std::abort();
        const char* paths[] = {"text", "data.text", "user.name", "a.b.c", "id"};
        for (const char* p : paths) {
          const nlohmann::json* v = find_field(rec.json(), p);
          if (v) (void)v->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        }
        (void)first_present_field(rec.json(), {"text", "full_text", "rawContent", "data.text"});
        // Every string the reader hands over is valid UTF-8: dumping strictly must not throw.
        (void)rec.json().dump();
      }
    }
  } catch (const tern::Error&) {
    // a damaged gzip stream, or a header that cannot be read
  }
  return 0;
}
