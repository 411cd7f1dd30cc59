// Helpers for the GPU kernel tests: a fixture that skips without a device,
// host <-> device vectors, bf16 rounding, and tolerance checks against the
// kernels/cpu results.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "core/error.h"
#include "kernels/cuda/device.h"
#include "kernels/cuda/ops.h"

namespace moeasr::test {

// Every GPU test: skipped (not failed) on machines without a CUDA device.
class CudaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device: GPU kernel tests need one";
    ctx_ = cuda::Context::open(0);
  }
  cuda::Context& ctx() { return *ctx_; }

  template <typename T>
  cuda::Buffer to_device(const std::vector<T>& v) {
    cuda::Buffer b(ctx(), std::max<size_t>(sizeof(T) * v.size(), 4));
    cuda::upload(ctx(), b.data(), v.data(), sizeof(T) * v.size());
    return b;
  }
  template <typename T>
  std::vector<T> to_host(const void* device, size_t n) {
    std::vector<T> v(n);
    cuda::download(ctx(), v.data(), device, sizeof(T) * n);
    return v;
  }
  template <typename T>
  std::vector<T> to_host(const cuda::Buffer& b, size_t n) {
    return to_host<T>(b.data(), n);
  }

  std::unique_ptr<cuda::Context> ctx_;
  cuda::Workspace ws_;
};

inline std::vector<float> randn(size_t n, std::mt19937& rng, float scale = 1.f) {
  std::normal_distribution<float> dist(0.f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// float -> bf16 bits, round to nearest even (finite inputs), as the GPU's __float2bfloat16_rn.
inline uint16_t to_bf16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  bits += 0x7FFFu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>(bits >> 16);
}
inline float from_bf16(uint16_t h) {
  const uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}
inline std::vector<uint16_t> to_bf16(const std::vector<float>& v) {
  std::vector<uint16_t> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = to_bf16(v[i]);
  return out;
}
inline std::vector<float> round_bf16(const std::vector<float>& v) {
  std::vector<float> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = from_bf16(to_bf16(v[i]));
  return out;
}

// |got - want| <= tol * max(1, |want|) element-wise: relative for large
// values, absolute near zero. Reports the first few mismatches.
inline void expect_close(const std::vector<float>& got, const std::vector<float>& want, double tol,
                         const char* what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  int reported = 0;
  double worst = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    const double err = std::fabs(static_cast<double>(got[i]) - want[i]);
    const double bound = tol * std::max(1.0, std::fabs(static_cast<double>(want[i])));
    worst = std::max(worst, err / bound * tol);
    if (!(err <= bound) && reported++ < 5) {
      ADD_FAILURE() << what << ": element " << i << " is " << got[i] << ", expected " << want[i] << " (tolerance "
                    << tol << ")";
    }
  }
  if (reported > 5) ADD_FAILURE() << what << ": " << reported << " elements out of tolerance";
}

}  // namespace moeasr::test
