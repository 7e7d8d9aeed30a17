// Minimal argument parser for the tern subcommands: --flag value, --flag=value, --switch.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace tern::cli {

class Args {
 public:
  // `spec`: options that take a value; `switches`: options without one. Unknown options are an error.
  Args(int argc, char** argv, const std::vector<std::string>& valued, const std::vector<std::string>& switches);
  bool has(const std::string& name) const;  // given (valued or switch)
  std::optional<std::string> get(const std::string& name) const;
  std::string require(const std::string& name) const;  // error naming the option when absent
  std::vector<std::string> get_all(const std::string& name) const;  // repeatable options
  int get_int(const std::string& name, int fallback) const;
  double get_double(const std::string& name, double fallback) const;
  const std::vector<std::string>& positional() const { return positional_; }
  bool help() const { return help_; }

 private:
  std::multimap<std::string, std::string> values_;
  std::vector<std::string> positional_;
  bool help_ = false;
};

// Applies --threads N (default: all cores) to tern's thread pool and the BLAS libraries.
void apply_threads(const Args& a);

}  // namespace tern::cli
