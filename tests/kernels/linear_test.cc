// cpu::linear for every weight type and kernel path against double-precision
// references of what each path must compute.
#include "kernels/cpu/linear.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/half.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/gemm_small.h"
#include "kernels/linear_cases.h"
#include "kernels/naive.h"

namespace moeasr {
namespace {

using cpu::LinearPath;
using test::from_bf16;
using test::linear_padded;
using test::Shape;
using test::to_bf16;

const Shape kShapes[] = {{1, 5, 3}, {2, 16, 4}, {3, 19, 7}, {4, 64, 8}, {5, 100, 13}, {17, 130, 9}, {48, 33, 20}, {70, 48, 5},
                         // int8 panels: n across several 16-output panels with a tail, k across
                         // several 64-byte chunks with a tail that is not a multiple of 4, and
                         // more rows than one 8-row register block.
                         {9, 203, 37}, {16, 128, 32}, {23, 66, 17}};

std::vector<LinearPath> paths() {
  std::vector<LinearPath> p = {LinearPath::kAuto, LinearPath::kLibrary};
  if (cpu::small_gemm_support().f32) p.push_back(LinearPath::kSmallRows);
  return p;
}

// The runner may say which kernels this CPU must get (scripts/cross_test.sh
// runs the kernel tests on several emulated ARM cores):
// MOEASR_EXPECT_KERNELS="f32,bf16,f16,i8,bf16_dot" lists every one that must be
// chosen, and those not listed must not be, so a detection bug cannot leave a
// path untested (or run an instruction the core lacks) unnoticed.
TEST(LinearKernel, RunTimeDetectionMatchesTheExpectedCore) {
  const char* env = std::getenv("MOEASR_EXPECT_KERNELS");
  if (!env) GTEST_SKIP() << "MOEASR_EXPECT_KERNELS not set";
  const std::string want = std::string(",") + env + ",";
  const cpu::SmallGemmSupport& s = cpu::small_gemm_support();
  auto listed = [&](const char* name) { return want.find(std::string(",") + name + ",") != std::string::npos; };
  EXPECT_EQ(s.f32, listed("f32"));
  EXPECT_EQ(s.bf16, listed("bf16"));
  EXPECT_EQ(s.i8, listed("i8"));
  EXPECT_EQ(s.bf16_dot, listed("bf16_dot"));
  EXPECT_EQ(s.f16, listed("f16"));
  std::printf("linear kernels: %s\n", cpu::linear_kernels_summary().c_str());
}

TEST(LinearKernel, Float32AllPaths) {
  std::mt19937 rng(1);
  for (const Shape& s : kShapes) {
    auto x = test::random_vector(s.m * s.k, rng), w = test::random_vector(s.n * s.k, rng), b = test::random_vector(s.n, rng);
    WeightMatrix wm{WeightType::kF32, s.n, s.k, w.data(), nullptr, nullptr};
    const std::vector<double> ref = test::naive_linear(x.data(), s.m, s.k, w.data(), b.data(), s.n);
    for (LinearPath p : paths()) {
      std::vector<float> y(s.m * (s.n + 3), -7.f);
      cpu::linear_with_path(x.data(), s.m, wm, b.data(), y.data(), s.n + 3, p);  // ldy > n
      for (int64_t i = 0; i < s.m; ++i) {
        for (int64_t j = 0; j < s.n; ++j) ASSERT_NEAR(y[i * (s.n + 3) + j], ref[i * s.n + j], 1e-4) << s.m << "x" << s.k << "x" << s.n;
        for (int64_t j = s.n; j < s.n + 3; ++j) ASSERT_EQ(y[i * (s.n + 3) + j], -7.f);  // padding untouched
      }
    }
  }
}

TEST(LinearKernel, Bfloat16WidensExactly) {
  std::mt19937 rng(2);
  for (const Shape& s : kShapes) {
    auto x = test::random_vector(s.m * s.k, rng), wf = test::random_vector(s.n * s.k, rng), b = test::random_vector(s.n, rng);
    std::vector<uint16_t> w(wf.size());
    std::vector<float> wide(wf.size());
    for (size_t i = 0; i < w.size(); ++i) {
      w[i] = to_bf16(wf[i]);
      wide[i] = from_bf16(w[i]);
    }
    WeightMatrix wm{WeightType::kBF16, s.n, s.k, w.data(), nullptr, nullptr};
    const std::vector<double> ref = test::naive_linear(x.data(), s.m, s.k, wide.data(), b.data(), s.n);
    for (LinearPath p : paths()) {
      if (p == LinearPath::kAuto && cpu::small_gemm_support().bf16_dot) continue;  // rounds x: next test
      std::vector<float> y(s.m * s.n);
      cpu::linear_with_path(x.data(), s.m, wm, b.data(), y.data(), s.n, p);
      EXPECT_LT(test::max_abs_diff(y.data(), ref), 1e-4) << s.m << "x" << s.k << "x" << s.n;
    }
  }
}

// IEEE half weights (kept as stored on the CPU): every path widens them
// exactly, subnormal halves included (a third of the weights are ~1e-5, below
// half's smallest normal 6.1e-5), so each equals the float32 reference on
// the widened values up to float32 accumulation.
TEST(LinearKernel, Float16WidensExactly) {
  std::mt19937 rng(3);
  for (const Shape& s : kShapes) {
    auto x = test::random_vector(s.m * s.k, rng), wf = test::random_vector(s.n * s.k, rng), b = test::random_vector(s.n, rng);
    std::vector<uint16_t> w(wf.size());
    std::vector<float> wide(wf.size());
    int subnormal = 0;
    for (size_t i = 0; i < w.size(); ++i) {
      w[i] = float_to_fp16(i % 3 == 0 ? wf[i] * 1e-5f : wf[i]);
      wide[i] = fp16_to_float(w[i]);
      subnormal += (w[i] & 0x7C00) == 0 && (w[i] & 0x3FF) != 0;
    }
    ASSERT_GT(subnormal, 0);
    WeightMatrix wm{WeightType::kF16, s.n, s.k, w.data(), nullptr, nullptr};
    const std::vector<double> ref = test::naive_linear(x.data(), s.m, s.k, wide.data(), b.data(), s.n);
    std::vector<LinearPath> f16_paths = {LinearPath::kAuto, LinearPath::kLibrary};
    if (cpu::small_gemm_support().f16) f16_paths.push_back(LinearPath::kSmallRows);
    for (LinearPath p : f16_paths) {
      std::vector<float> y(s.m * s.n);
      cpu::linear_with_path(x.data(), s.m, wm, b.data(), y.data(), s.n, p);
      EXPECT_LT(test::max_abs_diff(y.data(), ref), 1e-4) << s.m << "x" << s.k << "x" << s.n << " path "
                                                          << static_cast<int>(p);
    }
  }
}

// With AVX512_BF16 the activations travel as pairs of bf16 (hi + lo): the
// result must be the exact sum of both halves' products with the bf16
// weights (up to float32 accumulation), and so within float32 rounding of
// the widening path's; the low half must be used (hi alone is measurably off).
TEST(LinearKernel, Bfloat16PairsKeepTheActivationsPrecision) {
  if (!cpu::small_gemm_support().bf16_dot) GTEST_SKIP() << "this CPU has no AVX512_BF16";
  std::mt19937 rng(4);
  const Shape shapes[] = {{1, 5, 3},   {2, 16, 4},   {3, 19, 7},   {4, 64, 8},   {5, 100, 13},
                          {17, 130, 9}, {48, 33, 20}, {70, 48, 5},  {9, 203, 37}, {16, 128, 32},
                          {23, 66, 17}, {6, 33, 16},  {1, 704, 50}, {300, 40, 18}};
  for (const Shape& s : shapes) {
    const test::Bf16Case c(s, rng);
    const std::vector<double> ref = test::naive_linear(c.x_pair.data(), s.m, s.k, c.w_wide.data(), c.b.data(), s.n);
    const std::vector<double> widened = test::naive_linear(c.x.data(), s.m, s.k, c.w_wide.data(), c.b.data(), s.n);
    const std::vector<double> hi_only = test::naive_linear(c.x_hi.data(), s.m, s.k, c.w_wide.data(), c.b.data(), s.n);
    for (LinearPath p : {LinearPath::kAuto, LinearPath::kBf16Pairs}) {
      const std::vector<float> y = linear_padded(c.x.data(), s, c.wm, c.b.data(), p, 3);
      const std::string shape = test::shape_name(s);
      // |x - hi - lo| <= 2^-18 |x|: over k random terms of size ~1/3 that is
      // ~1e-6 sqrt(k) apart, with float32 accumulation on top of it.
      const double tolerance = 2e-5 * std::sqrt(static_cast<double>(s.k));
      const double error = test::max_abs_diff(y.data(), widened);
      EXPECT_LT(test::max_abs_diff(y.data(), ref), tolerance) << shape;
      EXPECT_LT(error, tolerance) << shape;
      double hi_only_error = 0;
      for (size_t i = 0; i < widened.size(); ++i) hi_only_error = std::max(hi_only_error, std::fabs(hi_only[i] - widened[i]));
      if (s.k >= 64) {
        EXPECT_GT(hi_only_error, 10 * error) << shape << ": no better than hi alone";
      }
    }
  }
}

// linear_activation = linear, then activation over the result, for every
// weight type and activation; where a kernel fuses it (few-row int8 and bf16
// pairs, ReLU and swish) the same vector math runs before the store, so the
// two agree to the bit.
TEST(LinearKernel, FusedActivationEqualsLinearThenActivation) {
  std::mt19937 rng(5);
  const Shape shapes[] = {{1, 64, 40}, {3, 100, 17}, {16, 128, 32}, {23, 66, 19}, {40, 48, 21}, {150, 40, 9}};
  for (const Shape& s : shapes) {
    auto x = test::random_vector(s.m * s.k, rng), wf = test::random_vector(s.n * s.k, rng), b = test::random_vector(s.n, rng);
    std::vector<uint16_t> w16(wf.size());
    for (size_t i = 0; i < wf.size(); ++i) w16[i] = to_bf16(wf[i]);
    std::vector<int8_t> w8(wf.size());
    std::vector<float> scale(s.n);
    std::vector<int32_t> row_sum(s.n, 0);
    for (int64_t j = 0; j < s.n; ++j) {
      scale[j] = 1.f / 127.f;
      for (int64_t c = 0; c < s.k; ++c) {
        w8[j * s.k + c] = static_cast<int8_t>(std::lrintf(wf[j * s.k + c] * 127.f));
        row_sum[j] += w8[j * s.k + c];
      }
    }
    const WeightMatrix matrices[] = {{WeightType::kF32, s.n, s.k, wf.data(), nullptr, nullptr},
                                          {WeightType::kBF16, s.n, s.k, w16.data(), nullptr, nullptr},
                                          {WeightType::kI8, s.n, s.k, w8.data(), scale.data(), row_sum.data()}};
    for (const WeightMatrix& wm : matrices) {
      for (Activation act : {Activation::kSwish, Activation::kRelu, Activation::kGelu}) {
        const int64_t ldy = s.n + 2;
        std::vector<float> fused(s.m * ldy, -7.f), separate(s.m * ldy, -7.f);
        cpu::linear_activation(x.data(), s.m, wm, b.data(), act, fused.data(), ldy);
        cpu::linear(x.data(), s.m, wm, b.data(), separate.data(), ldy);
        cpu::activation_rows(separate.data(), s.m, s.n, ldy, act);
        EXPECT_EQ(fused, separate) << weight_type_name(wm.type) << " " << activation_name(act) << " " << s.m
                                   << "x" << s.k << "x" << s.n;
      }
    }
  }
}

TEST(LinearKernel, Int8MatchesQuantizedArithmetic) {
  std::mt19937 rng(3);
  std::vector<LinearPath> int8_paths = {LinearPath::kAuto, LinearPath::kLibrary};
  if (cpu::small_gemm_support().i8) int8_paths.push_back(LinearPath::kSmallRows);
  for (const Shape& s : kShapes) {
    const test::Int8Case c(s, rng);
    const std::vector<double> ref = c.reference(s);
    const std::vector<double> exact = test::naive_linear(c.x.data(), s.m, s.k, c.wf.data(), c.b.data(), s.n);
    for (LinearPath p : int8_paths) {
      const std::vector<float> y = linear_padded(c.x.data(), s, c.wm, c.b.data(), p, 5);
      EXPECT_LT(test::max_abs_diff(y.data(), ref), 1e-4) << s.m << "x" << s.k << "x" << s.n;
      // And int8 is a fair approximation of float: error well under the output scale.
      EXPECT_LT(test::max_abs_diff(y.data(), exact), 0.05 * std::sqrt(static_cast<double>(s.k)));
    }
  }
}

}  // namespace
}  // namespace moeasr
