#include "cli/args.h"

#include <algorithm>
#include <cstdlib>

#include "tensor/check.h"
#include "tensor/threads.h"

namespace tern::cli {

Args::Args(int argc, char** argv, const std::vector<std::string>& valued,
           const std::vector<std::string>& switches) {
  auto is_in = [](const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
  };
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      help_ = true;
      continue;
    }
    if (a.rfind("--", 0) != 0 || a == "--") {
      positional_.push_back(a);
      continue;
    }
    std::string name = a.substr(2), value;
    bool inline_value = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      inline_value = true;
    }
    if (is_in(switches, name)) {
      TERN_CHECK(!inline_value, "option --" << name << " takes no value");
      values_.emplace(name, "");
    } else if (is_in(valued, name)) {
      if (!inline_value) {
        TERN_CHECK(i + 1 < argc, "option --" << name << " needs a value");
        value = argv[++i];
      }
      values_.emplace(name, value);
    } else {
      TERN_FAIL("unknown option --" << name << " (see --help)");
    }
  }
}

bool Args::has(const std::string& n) const { return values_.count(n) > 0; }

std::optional<std::string> Args::get(const std::string& n) const {
  auto range = values_.equal_range(n);
  if (range.first == range.second) return std::nullopt;
  auto last = range.second;
  --last;
  return last->second;
}

std::string Args::require(const std::string& n) const {
  auto v = get(n);
  if (!v) TERN_FAIL("missing required option --" << n << " (see --help)");
  return *v;
}

std::vector<std::string> Args::get_all(const std::string& n) const {
  std::vector<std::string> out;
  auto range = values_.equal_range(n);
  for (auto it = range.first; it != range.second; ++it) out.push_back(it->second);
  return out;
}

int Args::get_int(const std::string& n, int fallback) const {
  auto v = get(n);
  if (!v) return fallback;
  char* end = nullptr;
  long x = std::strtol(v->c_str(), &end, 10);
  TERN_CHECK(end && *end == 0 && !v->empty() && x >= -2147483647L && x <= 2147483647L,
             "option --" << n << " needs an integer, got '" << *v << "'");
  return static_cast<int>(x);
}

double Args::get_double(const std::string& n, double fallback) const {
  auto v = get(n);
  if (!v) return fallback;
  char* end = nullptr;
  double x = std::strtod(v->c_str(), &end);
  TERN_CHECK(end && *end == 0 && !v->empty(), "option --" << n << " needs a number, got '" << *v << "'");
  return x;
}

void apply_threads(const Args& a) {
  int n = a.get_int("threads", 0);
  TERN_CHECK(n >= 0, "--threads must be >= 1, got " << n);
  set_num_threads(n);  // 0 = all cores
}

}  // namespace tern::cli
