// Soft-MoA vs dense MoA: the cost of one adapter mixture per encoder chunk
// (part of moeasr-kernel-bench). A batch of `streams` chunks of `chunk`
// tokens each; Soft-MoA runs every adapter on `slots` slots per stream
// (one GEMM pair per adapter over all streams' slots), dense MoA runs every
// adapter on every token.
#include <benchmark/benchmark.h>
#include "core/parallel.h"

#include <random>
#include <vector>

#include "formats/random_model.h"
#include "nn/feed_forward.h"

namespace {

using moeasr::Activation;

// The runtime's adapter mixture (nn/soft_moe.h or nn/dense_moa.h) on random
// weights, on the CPU.
struct Adapters {
  Adapters(int64_t d, int64_t r, int experts, int slots, bool soft) : be(moeasr::Backend::open(moeasr::Device::cpu())) {
    moeasr::AdapterConfig c;
    c.type = soft ? moeasr::AdapterType::kSoftMoa : moeasr::AdapterType::kDenseMoa;
    c.dim = static_cast<int>(r);
    c.num_experts = experts;
    c.slots_per_expert = slots;
    std::vector<moeasr::ExpectedTensor> tensors;
    moeasr::append_adapter_tensors("adapter", d, c, tensors);
    weights = moeasr::random_weights(tensors, "moa bench", 3);
    layer = moeasr::make_adapter(moeasr::WeightReader(*weights, moeasr::PrecisionPolicy{}, *be), "adapter", d, c);
  }
  std::unique_ptr<moeasr::Backend> be;
  std::shared_ptr<const moeasr::SafeTensors> weights;
  std::unique_ptr<moeasr::FeedForward> layer;
};

// Args: streams, chunk, d, r, experts, slots (slots unused by dense)
void run(benchmark::State& state, bool soft) {
  moeasr::set_intra_op_threads(1);
  const int64_t streams = state.range(0), chunk = state.range(1), d = state.range(2), r = state.range(3);
  Adapters a(d, r, static_cast<int>(state.range(4)), static_cast<int>(state.range(5)), soft);
  const int64_t tokens = streams * chunk;
  std::mt19937 rng(4);
  std::normal_distribution<float> n(0, 1);
  moeasr::Tensor x({tokens, d}), y;
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = n(rng);
  moeasr::FfnBatch batch;  // one example per stream's chunk
  for (int64_t s = 0; s <= streams; ++s) batch.segments.push_back(s * chunk);
  moeasr::FfnScratch scratch;
  for (auto _ : state) {
    a.layer->forward(*a.be, x, y, batch, scratch);
    benchmark::DoNotOptimize(y.data<float>());
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
