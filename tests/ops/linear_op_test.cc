// linear and gemm of the Backend table on every test device against double
// precision. Tolerances: float32 weights 1e-4 (relative, absolute below 1).
// bf16 weights: every device keeps the activations' float32 precision (a hi +
// lo pair of bf16, kernels/cpu/gemm_bf16.h and kernels/cuda/linear.cu), so the
// result is within 1e-4 of the double product with the widened weights, and
// a single rounded bf16 per activation would miss that by far.
// int8 weights are the CPU's only (device_reads).
#include "kernels/naive.h"
#include "ops/op_test_util.h"

namespace moeasr {
namespace {

using test::randn;

class LinearOp : public test::OpTest {};

TEST_P(LinearOp, Float32ForManyShapesWithAndWithoutBiasAndActivation) {
  std::mt19937 rng(1);
  for (int64_t rows : {1, 7, 64, 301}) {
    for (auto [n, k] : {std::pair<int64_t, int64_t>{5, 3}, {64, 96}, {130, 257}}) {
      for (bool with_bias : {false, true}) {
        const auto x = randn(rows * k, rng), w = randn(n * k, rng, 0.2f), b = randn(n, rng);
        std::vector<double> want = test::naive_linear(x.data(), rows, k, w.data(), with_bias ? b.data() : nullptr, n);
        Tensor dx = dev(x), dw = dev(w), db = dev(b), dy = dev_zeros(rows * n);
        const WeightMatrix m{WeightType::kF32, n, k, f(dw), nullptr, nullptr};
        be().linear(f(dx), rows, m, with_bias ? f(db) : nullptr, std::nullopt, f(dy));
        test::expect_close(host(dy, rows * n), want, 1e-4, "f32 linear");
        // The fused ReLU equals the product then ReLU.
        be().linear(f(dx), rows, m, with_bias ? f(db) : nullptr, Activation::kRelu, f(dy));
        for (double& v : want) v = std::max(v, 0.0);
        test::expect_close(host(dy, rows * n), want, 1e-4, "f32 linear + relu");
      }
    }
  }
}

TEST_P(LinearOp, Bf16WeightsMeetFloat32PrecisionActivations) {
  std::mt19937 rng(2);
  const int64_t rows = 45, n = 72, k = 200;
  const auto x = randn(rows * k, rng), w = randn(n * k, rng, 0.2f), b = randn(n, rng);
  const std::vector<uint16_t> w16 = test::to_bf16(w);
  std::vector<float> w_wide(w16.size());
  for (size_t i = 0; i < w16.size(); ++i) w_wide[i] = test::from_bf16(w16[i]);
  Tensor dx = dev(x), dw = dev(w16), db = dev(b), dy = dev_zeros(rows * n);
  be().linear(f(dx), rows, {WeightType::kBF16, n, k, dw.raw(), nullptr, nullptr}, f(db), std::nullopt, f(dy));
  const auto got = host(dy, rows * n);
  const std::vector<double> exact = test::naive_linear(x.data(), rows, k, w_wide.data(), b.data(), n);
  test::expect_close(got, exact, 1e-4, "bf16 weights, float32 activations");
  const std::vector<float> rounded = test::round_bf16(x);
  const std::vector<double> coarse = test::naive_linear(rounded.data(), rows, k, w_wide.data(), b.data(), n);
  double coarse_err = 0;
  for (size_t i = 0; i < exact.size(); ++i) coarse_err = std::max(coarse_err, std::fabs(coarse[i] - exact[i]));
  EXPECT_GT(coarse_err, 1e-3) << "rounding the activations would have been visible";
}

TEST_P(LinearOp, Int8IsReadWhereTheDeviceHasKernels) {
  EXPECT_EQ(be().reads(WeightType::kI8), GetParam().is_cpu());
  EXPECT_TRUE(be().reads(WeightType::kF32) && be().reads(WeightType::kBF16));
}

TEST_P(LinearOp, ZeroRowsTouchNothing) {
  std::mt19937 rng(3);
  const auto w = randn(4 * 3, rng);
  Tensor dw = dev(w), dy = dev(std::vector<float>{42.f});
  be().linear(nullptr, 0, {WeightType::kF32, 4, 3, f(dw), nullptr, nullptr}, nullptr, std::nullopt, f(dy));
  EXPECT_EQ(host(dy, 1)[0], 42.f);
}

// C = alpha op(A) op(B) + beta C in every transpose combination, with leading
// dimensions wider than the rows, batched with strides.
TEST_P(LinearOp, GemmTransposesLeadingDimensionsAndBatches) {
  std::mt19937 rng(4);
  const int64_t m = 7, n = 9, k = 5, batch = 3, pad = 2;
  for (bool ta : {false, true}) {
    for (bool tb : {false, true}) {
      const int64_t a_rows = ta ? k : m, a_cols = ta ? m : k, b_rows = tb ? n : k, b_cols = tb ? k : n;
      const int64_t lda = a_cols + pad, ldb = b_cols + pad, ldc = n + pad;
      const int64_t sa = a_rows * lda, sb = b_rows * ldb, sc = m * ldc;
      const auto a = randn(batch * sa, rng), bm = randn(batch * sb, rng), c0 = randn(batch * sc, rng);
      Tensor da = dev(a), db = dev(bm), dc = dev(c0);
      be().gemm(ta, tb, m, n, k, 0.5f, f(da), lda, f(db), ldb, 2.f, f(dc), ldc, batch, sa, sb, sc);
      std::vector<double> want(c0.begin(), c0.end());
      for (int64_t i = 0; i < batch; ++i) {
        for (int64_t r = 0; r < m; ++r) {
          for (int64_t c = 0; c < n; ++c) {
            double s = 0;
            for (int64_t t = 0; t < k; ++t) {
              const double av = ta ? a[i * sa + t * lda + r] : a[i * sa + r * lda + t];
              const double bv = tb ? bm[i * sb + c * ldb + t] : bm[i * sb + t * ldb + c];
              s += av * bv;
            }
            want[i * sc + r * ldc + c] = 0.5 * s + 2.0 * c0[i * sc + r * ldc + c];
          }
        }
      }
      test::expect_close(host(dc, batch * sc), want, 1e-5, "gemm");
    }
  }
}

MOEASR_OP_TEST_DEVICES(LinearOp);

}  // namespace
}  // namespace moeasr
