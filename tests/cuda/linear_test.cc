// cuda::linear against kernels/cpu/linear. Tolerances: float32 weights 1e-4
// (relative, absolute below 1); bf16 weights 1e-4 against a double reference
// that rounds the activations to bf16 like the GPU does, and 2e-2 against the
// CPU kernel (which keeps the activations in float32).
#include "kernels/cpu/linear.h"

#include "cuda/cuda_test_util.h"

namespace moeasr {
namespace {

using test::CudaTest;

class CudaLinear : public CudaTest {};

// y = x w^T + b in double.
std::vector<float> reference(const std::vector<float>& x, int64_t rows, int64_t k, const std::vector<float>& w,
                             const float* bias, int64_t n) {
  std::vector<float> y(rows * n);
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double s = bias ? bias[j] : 0.0;
      for (int64_t t = 0; t < k; ++t) s += static_cast<double>(x[i * k + t]) * w[j * k + t];
      y[i * n + j] = static_cast<float>(s);
    }
  }
  return y;
}

TEST_F(CudaLinear, Float32MatchesCpuForManyShapes) {
  std::mt19937 rng(1);
  for (int64_t rows : {1, 7, 64, 301}) {
    for (auto [n, k] : {std::pair<int64_t, int64_t>{5, 3}, {64, 96}, {130, 257}}) {
      for (bool with_bias : {false, true}) {
        const auto x = test::randn(rows * k, rng), w = test::randn(n * k, rng, 0.2f), b = test::randn(n, rng);
        std::vector<float> want(rows * n);
        const cpu::WeightMatrix m{cpu::WeightType::kF32, n, k, w.data(), nullptr, nullptr};
        cpu::linear(x.data(), rows, m, with_bias ? b.data() : nullptr, want.data(), n);
        cuda::Buffer dx = to_device(x), dw = to_device(w), db = to_device(b), dy(ctx(), sizeof(float) * rows * n);
        const cuda::DeviceLinear lin{dw.data(), cuda::WeightType::kF32, n, k, with_bias ? db.as<float>() : nullptr};
        cuda::linear(ctx(), dx.as<float>(), rows, lin, dy.as<float>(), ws_);
        test::expect_close(to_host<float>(dy, rows * n), want, 1e-4, "f32 linear");
      }
    }
  }
}

TEST_F(CudaLinear, Bf16RoundsActivationsAndAccumulatesInFloat32) {
  std::mt19937 rng(2);
  const int64_t rows = 45, n = 72, k = 200;
  const auto x = test::randn(rows * k, rng), w = test::randn(n * k, rng, 0.2f), b = test::randn(n, rng);
  const std::vector<uint16_t> w16 = test::to_bf16(w);
  std::vector<float> w_wide(w16.size());
  for (size_t i = 0; i < w16.size(); ++i) w_wide[i] = test::from_bf16(w16[i]);
  cuda::Buffer dx = to_device(x), dw = to_device(w16), db = to_device(b), dy(ctx(), sizeof(float) * rows * n);
  const cuda::DeviceLinear lin{dw.data(), cuda::WeightType::kBF16, n, k, db.as<float>()};
  cuda::linear(ctx(), dx.as<float>(), rows, lin, dy.as<float>(), ws_);
  const auto got = to_host<float>(dy, rows * n);
  test::expect_close(got, reference(test::round_bf16(x), rows, k, w_wide, b.data(), n), 1e-4, "bf16 vs rounded ref");

  std::vector<float> cpu_y(rows * n);
  const cpu::WeightMatrix m{cpu::WeightType::kBF16, n, k, w16.data(), nullptr, nullptr};
  cpu::linear(x.data(), rows, m, b.data(), cpu_y.data(), n);
  test::expect_close(got, cpu_y, 2e-2, "bf16 vs cpu");
}

TEST_F(CudaLinear, ZeroRowsTouchNothing) {
  std::mt19937 rng(3);
  const auto w = test::randn(4 * 3, rng);
  cuda::Buffer dw = to_device(w), dy = to_device(std::vector<float>{42.f});
  const cuda::DeviceLinear lin{dw.data(), cuda::WeightType::kF32, 4, 3, nullptr};
  cuda::linear(ctx(), nullptr, 0, lin, dy.as<float>(), ws_);
  EXPECT_EQ(to_host<float>(dy, 1)[0], 42.f);
}

}  // namespace
}  // namespace moeasr
