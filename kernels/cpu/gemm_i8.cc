#include "kernels/cpu/gemm_i8.h"

namespace moeasr::cpu {

namespace {

#if defined(__x86_64__) && defined(__GNUC__)
#define MOEASR_CLONES __attribute__((target_clones("arch=skylake-avx512", "arch=haswell", "default")))
#else
#define MOEASR_CLONES
#endif

// Four weight rows against one activation row: the activation row is read
// once per four dot products.
MOEASR_CLONES void dot4(const uint8_t* x, const int8_t* w0, const int8_t* w1, const int8_t* w2, const int8_t* w3,
                        int64_t k, int32_t* out) {
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

MOEASR_CLONES int32_t dot1(const uint8_t* x, const int8_t* w, int64_t k) {
  int32_t s = 0;
  for (int64_t c = 0; c < k; ++c) s += static_cast<int32_t>(x[c]) * w[c];
  return s;
}

}  // namespace

void gemm_u8s8s32(const uint8_t* xq, int64_t ldq, int64_t m, const int8_t* w, int64_t n, int64_t k, int32_t* acc,
                  int64_t ldacc) {
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

}  // namespace moeasr::cpu
