#include <gtest/gtest.h>

#include <algorithm>

#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/norm.h"
#include "kernels/cpu/softmax.h"
#include "kernels/naive.h"

namespace moeasr {
namespace {

TEST(GemmKernel, LinearMatchesNaiveIncludingEmptyShapes) {
  std::mt19937 rng(9);
  for (auto [m, k, n] : {std::tuple<int64_t, int64_t, int64_t>{7, 13, 5}, {1, 64, 33}, {0, 8, 8}, {3, 0, 4}}) {
    auto x = test::random_vector(m * k, rng), w = test::random_vector(n * k, rng), b = test::random_vector(n, rng);
    std::vector<float> y(m * n, 123.f);
    cpu::linear(x.data(), m, k, w.data(), b.data(), n, y.data(), n);
    EXPECT_LT(test::max_abs_diff(y.data(), test::naive_linear(x.data(), m, k, w.data(), b.data(), n)), 1e-4)
        << m << "x" << k << "x" << n;
  }
}

TEST(NormKernel, LayerNormMatchesDefinition) {
  std::mt19937 rng(10);
  const int64_t rows = 3, cols = 17;
  auto x = test::random_vector(rows * cols, rng, 3.f), g = test::random_vector(cols, rng), b = test::random_vector(cols, rng);
  for (float& v : x) v += 100.f;  // a large mean must not hurt accuracy
  std::vector<float> y(x.size());
  cpu::layer_norm(x.data(), rows, cols, g.data(), b.data(), 1e-5f, y.data());
  std::vector<double> ref(x.size());
  for (int64_t r = 0; r < rows; ++r) {
    double mean = 0, var = 0;
    for (int64_t c = 0; c < cols; ++c) mean += x[r * cols + c];
    mean /= cols;
    for (int64_t c = 0; c < cols; ++c) var += (x[r * cols + c] - mean) * (x[r * cols + c] - mean);
    var /= cols;
    for (int64_t c = 0; c < cols; ++c) ref[r * cols + c] = (x[r * cols + c] - mean) / std::sqrt(var + 1e-5) * g[c] + b[c];
  }
  EXPECT_LT(test::max_abs_diff(y.data(), ref), 1e-4);
}

TEST(SoftmaxKernel, LogSoftmaxIsNormalizedAndShiftInvariant) {
  std::vector<float> a = {1.f, 2.f, 3.f, 1000.f, 1001.f, 1002.f};
  cpu::log_softmax_rows(a.data(), 2, 3, 3);
  for (int r = 0; r < 2; ++r) {
    double s = 0;
    for (int c = 0; c < 3; ++c) s += std::exp(a[r * 3 + c]);
    EXPECT_NEAR(s, 1.0, 1e-6);
  }
  EXPECT_NEAR(a[0], a[3], 1e-5);
  std::vector<float> p = {0.f, std::log(3.f)};
  cpu::softmax_rows(p.data(), 1, 2, 2);
  EXPECT_NEAR(p[1], 0.75f, 1e-6);
}

TEST(ElementwiseKernel, ActivationsAndGlu) {
  std::vector<float> x = {-2.f, 0.f, 3.f};
  cpu::activation(x.data(), 3, Activation::kSwish);
  EXPECT_NEAR(x[0], -2.0 / (1 + std::exp(2.0)), 1e-6);
  EXPECT_NEAR(x[2], 3.0 / (1 + std::exp(-3.0)), 1e-6);
  std::vector<float> g = {-1.f, 2.f, 0.f, 1.5f};  // one row: lin = [-1, 2], gate = [0, 1.5]
  std::vector<float> y(2);
  cpu::glu(g.data(), 1, 2, y.data());
  EXPECT_NEAR(y[0], -0.5, 1e-6);
  EXPECT_NEAR(y[1], 2.0 / (1 + std::exp(-1.5)), 1e-6);
  std::vector<float> r = {-1.f, 0.5f};
  cpu::activation(r.data(), 2, Activation::kRelu);
  EXPECT_EQ(r[0], 0.f);
  std::vector<float> ge = {1.f};
  cpu::activation(ge.data(), 1, Activation::kGelu);
  EXPECT_NEAR(ge[0], 0.5 * (1 + std::erf(1 / std::sqrt(2.0))), 1e-6);
}

// Swish and GLU over a sweep of magnitudes, every lane position and a tail:
// within 4 float ulps (relative 5e-7, or 1e-30 absolute near zero) of the
// double-precision formulas, whichever path (AVX-512 or Eigen) this CPU takes.
TEST(ElementwiseKernel, SwishAndGluAcrossTheRange) {
  std::vector<float> x;
  for (double v = -120; v <= 120; v += 0.173) x.push_back(static_cast<float>(v));
  for (float v : {0.f, -0.f, 1e-30f, -1e-30f, 1e-7f, 88.f, -88.f, 89.f, -89.f, 1e4f, -1e4f}) x.push_back(v);
  x.resize(x.size() / 16 * 16 + 7, 0.5f);  // a masked tail
  auto swish = [](double v) { return v / (1 + std::exp(-v)); };
  std::vector<float> y = x;
  cpu::activation(y.data(), static_cast<int64_t>(y.size()), Activation::kSwish);
  for (size_t i = 0; i < x.size(); ++i) {
    const double want = swish(x[i]);
    EXPECT_NEAR(y[i], want, std::max(5e-7 * std::fabs(want), 1e-30)) << "swish(" << x[i] << ")";
  }
  // GLU rows: [lin | gate] with gate = x, lin = 1 (so y = sigmoid(x)).
  const int64_t half = static_cast<int64_t>(x.size());
  std::vector<float> a(2 * half, 1.f), g(half);
  std::copy(x.begin(), x.end(), a.begin() + half);
  cpu::glu(a.data(), 1, half, g.data());
  for (int64_t i = 0; i < half; ++i) {
    const double want = 1 / (1 + std::exp(-static_cast<double>(x[i])));
    EXPECT_NEAR(g[i], want, std::max(5e-7 * want, 1e-30)) << "sigmoid(" << x[i] << ")";
  }
}

}  // namespace
}  // namespace moeasr
