// Peak-memory diagnostics of `tern infer`: with TERN_MEMORY_TRACE=1 in the environment, memory_trace(stage)
// prints one line to stderr with the process's resident memory (/proc/self/status VmRSS = RssAnon +
// RssFile, peak VmHWM) and glibc's heap (mallinfo2: bytes in use, free inside the heap, mmapped). Without
// the variable it does nothing.
#pragma once
#include <string>

namespace tern::infer {

bool memory_trace_on();
void memory_trace(const std::string& stage);

// Unmaps the main program's resident code pages (its executable PT_LOAD segments: clean file pages that
// stay in the page cache; what runs next faults back in). Called once the models are loaded: the kernel's
// fault-around had made ~4.4 MiB of the tern binary's text resident while loading (HDF5, the tokenizer's
// builders, option parsing), which no later stage runs.
void release_loaded_code();

}  // namespace tern::infer
