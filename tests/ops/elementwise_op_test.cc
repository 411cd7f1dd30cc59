// The element-wise, row-wise and index-driven ops of the Backend table on
// every test device, against host references (float32; tolerance 1e-5
// relative / absolute below 1 unless stated: the same formulas evaluated by
// another libm).
#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/norm.h"
#include "kernels/cpu/rows.h"
#include "kernels/cpu/softmax.h"
#include "nn/positional_encoding.h"
#include "ops/op_test_util.h"

namespace moeasr {
namespace {

using test::randn;

class ElementwiseOp : public test::OpTest {};

TEST_P(ElementwiseOp, AddScaledScaleMulAndAddRowScaled) {
  std::mt19937 rng(10);
  for (int64_t n : {1, 1000, 70001}) {
    auto y = randn(n, rng), x = randn(n, rng);
    Tensor dy = dev(y), dx = dev(x);
    be().add_scaled(f(dy), f(dx), 0.5f, n);
    cpu::add_scaled(y.data(), x.data(), 0.5f, n);
    test::expect_close(host(dy, n), y, 1e-6, "add_scaled");
    be().scale(f(dy), -3.f, n);
    cpu::scale(y.data(), y.data(), -3.f, n);
    test::expect_close(host(dy, n), y, 1e-6, "scale");
    be().mul(f(dy), f(dx), n);
    for (int64_t i = 0; i < n; ++i) y[i] *= x[i];
    test::expect_close(host(dy, n), y, 1e-6, "mul");
  }
  // y[r] += s[r * stride] x[r]: column 2 of a [rows, 3] weight table.
  const int64_t rows = 9, d = 17;
  auto y = randn(rows * d, rng), x = randn(rows * d, rng), s = randn(rows * 3, rng);
  Tensor dy = dev(y), dx = dev(x), ds = dev(s);
  be().add_row_scaled(f(dy), f(dx), rows, d, f(ds) + 2, 3);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < d; ++c) y[r * d + c] += s[r * 3 + 2] * x[r * d + c];
  }
  test::expect_close(host(dy, rows * d), y, 1e-6, "add_row_scaled");
}

TEST_P(ElementwiseOp, EveryActivationMatchesTheCpu) {
  std::mt19937 rng(11);
  const int64_t n = 5000;
  auto x = randn(n, rng, 3.f);
  x[0] = 0.f;
  x[1] = -0.f;
  x[2] = 30.f;
  x[3] = -30.f;
  for (Activation act : {Activation::kRelu, Activation::kSwish, Activation::kGelu, Activation::kTanh,
                         Activation::kSelu, Activation::kHardtanh}) {
    auto want = x;
    cpu::activation(want.data(), n, act);
    Tensor dx = dev(x);
    be().activation(f(dx), n, act);
    test::expect_close(host(dx, n), want, 1e-5, activation_name(act));
  }
}

TEST_P(ElementwiseOp, Glu) {
  std::mt19937 rng(12);
  const int64_t rows = 33, c = 70;
  const auto x = randn(rows * 2 * c, rng, 2.f);
  std::vector<double> want(rows * c);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t j = 0; j < c; ++j) want[r * c + j] = x[r * 2 * c + j] / (1.0 + std::exp(-double(x[r * 2 * c + c + j])));
  }
  Tensor dx = dev(x), dy = dev_zeros(rows * c);
  be().glu(f(dx), rows, c, f(dy));
  test::expect_close(host(dy, rows * c), want, 1e-5, "glu");
}

TEST_P(ElementwiseOp, LayerNormInPlaceAndOutOfPlace) {
  std::mt19937 rng(13);
  for (int64_t d : {1, 80, 256, 704, 1500}) {
    const int64_t rows = 19;
    auto x = randn(rows * d, rng);
    for (int64_t i = 0; i < rows * d; ++i) x[i] += 50.f * static_cast<float>(i / d % 3);  // large row means
    const auto g = randn(d, rng), b = randn(d, rng);
    std::vector<double> want(rows * d);
    for (int64_t r = 0; r < rows; ++r) {
      double mean = 0, var = 0;
      for (int64_t c = 0; c < d; ++c) mean += x[r * d + c];
      mean /= d;
      for (int64_t c = 0; c < d; ++c) var += (x[r * d + c] - mean) * (x[r * d + c] - mean);
      var /= d;
      for (int64_t c = 0; c < d; ++c) want[r * d + c] = (x[r * d + c] - mean) / std::sqrt(var + 1e-5) * g[c] + b[c];
    }
    Tensor dx = dev(x), dg = dev(g), db = dev(b), dy = dev_zeros(rows * d);
    be().layer_norm(f(dx), rows, d, f(dg), f(db), 1e-5f, f(dy));
    test::expect_close(host(dy, rows * d), want, 1e-4, "layer_norm");
    be().layer_norm(f(dx), rows, d, f(dg), f(db), 1e-5f, f(dx));
    test::expect_close(host(dx, rows * d), want, 1e-4, "layer_norm in place");
  }
}

