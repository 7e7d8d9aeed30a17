#include "weights/repack.h"

#include <sys/stat.h>

#include "tensor/check.h"
#include "weights/model_file.h"

namespace tern {

int64_t repack_model(const std::string& src, const std::string& dst, const RepackOptions& opt) {
  LoadOptions lo;
  lo.to_f32 = false;  // keep the stored dtype unless a storage dtype is asked for
  ModelBundle b = load_model(src, lo);
  if (!opt.keep_extra) b.extra.clear();
  for (const auto& k : opt.drop_metadata) b.metadata.erase(k);
  for (const auto& [k, v] : opt.metadata) b.metadata[k] = v;
  if (opt.storage)
    save_model(dst, b, *opt.storage);
  else
    save_model(dst, b);
  struct stat st;
  TERN_CHECK(::stat(dst.c_str(), &st) == 0, dst << ": not written");
  return static_cast<int64_t>(st.st_size);
}

}  // namespace tern
