// safetensors reader: https://github.com/huggingface/safetensors (format: 8-byte little-endian header size N,
// N bytes of JSON {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}, then the data
// section; offsets are relative to the data section).
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>

#include "weights/import.h"
#include "weights/mapped_file.h"

namespace tern {

namespace {

constexpr uint64_t kMaxHeader = 100'000'000;  // the reference implementation's limit

struct Entry {
  std::string name;
  std::string st_dtype;  // "F32", ...
  size_t itemsize = 0;
  Shape shape;
  uint64_t begin = 0, end = 0;
};

size_t itemsize_of(const std::string& d) {
  if (d == "F32" || d == "I32") return 4;
  if (d == "F16" || d == "BF16") return 2;
  if (d == "F64" || d == "I64") return 8;
  return 0;
}

std::string offsets_str(uint64_t a, uint64_t b) {
  char buf[64];  // (not string operator+: GCC 12 -Wrestrict false positive)
  std::snprintf(buf, sizeof buf, "[%llu, %llu]", static_cast<unsigned long long>(a),
                static_cast<unsigned long long>(b));
  return buf;
}

}  // namespace

TensorMap read_safetensors(const std::string& path) {
  auto map = MappedFile::open(path);
  const uint64_t size = map->size();
  if (size < 8)
    TERN_FAIL(path << ": is not a safetensors file: " << size
                   << " bytes, shorter than the 8-byte header length");
  uint64_t n;
  std::memcpy(&n, map->data(), 8);
  if (n > kMaxHeader)
    TERN_FAIL(path << ": safetensors header length " << n << " is absurd (limit " << kMaxHeader
                   << " bytes); not a safetensors file?");
  if (n > size - 8)
    TERN_FAIL(path << ": safetensors header length " << n << " exceeds the file (" << size
                   << " bytes): truncated, or not a safetensors file");
  const char* text = reinterpret_cast<const char*>(map->data() + 8);
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(text, text + n);
  } catch (const nlohmann::json::exception& e) {
    TERN_FAIL(path << ": safetensors header is not valid JSON: " << e.what());
  }
  if (!header.is_object()) TERN_FAIL(path << ": safetensors header is not a JSON object");
  const uint64_t data_size = size - 8 - n;
  uint8_t* data = map->mutable_data() + 8 + n;

  std::vector<Entry> entries;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& key = it.key();
    const nlohmann::json& v = it.value();
    if (key == "__metadata__") {
      if (!v.is_object()) TERN_FAIL(path << ": safetensors __metadata__ is not a JSON object");
      continue;
    }
    std::string ctx = path + ": tensor '" + key + "'";
    if (!v.is_object()) TERN_FAIL(ctx << ": header entry is not a JSON object");
    Entry e;
    e.name = key;
    if (!v.contains("dtype") || !v["dtype"].is_string())
      TERN_FAIL(ctx << ": header entry has no string 'dtype'");
    e.st_dtype = v["dtype"].get<std::string>();
    e.itemsize = itemsize_of(e.st_dtype);
    if (e.itemsize == 0)
      TERN_FAIL(ctx << " has dtype " << e.st_dtype
                    << ", which tern does not read (F32, F16, BF16, F64, I64, I32)");
    if (!v.contains("shape") || !v["shape"].is_array())
      TERN_FAIL(ctx << ": header entry has no 'shape' array");
    uint64_t numel = 1;
    for (const auto& d : v["shape"]) {
      if (!d.is_number_integer() ||
          (d.is_number_integer() && !d.is_number_unsigned() && d.get<int64_t>() < 0))
        TERN_FAIL(ctx << ": shape " << v["shape"].dump() << " is not a list of non-negative integers");
      uint64_t x = d.get<uint64_t>();
      if (x > (uint64_t(1) << 62) || (x != 0 && numel > (uint64_t(1) << 62) / x / e.itemsize))
        TERN_FAIL(ctx << ": shape " << v["shape"].dump() << " is absurd (its size overflows)");
      numel *= x;
      e.shape.push_back(static_cast<int64_t>(x));
    }
    const auto* off = v.contains("data_offsets") ? &v["data_offsets"] : nullptr;
    if (!off || !off->is_array() || off->size() != 2 || !(*off)[0].is_number_unsigned() ||
        !(*off)[1].is_number_unsigned())
      TERN_FAIL(ctx << ": header entry needs 'data_offsets' = [begin, end] (non-negative integers)");
    e.begin = (*off)[0].get<uint64_t>();
    e.end = (*off)[1].get<uint64_t>();
    if (e.begin > e.end) TERN_FAIL(ctx << " data_offsets " << offsets_str(e.begin, e.end) << " are reversed");
    if (e.end > data_size)
      TERN_FAIL(ctx << " data_offsets " << offsets_str(e.begin, e.end) << " exceed the data section ("
                    << data_size << " bytes)");
    if (e.end - e.begin != numel * e.itemsize)
      TERN_FAIL(ctx << " data_offsets " << offsets_str(e.begin, e.end) << " hold " << (e.end - e.begin)
                    << " bytes but " << e.st_dtype << " " << shape_str(e.shape) << " needs "
                    << numel * e.itemsize);
    entries.push_back(std::move(e));
  }

  // No two tensors may share bytes.
  std::vector<const Entry*> order;
  for (const Entry& e : entries)
    if (e.end > e.begin) order.push_back(&e);
  std::sort(order.begin(), order.end(), [](const Entry* a, const Entry* b) { return a->begin < b->begin; });
  for (size_t i = 1; i < order.size(); ++i)
    if (order[i]->begin < order[i - 1]->end)
      TERN_FAIL(path << ": tensors '" << order[i - 1]->name << "' "
                     << offsets_str(order[i - 1]->begin, order[i - 1]->end) << " and '" << order[i]->name
                     << "' " << offsets_str(order[i]->begin, order[i]->end) << " overlap");

  TensorMap out;
  for (const Entry& e : entries) {
    uint8_t* p = data + e.begin;
    size_t bytes = e.end - e.begin;
    Tensor t;
    if (e.st_dtype == "F64") {
      t = Tensor::empty(e.shape, DType::F32);
      float* dst = t.f32();
      for (size_t i = 0; i < bytes / 8; ++i) {
        double x;
        std::memcpy(&x, p + 8 * i, 8);
        dst[i] = static_cast<float>(x);
      }
    } else {
      DType dt = e.st_dtype == "F32"    ? DType::F32
                 : e.st_dtype == "F16"  ? DType::F16
                 : e.st_dtype == "BF16" ? DType::BF16
                 : e.st_dtype == "I32"  ? DType::I32
                                        : DType::I64;
      if (bytes > 0 && reinterpret_cast<uintptr_t>(p) % 64 == 0) {
        t = Tensor::view_of(Storage::wrap_file(p, bytes, map), 0, e.shape, dt);  // zero-copy
      } else {
        t = Tensor::empty(e.shape, dt);  // safetensors data need not be 64-byte aligned
        if (bytes) std::memcpy(t.raw(), p, bytes);
      }
    }
    out.emplace(e.name, std::move(t));
  }
  return out;
}

}  // namespace tern
