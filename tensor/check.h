// Errors and the always-on invariant check.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace tern {

// Every error tern reports is a tern::Error; its message names the file, line, tensor or argument.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

namespace detail {
[[noreturn]] void throw_check(const char* cond, const char* file, int line, const std::string& msg);
}  // namespace detail

}  // namespace tern

// TERN_CHECK(cond, stream-expression): always on (also in Release); throws tern::Error.
//   TERN_CHECK(n > 0, "tensor " << name << " has " << n << " elements");
#define TERN_CHECK(cond, msg)                                                       \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::ostringstream tern_check_os_;                                            \
      tern_check_os_ << msg;                                                        \
      ::tern::detail::throw_check(#cond, __FILE__, __LINE__, tern_check_os_.str()); \
    }                                                                               \
  } while (0)

// TERN_FAIL(stream-expression): throw a tern::Error with that message (for API / I/O errors).
#define TERN_FAIL(msg)                        \
  do {                                        \
    std::ostringstream tern_fail_os_;         \
    tern_fail_os_ << msg;                     \
    throw ::tern::Error(tern_fail_os_.str()); \
  } while (0)
