// The element-wise and row-wise CUDA ops against kernels/cpu (float32,
// tolerance 1e-5 relative / absolute below 1 unless stated: these are the
// same formulas evaluated by CUDA's libm instead of glibc / Eigen).
#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/norm.h"
#include "kernels/cpu/softmax.h"

#include "cuda/cuda_test_util.h"

namespace moeasr {
namespace {

using test::CudaTest;

class CudaElementwise : public CudaTest {};

TEST_F(CudaElementwise, AddScaledAndScale) {
  std::mt19937 rng(10);
  for (int64_t n : {1, 1000, 70001}) {
    auto y = test::randn(n, rng), x = test::randn(n, rng);
    cuda::Buffer dy = to_device(y), dx = to_device(x);
    cuda::add_scaled(ctx(), dy.as<float>(), dx.as<float>(), 0.5f, n);
    cpu::add_scaled(y.data(), x.data(), 0.5f, n);
    test::expect_close(to_host<float>(dy, n), y, 1e-6, "add_scaled");
    cuda::scale(ctx(), dy.as<float>(), -3.f, n);
    cpu::scale(y.data(), y.data(), -3.f, n);
    test::expect_close(to_host<float>(dy, n), y, 1e-6, "scale");
  }
  cuda::add_scaled(ctx(), nullptr, nullptr, 1.f, 0);  // n = 0: nothing launched
  cuda::scale(ctx(), nullptr, 2.f, 0);
  ctx().synchronize();
}

TEST_F(CudaElementwise, EveryActivationMatchesCpu) {
  std::mt19937 rng(11);
  const int64_t n = 5000;
  auto x = test::randn(n, rng, 3.f);
  x[0] = 0.f;
  x[1] = -0.f;
  x[2] = 30.f;
  x[3] = -30.f;
  for (Activation act : {Activation::kRelu, Activation::kSwish, Activation::kGelu, Activation::kTanh,
                         Activation::kSelu, Activation::kHardtanh}) {
    auto want = x;
    cpu::activation(want.data(), n, act);
    cuda::Buffer dx = to_device(x);
    cuda::activation(ctx(), dx.as<float>(), n, act);
    test::expect_close(to_host<float>(dx, n), want, 1e-5, activation_name(act));
  }
}

TEST_F(CudaElementwise, Glu) {
  std::mt19937 rng(12);
  const int64_t rows = 33, c = 70;
  const auto x = test::randn(rows * 2 * c, rng, 2.f);
  std::vector<float> want(rows * c);
  cpu::glu(x.data(), rows, c, want.data());
  cuda::Buffer dx = to_device(x), dy(ctx(), sizeof(float) * rows * c);
  cuda::glu(ctx(), dx.as<float>(), rows, c, dy.as<float>());
  test::expect_close(to_host<float>(dy, rows * c), want, 1e-5, "glu");
}

TEST_F(CudaElementwise, LayerNormInPlaceAndOutOfPlace) {
  std::mt19937 rng(13);
  for (int64_t d : {1, 80, 256, 704, 1500}) {
    const int64_t rows = 19;
    auto x = test::randn(rows * d, rng);
    for (int64_t i = 0; i < rows * d; ++i) x[i] += 50.f * static_cast<float>(i / d % 3);  // large row means
    const auto g = test::randn(d, rng), b = test::randn(d, rng);
    std::vector<float> want(rows * d);
    cpu::layer_norm(x.data(), rows, d, g.data(), b.data(), 1e-5f, want.data());
    cuda::Buffer dx = to_device(x), dg = to_device(g), db = to_device(b), dy(ctx(), sizeof(float) * rows * d);
    cuda::layer_norm(ctx(), dx.as<float>(), rows, d, dg.as<float>(), db.as<float>(), 1e-5f, dy.as<float>());
    test::expect_close(to_host<float>(dy, rows * d), want, 1e-4, "layer_norm");
    cuda::layer_norm(ctx(), dx.as<float>(), rows, d, dg.as<float>(), db.as<float>(), 1e-5f, dx.as<float>());
    test::expect_close(to_host<float>(dx, rows * d), want, 1e-4, "layer_norm in place");
  }
}

TEST_F(CudaElementwise, LogSoftmaxRows) {
  std::mt19937 rng(14);
  for (int64_t cols : {1, 31, 5000}) {
    const int64_t rows = 7;
    auto x = test::randn(rows * cols, rng, 4.f);
    x[0] = 80.f;  // a large logit: exact only when the max is subtracted first
    cuda::Buffer dx = to_device(x);
    cuda::log_softmax_rows(ctx(), dx.as<float>(), rows, cols);
    cpu::log_softmax_rows(x.data(), rows, cols, cols);
    test::expect_close(to_host<float>(dx, rows * cols), x, 1e-5, "log_softmax_rows");
  }
}

TEST_F(CudaElementwise, Cmvn) {
  std::mt19937 rng(15);
  const int64_t rows = 100, f = 80;
  auto x = test::randn(rows * f, rng, 5.f);
  const auto mean = test::randn(f, rng), istd = test::randn(f, rng);
  cuda::Buffer dx = to_device(x), dm = to_device(mean), di = to_device(istd);
  cuda::cmvn(ctx(), dx.as<float>(), rows, f, dm.as<float>(), di.as<float>());
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < f; ++c) x[r * f + c] = (x[r * f + c] - mean[c]) * istd[c];
  }
  test::expect_close(to_host<float>(dx, rows * f), x, 1e-6, "cmvn");
}

