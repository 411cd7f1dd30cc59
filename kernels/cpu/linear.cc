#include "kernels/cpu/linear.h"

#if MOEASR_HAVE_ONEDNN
#include <dnnl.h>
#endif

#include <algorithm>
#include <cstring>
#include <optional>
#include <vector>

#include "core/error.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/gemm_bf16.h"
#include "kernels/cpu/gemm_i8.h"
#include "kernels/cpu/gemm_small.h"
#include "kernels/cpu/gemm_small_i8.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/vec_math.h"
#include "kernels/cpu/widen.h"

namespace moeasr::cpu {

namespace {

// Per-thread scratch: grows to the largest call a thread has made.
struct Scratch {
  std::vector<uint8_t> xq;
  std::vector<uint16_t> xs;  // bf16 activation pairs
  std::vector<float> x_scale, tile;
  std::vector<int32_t> acc;
};
Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

void add_bias(float* y, int64_t m, int64_t n, int64_t ldy, const float* bias) {
  if (!bias) return;
  for (int64_t i = 0; i < m; ++i) {
    float* row = y + i * ldy;
    for (int64_t j = 0; j < n; ++j) row[j] += bias[j];
  }
}

void linear_f32(const float* x, int64_t m, const WeightMatrix& w, const float* bias, float* y, int64_t ldy,
                bool small) {
  if (small) {
    small_gemm_f32(x, m, w.k, w.f32(), w.n, y, ldy);
    add_bias(y, m, w.n, ldy, bias);
  } else {
    sgemm_linear(x, m, w.k, w.f32(), bias, w.n, y, ldy);
  }
}

// `act`: an activation for the kernel to apply before storing (the two
// few-row kernels that do; the functions say whether they did).
bool linear_bf16_split(const float* x, int64_t m, const WeightMatrix& w, const float* bias, float* y, int64_t ldy,
                       std::optional<Activation> act) {
  std::vector<uint16_t>& xs = scratch().xs;
  const int64_t ldb = bf16_row_stride(w.k);
  xs.resize(static_cast<size_t>(2 * m * ldb));
  split_rows_bf16(x, m, w.k, xs.data(), ldb);
  linear_bf16_pairs(xs.data(), ldb, m, w, bias, y, ldy, act);
  return act.has_value();
}

// bfloat16 or float16 weights (`small`: the few-row kernel that widens in
// registers). Many rows: compute-bound, so widening a 64-row tile of W (it
// stays in L2) and running sgemm on it costs little.
void linear_16bit(const float* x, int64_t m, const WeightMatrix& w, const float* bias, float* y, int64_t ldy,
                  bool small) {
  const bool bf16 = w.type == WeightType::kBF16;
  if (small) {
    if (bf16) {
      small_gemm_bf16(x, m, w.k, w.bf16(), w.n, y, ldy);
    } else {
      small_gemm_f16(x, m, w.k, w.f16(), w.n, y, ldy);
    }
    add_bias(y, m, w.n, ldy, bias);
    return;
  }
  constexpr int64_t kTile = 64;
  std::vector<float>& tile = scratch().tile;
  tile.resize(static_cast<size_t>(kTile * w.k));
  for (int64_t j0 = 0; j0 < w.n; j0 += kTile) {
    const int64_t rows = std::min(kTile, w.n - j0);
    const uint16_t* src = static_cast<const uint16_t*>(w.data) + j0 * w.k;
    if (bf16) {
      widen_bf16(src, rows * w.k, tile.data());
    } else {
      widen_f16(src, rows * w.k, tile.data());
    }
    sgemm_linear(x, m, w.k, tile.data(), bias ? bias + j0 : nullptr, rows, y + j0, ldy);
  }
}

// oneDNN's gemm_u8s8s32 is exact only where it runs VNNI kernels: without
// them it adds pairs of u8 x s8 products in 16 bits and saturates. Its
// effective ISA (which ONEDNN_MAX_CPU_ISA may cap) decides, once.
[[maybe_unused]] bool library_int8_exact() {  // unused on ARM builds
#if MOEASR_HAVE_ONEDNN
  static const bool exact = [] {
    const dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    return isa == dnnl_cpu_isa_avx2_vnni || (isa & dnnl_cpu_isa_avx512_core_vnni) == dnnl_cpu_isa_avx512_core_vnni;
  }();
  return exact;
#else
  return false;  // no library: gemm_i8 does the int8 GEMMs
#endif
}

bool linear_i8(const float* x, int64_t m, const WeightMatrix& w, const float* bias, float* y, int64_t ldy, bool small,
               std::optional<Activation> act) {
  Scratch& s = scratch();
  const int64_t k = w.k, n = w.n, ldq = quantized_row_stride(k);
  s.xq.resize(static_cast<size_t>(m * ldq));
  s.x_scale.resize(static_cast<size_t>(m));
  quantize_rows_u8(x, m, k, s.xq.data(), ldq, s.x_scale.data());
  if (small) {
    small_linear_u8s8(s.xq.data(), ldq, s.x_scale.data(), m, w, bias, y, ldy, act);
    return act.has_value();
  }
  s.acc.resize(static_cast<size_t>(m * n));
#if MOEASR_HAVE_ONEDNN
  if (library_int8_exact()) {
    const int32_t zero = 0;
    const dnnl_status_t st = dnnl_gemm_u8s8s32('N', 'T', 'F', m, n, k, 1.f, s.xq.data(), ldq, 0, w.i8(), k, 0, 0.f,
                                               s.acc.data(), n, &zero);
    MOEASR_CHECK(st == dnnl_success, MOEASR_ERR_INTERNAL, "oneDNN gemm_u8s8s32 failed (", static_cast<int>(st), ")");
  } else {
    gemm_u8s8s32(s.xq.data(), ldq, m, w.i8(), n, k, s.acc.data(), n);
  }
#else
  gemm_u8s8s32(s.xq.data(), ldq, m, w.i8(), n, k, s.acc.data(), n);
#endif
  for (int64_t i = 0; i < m; ++i) {
    const int32_t* acc = s.acc.data() + i * n;
    float* out = y + i * ldy;
    const float xs = s.x_scale[i];
    for (int64_t j = 0; j < n; ++j) {
      const float v = static_cast<float>(acc[j] - 128 * w.row_sum[j]) * xs * w.scale[j];
      out[j] = bias ? v + bias[j] : v;
    }
  }
  return false;
}

// Returns whether `act` was applied.
bool linear_dispatch(const float* x, int64_t m, const WeightMatrix& w, const float* bias, float* y, int64_t ldy,
                     LinearPath path, std::optional<Activation> act) {
  if (m == 0 || w.n == 0) return true;
  const SmallGemmSupport& support = small_gemm_support();
  bool available = false;
  switch (w.type) {
    case WeightType::kF32: available = support.f32; break;
    case WeightType::kBF16: available = support.bf16; break;
    case WeightType::kF16: available = support.f16; break;
    case WeightType::kI8: available = support.i8; break;
  }
  // Measured with moeasr-kernel-bench (BM_Linear, k 704, n 2816, one thread,
  // weights from memory): for f32 the weight-streaming kernel beats oneDNN's
  // sgemm from 1 to 64 rows (AMD Zen 5: 1.45x at 1 row, 2.3x at 4, 1.35x at
  // 64; at 128 it wins for k 704 and loses for k 2816; it lost at 1-2 rows
  // before it prefetched W into L2 itself); bf16 has no oneDNN path here that keeps the weights in 16 bits,
  // and with AVX512_BF16 the activation-pair kernel of gemm_bf16.h beats
  // both widening paths up to 128 rows (1.7-1.85x at 1 row, 1.2-1.8x at 16,
  // 1.1-1.2x over widened tiles + sgemm at 128) and loses at 256 for k 2816;
  // for int8 the VNNI kernel of gemm_small_i8.h beats gemm_u8s8s32 by ~1.9x
  // at 4 rows and ~1.15x at 16, matches it at 1 row and loses at 32. float16
  // takes bfloat16's bounds (the same kernel, another widening). On ARM these
  // x86 bounds are kept: nothing has been timed on a board yet.
  bool small = false;
  switch (w.type) {
    case WeightType::kF32: small = available && m <= kSmallRows; break;
    case WeightType::kBF16:
    case WeightType::kF16: small = available && m <= kSmallRows; break;
    case WeightType::kI8: small = available && m <= kSmallRowsInt8; break;
  }
  if (path == LinearPath::kSmallRows) small = available;
  if (path == LinearPath::kLibrary) small = false;
  if (w.type == WeightType::kBF16 && support.bf16_dot &&
      (path == LinearPath::kBf16Pairs || (path == LinearPath::kAuto && m <= kBf16PairRows))) {
    return linear_bf16_split(x, m, w, bias, y, ldy, act);
  }
  switch (w.type) {
    case WeightType::kF32: linear_f32(x, m, w, bias, y, ldy, small); return false;
    case WeightType::kBF16:
    case WeightType::kF16: linear_16bit(x, m, w, bias, y, ldy, small); return false;
    case WeightType::kI8: return linear_i8(x, m, w, bias, y, ldy, small, act);
  }
  return false;
}

}  // namespace

void linear_with_path(const float* x, int64_t m, const WeightMatrix& w, const float* bias, float* y, int64_t ldy,
                      LinearPath path) {
  linear_dispatch(x, m, w, bias, y, ldy, path, std::nullopt);
}

void linear_activation(const float* x, int64_t m, const WeightMatrix& w, const float* bias, Activation act, float* y,
                       int64_t ldy) {
  const bool applied = linear_dispatch(x, m, w, bias, y, ldy, LinearPath::kAuto,
                                       vec::in_registers(act) ? std::optional<Activation>(act) : std::nullopt);
  if (!applied) activation_rows(y, m, w.n, ldy, act);
}

std::string linear_kernels_summary() {
  const SmallGemmSupport& s = small_gemm_support();
  const char* many_rows = MOEASR_HAVE_ONEDNN ? "oneDNN" : "Eigen";
#if defined(__ARM_NEON)
  std::string out = std::string("float32 NEON few rows + ") + many_rows +
                    ", bfloat16 and float16 NEON widened in registers";
  out += s.i8 ? ", int8 SDOT (dotprod)" : ", int8 exact 16-bit products (no dotprod)";
#else
  std::string out = s.f32 ? "float32 AVX-512" : std::string("float32 ") + many_rows + " only";
  out += s.bf16_dot ? ", bfloat16 bf16 pairs (AVX512_BF16)" : s.bf16 ? ", bfloat16 widened in registers" : ", bfloat16 widened tiles";
  out += s.f16 ? ", float16 widened in registers" : ", float16 widened tiles";
  out += s.i8 ? ", int8 VNNI" : library_int8_exact() ? ", int8 oneDNN (VNNI)" : ", int8 exact 16-bit products";
#endif
  return out;
}

void linear(const float* x, int64_t m, const WeightMatrix& w, const float* bias, float* y, int64_t ldy) {
  linear_with_path(x, m, w, bias, y, ldy, LinearPath::kAuto);
}

}  // namespace moeasr::cpu
