#include "kernels/cpu/gemm_small.h"

#include <algorithm>

#if defined(__x86_64__)
#include <immintrin.h>
#elif defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>  // getauxval, HWCAP_*
#endif

namespace moeasr::cpu {

const SmallGemmSupport& small_gemm_support() {
  static const SmallGemmSupport support = [] {
    SmallGemmSupport s;
#if defined(__x86_64__)
    __builtin_cpu_init();
    s.f32 = s.bf16 = s.f16 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                             __builtin_cpu_supports("avx512vl");
    s.i8 = s.f32 && __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bw");
    s.bf16_dot = s.f32 && __builtin_cpu_supports("avx512bf16");
#elif defined(__ARM_NEON)
    // A NEON build runs only where NEON is (every AArch64 core; a 32-bit
    // build for -mfpu=neon*), so gemm_small_neon.cc needs no check.
    s.f32 = s.bf16 = s.f16 = true;
#if defined(__aarch64__) && defined(__linux__) && defined(HWCAP_ASIMDDP)
    s.i8 = (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0;  // SDOT (ARMv8.2 dotprod): gemm_small_i8_neon.cc
#endif
#endif
    return s;
  }();
  return support;
}

#if defined(__x86_64__)

namespace {

// The three element types share one loop structure; Load turns 16 weights
// (or 64 int8s) at an offset into a vector, Fma accumulates.
struct F32Weights {
  static constexpr int kStep = 16;
  __attribute__((target("avx512f"))) static __m512 load(const float* p) { return _mm512_loadu_ps(p); }
  __attribute__((target("avx512f"))) static __m512 load_tail(const float* p, __mmask16 m) {
    return _mm512_maskz_loadu_ps(m, p);
  }
};

struct Bf16Weights {
  static constexpr int kStep = 16;
  // bf16 -> f32: the 16 bits are the top half of the float.
  __attribute__((target("avx512f"))) static __m512 load(const uint16_t* p) {
    const __m512i wide = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    return _mm512_castsi512_ps(_mm512_slli_epi32(wide, 16));
  }
  __attribute__((target("avx512f,avx512bw,avx512vl"))) static __m512 load_tail(const uint16_t* p, __mmask16 m) {
    const __m512i wide = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, p));
    return _mm512_castsi512_ps(_mm512_slli_epi32(wide, 16));
  }
};

// IEEE half -> f32 (vcvtph2ps, AVX-512F).
struct F16Weights {
  static constexpr int kStep = 16;
  __attribute__((target("avx512f"))) static __m512 load(const uint16_t* p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  __attribute__((target("avx512f,avx512bw,avx512vl"))) static __m512 load_tail(const uint16_t* p, __mmask16 m) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p));
  }
};

// The upper eight floats (AVX-512F has no 32-bit-lane extract; DQ does).
__attribute__((target("avx512f"))) inline __m256 high8(__m512 v) {
  return _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
}

// The four sums of four accumulators, in order, by one tree of adds:
// 12 instructions where four _mm512_reduce_add_ps take ~32. Every output
// element's adds come in the same order, whichever of the four it is.
__attribute__((target("avx512f,avx512bw,avx512vl"))) inline __m128 sum4(__m512 a, __m512 b, __m512 c, __m512 d) {
  const __m256 a8 = _mm256_add_ps(_mm512_castps512_ps256(a), high8(a));
  const __m256 b8 = _mm256_add_ps(_mm512_castps512_ps256(b), high8(b));
  const __m256 c8 = _mm256_add_ps(_mm512_castps512_ps256(c), high8(c));
  const __m256 d8 = _mm256_add_ps(_mm512_castps512_ps256(d), high8(d));
  // hadd pairs neighbours within each 128-bit half: [a b a b | a b a b] then [a b c d | a b c d].
  const __m256 abcd = _mm256_hadd_ps(_mm256_hadd_ps(a8, b8), _mm256_hadd_ps(c8, d8));
  return _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1));
}

// W blocks (4 rows, contiguous in W's row-major storage) this far ahead are
// prefetched into L2 while the current block is computed. The hardware
// prefetcher alone follows four short streams (k 704: 2.8 KB each) too late:
// on AMD Zen 5 at 1-4 rows the kernel streamed 9-11 GB/s; with this, 19-22.
// Into L2, not L1 (_MM_HINT_T1): 1.5x faster at 1 row, 1.2x at 16 there (L1
// holds fewer misses in flight); one block ahead or four was slower than two.
constexpr int64_t kPrefetchBlocks = 2;

