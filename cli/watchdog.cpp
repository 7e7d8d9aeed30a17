#include "cli/watchdog.h"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace tern::cli {

namespace {

char g_timeout_message[1024];
size_t g_timeout_len = 0;
char g_crash_message[1024];
size_t g_crash_len = 0;

constexpr int kCrashSignals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
struct sigaction g_saved[sizeof kCrashSignals / sizeof kCrashSignals[0]];
struct sigaction g_saved_alarm;
stack_t g_saved_stack;
alignas(64) char g_alt_stack[1 << 16];  // the handler's stack when the fault was a stack overflow

// Async-signal-safe: write(2) and _exit(2) only.
void on_alarm(int) {
  if (::write(2, g_timeout_message, g_timeout_len) < 0) {
  }
  _exit(1);
}

void on_crash(int) {
  if (::write(2, g_crash_message, g_crash_len) < 0) {
  }
  _exit(1);
}

size_t copy_message(const std::string& msg, char* out, size_t cap) {
  const size_t n = std::min(msg.size(), cap);
  std::memcpy(out, msg.data(), n);
  return n;
}

}  // namespace

Watchdog::Watchdog(unsigned seconds, const std::string& what) {
  if (const char* e = std::getenv("TERN_HDF5_TIMEOUT")) seconds = static_cast<unsigned>(std::atoi(e));

  g_crash_len = copy_message("tern: error: " + what +
                                 ": the HDF5 library crashed reading it: the file is damaged (nothing was "
                                 "written)\n",
                             g_crash_message, sizeof g_crash_message);
  stack_t ss{};
  ss.ss_sp = g_alt_stack;
  ss.ss_size = sizeof g_alt_stack;
  sigaltstack(&ss, &g_saved_stack);
  struct sigaction sa {};
  sa.sa_handler = on_crash;
  sa.sa_flags = SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  for (size_t i = 0; i < sizeof kCrashSignals / sizeof kCrashSignals[0]; ++i)
    sigaction(kCrashSignals[i], &sa, &g_saved[i]);

  if (seconds == 0) return;
  g_timeout_len =
      copy_message("tern: error: " + what + ": the HDF5 library did not finish reading it within " +
                       std::to_string(seconds) +
                       " s: the file is damaged (or set TERN_HDF5_TIMEOUT=<seconds> for a slow "
                       "disk)\n",
                   g_timeout_message, sizeof g_timeout_message);
  struct sigaction al {};
  al.sa_handler = on_alarm;
  sigemptyset(&al.sa_mask);
  sigaction(SIGALRM, &al, &g_saved_alarm);
  armed_ = true;
  alarm(seconds);
}

Watchdog::~Watchdog() {
  if (armed_) {
    alarm(0);
    sigaction(SIGALRM, &g_saved_alarm, nullptr);
  }
  for (size_t i = 0; i < sizeof kCrashSignals / sizeof kCrashSignals[0]; ++i)
    sigaction(kCrashSignals[i], &g_saved[i], nullptr);
  sigaltstack(&g_saved_stack, nullptr);
}

}  // namespace tern::cli
