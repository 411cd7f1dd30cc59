// Soft-MoA vs dense MoA: the cost of one adapter mixture per encoder chunk
// (part of moeasr-kernel-bench). A batch of `streams` chunks of `chunk`
// tokens each; Soft-MoA runs every adapter on `slots` slots per stream
// (one GEMM pair per adapter over all streams' slots), dense MoA runs every
// adapter on every token.
#include <benchmark/benchmark.h>
#include <omp.h>

#include <random>
#include <vector>

#include "kernels/cpu/dense_moa.h"
#include "kernels/cpu/soft_moe.h"

namespace {

using moeasr::Activation;
namespace cpu = moeasr::cpu;

struct Adapters {
  Adapters(int64_t d, int64_t r, int experts, int slots) {
    std::mt19937 rng(3);
    std::normal_distribution<float> n(0, 0.05f);
    auto rand = [&](size_t count) {
      std::vector<float> v(count);
      for (float& x : v) x = n(rng);
      return v;
    };
    router = rand(static_cast<size_t>(experts) * slots * d);
    for (int e = 0; e < experts; ++e) {
      w1.push_back(rand(r * d));
      b1.push_back(rand(r));
      w2.push_back(rand(d * r));
      b2.push_back(rand(d));
    }
    for (int e = 0; e < experts; ++e) {
      weights.push_back({cpu::WeightMatrix{cpu::WeightType::kF32, r, d, w1[e].data(), nullptr, nullptr}, b1[e].data(),
                         cpu::WeightMatrix{cpu::WeightType::kF32, d, r, w2[e].data(), nullptr, nullptr}, b2[e].data()});
    }
    soft = {d, r, experts, slots, Activation::kGelu, router.data(), false, 1.f, weights.data()};
    dense = {d, r, experts, Activation::kGelu, router.data(), weights.data()};
  }
  std::vector<float> router;
  std::vector<std::vector<float>> w1, b1, w2, b2;
  std::vector<cpu::ExpertWeights> weights;
  cpu::SoftMoeView soft;
  cpu::DenseMoaView dense;
};

// Args: streams, chunk, d, r, experts, slots (slots unused by dense)
void run(benchmark::State& state, bool soft) {
  omp_set_num_threads(1);
  const int64_t streams = state.range(0), chunk = state.range(1), d = state.range(2), r = state.range(3);
  Adapters a(d, r, static_cast<int>(state.range(4)), static_cast<int>(state.range(5)));
  const int64_t tokens = streams * chunk;
  std::mt19937 rng(4);
  std::normal_distribution<float> n(0, 1);
  std::vector<float> x(tokens * d), y(tokens * d);
  for (float& v : x) v = n(rng);
  std::vector<int64_t> offsets;
  for (int64_t s = 0; s <= streams; ++s) offsets.push_back(s * chunk);
  cpu::SoftMoeWorkspace soft_ws;
  cpu::DenseMoaWorkspace dense_ws;
  for (auto _ : state) {
    if (soft) {
      cpu::soft_moe(x.data(), offsets.data(), static_cast<int>(streams), a.soft, y.data(), soft_ws);
    } else {
      cpu::dense_moa(x.data(), tokens, a.dense, y.data(), dense_ws);
    }
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["chunks/s"] =
      benchmark::Counter(static_cast<double>(streams), benchmark::Counter::kIsIterationInvariantRate);
}

void BM_SoftMoa(benchmark::State& state) { run(state, true); }
void BM_DenseMoa(benchmark::State& state) { run(state, false); }

void moa_shapes(benchmark::internal::Benchmark* b) {
  // d 256 (WeNet's aishell/librispeech conformer), r 64, 8 adapters; chunks of 16 frames.
  for (int64_t slots : {1, 2}) {
    for (int64_t streams : {1, 8, 32}) b->Args({streams, 16, 256, 64, 8, slots});
  }
  b->ArgNames({"streams", "chunk", "d", "r", "experts", "slots"})->Unit(benchmark::kMicrosecond);
}

BENCHMARK(BM_SoftMoa)->Apply(moa_shapes);
BENCHMARK(BM_DenseMoa)->Apply(moa_shapes);

}  // namespace
