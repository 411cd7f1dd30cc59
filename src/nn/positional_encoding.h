// WeNet's sinusoidal position table, computed for any position on demand:
//   pe[pos, 2i] = sin(pos * div_i), pe[pos, 2i + 1] = cos(pos * div_i),
//   div_i = exp(2i * -(ln(10000) / d)),
// with the same float32 rounding steps as WeNet's torch code. WeNet stores
// 5000 rows; positions beyond continue the same formula. The rows are made
// on the device that needs them (a backend op), from div_ kept there.
#pragma once

#include <cstdint>
#include <vector>

#include "core/tensor.h"
#include "ops/backend.h"

namespace moeasr {

class PositionalEncoding {
 public:
  PositionalEncoding() = default;
  // div_ on `device` (through `be` when it is a GPU).
  PositionalEncoding(int64_t d, Backend& be);
  int64_t dim() const { return d_; }
  // Each job's rows (positions job.first ..) into job.dst, on be's device.
  void rows(Backend& be, const std::vector<PositionJob>& jobs) const;
  // The same on the host (tests, tools).
  void host_rows(int64_t first, int64_t count, float* out) const;

 private:
  int64_t d_ = 0;
  std::vector<float> host_div_;
  Tensor div_;  // [d / 2] on the model's device
};

}  // namespace moeasr
