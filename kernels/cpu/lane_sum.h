// Sums whose rounding does not depend on where the data sits in memory.
//
// Eigen's vectorized reductions and element-wise expressions start their
// packets at the first aligned address, so a value's result depended on its
// buffer's address: on 32-bit ARM, where malloc aligns to 8 bytes, the same
// audio decoded twice could give different scores. Every lane here is fixed by
// the index (i mod 8) and the lanes are combined in a fixed tree, so a sum
// depends only on the values; the compiler may still vectorize the lanes.
#pragma once

#include <cstdint>

namespace moeasr::cpu {

// sum of term(i) for i in [0, n).
template <typename Term>
inline float lane_sum(int64_t n, Term&& term) {
  float acc[8] = {0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int j = 0; j < 8; ++j) acc[j] += term(i + j);
  }
  for (; i < n; ++i) acc[i & 7] += term(i);
  return ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]));
}

}  // namespace moeasr::cpu
