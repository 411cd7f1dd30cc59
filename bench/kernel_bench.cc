// Kernel benchmarks (Google Benchmark): the MoE FFN through the expert-grouped
// path vs the per-expert loop vs a dense FFN of the same active size, at the
// shapes of the paper models and of WeNet's aishell model; and the sgemm peak.
//   moeasr-kernel-bench [--benchmark_filter=...] [--benchmark_format=json]
#include <benchmark/benchmark.h>
#include "core/parallel.h"

#include <algorithm>
#include <random>
#include <vector>

#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/gemm_small.h"
#include "kernels/cpu/linear.h"
#include "kernels/cpu/matmul_primitive.h"
#include "kernels/cpu/moe.h"

namespace {

using moeasr::Activation;
using moeasr::ExpertWeights;
using moeasr::MoeView;
using moeasr::WeightMatrix;
using moeasr::WeightType;
namespace cpu = moeasr::cpu;

// Weights of an MoE layer (and of the dense FFN with the same active size).
struct Layer {
  Layer(int64_t d, int64_t hidden, int experts, int k) : d(d), hidden(hidden) {
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> u(-0.05f, 0.05f);
    auto rand = [&](size_t n) {
      std::vector<float> v(n);
      for (float& x : v) x = u(rng);
      return v;
    };
    gate = rand(experts * d);
    for (int e = 0; e < experts; ++e) {
      w1.push_back(rand(hidden * d));
      b1.push_back(rand(hidden));
      w2.push_back(rand(d * hidden));
      b2.push_back(rand(d));
    }
    for (int e = 0; e < experts; ++e) {
      weights.push_back({WeightMatrix{WeightType::kF32, hidden, d, w1[e].data(), nullptr, nullptr}, b1[e].data(),
                         WeightMatrix{WeightType::kF32, d, hidden, w2[e].data(), nullptr, nullptr}, b2[e].data()});
    }
    view = {d, hidden, experts, k, Activation::kSwish, gate.data(), weights.data()};
    dense_w1 = rand(k * hidden * d);  // the active size of top-k experts
    dense_b1 = rand(k * hidden);
    dense_w2 = rand(d * k * hidden);
    dense_b2 = rand(d);
  }
  int64_t d, hidden;
  std::vector<float> gate, dense_w1, dense_b1, dense_w2, dense_b2;
  std::vector<std::vector<float>> w1, b1, w2, b2;
  std::vector<ExpertWeights> weights;
  MoeView view;
};

// Args: tokens, d, hidden, experts, k
void run_moe(benchmark::State& state, bool grouped) {
  moeasr::set_intra_op_threads(1);
  const int64_t tokens = state.range(0), d = state.range(1), hidden = state.range(2);
  Layer layer(d, hidden, static_cast<int>(state.range(3)), static_cast<int>(state.range(4)));
  std::mt19937 rng(2);
  std::normal_distribution<float> n(0, 1);
  std::vector<float> x(tokens * d), y(tokens * d);
  for (float& v : x) v = n(rng);
  cpu::MoeWorkspace ws;
  for (auto _ : state) {
    if (grouped) {
      cpu::moe_ffn(x.data(), tokens, layer.view, y.data(), ws);
    } else {
      cpu::moe_ffn_per_expert_loop(x.data(), tokens, layer.view, y.data(), ws);
    }
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["tokens/s"] = benchmark::Counter(static_cast<double>(tokens), benchmark::Counter::kIsIterationInvariantRate);
}

void BM_MoeGrouped(benchmark::State& state) { run_moe(state, true); }
void BM_MoePerExpertLoop(benchmark::State& state) { run_moe(state, false); }

// A dense FFN with hidden size k * hidden: the same FLOPs per token as top-k MoE.
void BM_DenseSameActive(benchmark::State& state) {
  moeasr::set_intra_op_threads(1);
  const int64_t tokens = state.range(0), d = state.range(1), k = state.range(4);
  const int64_t hidden = k * state.range(2);
  Layer layer(d, state.range(2), 1, static_cast<int>(k));
  std::vector<float> x(tokens * d, 0.1f), h(tokens * hidden), y(tokens * d);
  for (auto _ : state) {
    cpu::linear(x.data(), tokens, d, layer.dense_w1.data(), layer.dense_b1.data(), hidden, h.data(), hidden);
    cpu::activation(h.data(), tokens * hidden, Activation::kSwish);
    cpu::linear(h.data(), tokens, hidden, layer.dense_w2.data(), layer.dense_b2.data(), d, y.data(), d);
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["tokens/s"] = benchmark::Counter(static_cast<double>(tokens), benchmark::Counter::kIsIterationInvariantRate);
}

void moe_shapes(benchmark::internal::Benchmark* b) {
  for (auto [d, hidden] : {std::pair<int64_t, int64_t>{704, 2816}, {256, 2048}}) {
    for (int64_t experts : {8, 16}) {
      for (int64_t k : {1, 2}) {
        for (int64_t tokens : {16, 64, 256, 1024}) b->Args({tokens, d, hidden, experts, k});
      }
    }
  }
  b->ArgNames({"tokens", "d", "hidden", "experts", "k"})->Unit(benchmark::kMicrosecond);
}

BENCHMARK(BM_MoeGrouped)->Apply(moe_shapes);
BENCHMARK(BM_MoePerExpertLoop)->Apply(moe_shapes);
BENCHMARK(BM_DenseSameActive)->Apply(moe_shapes);

// The compute ceiling: a large sgemm, GFLOP/s as a counter.
void BM_SgemmPeak(benchmark::State& state) {
  moeasr::set_intra_op_threads(static_cast<int>(state.range(1)));
  const int64_t n = state.range(0);
  std::vector<float> a(n * n, 0.5f), b(n * n, 0.25f), c(n * n);
  for (auto _ : state) {
    cpu::sgemm(false, true, n, n, n, 1.f, a.data(), n, b.data(), n, 0.f, c.data(), n);
    benchmark::DoNotOptimize(c.data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * n * n * n * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_SgemmPeak)->Args({2048, 1})->Args({2048, 2})->ArgNames({"n", "threads"})->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();

namespace {

// One linear layer y = x W^T: the weight-streaming small-row kernels vs
// the library GEMM (oneDNN, or Eigen in a build without it), per weight
// type. Args: rows, k, n, type (0 f32, 1 bf16, 2 int8, 3 f16), path (0 small,
// 1 library, 2 bf16 pairs).
void BM_Linear(benchmark::State& state) {
  moeasr::set_intra_op_threads(1);
  const int64_t m = state.range(0), k = state.range(1), n = state.range(2);
  const auto type = static_cast<WeightType>(state.range(3));
  // Enough matrices (128 MB, beyond the last-level cache) that the weights
  // come from memory, as in a model.
  const int64_t bytes = WeightMatrix{type, n, k}.bytes();
  const int kCopies = static_cast<int>(std::max<int64_t>(2, (int64_t{128} << 20) / bytes));
  std::vector<std::vector<float>> f32(kCopies, std::vector<float>(n * k, 0.01f));
  std::vector<std::vector<uint16_t>> bf16(kCopies, std::vector<uint16_t>(n * k, 0x3C23));
  std::vector<std::vector<int8_t>> i8(kCopies, std::vector<int8_t>(n * k, 3));
  std::vector<float> scale(n, 0.01f);
  std::vector<int32_t> row_sum(n, static_cast<int32_t>(3 * k));
  std::vector<float> x(m * k, 0.5f), y(m * n);
  std::vector<WeightMatrix> w(kCopies);
  for (int c = 0; c < kCopies; ++c) {
    w[c].type = type;
    w[c].n = n;
    w[c].k = k;
    // The 16-bit copies hold 0x3C23: bfloat16 0.0099, IEEE half 1.03.
    w[c].data = type == WeightType::kF32                               ? static_cast<const void*>(f32[c].data())
                : type == WeightType::kBF16 || type == WeightType::kF16 ? static_cast<const void*>(bf16[c].data())
                                                                        : static_cast<const void*>(i8[c].data());
    w[c].scale = scale.data();
    w[c].row_sum = row_sum.data();
  }
  // path 0: the weight-streaming kernels, 1: oneDNN (sgemm / gemm_u8s8s32),
  // 2: bf16 x bf16 products (gemm_bf16.h), 3: oneDNN's matmul primitive
  // (matmul_primitive.h; bf16 and int8 weights).
  const cpu::LinearPath paths[] = {cpu::LinearPath::kSmallRows, cpu::LinearPath::kLibrary, cpu::LinearPath::kBf16Pairs,
                                   cpu::LinearPath::kMatmulPrimitive};
  const cpu::LinearPath path = paths[state.range(4)];
  if (path == cpu::LinearPath::kBf16Pairs && (type != WeightType::kBF16 || !cpu::small_gemm_support().bf16_dot)) {
    state.SkipWithError("path 2 is for bf16 weights on a CPU with AVX512_BF16");
    return;
  }
  if (path == cpu::LinearPath::kMatmulPrimitive && type != WeightType::kBF16 && type != WeightType::kI8) {
    state.SkipWithError("path 3 is for bf16 and int8 weights");
    return;
  }
  int c = 0;
  for (auto _ : state) {
    cpu::linear_with_path(x.data(), m, w[c], nullptr, y.data(), n, path);
    c = (c + 1) % kCopies;
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2e-9 * m * n * k, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["weight GB/s"] = benchmark::Counter(1e-9 * w[0].bytes(), benchmark::Counter::kIsIterationInvariantRate);
}
// The FFN's two shapes: d -> hidden (k 704, n 2816) and hidden -> d (k 2816, n 704).
BENCHMARK(BM_Linear)
    ->ArgsProduct({{1, 4, 16, 32, 64, 128, 256, 512, 1024}, {704}, {2816}, {0, 1, 2, 3}, {0, 1, 2, 3}})
    ->ArgsProduct({{1, 4, 16, 32, 64, 128, 256, 512, 1024}, {2816}, {704}, {0, 1, 2, 3}, {0, 1, 2, 3}})
    ->ArgNames({"rows", "k", "n", "type", "path"})
    ->Unit(benchmark::kMicrosecond);

#if MOEASR_HAVE_ONEDNN
// What every matmul-primitive call pays before its GEMM to describe the
// problem (a primitive_desc: oneDNN does not cache those; the primitive
// itself then comes from its cache, ~0.5-1 us more, JIT only the first time).
void BM_MatmulPrimitiveLookup(benchmark::State& state) {
  moeasr::set_intra_op_threads(1);
  const auto type = static_cast<WeightType>(state.range(1));
  const WeightMatrix w{type, 2816, 704};
  const int64_t m = state.range(0);
  const std::string impl = cpu::matmul_primitive_impl(m, w);
  for (auto _ : state) benchmark::DoNotOptimize(cpu::matmul_primitive_impl(m, w));
  state.SetLabel(impl);
}
BENCHMARK(BM_MatmulPrimitiveLookup)->ArgsProduct({{64, 512}, {1, 2}})->ArgNames({"rows", "type"});
#endif

}  // namespace
