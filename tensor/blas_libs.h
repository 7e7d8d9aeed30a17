#pragma once

// oneDNN (libdnnl) and OpenBLAS, loaded on first use with dlopen: `tern infer` (tern's own AVX-512 kernels)
// never maps them, nor their dependencies (docs/architecture.md). The headers give the types and the
// signatures only; every call goes through these tables. Only tensor/ includes this header.

#include <cblas.h>
#include <oneapi/dnnl/dnnl.h>

namespace tern::detail {

// The oneDNN C API functions tern calls (sgemm, version / ISA queries, and the matmul of PackedWeight).
struct DnnlApi {
  decltype(&::dnnl_sgemm) sgemm;
  decltype(&::dnnl_version) version;
  decltype(&::dnnl_get_effective_cpu_isa) get_effective_cpu_isa;
  decltype(&::dnnl_engine_create) engine_create;
  decltype(&::dnnl_memory_desc_init_by_strides) memory_desc_init_by_strides;
  decltype(&::dnnl_memory_desc_init_by_tag) memory_desc_init_by_tag;
  decltype(&::dnnl_memory_desc_get_size) memory_desc_get_size;
  decltype(&::dnnl_matmul_desc_init) matmul_desc_init;
  decltype(&::dnnl_primitive_attr_create) primitive_attr_create;
  decltype(&::dnnl_primitive_attr_destroy) primitive_attr_destroy;
  decltype(&::dnnl_primitive_attr_set_scratchpad_mode) primitive_attr_set_scratchpad_mode;
  decltype(&::dnnl_primitive_desc_iterator_create) primitive_desc_iterator_create;
  decltype(&::dnnl_primitive_desc_iterator_fetch) primitive_desc_iterator_fetch;
  decltype(&::dnnl_primitive_desc_iterator_destroy) primitive_desc_iterator_destroy;
  decltype(&::dnnl_primitive_desc_query) primitive_desc_query;
  decltype(&::dnnl_primitive_desc_query_md) primitive_desc_query_md;
  decltype(&::dnnl_primitive_desc_destroy) primitive_desc_destroy;
  decltype(&::dnnl_reorder_primitive_desc_create) reorder_primitive_desc_create;
  decltype(&::dnnl_primitive_create) primitive_create;
  decltype(&::dnnl_primitive_execute) primitive_execute;
  decltype(&::dnnl_primitive_destroy) primitive_destroy;
  decltype(&::dnnl_memory_create) memory_create;
  decltype(&::dnnl_memory_destroy) memory_destroy;
  decltype(&::dnnl_stream_create) stream_create;
  decltype(&::dnnl_stream_wait) stream_wait;
  decltype(&::dnnl_stream_destroy) stream_destroy;
};

// The OpenBLAS functions tern calls.
struct OpenBlasApi {
  decltype(&::cblas_sgemm) sgemm;
  decltype(&::openblas_get_corename) get_corename;
  decltype(&::openblas_set_num_threads) set_num_threads;
};

// Loads the library on the first call (thread-safe) and returns its table; throws tern::Error naming the
// library and the loader's message when it cannot be loaded or lacks a function (a later call tries again).
const DnnlApi& dnnl_api();
const OpenBlasApi& openblas_api();

// set_num_threads' part for OpenBLAS: applied now if OpenBLAS is loaded, else when it is loaded (never
// called: OpenBLAS keeps its own default, OPENBLAS_NUM_THREADS or all cores, as when it was linked).
void openblas_set_threads_when_loaded(int n);

}  // namespace tern::detail