TEST_P(ElementwiseOp, SoftmaxAndLogSoftmaxRows) {
  std::mt19937 rng(14);
  for (int64_t cols : {1, 31, 5000}) {
    const int64_t rows = 7;
    auto x = randn(rows * cols, rng, 4.f);
    x[0] = 80.f;  // a large logit: exact only when the max is subtracted first
    std::vector<double> soft(rows * cols), log_soft(rows * cols);
    for (int64_t r = 0; r < rows; ++r) {
      double top = -INFINITY, sum = 0;
      for (int64_t c = 0; c < cols; ++c) top = std::max(top, double(x[r * cols + c]));
      for (int64_t c = 0; c < cols; ++c) sum += std::exp(x[r * cols + c] - top);
      for (int64_t c = 0; c < cols; ++c) {
        soft[r * cols + c] = std::exp(x[r * cols + c] - top) / sum;
        log_soft[r * cols + c] = x[r * cols + c] - top - std::log(sum);
      }
    }
    Tensor ds = dev(x), dl = dev(x);
    be().softmax_rows(f(ds), rows, cols);
    be().log_softmax_rows(f(dl), rows, cols);
    test::expect_close(host(ds, rows * cols), soft, 1e-5, "softmax_rows");
    test::expect_close(host(dl, rows * cols), log_soft, 1e-5, "log_softmax_rows");
  }
}

TEST_P(ElementwiseOp, SoftmaxSegmentsNormalizeEachSegmentsColumns) {
  std::mt19937 rng(15);
  const int64_t cols = 6;
  const std::vector<int64_t> offsets = {0, 5, 5, 6, 13};  // an empty segment and one of a single row
  const int64_t rows = offsets.back();
  auto x = randn(rows * cols, rng, 3.f);
  for (int64_t r = 6; r < 13; ++r) x[r * cols + 4] = -INFINITY;  // a fully masked column: all 0
  x[7 * cols + 1] = -INFINITY;                                   // one masked row: weight 0
  for (float temperature : {1.f, 0.25f}) {
    std::vector<double> want(rows * cols);
    for (size_t s = 0; s + 1 < offsets.size(); ++s) {
      for (int64_t j = 0; j < cols; ++j) {
        double top = -INFINITY, sum = 0;
        for (int64_t r = offsets[s]; r < offsets[s + 1]; ++r) top = std::max(top, double(x[r * cols + j]));
        for (int64_t r = offsets[s]; r < offsets[s + 1]; ++r) {
          want[r * cols + j] = top == -INFINITY ? 0.0 : std::exp((x[r * cols + j] - top) / temperature);
          sum += want[r * cols + j];
        }
        for (int64_t r = offsets[s]; r < offsets[s + 1] && sum > 0; ++r) want[r * cols + j] /= sum;
      }
    }
    Tensor dx = dev(x);
    be().softmax_segments(f(dx), cols, offsets, temperature);
    test::expect_close(host(dx, rows * cols), want, 1e-5, "softmax_segments");
  }
}

TEST_P(ElementwiseOp, CmvnChannelAffineAndL2Normalize) {
  std::mt19937 rng(16);
  const int64_t rows = 100, c = 80;
  const auto x = randn(rows * c, rng, 5.f);
  const auto a = randn(c, rng), b = randn(c, rng);
  std::vector<double> cmvn(rows * c), affine(rows * c), l2(rows * c);
  for (int64_t r = 0; r < rows; ++r) {
    double norm = 0;
    for (int64_t j = 0; j < c; ++j) {
      cmvn[r * c + j] = (double(x[r * c + j]) - a[j]) * b[j];
      affine[r * c + j] = double(x[r * c + j]) * a[j] + b[j];
      norm += double(x[r * c + j]) * x[r * c + j];
    }
    for (int64_t j = 0; j < c; ++j) l2[r * c + j] = x[r * c + j] / std::sqrt(norm);
  }
  Tensor dx = dev(x), da = dev(a), db = dev(b), dy = dev_zeros(rows * c);
  be().channel_affine(f(dx), rows, c, f(da), f(db), f(dy));
  test::expect_close(host(dy, rows * c), affine, 1e-5, "channel_affine");
  be().l2_normalize_rows(f(dx), rows, c, f(dy));
  test::expect_close(host(dy, rows * c), l2, 1e-6, "l2_normalize_rows");
  be().cmvn(f(dx), rows, c, f(da), f(db));
  test::expect_close(host(dx, rows * c), cmvn, 1e-5, "cmvn");
  // A zero row stays zero (F.normalize's eps).
  Tensor dz = dev_zeros(c);
  be().l2_normalize_rows(f(dz), 1, c, f(dz));
  EXPECT_EQ(host(dz, c), std::vector<float>(c, 0.f));
}

