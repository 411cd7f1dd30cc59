#include "kernels/cpu/gemm_small_i8.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/cpu/gemm_small.h"
#include "kernels/cpu/vec_math.h"

namespace moeasr::cpu {

int64_t quantized_row_stride(int64_t k) { return (k + 63) / 64 * 64; }

namespace {

void quantize_rows_scalar(const float* x, int64_t m, int64_t k, uint8_t* xq, int64_t ldq, float* x_scale) {
  for (int64_t i = 0; i < m; ++i) {
    const float* row = x + i * k;
    float amax = 0.f;
    for (int64_t c = 0; c < k; ++c) amax = std::max(amax, std::fabs(row[c]));
    const float scale = amax > 0.f ? amax / 127.f : 1.f;
    const float inv = 1.f / scale;
    uint8_t* q = xq + i * ldq;
    for (int64_t c = 0; c < k; ++c) q[c] = static_cast<uint8_t>(std::lrintf(row[c] * inv) + 128);
    std::memset(q + k, 0, static_cast<size_t>(ldq - k));
    x_scale[i] = scale;
  }
}

#if defined(__x86_64__)
#define MOEASR_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))

// Same arithmetic as the scalar version: cvtps rounds to nearest even, like lrintf.
MOEASR_VNNI void quantize_rows_avx512(const float* x, int64_t m, int64_t k, uint8_t* xq, int64_t ldq, float* x_scale) {
  for (int64_t i = 0; i < m; ++i) {
    const float* row = x + i * k;
    __m512 vmax = _mm512_setzero_ps();
    for (int64_t c = 0; c < k; c += 16) {
      vmax = _mm512_max_ps(vmax, _mm512_abs_ps(_mm512_maskz_loadu_ps(vec::mask16(k - c), row + c)));
    }
    const float amax = _mm512_reduce_max_ps(vmax);
    const float scale = amax > 0.f ? amax / 127.f : 1.f;
    const __m512 inv = _mm512_set1_ps(1.f / scale);
    const __m512i offset = _mm512_set1_epi32(128);
    uint8_t* q = xq + i * ldq;
    for (int64_t c = 0; c < k; c += 16) {
      const __mmask16 mk = vec::mask16(k - c);
      const __m512i v = _mm512_add_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(_mm512_maskz_loadu_ps(mk, row + c), inv)), offset);
      _mm512_mask_cvtepi32_storeu_epi8(q + c, mk, v);
    }
    std::memset(q + k, 0, static_cast<size_t>(ldq - k));
    x_scale[i] = scale;
  }
}

// acc += u8 x s8 in groups of 4, accumulating in place. (GCC 12 copies the
// accumulator around the intrinsic's vpdpbusd, which puts a move on the
// loop-carried dependency of every sum.)
MOEASR_VNNI inline __m512i dpbusd(__m512i acc, __m512i u8, __m512i s8) {
  asm("vpdpbusd %[s8], %[u8], %[acc]" : [acc] "+v"(acc) : [u8] "v"(u8), [s8] "v"(s8));
  return acc;
}

// Lane q of the result = the sum of the 16 lanes of v[q]: a transpose-and-add
// tree, 45 instructions for 16 sums (16 separate reductions take ~150).
MOEASR_VNNI inline __attribute__((always_inline)) __m512i sum_lanes16(const __m512i v[16]) {
  __m512i a[8], b[4];
  for (int p = 0; p < 8; ++p) {
    a[p] = _mm512_add_epi32(_mm512_unpacklo_epi32(v[2 * p], v[2 * p + 1]), _mm512_unpackhi_epi32(v[2 * p], v[2 * p + 1]));
  }
  // b[p], in each 128-bit lane: partial sums of v[4p .. 4p+3].
  for (int p = 0; p < 4; ++p) {
    b[p] = _mm512_add_epi32(_mm512_unpacklo_epi64(a[2 * p], a[2 * p + 1]), _mm512_unpackhi_epi64(a[2 * p], a[2 * p + 1]));
  }
  const __m512i s01 = _mm512_add_epi32(_mm512_shuffle_i32x4(b[0], b[1], 0x88), _mm512_shuffle_i32x4(b[0], b[1], 0xDD));
  const __m512i s23 = _mm512_add_epi32(_mm512_shuffle_i32x4(b[2], b[3], 0x88), _mm512_shuffle_i32x4(b[2], b[3], 0xDD));
  return _mm512_add_epi32(_mm512_shuffle_i32x4(s01, s23, 0x88), _mm512_shuffle_i32x4(s01, s23, 0xDD));
}

