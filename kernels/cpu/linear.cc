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
#include "kernels/cpu/matmul_primitive.h"
#include "kernels/cpu/vec_math.h"
#include "kernels/cpu/widen.h"

namespace moeasr::cpu {

namespace {

// Per-thread scratch: grows to the largest call a thread has made.
struct Scratch {
  std::vector<uint8_t> xq;
  std::vector<uint16_t> xs;  // bf16 activation pairs
  std::vector<float> x_scale, tile, pair_sums;
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

// oneDNN's matmul primitive wants dense rows: moves rows `ld` apart to `k`
// apart, in place (row r moves down, never over a row not yet moved).
template <typename T>
[[maybe_unused]] void compact_rows(T* rows, int64_t m, int64_t k, int64_t ld) {
  if (ld == k) return;
  for (int64_t r = 1; r < m; ++r) std::memmove(rows + r * k, rows + r * ld, static_cast<size_t>(k) * sizeof(T));
}

#if MOEASR_HAVE_ONEDNN
// bf16 weights through oneDNN's matmul primitive (matmul_primitive.h),
// keeping gemm_bf16.h's precision: the activation pairs (hi, lo alternating)
// are 2m dense bf16 rows of one GEMM, and y = hi row + lo row + bias. Rows
// go in near-equal chunks of at most 256 (brgemm is at full speed from ~64
// rows on): the float32 pair sums stay a few MB per thread, and a call
// needs at most two distinct primitives. Returns false, having written
// nothing to y, where oneDNN offers no brgemm implementation (or no AMX one
// when `amx_only`).
bool linear_bf16_primitive(const float* x, int64_t m, const WeightMatrix& w, const float* bias, float* y, int64_t ldy,
                           bool amx_only) {
  constexpr int64_t kChunk = 256;
  Scratch& s = scratch();
  const int64_t k = w.k, n = w.n, ldb = bf16_row_stride(k);
  const int64_t chunks = (m + kChunk - 1) / kChunk, rows = (m + chunks - 1) / chunks;
  s.xs.resize(static_cast<size_t>(2 * rows * ldb));
  s.pair_sums.resize(static_cast<size_t>(2 * rows * n));
  for (int64_t i0 = 0; i0 < m; i0 += rows) {
    const int64_t r = std::min(rows, m - i0);
    const float* xc = x + i0 * k;
    float* yc = y + i0 * ldy;
    split_rows_bf16(xc, r, k, s.xs.data(), ldb);
    compact_rows(s.xs.data(), 2 * r, k, ldb);
    if (!matmul_primitive(s.xs.data(), 2 * r, w, s.pair_sums.data(), amx_only)) {
      if (i0 == 0) return false;
      // A later chunk's shape declined (not seen: chunks differ by one row).
      split_rows_bf16(xc, r, k, s.xs.data(), ldb);
      linear_bf16_pairs(s.xs.data(), ldb, r, w, bias, yc, ldy);
      continue;
    }
    for (int64_t i = 0; i < r; ++i) {
      const float* hi = s.pair_sums.data() + 2 * i * n;
      const float* lo = hi + n;
      float* out = yc + i * ldy;
      if (bias) {
        for (int64_t j = 0; j < n; ++j) out[j] = hi[j] + lo[j] + bias[j];
      } else {
        for (int64_t j = 0; j < n; ++j) out[j] = hi[j] + lo[j];
      }
    }
  }
  return true;
}
#endif

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

// How a call may use oneDNN's matmul primitive (matmul_primitive.h).
enum class Primitive { kNo, kAny, kAmxOnly };

// `primitive`: try oneDNN's matmul primitive first (exact: it takes only
// VNNI or AMX brgemm kernels for int8); where it declines, the paths below.
bool linear_i8(const float* x, int64_t m, const WeightMatrix& w, const float* bias, float* y, int64_t ldy, bool small,
               std::optional<Activation> act, Primitive primitive) {
  Scratch& s = scratch();
  const int64_t k = w.k, n = w.n;
  int64_t ldq = quantized_row_stride(k);
  s.xq.resize(static_cast<size_t>(m * ldq));
  s.x_scale.resize(static_cast<size_t>(m));
  quantize_rows_u8(x, m, k, s.xq.data(), ldq, s.x_scale.data());
  if (small) {
    small_linear_u8s8(s.xq.data(), ldq, s.x_scale.data(), m, w, bias, y, ldy, act);
    return act.has_value();
  }
  s.acc.resize(static_cast<size_t>(m * n));
  bool done = false;
#if MOEASR_HAVE_ONEDNN
  if (primitive != Primitive::kNo) {
    compact_rows(s.xq.data(), m, k, ldq);
    ldq = k;
    done = matmul_primitive(s.xq.data(), m, w, s.acc.data(), primitive == Primitive::kAmxOnly);
  }
  if (!done && library_int8_exact()) {
    const int32_t zero = 0;
    const dnnl_status_t st = dnnl_gemm_u8s8s32('N', 'T', 'F', m, n, k, 1.f, s.xq.data(), ldq, 0, w.i8(), k, 0, 0.f,
                                               s.acc.data(), n, &zero);
    MOEASR_CHECK(st == dnnl_success, MOEASR_ERR_INTERNAL, "oneDNN gemm_u8s8s32 failed (", static_cast<int>(st), ")");
    done = true;
  }
#else
  (void)primitive;
#endif
  if (!done) gemm_u8s8s32(s.xq.data(), ldq, m, w.i8(), n, k, s.acc.data(), n);
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

// Rows from which kAuto takes oneDNN's matmul primitive over the paths
// above, and whether it does so for any brgemm kernel or only for AMX ones
// (measured in linear_dispatch). int8 starts where gemm_small_i8.h stops.
constexpr int64_t kPrimitiveRowsBf16 = 32, kPrimitiveRowsInt8 = kSmallRowsInt8 + 1;
constexpr bool kPrimitiveAmxOnlyBf16 = false, kPrimitiveAmxOnlyInt8 = true;

// The implementation oneDNN's matmul primitive picks for bf16 or int8
// weights of the FFN's shape (k 704, n 2816) at 256 rows; asked once.
[[maybe_unused]] const std::string& many_rows_impl(WeightType type) {
#if MOEASR_HAVE_ONEDNN
  static const std::string bf16 = matmul_primitive_impl(256, WeightMatrix{WeightType::kBF16, 2816, 704});
  static const std::string i8 = matmul_primitive_impl(256, WeightMatrix{WeightType::kI8, 2816, 704});
  if (type == WeightType::kBF16) return bf16;
  if (type == WeightType::kI8) return i8;
#endif
  static const std::string none;
  (void)type;
  return none;
}

// bf16 needs split_rows_bf16 (AVX512_BF16); int8 takes the primitive only
// from kLibrary's bounds on (never for the few-row VNNI kernel's rows).
Primitive primitive_choice(const WeightMatrix& w, int64_t m, LinearPath path, const SmallGemmSupport& support) {
  if (!MOEASR_HAVE_ONEDNN) return Primitive::kNo;
  const bool bf16 = w.type == WeightType::kBF16 && support.bf16_dot;
  if (!bf16 && w.type != WeightType::kI8) return Primitive::kNo;
  if (path == LinearPath::kMatmulPrimitive) return Primitive::kAny;
  if (path != LinearPath::kAuto) return Primitive::kNo;
  if (m < (bf16 ? kPrimitiveRowsBf16 : kPrimitiveRowsInt8)) return Primitive::kNo;
  const bool amx_only = bf16 ? kPrimitiveAmxOnlyBf16 : kPrimitiveAmxOnlyInt8;
  // Without brgemm (or AMX) kernels for the FFN's shape (ONEDNN_MAX_CPU_ISA
  // below AVX-512, older CPUs), none for others: spare every call the
  // split and the lookup that would decline.
#if MOEASR_HAVE_ONEDNN
  const std::string& impl = many_rows_impl(w.type);
  if (impl.rfind("brg:", 0) != 0 || (amx_only && !matmul_impl_is_amx(impl))) return Primitive::kNo;
#endif
  return amx_only ? Primitive::kAmxOnly : Primitive::kAny;
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
  // before it prefetched W into L2 itself); for bf16 with AVX512_BF16 the
  // activation-pair kernel of gemm_bf16.h beats both widening paths up to
  // 128 rows (where oneDNN's matmul primitive, below, does not take over) (1.7-1.85x at 1 row, 1.2-1.8x at 16,
  // 1.1-1.2x over widened tiles + sgemm at 128) and loses at 256 for k 2816;
  // for int8 the VNNI kernel of gemm_small_i8.h beats gemm_u8s8s32 by ~1.9x
  // at 4 rows and ~1.15x at 16, matches it at 1 row and loses at 32. float16
  // takes bfloat16's bounds (the same kernel, another widening). On ARM these
  // x86 bounds are kept: nothing has been timed on a board yet.
  // oneDNN's matmul primitive (matmul_primitive.h), timed the same way for
  // 16-1024 rows and both FFN shapes on Zen 5 (AVX512_BF16 and VNNI, no AMX;
  // medians of 3): for bf16 its brgemm kernel (brg:avx512_core_bf16) on the
  // 2m pair rows beats the pair kernel by 1.26x (k 704) / 1.01x (k 2816) at
  // 32 rows, 1.39x / 1.09x at 64 and 1.46x / 1.10x at 128, loses 0.91x at
  // 16 rows for k 2816, and beats widened tiles + sgemm at every count
  // (1.0-1.2x at 256-1024, ~100 against 88-98 GFLOP/s): kAuto takes it from
  // 32 rows whatever brgemm kernel oneDNN picks (on AMX CPUs its AMX one).
  // For int8 its brg:avx512_core_vnni kernel and gemm_u8s8s32 are within
  // +-7% of each other at 16-1024 rows, either way (the same VNNI products):
  // kAuto takes it only where oneDNN picks an AMX kernel, from the rows
  // where the few-row kernel stops. (AMX timings: none yet, no AMX CPU.)
  bool small = false;
  switch (w.type) {
    case WeightType::kF32: small = available && m <= kSmallRows; break;
    case WeightType::kBF16:
    case WeightType::kF16: small = available && m <= kSmallRows; break;
    case WeightType::kI8: small = available && m <= kSmallRowsInt8; break;
  }
  if (path == LinearPath::kSmallRows) small = available;
  if (path == LinearPath::kLibrary || path == LinearPath::kMatmulPrimitive) small = false;
  const Primitive primitive = primitive_choice(w, m, path, support);
#if MOEASR_HAVE_ONEDNN
  if (w.type == WeightType::kBF16 && primitive != Primitive::kNo &&
      linear_bf16_primitive(x, m, w, bias, y, ldy, primitive == Primitive::kAmxOnly)) {
    return false;
  }
#endif
  if (w.type == WeightType::kBF16 && support.bf16_dot &&
      (path == LinearPath::kBf16Pairs ||
       ((path == LinearPath::kAuto || path == LinearPath::kMatmulPrimitive) && m <= kBf16PairRows))) {
    return linear_bf16_split(x, m, w, bias, y, ldy, act);
  }
  switch (w.type) {
    case WeightType::kF32: linear_f32(x, m, w, bias, y, ldy, small); return false;
    case WeightType::kBF16:
    case WeightType::kF16: linear_16bit(x, m, w, bias, y, ldy, small); return false;
    case WeightType::kI8: return linear_i8(x, m, w, bias, y, ldy, small, act, primitive);
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
#if MOEASR_HAVE_ONEDNN
  // Many rows: what oneDNN's matmul primitive offers and whether kAuto takes it.
  const auto offered = [&](WeightType type, const char* name) {
    const std::string& impl = many_rows_impl(type);
    const bool usable = type == WeightType::kBF16 ? s.bf16_dot : true;
    if (!usable || impl.empty()) return std::string();
    const Primitive p = primitive_choice(WeightMatrix{type, 2816, 704}, 1 << 20, LinearPath::kAuto, s);
    return std::string(", ") + name + " many rows: oneDNN matmul " + impl + (p == Primitive::kNo ? " (not taken)" : "");
  };
  out += offered(WeightType::kBF16, "bfloat16") + offered(WeightType::kI8, "int8");
#endif
#endif
  return out;
}

void linear(const float* x, int64_t m, const WeightMatrix& w, const float* bias, float* y, int64_t ldy) {
  linear_with_path(x, m, w, bias, y, ldy, LinearPath::kAuto);
}

}  // namespace moeasr::cpu
