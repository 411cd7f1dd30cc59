// Index-driven row copies and the position-encoding rows, on the CPU.
#pragma once

#include <cstdint>

namespace moeasr::cpu {

// dst[i] = src[rows[i]] for rows[i] >= 0, else `fill` in every column (n rows of `width`).
void gather_rows(const float* src, int64_t width, const int32_t* rows, int64_t n, float fill, float* dst);
// dst[rows[i]] = src[i] for rows[i] >= 0.
void scatter_rows(const float* src, int64_t width, const int32_t* rows, int64_t n, float* dst);
// out[i, :] = table[ids[i], :] * s.
void embedding(const float* table, int64_t d, const int32_t* ids, int64_t n, float s, float* out);
// WeNet's sinusoid rows for positions first .. first + count - 1 ([count, 2 * half]):
//   row[2i] = sin(pos * div[i]), row[2i + 1] = cos(pos * div[i]),
// with torch's float32 product and the sin/cos in double, rounded to float32.
void sinusoid_rows(const float* div, int64_t half, int64_t first, int64_t count, float* out);

}  // namespace moeasr::cpu
