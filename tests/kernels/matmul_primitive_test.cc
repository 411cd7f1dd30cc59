// LinearPath::kMatmulPrimitive (oneDNN's matmul primitive, matmul_primitive.h)
// against double-precision references, the existing int8 path to the bit,
// and kAuto's choice of it. Builds without oneDNN skip.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <thread>

#include "kernels/cpu/gemm_small.h"
#include "kernels/cpu/linear.h"
#include "kernels/cpu/matmul_primitive.h"
#include "kernels/linear_cases.h"
#include "kernels/naive.h"

#if MOEASR_HAVE_ONEDNN
#include <dnnl.h>
#endif

namespace moeasr {
namespace {

using cpu::LinearPath;

using test::Bf16Case;
using test::Int8Case;
using test::Shape;

// Odd k and n, row counts that are no multiple of oneDNN's blocks, k and n
// of the FFN, and few rows (the forced path takes any count).
const Shape kShapes[] = {{1, 5, 3},     {3, 19, 7},    {17, 130, 9},  {48, 33, 20},   {129, 64, 16},
                         {130, 704, 50}, {257, 203, 37}, {300, 40, 18}, {65, 2816, 24}, {200, 97, 131}};

// linear_with_path into rows n + 3 apart (linear_padded).
std::vector<float> run(const std::vector<float>& x, const Shape& s, const WeightMatrix& w, const float* bias,
                       LinearPath path) {
  return test::linear_padded(x.data(), s, w, bias, path, 3);
}

#if MOEASR_HAVE_ONEDNN

bool is_brgemm(const std::string& impl) { return impl.rfind("brg:", 0) == 0; }

// oneDNN's brgemm kernels need AVX-512 with BF16 (bf16) or VNNI (int8) in
// its effective ISA, which ONEDNN_MAX_CPU_ISA may cap (scripts/x86_isa_test.sh).
bool onednn_isa(dnnl_cpu_isa_t isa) { return (dnnl_get_effective_cpu_isa() & isa) == isa; }

// The activation pairs meet W in one GEMM of 2m rows: the result is the exact
// sum of both halves' products (up to float32 accumulation), so within
// float32 rounding of widening, like gemm_bf16.h's kernel.
TEST(MatmulPrimitive, Bfloat16KeepsTheActivationsPrecision) {
  if (!cpu::small_gemm_support().bf16_dot) GTEST_SKIP() << "this CPU has no AVX512_BF16 (no activation split)";
  std::mt19937 rng(11);
  for (const Shape& s : kShapes) {
    Bf16Case c(s, rng);
    const std::string impl = cpu::matmul_primitive_impl(2 * s.m, c.wm);
    std::printf("bf16 %s: %s\n", test::shape_name(s).c_str(), impl.c_str());
    // Otherwise the path falls back and this would test another kernel.
    if (onednn_isa(dnnl_cpu_isa_avx512_core_bf16)) {
      EXPECT_TRUE(is_brgemm(impl)) << test::shape_name(s) << ": oneDNN picks " << impl;
    }
    const std::vector<double> ref = test::naive_linear(c.x_pair.data(), s.m, s.k, c.w_wide.data(), c.b.data(), s.n);
    const std::vector<double> widened = test::naive_linear(c.x.data(), s.m, s.k, c.w_wide.data(), c.b.data(), s.n);
    const std::vector<float> y = run(c.x, s, c.wm, c.b.data(), LinearPath::kMatmulPrimitive);
    const double tolerance = 2e-5 * std::sqrt(static_cast<double>(s.k));
    EXPECT_LT(test::max_abs_diff(y.data(), ref), tolerance) << test::shape_name(s);
    EXPECT_LT(test::max_abs_diff(y.data(), widened), tolerance) << test::shape_name(s);
    // Without bias as well (the epilogue has two loops).
    const std::vector<double> ref_nb = test::naive_linear(c.x_pair.data(), s.m, s.k, c.w_wide.data(), nullptr, s.n);
    const std::vector<float> y_nb = run(c.x, s, c.wm, nullptr, LinearPath::kMatmulPrimitive);
    EXPECT_LT(test::max_abs_diff(y_nb.data(), ref_nb), tolerance) << test::shape_name(s) << " no bias";
  }
}

// Exact integer sums: equal to the int8 library path (gemm_u8s8s32 or the
// portable exact GEMM) to the bit, and to the quantized reference.
TEST(MatmulPrimitive, Int8IsExact) {
  std::mt19937 rng(12);
  for (const Shape& s : kShapes) {
    Int8Case c(s, rng);
    const std::string impl = cpu::matmul_primitive_impl(s.m, c.wm);
    std::printf("int8 %s: %s\n", test::shape_name(s).c_str(), impl.c_str());
    const std::vector<float> y = run(c.x, s, c.wm, c.b.data(), LinearPath::kMatmulPrimitive);
    const std::vector<float> library = run(c.x, s, c.wm, c.b.data(), LinearPath::kLibrary);
    EXPECT_EQ(y, library) << test::shape_name(s);
    EXPECT_LT(test::max_abs_diff(y.data(), c.reference(s)), 1e-4) << test::shape_name(s);
  }
}

// Where oneDNN has VNNI or AMX kernels the int8 shapes above run on them.
TEST(MatmulPrimitive, Int8TakesBrgemmWithVnni) {
  if (!onednn_isa(dnnl_cpu_isa_avx512_core_vnni)) GTEST_SKIP() << "oneDNN runs no AVX512_VNNI here";
  std::mt19937 rng(13);
  for (const Shape& s : kShapes) {
    Int8Case c(s, rng);
    const std::string impl = cpu::matmul_primitive_impl(s.m, c.wm);
    EXPECT_TRUE(is_brgemm(impl)) << test::shape_name(s) << ": oneDNN picks " << impl;
  }
}

// Streams call linear from several threads at once: each gets the same
// result as alone (one stream and scratchpad per thread, oneDNN's cache
// shared).
TEST(MatmulPrimitive, ConcurrentCallsAgree) {
  std::mt19937 rng(14);
  const Shape s{150, 96, 40};
  Bf16Case bf(s, rng);
  Int8Case i8(s, rng);
  const bool bf16 = cpu::small_gemm_support().bf16_dot;
  const std::vector<float> want_i8 = run(i8.x, s, i8.wm, i8.b.data(), LinearPath::kMatmulPrimitive);
  const std::vector<float> want_bf = bf16 ? run(bf.x, s, bf.wm, bf.b.data(), LinearPath::kMatmulPrimitive)
                                          : std::vector<float>();
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int r = 0; r < 20; ++r) {
        std::vector<float> y(s.m * s.n);
        cpu::linear_with_path(i8.x.data(), s.m, i8.wm, i8.b.data(), y.data(), s.n, LinearPath::kMatmulPrimitive);
        mismatches[t] += y != want_i8;
        if (!bf16) continue;
        cpu::linear_with_path(bf.x.data(), s.m, bf.wm, bf.b.data(), y.data(), s.n, LinearPath::kMatmulPrimitive);
        mismatches[t] += y != want_bf;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (int t = 0; t < 4; ++t) EXPECT_EQ(mismatches[t], 0) << "thread " << t;
}

// On an AMX CPU oneDNN picks AMX kernels for the FFN's shapes, and kAuto
// takes them for many rows.
TEST(MatmulPrimitive, AmxKernelsWhereTheCpuHasThem) {
  const WeightMatrix bf16{WeightType::kBF16, 2816, 704}, i8{WeightType::kI8, 2816, 704};
  const std::string impl_bf16 = cpu::matmul_primitive_impl(512, bf16), impl_i8 = cpu::matmul_primitive_impl(256, i8);
  std::printf("oneDNN matmul: bf16 %s, int8 %s; %s\n", impl_bf16.c_str(), impl_i8.c_str(),
              cpu::linear_kernels_summary().c_str());
  if (!cpu::matmul_impl_is_amx(impl_bf16) && !cpu::matmul_impl_is_amx(impl_i8)) {
    GTEST_SKIP() << "no AMX on this CPU (oneDNN picks " << impl_bf16 << " and " << impl_i8
                 << "): the AMX assertions are untested here";
  }
  EXPECT_TRUE(cpu::matmul_impl_is_amx(impl_bf16)) << impl_bf16;
  EXPECT_TRUE(cpu::matmul_impl_is_amx(impl_i8)) << impl_i8;
  std::mt19937 rng(15);
  const Shape s{256, 704, 64};
  Bf16Case c(s, rng);
  if (cpu::small_gemm_support().bf16_dot) {
    EXPECT_EQ(run(c.x, s, c.wm, c.b.data(), LinearPath::kAuto),
              run(c.x, s, c.wm, c.b.data(), LinearPath::kMatmulPrimitive));
  }
}

// kAuto's choice (measured in linear.cc on Zen 5): bf16 from 32 rows takes
// the primitive with any brgemm kernel, fewer rows the pair kernel (and
// without brgemm kernels the paths it took before: pairs up to 128 rows,
// widened tiles beyond); int8 takes it only with AMX kernels (with VNNI
// ones it only ties gemm_u8s8s32).
TEST(MatmulPrimitive, AutoTakesItWhereMeasured) {
  std::mt19937 rng(17);
  if (cpu::small_gemm_support().bf16_dot) {
    const bool brgemm = onednn_isa(dnnl_cpu_isa_avx512_core_bf16);
    for (const Shape& s : {Shape{31, 704, 64}, Shape{32, 704, 64}, Shape{200, 704, 64}, Shape{300, 97, 40}}) {
      Bf16Case c(s, rng);
      ASSERT_EQ(is_brgemm(cpu::matmul_primitive_impl(2 * s.m, c.wm)), brgemm) << test::shape_name(s);
      const std::vector<float> automatic = run(c.x, s, c.wm, c.b.data(), LinearPath::kAuto);
      const std::vector<float> primitive = run(c.x, s, c.wm, c.b.data(), LinearPath::kMatmulPrimitive);
      const std::vector<float> pairs = run(c.x, s, c.wm, c.b.data(), LinearPath::kBf16Pairs);
      const std::vector<float> widened = run(c.x, s, c.wm, c.b.data(), LinearPath::kLibrary);
      // The kernels sum in other orders: the comparisons below can tell them apart.
      if (brgemm) {
        ASSERT_NE(primitive, pairs) << test::shape_name(s);
      }
      ASSERT_NE(widened, pairs) << test::shape_name(s);
      const std::vector<float>& before = s.m <= 128 ? pairs : widened;
      EXPECT_EQ(automatic, brgemm && s.m >= 32 ? primitive : before) << test::shape_name(s);
    }
  }
  const std::string impl_i8 = cpu::matmul_primitive_impl(256, WeightMatrix{WeightType::kI8, 2816, 704});
  const std::string summary = cpu::linear_kernels_summary();
  const std::string listed = "int8 many rows: oneDNN matmul " + impl_i8;
  ASSERT_NE(summary.find(listed), std::string::npos) << summary;
  EXPECT_EQ(summary.find(listed + " (not taken)") == std::string::npos, cpu::matmul_impl_is_amx(impl_i8)) << summary;
}

#endif  // MOEASR_HAVE_ONEDNN

// Without oneDNN (ARM builds) the path is kLibrary's for int8 (and float32).
TEST(MatmulPrimitive, WithoutOneDnnTheForcedPathIsTheLibraryOne) {
  if (MOEASR_HAVE_ONEDNN) GTEST_SKIP() << "built with oneDNN";
  std::mt19937 rng(16);
  const Shape s{40, 64, 24};
  Int8Case c(s, rng);
  EXPECT_EQ(run(c.x, s, c.wm, c.b.data(), LinearPath::kMatmulPrimitive),
            run(c.x, s, c.wm, c.b.data(), LinearPath::kLibrary));
}

}  // namespace
}  // namespace moeasr
