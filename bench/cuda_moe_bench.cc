// moeasr-cuda-moe-bench: one MoE FFN layer of the MoE-1B shape
// (configs/u2pp_conformer_moe_1b.yaml: d 704, hidden 2816, 8 experts, top-2,
// swish) on the GPU, at 16 tokens per stream (a 640 ms chunk after 4x
// subsampling) for 1, 16, 64 and 256 streams, with each MoeGemm mode:
//   grouped          moeasr's grouped GEMM kernel, sizes on the device
//   cublas_grouped   cublasGemmGroupedBatchedEx (one counts download per call)
//   per_expert_loop  one cuBLAS GEMM per non-empty expert (the baseline)
// Each case is timed with CUDA events over --iters calls after --warmup calls
// and printed as a markdown table. Without a CUDA device it says so and exits 0.
//   moeasr-cuda-moe-bench [--streams 1,16,64,256] [--iters 50] [--warmup 10] [--dtype f32|bf16]
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "kernels/cuda/check.h"
#include "kernels/cuda/device.h"
#include "kernels/cuda/ops.h"

namespace {

using namespace moeasr;

constexpr int64_t kD = 704, kHidden = 2816, kTokensPerStream = 16;
constexpr int kExperts = 8, kTopK = 2;

std::vector<int> parse_list(const char* s) {
  std::vector<int> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) out.push_back(std::atoi(item.c_str()));
  return out;
}

uint16_t to_bf16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  bits += 0x7FFFu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>(bits >> 16);
}

// Device copy of random values (bf16 bits when `bf16`).
cuda::Buffer random_device(cuda::Context& ctx, size_t n, float scale, bool bf16, std::mt19937& rng) {
  std::normal_distribution<float> dist(0.f, scale);
  if (bf16) {
    std::vector<uint16_t> v(n);
    for (auto& x : v) x = to_bf16(dist(rng));
    cuda::Buffer b(ctx, sizeof(uint16_t) * n);
    cuda::upload(ctx, b.data(), v.data(), sizeof(uint16_t) * n);
    return b;
  }
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  cuda::Buffer b(ctx, sizeof(float) * n);
  cuda::upload(ctx, b.data(), v.data(), sizeof(float) * n);
  return b;
}

struct Events {
  cudaEvent_t start = nullptr, stop = nullptr;
  Events() {
    MOEASR_CUDA_CHECK(cudaEventCreate(&start));
    MOEASR_CUDA_CHECK(cudaEventCreate(&stop));
  }
  ~Events() {
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
  }
};

int run(int argc, char** argv) {
  std::vector<int> streams = {1, 16, 64, 256};
  int iters = 50, warmup = 10;
  bool bf16 = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
    if (a == "--streams" && v) {
      streams = parse_list(v);
      ++i;
    } else if (a == "--iters" && v) {
      iters = std::max(1, std::atoi(v));
      ++i;
    } else if (a == "--warmup" && v) {
      warmup = std::max(0, std::atoi(v));
      ++i;
    } else if (a == "--dtype" && v) {
      bf16 = std::string(v) == "bf16";
      ++i;
    } else {
      std::fprintf(stderr, "usage: %s [--streams 1,16,64,256] [--iters N] [--warmup N] [--dtype f32|bf16]\n", argv[0]);
      return 2;
    }
  }
  if (cuda::device_count() == 0) {
    std::printf("no CUDA device: moeasr-cuda-moe-bench needs one (nothing measured)\n");
    return 0;
  }
  auto ctx = cuda::Context::open(0);
  std::mt19937 rng(7);
  cuda::Buffer gate = random_device(*ctx, kExperts * kD, 0.5f, false, rng);
  std::vector<cuda::Buffer> weights;
  std::vector<ExpertWeights> experts(kExperts);
  const WeightType type = bf16 ? WeightType::kBF16 : WeightType::kF32;
  for (int e = 0; e < kExperts; ++e) {
    weights.push_back(random_device(*ctx, kHidden * kD, 0.03f, bf16, rng));
    weights.push_back(random_device(*ctx, kHidden, 0.1f, false, rng));
    weights.push_back(random_device(*ctx, kD * kHidden, 0.02f, bf16, rng));
    weights.push_back(random_device(*ctx, kD, 0.1f, false, rng));
    const size_t b = weights.size() - 4;
    experts[e] = {{type, kHidden, kD, weights[b].data(), nullptr, nullptr}, weights[b + 1].as<float>(),
                  {type, kD, kHidden, weights[b + 2].data(), nullptr, nullptr}, weights[b + 3].as<float>()};
  }
  const MoeView layer{kD, kHidden, kExperts, kTopK, Activation::kSwish, gate.as<float>(), experts.data()};

  std::printf("MoE FFN layer, d %lld, hidden %lld, %d experts, top-%d, swish, %s weights, on %s\n\n",
              static_cast<long long>(kD), static_cast<long long>(kHidden), kExperts, kTopK, bf16 ? "bf16" : "f32",
              ctx->name().c_str());
  std::printf("| streams | tokens | mode | ms / layer | tokens / s | expert TFLOP/s |\n");
  std::printf("|--------:|-------:|------|-----------:|-----------:|---------------:|\n");
  cuda::Workspace ws;
  Events ev;
  for (int s : streams) {
    const int64_t n = kTokensPerStream * s;
    cuda::Buffer x = random_device(*ctx, n * kD, 1.f, false, rng);
    cuda::Buffer y(*ctx, sizeof(float) * n * kD);
    for (MoeGemm mode : {MoeGemm::kGrouped, MoeGemm::kCublasGrouped, MoeGemm::kPerExpertLoop}) {
      for (int i = 0; i < warmup; ++i) cuda::moe_ffn(*ctx, x.as<float>(), n, layer, y.as<float>(), ws, mode);
      ctx->synchronize();
      cudaStream_t st = ctx->impl().stream;
      MOEASR_CUDA_CHECK(cudaEventRecord(ev.start, st));
      for (int i = 0; i < iters; ++i) cuda::moe_ffn(*ctx, x.as<float>(), n, layer, y.as<float>(), ws, mode);
      MOEASR_CUDA_CHECK(cudaEventRecord(ev.stop, st));
      MOEASR_CUDA_CHECK(cudaEventSynchronize(ev.stop));
      float ms = 0.f;
      MOEASR_CUDA_CHECK(cudaEventElapsedTime(&ms, ev.start, ev.stop));
      const double per_call = ms / iters;
      // Two GEMMs of 2 * d * hidden FLOPs per routed row.
      const double flops = 2.0 * 2.0 * static_cast<double>(n) * kTopK * kD * kHidden;
      std::printf("| %d | %lld | %s | %.3f | %.0f | %.2f |\n", s, static_cast<long long>(n), moe_gemm_name(mode),
                  per_call, n / (per_call * 1e-3), flops / (per_call * 1e-3) / 1e12);
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "moeasr-cuda-moe-bench: %s\n", e.what());
    return 1;
  }
}