TEST_F(CudaElementwise, EmbeddingAndGatherColumns) {
  std::mt19937 rng(16);
  const int64_t vocab = 50, d = 24;
  const auto table = test::randn(vocab * d, rng);
  const std::vector<int32_t> ids = {3, 0, 49, 3, 17};
  const int64_t n = static_cast<int64_t>(ids.size());
  cuda::Buffer dt = to_device(table), di = to_device(ids), dout(ctx(), sizeof(float) * n * d);
  cuda::embedding(ctx(), dt.as<float>(), di.as<int32_t>(), n, d, 2.5f, dout.as<float>());
  std::vector<float> want(n * d);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t c = 0; c < d; ++c) want[i * d + c] = table[ids[i] * d + c] * 2.5f;
  }
  EXPECT_EQ(to_host<float>(dout, n * d), want);

  // Rows of width 40 inside a leading dimension of 50.
  const int64_t rows = 6, ld = 50;
  const auto x = test::randn(rows * ld, rng);
  const std::vector<int32_t> cols = {0, 39, 5, 5, 12, 1};
  cuda::Buffer dx = to_device(x), dc = to_device(cols), dg(ctx(), sizeof(float) * rows);
  cuda::gather_columns(ctx(), dx.as<float>(), rows, ld, dc.as<int32_t>(), dg.as<float>());
  const auto got = to_host<float>(dg, rows);
  for (int64_t r = 0; r < rows; ++r) EXPECT_EQ(got[r], x[r * ld + cols[r]]) << r;
}

TEST_F(CudaElementwise, CopyRowsRunsEveryJob) {
  std::mt19937 rng(17);
  const int64_t width = 13;
  const auto src = test::randn(100 * width, rng);
  cuda::Buffer ds = to_device(src), dd = to_device(std::vector<float>(100 * width, -1.f));
  float* d = dd.as<float>();
  const float* s = ds.as<float>();
  // Job 0: rows 0..9 -> 50..59; job 1: rows 20..22 -> 0..2; job 2: nothing; job 3: row 99 -> 99.
  cuda::copy_rows(ctx(), {{d + 50 * width, s, 10}, {d, s + 20 * width, 3}, {d + 70 * width, s, 0},
                          {d + 99 * width, s + 99 * width, 1}}, width, ws_);
  std::vector<float> want(100 * width, -1.f);
  auto copy = [&](int64_t dst, int64_t from, int64_t rows) {
    std::copy(src.begin() + from * width, src.begin() + (from + rows) * width, want.begin() + dst * width);
  };
  copy(50, 0, 10);
  copy(0, 20, 3);
  copy(99, 99, 1);
  EXPECT_EQ(to_host<float>(dd, 100 * width), want);
  cuda::copy_rows(ctx(), {}, width, ws_);  // no jobs: nothing launched
  ctx().synchronize();
}

}  // namespace
}  // namespace moeasr