// Lane q = a * T + t of a block's sum vector belongs to activation row a and
// weight row t: the permutation indices that spread per-row values over it.
struct LaneTables {
  int32_t t[16], a[16];
};
template <int R, int T>
constexpr LaneTables lane_tables() {
  LaneTables l{};
  for (int q = 0; q < 16; ++q) {
    l.t[q] = q % T;
    l.a[q] = q / T < R ? q / T : 0;
  }
  return l;
}

// One block: R activation rows x T weight rows (R * T <= 16 sums), each a dot
// product over k in 64-byte steps whose 16 lanes are summed at the end.
// x rows are ldq apart and zero-padded to ldq, so they are read in whole
// vectors; W rows are exactly k long, so the last step masks them (zero
// weights make the activations' padding irrelevant). W rows past n are
// clamped to row n - 1 by the caller's `rows` pointers and their sums dropped.
//
// prefetch_ahead: 0, or the distance in bytes to the same lines of the next
// column block's rows, fetched into L2 while this block computes (16 rows k
// bytes apart are more streams than the hardware prefetcher keeps up with;
// _MM_HINT_T1: on AMD Zen 5 at 1-4 rows 1.6-2x faster than into L1, which
// holds fewer misses in flight).
template <int R, int T>
MOEASR_VNNI void dot_block(const uint8_t* xq, int64_t ldq, const float* x_scale, const int8_t* const* wrow, int valid_t,
                           const WeightMatrix& w, int64_t j0, const float* bias, float* y, int64_t ldy,
                           int64_t prefetch_ahead, const Activation* act) {
  static_assert(R * T <= 16, "one vector of sums");
  const int64_t k = w.k;
  __m512i acc[16];
  for (int q = 0; q < 16; ++q) acc[q] = _mm512_setzero_si512();
  const int8_t* wr[T];
  for (int t = 0; t < T; ++t) wr[t] = wrow[t];
  const int64_t k64 = k / 64 * 64;
  for (int64_t c = 0; c < k64; c += 64) {
    __m512i xv[R];
    for (int a = 0; a < R; ++a) xv[a] = _mm512_loadu_si512(xq + a * ldq + c);
    for (int t = 0; t < T; ++t) {
      if (prefetch_ahead) _mm_prefetch(reinterpret_cast<const char*>(wr[t] + c + prefetch_ahead), _MM_HINT_T1);
      const __m512i wv = _mm512_loadu_si512(wr[t] + c);
      for (int a = 0; a < R; ++a) acc[a * T + t] = dpbusd(acc[a * T + t], xv[a], wv);
    }
  }
  if (k64 < k) {
    const __mmask64 mask = ~0ull >> (64 - (k - k64));
    __m512i xv[R];
    for (int a = 0; a < R; ++a) xv[a] = _mm512_loadu_si512(xq + a * ldq + k64);
    for (int t = 0; t < T; ++t) {
      const __m512i wv = _mm512_maskz_loadu_epi8(mask, wr[t] + k64);
      for (int a = 0; a < R; ++a) acc[a * T + t] = dpbusd(acc[a * T + t], xv[a], wv);
    }
  }
  // Lane q = a * T + t holds y[a][j0 + t]: spread row t's correction, scale
  // and bias and row a's activation scale over the lanes, dequantize, and
  // store each activation row's valid lanes with a compress store.
  static constexpr LaneTables kLanes = lane_tables<R, T>();
  const __m512i idx_t = _mm512_loadu_si512(kLanes.t), idx_a = _mm512_loadu_si512(kLanes.a);
  const __mmask16 cols = static_cast<__mmask16>((1u << valid_t) - 1);
  const __m512i row_sum = _mm512_permutexvar_epi32(idx_t, _mm512_maskz_loadu_epi32(cols, w.row_sum + j0));
  const __m512 scale = _mm512_mul_ps(_mm512_permutexvar_ps(idx_t, _mm512_maskz_loadu_ps(cols, w.scale + j0)),
                                     _mm512_permutexvar_ps(idx_a, _mm512_maskz_loadu_ps((1u << R) - 1, x_scale)));
  const __m512 add = bias ? _mm512_permutexvar_ps(idx_t, _mm512_maskz_loadu_ps(cols, bias + j0)) : _mm512_setzero_ps();
  const __m512i sums = _mm512_sub_epi32(sum_lanes16(acc), _mm512_slli_epi32(row_sum, 7));
  __m512 out = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sums), scale, add);
  if (act) out = vec::activation(out, *act);
  for (int a = 0; a < R; ++a) {
    _mm512_mask_compressstoreu_ps(y + a * ldy + j0, static_cast<__mmask16>(cols << (a * T)), out);
  }
}

