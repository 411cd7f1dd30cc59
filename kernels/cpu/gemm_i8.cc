#include "kernels/cpu/gemm_i8.h"

namespace moeasr::cpu {

namespace {

// Four weight rows against one activation row: the activation row is read
// once per four dot products. always_inline so that each ISA entry point
// below gets its own vectorized copy.
__attribute__((always_inline)) inline void dot4(const uint8_t* x, const int8_t* w0, const int8_t* w1,
                                                const int8_t* w2, const int8_t* w3, int64_t k, int32_t* out) {
  int32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  for (int64_t c = 0; c < k; ++c) {
    const int32_t v = x[c];
    s0 += v * w0[c];
    s1 += v * w1[c];
    s2 += v * w2[c];
    s3 += v * w3[c];
  }
  out[0] = s0;
  out[1] = s1;
  out[2] = s2;
  out[3] = s3;
}

__attribute__((always_inline)) inline int32_t dot1(const uint8_t* x, const int8_t* w, int64_t k) {
  int32_t s = 0;
  for (int64_t c = 0; c < k; ++c) s += static_cast<int32_t>(x[c]) * w[c];
  return s;
}

__attribute__((always_inline)) inline void gemm_body(const uint8_t* xq, int64_t ldq, int64_t m, const int8_t* w,
                                                     int64_t n, int64_t k, int32_t* acc, int64_t ldacc) {
  int64_t j = 0;
  for (; j + 4 <= n; j += 4) {
    const int8_t* r = w + j * k;
    for (int64_t i = 0; i < m; ++i) {
      int32_t out[4];
      dot4(xq + i * ldq, r, r + k, r + 2 * k, r + 3 * k, k, out);
      for (int q = 0; q < 4; ++q) acc[i * ldacc + j + q] = out[q];
    }
  }
  for (; j < n; ++j) {
    for (int64_t i = 0; i < m; ++i) acc[i * ldacc + j] = dot1(xq + i * ldq, w + j * k, k);
  }
}

using GemmFn = void (*)(const uint8_t*, int64_t, int64_t, const int8_t*, int64_t, int64_t, int32_t*, int64_t);

void gemm_portable(const uint8_t* xq, int64_t ldq, int64_t m, const int8_t* w, int64_t n, int64_t k, int32_t* acc,
                   int64_t ldacc) {
  gemm_body(xq, ldq, m, w, n, k, acc, ldacc);
}

#if defined(__x86_64__) && defined(__GNUC__)
// Chosen at the first call, not by target_clones: an ifunc resolver runs
// before the sanitizer runtimes start, and ThreadSanitizer's instrumented
// resolver crashes the program at load.
__attribute__((target("avx2,fma"))) void gemm_avx2(const uint8_t* xq, int64_t ldq, int64_t m, const int8_t* w,
                                                   int64_t n, int64_t k, int32_t* acc, int64_t ldacc) {
  gemm_body(xq, ldq, m, w, n, k, acc, ldacc);
}

__attribute__((target("avx512f,avx512bw,avx512vl"))) void gemm_avx512(const uint8_t* xq, int64_t ldq, int64_t m,
                                                                      const int8_t* w, int64_t n, int64_t k,
                                                                      int32_t* acc, int64_t ldacc) {
  gemm_body(xq, ldq, m, w, n, k, acc, ldacc);
}

GemmFn best_gemm() {
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl"))
    return gemm_avx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return gemm_avx2;
  return gemm_portable;
}
#else
GemmFn best_gemm() { return gemm_portable; }
#endif

}  // namespace

void gemm_u8s8s32(const uint8_t* xq, int64_t ldq, int64_t m, const int8_t* w, int64_t n, int64_t k, int32_t* acc,
                  int64_t ldacc) {
  static const GemmFn gemm = best_gemm();
  gemm(xq, ldq, m, w, n, k, acc, ldacc);
}

}  // namespace moeasr::cpu
