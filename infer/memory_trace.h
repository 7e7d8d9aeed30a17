// Peak-memory diagnostics of `tern infer`: with TERN_MEMORY_TRACE=1 in the environment, memory_trace(stage)
// prints one line to stderr with the process's resident memory (/proc/self/status VmRSS = RssAnon +
// RssFile, peak VmHWM) and glibc's heap (mallinfo2: bytes in use, free inside the heap, mmapped). Without
// the variable it does nothing.
#pragma once
#include <string>

namespace tern::infer {

bool memory_trace_on();
void memory_trace(const std::string& stage);

}  // namespace tern::infer