constexpr int kColumnBlock = 16;  // W rows per outer step (one sum vector at 1 activation row)

// Rows [j0, j0 + 16) of W against every activation row: blocks of 4 x 4,
// and the last m % 4 rows as 1 x 16, 2 x 8 or 3 x 4 blocks.
MOEASR_VNNI void column_block(const uint8_t* xq, int64_t ldq, const float* x_scale, int64_t m, const WeightMatrix& w,
                              int64_t j0, const float* bias, float* y, int64_t ldy, const Activation* act) {
  const int8_t* rows[kColumnBlock];
  const int valid = static_cast<int>(std::min<int64_t>(kColumnBlock, w.n - j0));
  for (int t = 0; t < kColumnBlock; ++t) rows[t] = w.i8() + (j0 + std::min(t, valid - 1)) * w.k;
  auto valid_from = [valid](int t0, int width) { return std::max(0, std::min(width, valid - t0)); };
  // Only the first pass over the rows prefetches, and only a full next block.
  const int64_t ahead = j0 + 2 * kColumnBlock <= w.n ? kColumnBlock * w.k : 0;
  const int64_t m4 = m / 4 * 4;
  for (int64_t i = 0; i < m4; i += 4) {
    for (int t0 = 0; t0 < kColumnBlock && t0 < valid; t0 += 4) {
      dot_block<4, 4>(xq + i * ldq, ldq, x_scale + i, rows + t0, valid_from(t0, 4), w, j0 + t0, bias, y + i * ldy, ldy,
                      i == 0 ? ahead : 0, act);
    }
  }
  const uint8_t* xr = xq + m4 * ldq;
  const float* sr = x_scale + m4;
  float* yr = y + m4 * ldy;
  switch (m - m4) {
    case 1: dot_block<1, 16>(xr, ldq, sr, rows, valid, w, j0, bias, yr, ldy, m4 == 0 ? ahead : 0, act); break;
    case 2:
      for (int t0 = 0; t0 < kColumnBlock && t0 < valid; t0 += 8) {
        dot_block<2, 8>(xr, ldq, sr, rows + t0, valid_from(t0, 8), w, j0 + t0, bias, yr, ldy, m4 == 0 ? ahead : 0, act);
      }
      break;
    case 3:
      for (int t0 = 0; t0 < kColumnBlock && t0 < valid; t0 += 4) {
        dot_block<3, 4>(xr, ldq, sr, rows + t0, valid_from(t0, 4), w, j0 + t0, bias, yr, ldy, m4 == 0 ? ahead : 0, act);
      }
      break;
    default: break;
  }
}

MOEASR_VNNI void small_linear_vnni(const uint8_t* xq, int64_t ldq, const float* x_scale, int64_t m,
                                   const WeightMatrix& w, const float* bias, float* y, int64_t ldy, const Activation* act) {
  const int64_t blocks = (w.n + kColumnBlock - 1) / kColumnBlock;
#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < blocks; ++b) column_block(xq, ldq, x_scale, m, w, b * kColumnBlock, bias, y, ldy, act);
}

#endif  // __x86_64__

}  // namespace

void quantize_rows_u8(const float* x, int64_t m, int64_t k, uint8_t* xq, int64_t ldq, float* x_scale) {
#if defined(__x86_64__)
  if (small_gemm_support().i8) return quantize_rows_avx512(x, m, k, xq, ldq, x_scale);
#endif
  quantize_rows_scalar(x, m, k, xq, ldq, x_scale);
}

void small_linear_u8s8(const uint8_t* xq, int64_t ldq, const float* x_scale, int64_t m, const WeightMatrix& w,
                       const float* bias, float* y, int64_t ldy, std::optional<Activation> act) {
#if defined(__x86_64__)
  small_linear_vnni(xq, ldq, x_scale, m, w, bias, y, ldy, act ? &*act : nullptr);
#elif defined(__aarch64__)
  (void)act;  // never given off x86-64 (vec::in_registers)
  small_linear_u8s8_dotprod(xq, ldq, x_scale, m, w, bias, y, ldy);
#else
  (void)xq, (void)ldq, (void)x_scale, (void)m, (void)w, (void)bias, (void)y, (void)ldy, (void)act;  // callers check support first
#endif
}

}  // namespace moeasr::cpu
