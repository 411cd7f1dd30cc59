#include "kernels/cpu/widen.h"

#include <cstring>

#include "core/half.h"

#if defined(__x86_64__)
#include <immintrin.h>
#elif defined(__ARM_NEON)
#include <arm_neon.h>
#endif

namespace moeasr::cpu {

void widen_bf16(const uint16_t* src, int64_t n, float* dst) {
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t bits = static_cast<uint32_t>(src[i]) << 16;
    std::memcpy(&dst[i], &bits, 4);
  }
}

namespace {

#if defined(__x86_64__)
__attribute__((target("avx,f16c"))) void widen_f16_f16c(const uint16_t* src, int64_t n, float* dst) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i))));
  }
  for (; i < n; ++i) dst[i] = fp16_to_float(src[i]);
}

bool have_f16c() {
  static const bool have = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx") && __builtin_cpu_supports("f16c");
  }();
  return have;
}
#endif

}  // namespace

void widen_f16(const uint16_t* src, int64_t n, float* dst) {
  int64_t i = 0;
#if defined(__x86_64__)
  if (have_f16c()) return widen_f16_f16c(src, n, dst);
#elif defined(__ARM_NEON)
  for (; i + 4 <= n; i += 4) vst1q_f32(dst + i, vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(src + i))));
#endif
  for (; i < n; ++i) dst[i] = fp16_to_float(src[i]);
}

}  // namespace moeasr::cpu
