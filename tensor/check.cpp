#include "tensor/check.h"

#include <cstring>

namespace tern::detail {

[[noreturn]] void throw_check(const char* cond, const char* file, int line, const std::string& msg) {
  const char* base = std::strrchr(file, '/');
  std::ostringstream os;
  os << msg;
  if (msg.empty()) os << "check failed";
  os << " [" << (base ? base + 1 : file) << ":" << line << ": " << cond << "]";
  throw Error(os.str());
}

}  // namespace tern::detail
