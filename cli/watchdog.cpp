#include "cli/watchdog.h"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace tern::cli {

namespace {
char g_message[1024];
size_t g_len = 0;

void on_alarm(int) {
  // Async-signal-safe: write(2) and _exit(2) only.
  if (::write(2, g_message, g_len) < 0) {
  }
  _exit(1);
}
}  // namespace

Watchdog::Watchdog(unsigned seconds, const std::string& what) {
  if (const char* e = std::getenv("TERN_HDF5_TIMEOUT")) seconds = static_cast<unsigned>(std::atoi(e));
  if (seconds == 0) return;
  const std::string msg = "tern: error: " + what + ": the HDF5 library did not finish reading it within " +
                          std::to_string(seconds) +
                          " s: the file is damaged (or set TERN_HDF5_TIMEOUT=<seconds> for a slow disk)\n";
  g_len = std::min(msg.size(), sizeof g_message);
  std::memcpy(g_message, msg.data(), g_len);
  struct sigaction sa {};
  sa.sa_handler = on_alarm;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGALRM, &sa, nullptr);
  alarm(seconds);
}

Watchdog::~Watchdog() { alarm(0); }

}  // namespace tern::cli
