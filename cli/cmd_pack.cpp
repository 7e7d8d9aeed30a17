// tern pack: re-save a model for shipping (weights/repack.h): without optimizer state, in a smaller
// storage dtype, with metadata entries set from the command line or from files.
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "tensor/check.h"
#include "weights/repack.h"

namespace tern::cli {

int cmd_pack(int argc, char** argv) {
  CLI::App app{"Re-saves a tern model for shipping: optimizer state dropped, floating-point parameters in the\n"
               "given storage dtype, metadata entries set (KEY=VALUE, or KEY=@FILE for a file's text).",
               "tern pack"};
  init_app(app);
  std::string model, out, dtype = "keep";
  std::vector<std::string> meta, drop;
  bool keep_extra = false;
  app.add_option("--model", model, "tern model (.h5) to re-save")->required();
  app.add_option("--out", out, "output .h5")->required();
  app.add_option("--dtype", dtype, "storage dtype of the floating-point parameters")
      ->check(CLI::IsMember({"keep", "float32", "float16", "bfloat16"}));
  app.add_option("--set", meta, "metadata entry KEY=VALUE or KEY=@FILE (repeatable)");
  app.add_option("--drop", drop, "metadata entry to remove (repeatable)");
  add_switch(app, "--keep-extra", keep_extra, "keep the optimizer state of a training checkpoint");
  if (!parse_args(app, argc, argv)) return 0;
  RepackOptions o;
  if (dtype != "keep") o.storage = dtype_from_name(dtype);
  o.keep_extra = keep_extra;
  o.drop_metadata = drop;
  for (const auto& kv : meta) {
    const size_t eq = kv.find('=');
    TERN_CHECK(eq != std::string::npos && eq > 0, "--set " << kv << ": expected KEY=VALUE");
    std::string v = kv.substr(eq + 1);
    if (!v.empty() && v[0] == '@') {
      std::ifstream f(v.substr(1), std::ios::binary);
      TERN_CHECK(f, "--set " << kv << ": cannot read " << v.substr(1));
      std::stringstream ss;
      ss << f.rdbuf();
      v = ss.str();
    }
    o.metadata[kv.substr(0, eq)] = v;
  }
  const int64_t bytes = repack_model(model, out, o);
  std::printf("tern pack: wrote %s (%.1f MB)\n", out.c_str(), static_cast<double>(bytes) / 1e6);
  return 0;
}

}  // namespace tern::cli
