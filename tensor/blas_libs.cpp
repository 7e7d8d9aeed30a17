#include "tensor/blas_libs.h"

#include <dlfcn.h>

#include <atomic>
#include <mutex>
#include <string>

#include "tensor/check.h"

// TERN_DNNL_SONAME / TERN_OPENBLAS_SONAME (e.g. "libdnnl.so.2") and TERN_DNNL_PATH / TERN_OPENBLAS_PATH
// (the files found at configure time, tried when the soname is not on the loader's path) come from
// tensor/CMakeLists.txt.

namespace tern::detail {

namespace {

void* open_library(const char* what, const char* soname, const char* path) {
  if (void* h = dlopen(soname, RTLD_NOW | RTLD_LOCAL)) return h;
  const char* e = dlerror();
  const std::string first = e ? e : "unknown dlopen error";
  if (void* h = dlopen(path, RTLD_NOW | RTLD_LOCAL)) return h;
  e = dlerror();
  TERN_FAIL("cannot load " << what << ": " << first << "; also tried " << path << ": "
                           << (e ? e : "unknown dlopen error")
                           << " (tern's sgemm needs it unless TERN_GEMM=ref; .ci/install-deps installs it)");
}

template <class F>
void bind(void* h, const char* what, const char* name, F& f) {
  dlerror();
  void* p = dlsym(h, name);
  const char* e = dlerror();
  TERN_CHECK(p != nullptr && e == nullptr,
             "cannot load " << what << ": no symbol " << name << " (" << (e ? e : "null") << ")");
  f = reinterpret_cast<F>(p);
}

DnnlApi load_dnnl() {
  const char* what = "oneDNN";
  void* h = open_library(what, TERN_DNNL_SONAME, TERN_DNNL_PATH);
  DnnlApi a{};
#define TERN_BIND(field) bind(h, what, "dnnl_" #field, a.field)
  TERN_BIND(sgemm);
  TERN_BIND(version);
  TERN_BIND(get_effective_cpu_isa);
  TERN_BIND(engine_create);
  TERN_BIND(memory_desc_init_by_strides);
  TERN_BIND(memory_desc_init_by_tag);
  TERN_BIND(memory_desc_get_size);
  TERN_BIND(matmul_desc_init);
  TERN_BIND(primitive_attr_create);
  TERN_BIND(primitive_attr_destroy);
  TERN_BIND(primitive_attr_set_scratchpad_mode);
  TERN_BIND(primitive_desc_iterator_create);
  TERN_BIND(primitive_desc_iterator_fetch);
  TERN_BIND(primitive_desc_iterator_destroy);
  TERN_BIND(primitive_desc_query);
  TERN_BIND(primitive_desc_query_md);
  TERN_BIND(primitive_desc_destroy);
  TERN_BIND(reorder_primitive_desc_create);
  TERN_BIND(primitive_create);
  TERN_BIND(primitive_execute);
  TERN_BIND(primitive_destroy);
  TERN_BIND(memory_create);
  TERN_BIND(memory_destroy);
  TERN_BIND(stream_create);
  TERN_BIND(stream_wait);
  TERN_BIND(stream_destroy);
#undef TERN_BIND
  return a;  // the handle stays open for the process's life
}

std::mutex g_openblas_mu;
std::atomic<const OpenBlasApi*> g_openblas{nullptr};
int g_openblas_threads = 0;  // 0: never set (guarded by g_openblas_mu)

}  // namespace

const DnnlApi& dnnl_api() {
  static const DnnlApi api = load_dnnl();
  return api;
}

const OpenBlasApi& openblas_api() {
  if (const OpenBlasApi* a = g_openblas.load(std::memory_order_acquire)) return *a;
  std::lock_guard<std::mutex> lock(g_openblas_mu);
  if (const OpenBlasApi* a = g_openblas.load(std::memory_order_relaxed)) return *a;
  const char* what = "OpenBLAS";
  void* h = open_library(what, TERN_OPENBLAS_SONAME, TERN_OPENBLAS_PATH);
  static OpenBlasApi api{};
  OpenBlasApi a{};
  bind(h, what, "cblas_sgemm", a.sgemm);
  bind(h, what, "openblas_get_corename", a.get_corename);
  bind(h, what, "openblas_set_num_threads", a.set_num_threads);
  if (g_openblas_threads > 0) a.set_num_threads(g_openblas_threads);
  api = a;
  g_openblas.store(&api, std::memory_order_release);
  return api;
}

void openblas_set_threads_when_loaded(int n) {
  std::lock_guard<std::mutex> lock(g_openblas_mu);
  g_openblas_threads = n;
  if (const OpenBlasApi* a = g_openblas.load(std::memory_order_relaxed)) a->set_num_threads(n);
}

}  // namespace tern::detail
