// 16-bit weights widened to float32 (exactly: every bfloat16 and IEEE half
// value is a float32 value), for the many-row GEMMs that widen a tile of W
// and run sgemm on it.
#pragma once

#include <cstdint>

namespace moeasr::cpu {

void widen_bf16(const uint16_t* src, int64_t n, float* dst);
// F16C on x86-64 where the CPU has it, NEON on ARM, portable C++ elsewhere.
void widen_f16(const uint16_t* src, int64_t n, float* dst);

}  // namespace moeasr::cpu
