// cuda::moe_ffn in its three MoeGemm modes against kernels/cpu/moe: float32
// within 1e-4 (relative, absolute below 1), expert loads equal exactly; bf16
// weights: the three GPU modes agree within 2e-3 (all round activations to
// bf16 and accumulate in float32, but a hidden value that lands on the other
// side of a bf16 rounding boundary in one mode moves the output by ~1e-3) and
// the CPU (float32 activations) within 2e-2.
#include "kernels/cpu/moe.h"

#include "kernels/cpu/linear.h"

#include "cuda/cuda_test_util.h"

namespace moeasr {
namespace {

using test::CudaTest;

constexpr cuda::MoeGemm kModes[] = {cuda::MoeGemm::kGrouped, cuda::MoeGemm::kCublasGrouped,
                                    cuda::MoeGemm::kPerExpertLoop};

// A random MoE layer on the host and on the device.
struct Layer {
  int64_t d, hidden;
  int experts, top_k;
  bool bf16;
  std::vector<float> gate;
  std::vector<std::vector<float>> w1, w2, b1, b2;      // float32 values (bf16-representable when bf16)
  std::vector<std::vector<uint16_t>> w1_16, w2_16;     // bf16 bits
  std::vector<cpu::ExpertWeights> cpu_experts;
  cpu::MoeLayerView view;
  std::vector<cuda::Buffer> buffers;
  std::vector<cuda::DeviceLinear> dw1, dw2;
  cuda::DeviceMoe dev;
};

void build(Layer& L, test::CudaTest& t, cuda::Context& ctx, std::mt19937& rng, Activation act) {
  L.gate = test::randn(L.experts * L.d, rng, 0.5f);
  for (int e = 0; e < L.experts; ++e) {
    L.w1.push_back(test::randn(L.hidden * L.d, rng, 0.2f));
    L.w2.push_back(test::randn(L.d * L.hidden, rng, 0.2f));
    L.b1.push_back(test::randn(L.hidden, rng, 0.1f));
    L.b2.push_back(test::randn(L.d, rng, 0.1f));
    L.w1_16.push_back(test::to_bf16(L.w1.back()));
    L.w2_16.push_back(test::to_bf16(L.w2.back()));
  }
  for (int e = 0; e < L.experts; ++e) {
    const auto type = L.bf16 ? cpu::WeightType::kBF16 : cpu::WeightType::kF32;
    const void* p1 = L.bf16 ? static_cast<const void*>(L.w1_16[e].data()) : L.w1[e].data();
    const void* p2 = L.bf16 ? static_cast<const void*>(L.w2_16[e].data()) : L.w2[e].data();
    L.cpu_experts.push_back({{type, L.hidden, L.d, p1, nullptr, nullptr}, L.b1[e].data(),
                             {type, L.d, L.hidden, p2, nullptr, nullptr}, L.b2[e].data()});
  }
  L.view = {L.d, L.hidden, L.experts, L.top_k, act, L.gate.data(), L.cpu_experts.data()};

  (void)t;
  auto up = [&](const void* data, size_t bytes) -> void* {
    L.buffers.emplace_back(ctx, bytes);
    cuda::upload(ctx, L.buffers.back().data(), data, bytes);
    return L.buffers.back().data();
  };
  L.buffers.reserve(1 + 4 * L.experts);
  const float* gate = static_cast<const float*>(up(L.gate.data(), sizeof(float) * L.gate.size()));
  const auto type = L.bf16 ? cuda::WeightType::kBF16 : cuda::WeightType::kF32;
  const size_t wsize = L.bf16 ? 2 : 4;
  for (int e = 0; e < L.experts; ++e) {
    const void* w1 = up(L.bf16 ? static_cast<const void*>(L.w1_16[e].data()) : L.w1[e].data(), wsize * L.w1[e].size());
    const void* w2 = up(L.bf16 ? static_cast<const void*>(L.w2_16[e].data()) : L.w2[e].data(), wsize * L.w2[e].size());
    const float* b1 = static_cast<const float*>(up(L.b1[e].data(), sizeof(float) * L.hidden));
    const float* b2 = static_cast<const float*>(up(L.b2[e].data(), sizeof(float) * L.d));
    L.dw1.push_back({w1, type, L.hidden, L.d, b1});
    L.dw2.push_back({w2, type, L.d, L.hidden, b2});
  }
  L.dev = {L.d, L.hidden, L.experts, L.top_k, act, gate, L.dw1.data(), L.dw2.data()};
}

// Inputs whose top-k choice is not within rounding of a tie, so the GPU's
// router GEMM (another summation order) picks the same experts as the CPU's.
std::vector<float> clear_cut_input(const Layer& L, int64_t n, std::mt19937& rng) {
  std::vector<float> x;
  for (int64_t t = 0; t < n; ++t) {
    for (int attempt = 0;; ++attempt) {
      const auto row = test::randn(L.d, rng);
      std::vector<double> logits(L.experts);
      for (int e = 0; e < L.experts; ++e) {
        for (int64_t c = 0; c < L.d; ++c) logits[e] += static_cast<double>(row[c]) * L.gate[e * L.d + c];
      }
      std::sort(logits.rbegin(), logits.rend());
      if (L.top_k == L.experts || logits[L.top_k - 1] - logits[L.top_k] > 1e-3 || attempt > 100) {
        x.insert(x.end(), row.begin(), row.end());
        break;
      }
    }
  }
  return x;
}

class CudaMoe : public CudaTest {
 protected:
  // y and the expert loads of every GPU mode vs the CPU.
  void check(int64_t d, int64_t hidden, int experts, int top_k, int64_t n, bool bf16, Activation act, uint32_t seed) {
    SCOPED_TRACE(testing::Message() << "d " << d << " hidden " << hidden << " E " << experts << " k " << top_k
                                    << " n " << n << (bf16 ? " bf16" : " f32"));
    std::mt19937 rng(seed);
    Layer L{d, hidden, experts, top_k, bf16, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}};
    build(L, *this, ctx(), rng, act);
    const auto x = clear_cut_input(L, n, rng);
    std::vector<float> want(n * d);
    std::vector<int64_t> load_want(experts, 5);
    cpu::MoeWorkspace cws;
    cpu::moe_ffn(x.data(), n, L.view, want.data(), cws, load_want.data());

