// Shared by the op tests (tests/ops): a fixture parameterized by device that
// opens the device's backend, device buffers from host vectors and back,
// random data, bf16 rounding, and tolerance checks. Each op is compared with
// a reference computed on the host (the kernels/cpu kernel, itself checked
// against a naive one in tests/kernels, or a naive loop here), so the CPU
// instance checks the CPU backend's job handling and the CUDA instance the
// CUDA kernels.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "core/error.h"
#include "device_test_util.h"
#include "ops/backend.h"

namespace moeasr::test {

class OpTest : public ::testing::TestWithParam<Device> {
 protected:
  void SetUp() override { be_ = Backend::open(GetParam()); }
  Backend& be() { return *be_; }
  // A device buffer holding `v` (any trivially copyable element type).
  template <typename T>
  Tensor dev(const std::vector<T>& v) {
    Tensor t({static_cast<int64_t>(std::max<size_t>(v.size(), 1) * sizeof(T))}, DType::kU8, be().device());
    if (!v.empty()) be().copy_from_host(t.raw(), v.data(), sizeof(T) * v.size());
    return t;
  }
  Tensor dev_zeros(int64_t floats) { return dev(std::vector<float>(static_cast<size_t>(std::max<int64_t>(floats, 1)), 0.f)); }
  template <typename T = float>
  std::vector<T> host(const Tensor& t, int64_t n) {
    std::vector<T> v(static_cast<size_t>(n));
    if (n) be().copy_to_host(v.data(), t.raw(), sizeof(T) * v.size());
    return v;
  }
  static float* f(Tensor& t) { return t.data<float>(); }
  static const float* f(const Tensor& t) { return t.data<float>(); }

  std::unique_ptr<Backend> be_;
};

inline std::vector<float> randn(size_t n, std::mt19937& rng, float scale = 1.f) {
  std::normal_distribution<float> dist(0.f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// float -> bf16 bits, round to nearest even (finite inputs).
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
template <typename T>
void expect_close(const std::vector<float>& got, const std::vector<T>& want, double tol, const char* what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  int reported = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    const double w = static_cast<double>(want[i]);
    const double err = std::fabs(static_cast<double>(got[i]) - w);
    if (!(err <= tol * std::max(1.0, std::fabs(w))) && reported++ < 5) {
      ADD_FAILURE() << what << ": element " << i << " is " << got[i] << ", expected " << w << " (tolerance " << tol
                    << ")";
    }
  }
  if (reported > 5) ADD_FAILURE() << what << ": " << reported << " elements out of tolerance";
}

}  // namespace moeasr::test

#define MOEASR_OP_TEST_DEVICES(suite) \
  INSTANTIATE_TEST_SUITE_P(Devices, suite, ::testing::ValuesIn(::moeasr::test::devices()), ::moeasr::test::device_label)