template <typename Weights, typename T>
__attribute__((target("avx512f,avx512bw,avx512vl"))) void small_gemm(const float* x, int64_t m, int64_t k, const T* w,
                                                            int64_t n, float* y, int64_t ldy) {
  const int64_t kv = k / 16 * 16;
  const __mmask16 tail = static_cast<__mmask16>((1u << (k - kv)) - 1);
  const int64_t n4 = n / 4 * 4;
  // Spread one block's cache lines evenly over the steps that compute a
  // block, so that the loads to memory overlap the FMAs.
  const int64_t block_lines = (4 * k * static_cast<int64_t>(sizeof(T)) + 63) / 64;
  const int64_t steps = std::max<int64_t>(1, (m + 3) / 4 * ((k + 15) / 16));  // k may be 0
  const int64_t lines_per_step = (block_lines + steps - 1) / steps;
  const char* const w_end = reinterpret_cast<const char*>(w + n4 * k);
#pragma omp parallel for schedule(static)
  for (int64_t j = 0; j < n4; j += 4) {
    const T* w0 = w + j * k;
    const T* w1 = w0 + k;
    const T* w2 = w1 + k;
    const T* w3 = w2 + k;
    const char* pf = reinterpret_cast<const char*>(w0 + kPrefetchBlocks * 4 * k);
    const char* const pf_end = std::min(pf + 4 * k * static_cast<int64_t>(sizeof(T)), w_end);
    for (int64_t i = 0; i < m; i += 4) {
      const int64_t rows = m - i < 4 ? m - i : 4;
      const float* xr[4];
      for (int a = 0; a < 4; ++a) xr[a] = x + (i + (a < rows ? a : 0)) * k;  // pad with row i
      __m512 acc[4][4];
      for (int a = 0; a < 4; ++a) {
        for (int b = 0; b < 4; ++b) acc[a][b] = _mm512_setzero_ps();
      }
      for (int64_t c = 0; c < kv; c += 16) {
        for (int64_t p = 0; p < lines_per_step && pf < pf_end; ++p, pf += 64) _mm_prefetch(pf, _MM_HINT_T1);
        const __m512 v0 = Weights::load(w0 + c), v1 = Weights::load(w1 + c), v2 = Weights::load(w2 + c),
                     v3 = Weights::load(w3 + c);
        for (int a = 0; a < 4; ++a) {
          const __m512 xv = _mm512_loadu_ps(xr[a] + c);
          acc[a][0] = _mm512_fmadd_ps(xv, v0, acc[a][0]);
          acc[a][1] = _mm512_fmadd_ps(xv, v1, acc[a][1]);
          acc[a][2] = _mm512_fmadd_ps(xv, v2, acc[a][2]);
          acc[a][3] = _mm512_fmadd_ps(xv, v3, acc[a][3]);
        }
      }
      if (kv < k) {
        const __m512 v0 = Weights::load_tail(w0 + kv, tail), v1 = Weights::load_tail(w1 + kv, tail),
                     v2 = Weights::load_tail(w2 + kv, tail), v3 = Weights::load_tail(w3 + kv, tail);
        for (int a = 0; a < 4; ++a) {
          const __m512 xv = _mm512_maskz_loadu_ps(tail, xr[a] + kv);
          acc[a][0] = _mm512_fmadd_ps(xv, v0, acc[a][0]);
          acc[a][1] = _mm512_fmadd_ps(xv, v1, acc[a][1]);
          acc[a][2] = _mm512_fmadd_ps(xv, v2, acc[a][2]);
          acc[a][3] = _mm512_fmadd_ps(xv, v3, acc[a][3]);
        }
      }
      for (int a = 0; a < rows; ++a) _mm_storeu_ps(y + (i + a) * ldy + j, sum4(acc[a][0], acc[a][1], acc[a][2], acc[a][3]));
    }
  }
  // The last n % 4 rows of W, one at a time.
  for (int64_t j = n4; j < n; ++j) {
    const T* wj = w + j * k;
    for (int64_t i = 0; i < m; ++i) {
      __m512 acc = _mm512_setzero_ps();
      for (int64_t c = 0; c < kv; c += 16) acc = _mm512_fmadd_ps(_mm512_loadu_ps(x + i * k + c), Weights::load(wj + c), acc);
      if (kv < k) {
        acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, x + i * k + kv), Weights::load_tail(wj + kv, tail), acc);
      }
      // The same order of adds as sum4 gives the rows above: equal rows of W
      // give equal outputs wherever they sit (a gate's ties depend on it).
      y[i * ldy + j] = _mm_cvtss_f32(sum4(acc, acc, acc, acc));
    }
  }
}

}  // namespace

void small_gemm_f32(const float* x, int64_t m, int64_t k, const float* w, int64_t n, float* y, int64_t ldy) {
  small_gemm<F32Weights>(x, m, k, w, n, y, ldy);
}

void small_gemm_bf16(const float* x, int64_t m, int64_t k, const uint16_t* w, int64_t n, float* y, int64_t ldy) {
  small_gemm<Bf16Weights>(x, m, k, w, n, y, ldy);
}

void small_gemm_f16(const float* x, int64_t m, int64_t k, const uint16_t* w, int64_t n, float* y, int64_t ldy) {
  small_gemm<F16Weights>(x, m, k, w, n, y, ldy);
}

#elif !defined(__ARM_NEON)  // callers check small_gemm_support() first; NEON: gemm_small_neon.cc

void small_gemm_f32(const float*, int64_t, int64_t, const float*, int64_t, float*, int64_t) {}
void small_gemm_bf16(const float*, int64_t, int64_t, const uint16_t*, int64_t, float*, int64_t) {}
void small_gemm_f16(const float*, int64_t, int64_t, const uint16_t*, int64_t, float*, int64_t) {}

#endif

}  // namespace moeasr::cpu