    cuda::Buffer dx = to_device(x), dy(ctx(), sizeof(float) * std::max<int64_t>(n, 1) * d);
    std::vector<std::vector<float>> results;
    for (cuda::MoeGemm mode : kModes) {
      SCOPED_TRACE(cuda::moe_gemm_name(mode));
      cuda::fill_zero(ctx(), dy.data(), dy.bytes());
      std::vector<int64_t> load(experts, 5);
      cuda::moe_ffn(ctx(), dx.as<float>(), n, L.dev, dy.as<float>(), ws_, mode, load.data());
      EXPECT_EQ(load, load_want);
      results.push_back(to_host<float>(dy, n * d));
      test::expect_close(results.back(), want, bf16 ? 2e-2 : 1e-4, "moe_ffn vs cpu");
      // Again without expert_load (kGrouped then never waits for the host).
      cuda::fill_zero(ctx(), dy.data(), dy.bytes());
      cuda::moe_ffn(ctx(), dx.as<float>(), n, L.dev, dy.as<float>(), ws_, mode);
      test::expect_close(to_host<float>(dy, n * d), results.back(), 1e-6, "moe_ffn repeated");
    }
    if (bf16) {
      test::expect_close(results[1], results[0], 2e-3, "bf16 cublas_grouped vs grouped");
      test::expect_close(results[2], results[0], 2e-3, "bf16 per_expert_loop vs grouped");
    }
  }
};

TEST_F(CudaMoe, AllModesMatchCpuForManyShapes) {
  uint32_t seed = 40;
  for (auto [experts, top_k] : {std::pair<int, int>{4, 1}, {8, 2}, {16, 4}, {3, 3}}) {
    for (int64_t n : {0, 1, 2, 37, 300}) check(48, 80, experts, top_k, n, false, Activation::kSwish, seed++);
  }
}

TEST_F(CudaMoe, OddSizesAndEveryActivation) {
  uint32_t seed = 60;
  for (Activation act : {Activation::kRelu, Activation::kGelu, Activation::kSwish}) {
    check(70, 130, 5, 2, 65, false, act, seed++);  // not multiples of the 64-wide tiles
  }
  check(128, 512, 8, 2, 1000, false, Activation::kSwish, seed++);  // several row tiles per expert
}

TEST_F(CudaMoe, Bf16WeightsAgreeAcrossModesAndWithCpu) {
  check(64, 256, 8, 2, 200, true, Activation::kSwish, 70);
  check(33, 50, 4, 1, 9, true, Activation::kRelu, 71);
}

// Equal logits (identical gate rows): ties go to the lower expert id, as on
// the CPU (torch.topk); experts above top_k get no token at all.
TEST_F(CudaMoe, TiesGoToTheLowerExpertAndIdleExpertsGetNothing) {
  std::mt19937 rng(80);
  const int experts = 6, top_k = 2;
  Layer L{16, 24, experts, top_k, false, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}};
  build(L, *this, ctx(), rng, Activation::kRelu);
  for (int e = 1; e < experts; ++e) std::copy(L.gate.begin(), L.gate.begin() + L.d, L.gate.begin() + e * L.d);
  cuda::upload(ctx(), const_cast<float*>(L.dev.gate), L.gate.data(), sizeof(float) * L.gate.size());
  const int64_t n = 20;
  const auto x = test::randn(n * L.d, rng);
  std::vector<float> want(n * L.d);
  std::vector<int64_t> load_want(experts, 0);
  cpu::MoeWorkspace cws;
  cpu::moe_ffn(x.data(), n, L.view, want.data(), cws, load_want.data());
  ASSERT_EQ(load_want, (std::vector<int64_t>{n, n, 0, 0, 0, 0}));
  cuda::Buffer dx = to_device(x), dy(ctx(), sizeof(float) * n * L.d);
  for (cuda::MoeGemm mode : kModes) {
    std::vector<int64_t> load(experts, 0);
    cuda::moe_ffn(ctx(), dx.as<float>(), n, L.dev, dy.as<float>(), ws_, mode, load.data());
    EXPECT_EQ(load, load_want) << cuda::moe_gemm_name(mode);
    test::expect_close(to_host<float>(dy, n * L.d), want, 1e-4, cuda::moe_gemm_name(mode));
  }
}

TEST_F(CudaMoe, RejectsABadLayer) {
  std::mt19937 rng(81);
  Layer L{16, 24, 4, 2, false, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}};
  build(L, *this, ctx(), rng, Activation::kRelu);
  cuda::Buffer dx(ctx(), sizeof(float) * 16), dy(ctx(), sizeof(float) * 16);
  cuda::DeviceMoe bad = L.dev;
  bad.top_k = 5;
  EXPECT_THROW(cuda::moe_ffn(ctx(), dx.as<float>(), 1, bad, dy.as<float>(), ws_), Error);
  bad = L.dev;
  bad.hidden = 25;
  EXPECT_THROW(cuda::moe_ffn(ctx(), dx.as<float>(), 1, bad, dy.as<float>(), ws_), Error);
}

}  // namespace
}  // namespace moeasr
