// Loads igraph's shared dependencies (ARPACK, libxml2) on the first call of one of their functions:
// igraph_lazy_deps.S / .inc, social/CMakeLists.txt, docs/architecture.md.

#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>

#define TERN_LAZY(lib, name) extern "C" void* tern_lazy_slot_##name;
#include "social/igraph_lazy_deps.inc"
#undef TERN_LAZY

extern "C" void tern_igraph_lazy_load(int lib);

// libxml2's xmlFree is a variable (a function pointer), which a trampoline cannot stand in for: tern's own
// copy starts at a function that loads libxml2 and then holds libxml2's value (free unless a caller of
// xmlMemSetup changed it before the load; tern calls no xmlMemSetup).
extern "C" {
void tern_xml_free_first(void* p);
void (*xmlFree)(void*) = tern_xml_free_first;
void tern_xml_free_first(void* p) {
  tern_igraph_lazy_load(1);
  xmlFree(p);
}
}

namespace {

struct Library {
  const char* what;
  const char* soname;  // from social/CMakeLists.txt
};
const Library kLibraries[] = {{"ARPACK", TERN_ARPACK_SONAME}, {"libxml2", TERN_LIBXML2_SONAME}};

void load(int lib) {
  const Library& l = kLibraries[lib];
  void* h = dlopen(l.soname, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    // Called from igraph's C code, which an exception cannot cross: the message, then abort (as the loader
    // would have refused to start tern when these libraries were linked).
    const char* e = dlerror();
    std::fprintf(stderr, "tern: cannot load %s (%s), which igraph needs here: %s\n", l.what, l.soname,
                 e ? e : "unknown dlopen error");
    std::abort();
  }
#define TERN_LAZY(index, name)                                                                         \
  if (index == lib) {                                                                                  \
    void* f = dlsym(h, #name);                                                                         \
    if (!f) {                                                                                          \
      std::fprintf(stderr, "tern: %s (%s) has no function %s, which igraph needs\n", l.what, l.soname, \
                   #name);                                                                             \
      std::abort();                                                                                    \
    }                                                                                                  \
    __atomic_store_n(&tern_lazy_slot_##name, f, __ATOMIC_RELEASE);                                     \
  }
#include "social/igraph_lazy_deps.inc"
#undef TERN_LAZY
  if (lib == 1) {
    void* v = dlsym(h, "xmlFree");
    if (!v) {
      std::fprintf(stderr, "tern: %s (%s) has no variable xmlFree, which igraph needs\n", l.what, l.soname);
      std::abort();
    }
    xmlFree = *static_cast<void (**)(void*)>(v);
  }
}

}  // namespace

extern "C" void tern_igraph_lazy_load(int lib) {
  static std::once_flag once[2];
  std::call_once(once[lib], load, lib);
}