TEST_P(ElementwiseOp, EmbeddingGatherAndScatter) {
  std::mt19937 rng(17);
  const int64_t vocab = 50, d = 24;
  const auto table = randn(vocab * d, rng);
  const std::vector<int32_t> ids = {3, 0, 49, 3, 17};
  const int64_t n = static_cast<int64_t>(ids.size());
  Tensor dt = dev(table), dout = dev_zeros(n * d);
  be().embedding(f(dt), d, ids, 2.5f, f(dout));
  std::vector<float> want(n * d);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t c = 0; c < d; ++c) want[i * d + c] = table[ids[i] * d + c] * 2.5f;
  }
  EXPECT_EQ(host(dout, n * d), want);

  // Rows of a table with a leading dimension of 50, by (row, column) pairs.
  const std::vector<int64_t> rows = {0, 5, 2, 2, 4, 1};
  const std::vector<int32_t> cols = {0, 39, 5, 5, 12, 49};
  Tensor dg = dev_zeros(6);
  be().gather_elements(f(dt), 50, rows, cols, f(dg));
  const auto got = host(dg, 6);
  for (size_t i = 0; i < rows.size(); ++i) EXPECT_EQ(got[i], table[rows[i] * 50 + cols[i]]) << i;

  // gather_rows fills absent rows (-1), scatter_rows skips them.
  const std::vector<int32_t> which = {7, -1, 0, 49, -1};
  Tensor dr = dev_zeros(5 * d);
  be().gather_rows(f(dt), d, which, -INFINITY, f(dr));
  const auto gathered = host(dr, 5 * d);
  for (size_t i = 0; i < which.size(); ++i) {
    for (int64_t c = 0; c < d; ++c) {
      EXPECT_EQ(gathered[i * d + c], which[i] >= 0 ? table[which[i] * d + c] : -INFINITY) << i << "," << c;
    }
  }
  Tensor ds = dev(std::vector<float>(vocab * d, 1.f));
  be().scatter_rows(f(dr), d, which, f(ds));
  auto scattered = host(ds, vocab * d);
  std::vector<float> expected(vocab * d, 1.f);
  for (size_t i = 0; i < which.size(); ++i) {
    if (which[i] >= 0) std::copy(table.begin() + which[i] * d, table.begin() + (which[i] + 1) * d, expected.begin() + which[i] * d);
  }
  EXPECT_EQ(scattered, expected);
}

TEST_P(ElementwiseOp, CopyRowsRunsEveryJob) {
  std::mt19937 rng(18);
  const int64_t width = 13;
  const auto src = randn(100 * width, rng);
  Tensor ds = dev(src), dd = dev(std::vector<float>(100 * width, -1.f));
  float* d = f(dd);
  const float* s = f(ds);
  // Job 0: rows 0..9 -> 50..59; job 1: rows 20..22 -> 0..2; job 2: nothing; job 3: row 99 -> 99.
  be().copy_rows({{d + 50 * width, s, 10}, {d, s + 20 * width, 3}, {d + 70 * width, s, 0},
                  {d + 99 * width, s + 99 * width, 1}}, width);
  std::vector<float> want(100 * width, -1.f);
  auto copy = [&](int64_t dst, int64_t from, int64_t rows) {
    std::copy(src.begin() + from * width, src.begin() + (from + rows) * width, want.begin() + dst * width);
  };
  copy(50, 0, 10);
  copy(0, 20, 3);
  copy(99, 99, 1);
  EXPECT_EQ(host(dd, 100 * width), want);
  be().copy_rows({}, width);  // no jobs: nothing launched
  be().synchronize();
}

TEST_P(ElementwiseOp, PositionEncodingRowsEqualTheHostFormula) {
  const int64_t d = 256;
  const PositionalEncoding pe(d, be());
  // Positions of three streams, one past WeNet's 5000-row table.
  const std::vector<std::pair<int64_t, int32_t>> spans = {{0, 16}, {1234, 3}, {7000, 40}};
  Tensor out = dev_zeros(59 * d);
  std::vector<PositionJob> jobs;
  int64_t row = 0;
  for (auto [first, count] : spans) {
    jobs.push_back({f(out) + row * d, first, count});
    row += count;
  }
  pe.rows(be(), jobs);
  const auto got = host(out, 59 * d);
  row = 0;
  for (auto [first, count] : spans) {
    std::vector<float> want(count * d);
    pe.host_rows(first, count, want.data());
    // sin / cos of the same float32 angle in double: equal but for the last ulp.
    test::expect_close(std::vector<float>(got.begin() + row * d, got.begin() + (row + count) * d), want, 1e-6,
                       "position encoding");
    row += count;
  }
}

MOEASR_OP_TEST_DEVICES(ElementwiseOp);

}  // namespace
}  // namespace moeasr
