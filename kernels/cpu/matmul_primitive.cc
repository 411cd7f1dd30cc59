#include "kernels/cpu/matmul_primitive.h"

#if MOEASR_HAVE_ONEDNN

#include <dnnl.h>

#include <cstring>
#include <vector>

#include "core/error.h"

namespace moeasr::cpu {

namespace {

dnnl_engine_t engine() {
  static const dnnl_engine_t e = [] {
    dnnl_engine_t out = nullptr;
    if (dnnl_engine_create(&out, dnnl_cpu, 0) != dnnl_success) out = nullptr;
    return out;  // released at exit by the OS; primitives in oneDNN's cache hold it too
  }();
  return e;
}

// Owns oneDNN handles for one scope.
struct Handles {
  dnnl_primitive_attr_t attr = nullptr;
  dnnl_primitive_desc_t pd = nullptr;
  dnnl_primitive_t prim = nullptr;
  dnnl_memory_t mem[4] = {};
  ~Handles() {
    for (dnnl_memory_t m : mem) {
      if (m) dnnl_memory_destroy(m);
    }
    if (prim) dnnl_primitive_destroy(prim);
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (attr) dnnl_primitive_attr_destroy(attr);
  }
};

// One stream and one scratchpad per calling thread (a CPU stream is cheap,
// but there is no reason to make one per call).
struct ThreadState {
  dnnl_stream_t stream = nullptr;
  std::vector<uint8_t> scratchpad;
  ~ThreadState() {
    if (stream) dnnl_stream_destroy(stream);
  }
};
ThreadState& thread_state() {
  thread_local ThreadState s;
  return s;
}

// The primitive descriptor for m rows of w (null where oneDNN offers none).
// The scratchpad is the caller's (user mode): oneDNN's library-owned one is
// shared between threads unless it was built for concurrent execution.
bool describe(int64_t m, const WeightMatrix& w, Handles& h) {
  dnnl_data_type_t a_type, b_type, c_type;
  if (w.type == WeightType::kBF16) {
    a_type = dnnl_bf16, b_type = dnnl_bf16, c_type = dnnl_f32;
  } else if (w.type == WeightType::kI8) {
    a_type = dnnl_u8, b_type = dnnl_s8, c_type = dnnl_s32;
  } else {
    return false;
  }
  if (m <= 0 || w.n <= 0 || w.k <= 0 || !engine()) return false;
  dnnl_memory_desc_t a, b, c;
  const dnnl_dims_t a_dims = {m, w.k}, b_dims = {w.k, w.n}, c_dims = {m, w.n};
  const dnnl_dims_t b_strides = {1, w.k};  // W [n, k] row-major read as W^T
  if (dnnl_memory_desc_init_by_tag(&a, 2, a_dims, a_type, dnnl_ab) != dnnl_success ||
      dnnl_memory_desc_init_by_strides(&b, 2, b_dims, b_type, b_strides) != dnnl_success ||
      dnnl_memory_desc_init_by_tag(&c, 2, c_dims, c_type, dnnl_ab) != dnnl_success) {
    return false;
  }
  dnnl_matmul_desc_t desc;
  if (dnnl_matmul_desc_init(&desc, &a, &b, nullptr, &c) != dnnl_success) return false;
  if (dnnl_primitive_attr_create(&h.attr) != dnnl_success ||
      dnnl_primitive_attr_set_scratchpad_mode(h.attr, dnnl_scratchpad_mode_user) != dnnl_success) {
    return false;
  }
  return dnnl_primitive_desc_create(&h.pd, &desc, h.attr, engine(), nullptr) == dnnl_success;
}

std::string impl_name(const Handles& h) {
  const char* name = nullptr;
  if (dnnl_primitive_desc_query(h.pd, dnnl_query_impl_info_str, 0, &name) != dnnl_success || !name) return "";
  return name;
}

}  // namespace

bool matmul_impl_is_amx(const std::string& impl) { return impl.find("amx") != std::string::npos; }

std::string matmul_primitive_impl(int64_t m, const WeightMatrix& w) {
  Handles h;
  return describe(m, w, h) ? impl_name(h) : "";
}

bool matmul_primitive(const void* a, int64_t m, const WeightMatrix& w, void* c, bool amx_only) {
  Handles h;
  if (!describe(m, w, h)) return false;
  const std::string impl = impl_name(h);
  if (impl.rfind("brg:", 0) != 0 || (amx_only && !matmul_impl_is_amx(impl))) return false;
  // int8 sums are exact only with VNNI or AMX products (the others add pairs
  // of u8 x s8 products in 16 bits; see gemm_i8.h).
  if (w.type == WeightType::kI8 && impl.find("vnni") == std::string::npos && !matmul_impl_is_amx(impl)) return false;
  // From oneDNN's primitive cache after the first call for this shape.
  dnnl_status_t st = dnnl_primitive_create(&h.prim, h.pd);
  MOEASR_CHECK(st == dnnl_success, MOEASR_ERR_INTERNAL, "oneDNN matmul primitive creation failed (", static_cast<int>(st),
               ", ", impl, ")");

  ThreadState& ts = thread_state();
  if (!ts.stream) {
    st = dnnl_stream_create(&ts.stream, engine(), dnnl_stream_default_flags);
    MOEASR_CHECK(st == dnnl_success, MOEASR_ERR_INTERNAL, "oneDNN stream creation failed (", static_cast<int>(st), ")");
  }
  const dnnl_memory_desc_t* scratch_md = dnnl_primitive_desc_query_md(h.pd, dnnl_query_scratchpad_md, 0);
  const size_t scratch_bytes = scratch_md ? dnnl_memory_desc_get_size(scratch_md) : 0;
  // 64 bytes of slack to align the buffer's start to a cache line.
  if (ts.scratchpad.size() < scratch_bytes + 64) ts.scratchpad.resize(scratch_bytes + 64);
  void* scratch = ts.scratchpad.data() + (64 - reinterpret_cast<uintptr_t>(ts.scratchpad.data()) % 64) % 64;

  const int args[4] = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST, DNNL_ARG_SCRATCHPAD};
  const dnnl_query_t queries[4] = {dnnl_query_src_md, dnnl_query_weights_md, dnnl_query_dst_md,
                                   dnnl_query_scratchpad_md};
  void* const handles[4] = {const_cast<void*>(a), const_cast<void*>(w.data), c, scratch};
  dnnl_exec_arg_t exec_args[4];
  int n_args = 0;
  for (int i = 0; i < 4; ++i) {
    if (i == 3 && scratch_bytes == 0) break;
    const dnnl_memory_desc_t* md = dnnl_primitive_desc_query_md(h.pd, queries[i], 0);
    st = md ? dnnl_memory_create(&h.mem[i], md, engine(), handles[i]) : dnnl_invalid_arguments;
    MOEASR_CHECK(st == dnnl_success, MOEASR_ERR_INTERNAL, "oneDNN memory creation failed (", static_cast<int>(st), ")");
    exec_args[n_args++] = {args[i], h.mem[i]};
  }
  st = dnnl_primitive_execute(h.prim, ts.stream, n_args, exec_args);
  if (st == dnnl_success) st = dnnl_stream_wait(ts.stream);
  MOEASR_CHECK(st == dnnl_success, MOEASR_ERR_INTERNAL, "oneDNN matmul (", impl, ") failed (", static_cast<int>(st),
               ")");
  return true;
}

}  // namespace moeasr::cpu

#endif  // MOEASR_HAVE_ONEDNN
