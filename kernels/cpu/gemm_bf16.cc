#include "kernels/cpu/gemm_bf16.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <algorithm>

#include "kernels/cpu/vec_math.h"

namespace moeasr::cpu {

int64_t bf16_row_stride(int64_t k) { return (k + 31) / 32 * 32; }

#if defined(__x86_64__)

namespace {

#define MOEASR_BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

// acc += pairwise bf16 products, accumulating in place (written as asm for the
// same reason as dpbusd in gemm_small_i8.cc: GCC 12 otherwise moves the
// accumulator around the instruction, on the loop-carried dependency).
MOEASR_BF16 inline __m512 dpbf16(__m512 acc, __m512i x, __m512i w) {
  asm("vdpbf16ps %[w], %[x], %[acc]" : [acc] "+v"(acc) : [x] "v"(x), [w] "v"(w));
  return acc;
}

MOEASR_BF16 inline __m512 unpacklo_64(__m512 a, __m512 b) {
  return _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(a), _mm512_castps_pd(b)));
}
MOEASR_BF16 inline __m512 unpackhi_64(__m512 a, __m512 b) {
  return _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(a), _mm512_castps_pd(b)));
}

// Lane q of the result = the sum of the 16 lanes of v[q] (the float version
// of gemm_small_i8.cc's transpose-and-add tree).
MOEASR_BF16 inline __attribute__((always_inline)) __m512 sum_lanes16(const __m512 v[16]) {
  __m512 a[8], b[4];
  for (int p = 0; p < 8; ++p) {
    a[p] = _mm512_add_ps(_mm512_unpacklo_ps(v[2 * p], v[2 * p + 1]), _mm512_unpackhi_ps(v[2 * p], v[2 * p + 1]));
  }
  for (int p = 0; p < 4; ++p) b[p] = _mm512_add_ps(unpacklo_64(a[2 * p], a[2 * p + 1]), unpackhi_64(a[2 * p], a[2 * p + 1]));
  const __m512 s01 = _mm512_add_ps(_mm512_shuffle_f32x4(b[0], b[1], 0x88), _mm512_shuffle_f32x4(b[0], b[1], 0xDD));
  const __m512 s23 = _mm512_add_ps(_mm512_shuffle_f32x4(b[2], b[3], 0x88), _mm512_shuffle_f32x4(b[2], b[3], 0xDD));
  return _mm512_add_ps(_mm512_shuffle_f32x4(s01, s23, 0x88), _mm512_shuffle_f32x4(s01, s23, 0xDD));
}

// Lane q = a * T + t of a block's sum vector belongs to activation row a and
// weight row t.
struct LaneTable {
  int32_t t[16];
};
template <int T>
constexpr LaneTable lane_table() {
  LaneTable l{};
  for (int q = 0; q < 16; ++q) l.t[q] = q % T;
  return l;
}

// One block: R activation rows x T weight rows (R * T <= 16 sums), each a dot
// product over k in 32-element steps. An activation row is a hi row and a lo
// row, ldb apart (so rows are 2 ldb apart), zero-padded to ldb; W rows are
// exactly k long, so the last step masks them. W rows past
// n are clamped by the caller's `wrow` pointers and their sums dropped.
// prefetch_ahead: 0, or the distance in elements to the same lines of the
// next column block's rows, fetched into L2 (_MM_HINT_T1: on AMD Zen 5 at 1-4
// rows 1.5x faster than into L1, which holds fewer misses in flight).
template <int R, int T>
MOEASR_BF16 void dot_block(const uint16_t* xs, int64_t ldb, const uint16_t* const* wrow, int valid_t, int64_t k,
                           const float* bias, int64_t j0, float* y, int64_t ldy, int64_t prefetch_ahead,
                           const Activation* act) {
  static_assert(R * T <= 16, "one vector of sums");
  __m512 acc[16];
  for (int q = 0; q < 16; ++q) acc[q] = _mm512_setzero_ps();
  const uint16_t* wr[T];
  for (int t = 0; t < T; ++t) wr[t] = wrow[t];
  // Activation row a: high half at xs + 2a * ldb, low half one row further.
  const int64_t k32 = k / 32 * 32;
  for (int64_t c = 0; c < k32; c += 32) {
    __m512i hi[R], lo[R];
    for (int a = 0; a < R; ++a) {
      hi[a] = _mm512_loadu_si512(xs + 2 * a * ldb + c);
      lo[a] = _mm512_loadu_si512(xs + (2 * a + 1) * ldb + c);
    }
    for (int t = 0; t < T; ++t) {
      if (prefetch_ahead) _mm_prefetch(reinterpret_cast<const char*>(wr[t] + c + prefetch_ahead), _MM_HINT_T1);
      const __m512i wv = _mm512_loadu_si512(wr[t] + c);
      for (int a = 0; a < R; ++a) acc[a * T + t] = dpbf16(dpbf16(acc[a * T + t], hi[a], wv), lo[a], wv);
    }
  }
  if (k32 < k) {
    const __mmask32 mask = ~0u >> (32 - (k - k32));
    __m512i hi[R], lo[R];
    for (int a = 0; a < R; ++a) {
      hi[a] = _mm512_loadu_si512(xs + 2 * a * ldb + k32);
      lo[a] = _mm512_loadu_si512(xs + (2 * a + 1) * ldb + k32);
    }
    for (int t = 0; t < T; ++t) {
      const __m512i wv = _mm512_maskz_loadu_epi16(mask, wr[t] + k32);
      for (int a = 0; a < R; ++a) acc[a * T + t] = dpbf16(dpbf16(acc[a * T + t], hi[a], wv), lo[a], wv);
    }
  }
  static constexpr LaneTable kLanes = lane_table<T>();
  const __mmask16 cols = static_cast<__mmask16>((1u << valid_t) - 1);
  const __m512 add = bias ? _mm512_permutexvar_ps(_mm512_loadu_si512(kLanes.t), _mm512_maskz_loadu_ps(cols, bias + j0))
                          : _mm512_setzero_ps();
  __m512 out = _mm512_add_ps(sum_lanes16(acc), add);
  if (act) out = vec::activation(out, *act);
  for (int a = 0; a < R; ++a) {
    _mm512_mask_compressstoreu_ps(y + a * ldy + j0, static_cast<__mmask16>(cols << (a * T)), out);
  }
}

