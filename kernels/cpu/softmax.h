// Softmax and log-softmax over rows (float32, max-subtracted).
#pragma once

#include <cstdint>

namespace moeasr::cpu {

// In place over `cols` values of each of `rows` rows with leading dimension ld.
void softmax_rows(float* x, int64_t rows, int64_t cols, int64_t ld);
void log_softmax_rows(float* x, int64_t rows, int64_t cols, int64_t ld);

}  // namespace moeasr::cpu
