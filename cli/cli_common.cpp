#include "cli/cli_common.h"

#include <CLI/CLI.hpp>
#include <cstdio>

#include "tensor/check.h"
#include "tensor/threads.h"

namespace tern::cli {

void init_app(CLI::App& app) {
  app.option_defaults()->always_capture_default();
  app.get_formatter()->column_width(34);
}

CLI::Option* add_switch(CLI::App& app, const std::string& name, bool& value, const std::string& help) {
  return app.add_flag(name, value, help)
      ->multi_option_policy(CLI::MultiOptionPolicy::Throw)
      ->disable_flag_override();
}

void add_archive_input_options(CLI::App& app, ArchiveInputFlags& f) {
  app.add_option("--format", f.format, "input format: auto (by extension, else sniffed), jsonl, csv, tsv")
      ->check(CLI::IsMember({"auto", "jsonl", "csv", "tsv"}));
  app.add_option("--encoding", f.encoding, "input encoding when not UTF-8 (an iconv name)");
  app.add_option("--invalid-utf8", f.invalid_utf8, "a row with invalid UTF-8: a bad row, or kept with U+FFFD")
      ->check(CLI::IsMember({"error", "replace"}));
}

void add_threads_option(CLI::App& app, int& threads) {
  app.add_option("--threads", threads,
                 "threads for tern and the BLAS libraries (0: all cores); results are deterministic per N")
      ->type_name("N")
      ->check(CLI::Range(0, 4096));
}

void add_precision_option(CLI::App& app, std::string& precision) {
  app.add_option(
         "--precision", precision,
         "encoder GEMMs: fp32, bf16 (AVX512-BF16) or int8 (AVX512-VNNI, activations quantised per row); "
         "LayerNorm, softmax and the head stay fp32")
      ->check(CLI::IsMember({"fp32", "bf16", "int8"}));
}

bool parse_args(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::fputs(app.help().c_str(), stdout);
    return false;
  } catch (const CLI::ParseError& e) {
    // An option given twice: say so (CLI11 says "At Most 1 required but received 2").
    if (dynamic_cast<const CLI::ArgumentMismatch*>(&e)) {
      for (const CLI::Option* o : app.get_options())
        if (o->count() > 1 && o->get_multi_option_policy() == CLI::MultiOptionPolicy::Throw)
          TERN_FAIL("option " << o->get_name() << " given more than once (see --help)");
      // A switch given a value: CLI11 says "<name> was given a disallowed flag override".
      const std::string m = e.what();
      if (const size_t at = m.find(" was given a disallowed flag override"); at != std::string::npos)
        TERN_FAIL("option --" << m.substr(0, at) << " takes no value (see --help)");
    }
    // CLI11 checks required options before leftovers: name a misspelt option first, it is the cause.
    for (const std::string& r : app.remaining()) {
      if (r.size() > 1 && r[0] == '-') TERN_FAIL("unknown option " << r << " (see --help)");
      TERN_FAIL("unexpected argument '" << r << "' (see --help)");
    }
    TERN_FAIL(e.what() << " (see --help)");
  }
  return true;
}

void apply_threads(int threads) {
  TERN_CHECK(threads >= 0, "--threads must be >= 0 (0: all cores), got " << threads);
  set_num_threads(threads);  // 0 = all cores
}

}  // namespace tern::cli
