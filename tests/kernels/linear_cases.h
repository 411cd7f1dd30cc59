// Linear-layer test problems shared by the kernel tests of cpu::linear's paths
// (linear_test.cc, matmul_primitive_test.cc): bf16 and int8 weights made the
// way the converter makes them, their double-precision references, and a run
// that checks the output's row padding is left alone.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/linear.h"
#include "kernels/naive.h"
#include "kernels/types.h"

namespace moeasr::test {

struct Shape {
  int64_t m, k, n;
};

inline std::string shape_name(const Shape& s) {
  return std::to_string(s.m) + "x" + std::to_string(s.k) + "x" + std::to_string(s.n);
}

// float -> bfloat16, round to nearest even.
inline uint16_t to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return static_cast<uint16_t>((u + 0x7FFF + ((u >> 16) & 1)) >> 16);
}
inline float from_bf16(uint16_t h) {
  const uint32_t u = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// Runs linear_with_path into rows ldy = n + pad apart, pre-filled with -7;
// returns the [m, n] result and fails (non-fatally) if the padding was written.
inline std::vector<float> linear_padded(const float* x, const Shape& s, const WeightMatrix& w, const float* bias,
                                        cpu::LinearPath path, int64_t pad) {
  const int64_t ldy = s.n + pad;
  std::vector<float> y_padded(s.m * ldy, -7.f), y(s.m * s.n);
  cpu::linear_with_path(x, s.m, w, bias, y_padded.data(), ldy, path);
  int64_t written = 0;
  for (int64_t i = 0; i < s.m; ++i) {
    for (int64_t j = 0; j < s.n; ++j) y[i * s.n + j] = y_padded[i * ldy + j];
    for (int64_t j = s.n; j < ldy; ++j) written += y_padded[i * ldy + j] != -7.f;
  }
  EXPECT_EQ(written, 0) << "padding written";
  return y;
}

// A bf16 problem: x with NaNs right after it (a kernel that read past the
// last row would spread them), W rounded to bf16 (w, and w_wide in float),
// and x as the activation-pair kernels see it: x_hi = bf16(x), x_pair = hi +
// bf16(x - hi).
struct Bf16Case {
  std::vector<float> x, b, w_wide, x_hi, x_pair;
  std::vector<uint16_t> w;
  WeightMatrix wm;
  Bf16Case(const Shape& s, std::mt19937& rng) {
    x = random_vector(s.m * s.k, rng);
    const std::vector<float> wf = random_vector(s.n * s.k, rng);
    b = random_vector(s.n, rng);
    w.resize(wf.size());
    w_wide.resize(wf.size());
    for (size_t i = 0; i < w.size(); ++i) {
      w[i] = to_bf16(wf[i]);
      w_wide[i] = from_bf16(w[i]);
    }
    x_hi.resize(x.size());
    x_pair.resize(x.size());
    for (size_t i = 0; i < x.size(); ++i) {
      x_hi[i] = from_bf16(to_bf16(x[i]));
      x_pair[i] = x_hi[i] + from_bf16(to_bf16(x[i] - x_hi[i]));
    }
    x.resize(x.size() + 64, std::numeric_limits<float>::quiet_NaN());
    wm = WeightMatrix{WeightType::kBF16, s.n, s.k, w.data(), nullptr, nullptr};
  }
};

// An int8 problem: symmetric per-row weight quantization, as the converter
// does it (wf keeps the float weights).
struct Int8Case {
  std::vector<float> x, wf, b, scale;
  std::vector<int8_t> w;
  std::vector<int32_t> row_sum;
  WeightMatrix wm;
  Int8Case(const Shape& s, std::mt19937& rng) {
    x = random_vector(s.m * s.k, rng);
    wf = random_vector(s.n * s.k, rng);
    b = random_vector(s.n, rng);
    w.resize(wf.size());
    scale.resize(s.n);
    row_sum.assign(s.n, 0);
    for (int64_t j = 0; j < s.n; ++j) {
      float amax = 0;
      for (int64_t c = 0; c < s.k; ++c) amax = std::max(amax, std::fabs(wf[j * s.k + c]));
      scale[j] = amax / 127.f;
      for (int64_t c = 0; c < s.k; ++c) {
        w[j * s.k + c] = static_cast<int8_t>(std::lrintf(wf[j * s.k + c] / scale[j]));
        row_sum[j] += w[j * s.k + c];
      }
    }
    wm = WeightMatrix{WeightType::kI8, s.n, s.k, w.data(), scale.data(), row_sum.data()};
  }
  // What every int8 path computes: the same per-row activation quantization,
  // exact integer sums.
  std::vector<double> reference(const Shape& s) const {
    std::vector<double> ref(s.m * s.n);
    for (int64_t i = 0; i < s.m; ++i) {
      float amax = 0;
      for (int64_t c = 0; c < s.k; ++c) amax = std::max(amax, std::fabs(x[i * s.k + c]));
      const float xs = amax / 127.f;
      for (int64_t j = 0; j < s.n; ++j) {
        int64_t acc = 0;
        for (int64_t c = 0; c < s.k; ++c) acc += std::lrintf(x[i * s.k + c] * (1.f / xs)) * w[j * s.k + c];
        ref[i * s.n + j] = static_cast<double>(acc) * xs * scale[j] + b[j];
      }
    }
    return ref;
  }
};

}  // namespace moeasr::test
