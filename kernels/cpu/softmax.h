// Softmax and log-softmax over rows (float32, max-subtracted).
#pragma once

#include <cstdint>

namespace moeasr::cpu {

// In place over `cols` values of each of `rows` rows with leading dimension ld.
void softmax_rows(float* x, int64_t rows, int64_t cols, int64_t ld);
void log_softmax_rows(float* x, int64_t rows, int64_t cols, int64_t ld);
// x [rows, cols]: for each segment [offsets[s], offsets[s + 1]) and column,
// softmax over the segment's rows of (x - max) / temperature; a column whose
// rows are all -inf becomes 0. offsets has num_segments + 1 entries.
void softmax_segments(float* x, int64_t cols, const int64_t* offsets, int64_t num_segments, float temperature);

}  // namespace moeasr::cpu