constexpr int kColumnBlock = 16;  // W rows per outer step

// Rows [j0, j0 + 16) of W against every activation row: blocks of 4 x 4,
// and the last m % 4 rows as 1 x 16, 2 x 8 or 3 x 4 blocks.
MOEASR_BF16 void column_block(const uint16_t* xs, int64_t ldb, int64_t m, const WeightMatrix& w, int64_t j0,
                              const float* bias, float* y, int64_t ldy, const Activation* act) {
  const uint16_t* rows[kColumnBlock];
  const int valid = static_cast<int>(std::min<int64_t>(kColumnBlock, w.n - j0));
  for (int t = 0; t < kColumnBlock; ++t) rows[t] = w.bf16() + (j0 + std::min(t, valid - 1)) * w.k;
  auto valid_from = [valid](int t0, int width) { return std::max(0, std::min(width, valid - t0)); };
  const int64_t k = w.k;
  const int64_t ahead = j0 + 2 * kColumnBlock <= w.n ? kColumnBlock * k : 0;
  const int64_t m4 = m / 4 * 4;
  for (int64_t i = 0; i < m4; i += 4) {
    for (int t0 = 0; t0 < kColumnBlock && t0 < valid; t0 += 4) {
      dot_block<4, 4>(xs + 2 * i * ldb, ldb, rows + t0, valid_from(t0, 4), k, bias, j0 + t0, y + i * ldy, ldy,
                      i == 0 ? ahead : 0, act);
    }
  }
  const uint16_t* xr = xs + 2 * m4 * ldb;
  float* yr = y + m4 * ldy;
  const int64_t pf = m4 == 0 ? ahead : 0;
  switch (m - m4) {
    case 1: dot_block<1, 16>(xr, ldb, rows, valid, k, bias, j0, yr, ldy, pf, act); break;
    case 2:
      for (int t0 = 0; t0 < kColumnBlock && t0 < valid; t0 += 8) {
        dot_block<2, 8>(xr, ldb, rows + t0, valid_from(t0, 8), k, bias, j0 + t0, yr, ldy, pf, act);
      }
      break;
    case 3:
      for (int t0 = 0; t0 < kColumnBlock && t0 < valid; t0 += 4) {
        dot_block<3, 4>(xr, ldb, rows + t0, valid_from(t0, 4), k, bias, j0 + t0, yr, ldy, pf, act);
      }
      break;
    default: break;
  }
}

MOEASR_BF16 void split_rows_avx512(const float* x, int64_t m, int64_t k, uint16_t* xs, int64_t ldb) {
  for (int64_t i = 0; i < m; ++i) {
    const float* row = x + i * k;
    uint16_t* hi = xs + 2 * i * ldb;
    uint16_t* lo = hi + ldb;
    for (int64_t c = 0; c < ldb; c += 16) {  // zeros past k: the padding
      const __m512 v = _mm512_maskz_loadu_ps(vec::mask16(k - c), row + c);
      const __m256i h = reinterpret_cast<__m256i>(_mm512_cvtneps_pbh(v));
      const __m512 h_wide = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
      const __m256i l = reinterpret_cast<__m256i>(_mm512_cvtneps_pbh(_mm512_sub_ps(v, h_wide)));  // exact difference
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(hi + c), h);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(lo + c), l);
    }
  }
}

MOEASR_BF16 void linear_avx512_bf16(const uint16_t* xs, int64_t ldb, int64_t m, const WeightMatrix& w,
                                    const float* bias, float* y, int64_t ldy, const Activation* act) {
  const int64_t blocks = (w.n + kColumnBlock - 1) / kColumnBlock;
#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < blocks; ++b) column_block(xs, ldb, m, w, b * kColumnBlock, bias, y, ldy, act);
}

}  // namespace

void split_rows_bf16(const float* x, int64_t m, int64_t k, uint16_t* xs, int64_t ldb) {
  split_rows_avx512(x, m, k, xs, ldb);
}

void linear_bf16_pairs(const uint16_t* xs, int64_t ldb, int64_t m, const WeightMatrix& w, const float* bias, float* y,
                       int64_t ldy, std::optional<Activation> act) {
  linear_avx512_bf16(xs, ldb, m, w, bias, y, ldy, act ? &*act : nullptr);
}

#else  // not x86-64: callers check small_gemm_support().bf16_dot first

void split_rows_bf16(const float*, int64_t, int64_t, uint16_t*, int64_t) {}
void linear_bf16_pairs(const uint16_t*, int64_t, int64_t, const WeightMatrix&, const float*, float*, int64_t,
                       std::optional<Activation>) {}

#endif

}  // namespace moeasr::cpu
