// A time limit on handing a foreign HDF5 file (tf_model.h5, token-id input) to libhdf5, whose parser can
// hang on a damaged file. When it fires, tern prints an error naming the file and exits 1. CLI only: the
// libraries never exit.
#pragma once
#include <string>

namespace tern::cli {

class Watchdog {
 public:
  // TERN_HDF5_TIMEOUT (seconds) overrides `seconds`; 0 disables.
  Watchdog(unsigned seconds, const std::string& what);
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;
};

}  // namespace tern::cli
