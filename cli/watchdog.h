// A guard around handing a foreign HDF5 file (tf_model.h5, token-id input) to libhdf5, whose parser is not
// hardened against damaged files: while the guard lives, a hang past the time limit or a crash inside the
// library (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT — also a stack overflow, on an alternate signal stack)
// prints an error naming the file and exits 1 instead of hanging or dumping core. CLI only: the libraries
// never exit. tern's own model files are sealed (weights/seal.h) and never reach libhdf5 damaged.
#pragma once
#include <string>

namespace tern::cli {

class Watchdog {
 public:
  // TERN_HDF5_TIMEOUT (seconds) overrides `seconds`; 0 disables the time limit (not the crash guard).
  Watchdog(unsigned seconds, const std::string& what);
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

 private:
  bool armed_ = false;
};

}  // namespace tern::cli
