// What every tern subcommand shares: CLI11 set-up and parsing, the --threads option and its application.
// Only cli/*.cpp include this; CLI11 itself stays in the .cpp files (CLI::App is declared, not defined).
#pragma once
#include <string>

namespace CLI {
class App;
class Option;
}  // namespace CLI

namespace tern::cli {

// Defaults shown in --help for every option added after this call.
void init_app(CLI::App& app);

// A switch without a value (--offsets): giving it twice or with a value (--offsets=1) is an error.
CLI::Option* add_switch(CLI::App& app, const std::string& name, bool& value, const std::string& help);

// --threads N into `threads` (0, the default: all cores).
void add_threads_option(CLI::App& app, int& threads);
// --precision fp32|bf16|int8 (the encoder's weight GEMMs; tensor/packed_weight.h).
void add_precision_option(CLI::App& app, std::string& precision);

// Parses argv (argv[0]: the command's name) into `app`. Returns false after printing the help on stdout
// (--help / -h). A usage error (unknown or repeated option, stray argument, missing or out-of-range value)
// throws tern::Error naming the option; an unknown option is reported before a missing required one.
bool parse_args(CLI::App& app, int argc, char** argv);

// The archive-input options of the social commands (trends, coordinate, report): --format, --encoding and
// --invalid-utf8 error|replace (the same name and values as tern infer's).
struct ArchiveInputFlags {
  std::string format = "auto", encoding, invalid_utf8 = "error";
};
void add_archive_input_options(CLI::App& app, ArchiveInputFlags& f);

// Bounds tern's thread pool and the BLAS libraries to `threads` (0: all cores).
void apply_threads(int threads);

}  // namespace tern::cli
