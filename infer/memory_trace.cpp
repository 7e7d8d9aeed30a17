#include "infer/memory_trace.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include <link.h>
#include <sys/mman.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

namespace tern::infer {

bool memory_trace_on() {
  static const bool on = [] {
    const char* e = std::getenv("TERN_MEMORY_TRACE");
    return e && *e && std::strcmp(e, "0") != 0;
  }();
  return on;
}

void memory_trace(const std::string& stage) {
  if (!memory_trace_on()) return;
  long rss = -1, hwm = -1, anon = -1, file = -1;
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    long v = -1;
    if (std::sscanf(line.c_str(), "VmRSS: %ld", &v) == 1) rss = v;
    if (std::sscanf(line.c_str(), "VmHWM: %ld", &v) == 1) hwm = v;
    if (std::sscanf(line.c_str(), "RssAnon: %ld", &v) == 1) anon = v;
    if (std::sscanf(line.c_str(), "RssFile: %ld", &v) == 1) file = v;
  }
  std::fprintf(stderr, "tern memory %-28s VmRSS %6.1f MiB (anon %6.1f, file %5.1f)  VmHWM %6.1f MiB",
               stage.c_str(), rss / 1024.0, anon / 1024.0, file / 1024.0, hwm / 1024.0);
#ifdef __GLIBC__
  const struct mallinfo2 mi = mallinfo2();
  std::fprintf(stderr, "  heap: in use %6.1f MiB, free %6.1f MiB, mmapped %6.1f MiB", mi.uordblks / 1048576.0,
               mi.fordblks / 1048576.0, mi.hblkhd / 1048576.0);
#endif
  std::fputc('\n', stderr);
}

void release_loaded_code() {
  dl_iterate_phdr(
      [](dl_phdr_info* info, size_t, void*) -> int {
        const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
        for (int i = 0; i < info->dlpi_phnum; ++i) {
          const ElfW(Phdr)& ph = info->dlpi_phdr[i];
          if (ph.p_type != PT_LOAD || !(ph.p_flags & PF_X) || (ph.p_flags & PF_W)) continue;
          const uintptr_t a = (info->dlpi_addr + ph.p_vaddr) / page * page;
          const uintptr_t e = (info->dlpi_addr + ph.p_vaddr + ph.p_memsz + page - 1) / page * page;
          madvise(reinterpret_cast<void*>(a), e - a, MADV_DONTNEED);
        }
        return 1;  // the first object is the main program
      },
      nullptr);
}

}  // namespace tern::infer
