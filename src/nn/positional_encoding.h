// WeNet's sinusoidal position table, computed for any position on demand:
//   pe[pos, 2i] = sin(pos * div_i), pe[pos, 2i + 1] = cos(pos * div_i),
//   div_i = exp(2i * -(ln(10000) / d)),
// with the same float32 rounding steps as WeNet's torch code. WeNet stores
// 5000 rows; positions beyond continue the same formula.
#pragma once

#include <cstdint>
#include <vector>

namespace moeasr {

class PositionalEncoding {
 public:
  explicit PositionalEncoding(int64_t d);
  int64_t dim() const { return static_cast<int64_t>(div_.size()) * 2; }
  // Writes rows for positions first, first + 1, ... (count rows of dim() floats).
  void rows(int64_t first, int64_t count, float* out) const;

 private:
  std::vector<float> div_;
};

}  // namespace moeasr
