// The top-k MoE op of the Backend table on every test device, in every
// MoeGemm mode, against kernels/cpu/moe (checked against naive loops in
// tests/kernels/moe_test.cc): float32 within 1e-4 (relative, absolute below
// 1), expert loads equal exactly; bf16 weights: the modes of one device
// agree within 2e-3 (a hidden value that lands on the other side of a bf16
// rounding boundary in one mode moves the output by ~1e-3) and the CPU kernel
// (float32 activations) within 2e-2.
#include "kernels/cpu/moe.h"
#include "ops/op_test_util.h"

namespace moeasr {
namespace {

using test::randn;

constexpr MoeGemm kModes[] = {MoeGemm::kGrouped, MoeGemm::kCublasGrouped, MoeGemm::kPerExpertLoop};

class MoeOp : public test::OpTest {
 protected:
  // A random layer on the host (view) and on the device (dev_view).
  struct Layer {
    int64_t d, hidden;
    int experts, top_k;
    bool bf16;
    Activation act;
    std::vector<float> gate;
    std::vector<std::vector<float>> w1, w2, b1, b2;   // float32 values (bf16-representable when bf16)
    std::vector<std::vector<uint16_t>> w1_16, w2_16;  // bf16 bits
    std::vector<ExpertWeights> host_experts, dev_experts;
    std::vector<Tensor> buffers;
    Tensor dev_gate;
    MoeView view() const { return {d, hidden, experts, top_k, act, gate.data(), host_experts.data()}; }
    MoeView dev_view() const {
      return {d, hidden, experts, top_k, act, dev_gate.data<float>(), dev_experts.data()};
    }
  };

  Layer build(int64_t d, int64_t hidden, int experts, int top_k, bool bf16, Activation act, std::mt19937& rng) {
    Layer L{d, hidden, experts, top_k, bf16, act, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}};
    L.gate = randn(experts * d, rng, 0.5f);
    const WeightType type = bf16 ? WeightType::kBF16 : WeightType::kF32;
    for (int e = 0; e < experts; ++e) {
      L.w1.push_back(randn(hidden * d, rng, 0.2f));
      L.w2.push_back(randn(d * hidden, rng, 0.2f));
      L.b1.push_back(randn(hidden, rng, 0.1f));
      L.b2.push_back(randn(d, rng, 0.1f));
      L.w1_16.push_back(test::to_bf16(L.w1.back()));
      L.w2_16.push_back(test::to_bf16(L.w2.back()));
    }
    for (int e = 0; e < experts; ++e) {
      const void* p1 = bf16 ? static_cast<const void*>(L.w1_16[e].data()) : L.w1[e].data();
      const void* p2 = bf16 ? static_cast<const void*>(L.w2_16[e].data()) : L.w2[e].data();
      L.host_experts.push_back({{type, hidden, d, p1, nullptr, nullptr}, L.b1[e].data(),
                                {type, d, hidden, p2, nullptr, nullptr}, L.b2[e].data()});
      L.buffers.push_back(bf16 ? dev(L.w1_16[e]) : dev(L.w1[e]));
      L.buffers.push_back(bf16 ? dev(L.w2_16[e]) : dev(L.w2[e]));
      L.buffers.push_back(dev(L.b1[e]));
      L.buffers.push_back(dev(L.b2[e]));
      const Tensor* t = &L.buffers[L.buffers.size() - 4];
      L.dev_experts.push_back({{type, hidden, d, t[0].raw(), nullptr, nullptr}, t[2].data<float>(),
                               {type, d, hidden, t[1].raw(), nullptr, nullptr}, t[3].data<float>()});
    }
    L.dev_gate = dev(L.gate);
    return L;
  }

  // Inputs whose top-k choice is not within rounding of a tie, so a device's
  // router GEMM (another summation order) picks the same experts as the CPU's.
  std::vector<float> clear_cut_input(const Layer& L, int64_t n, std::mt19937& rng) {
    std::vector<float> x;
    for (int64_t t = 0; t < n; ++t) {
      for (int attempt = 0;; ++attempt) {
        const auto row = randn(L.d, rng);
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

  // y and the expert loads of every mode vs the CPU kernel.
  void check(int64_t d, int64_t hidden, int experts, int top_k, int64_t n, bool bf16, Activation act, uint32_t seed) {
    SCOPED_TRACE(testing::Message() << "d " << d << " hidden " << hidden << " E " << experts << " k " << top_k
                                    << " n " << n << (bf16 ? " bf16" : " f32"));
    std::mt19937 rng(seed);
    const Layer L = build(d, hidden, experts, top_k, bf16, act, rng);
    const auto x = clear_cut_input(L, n, rng);
    std::vector<float> want(n * d);
    std::vector<int64_t> load_want(experts, 5);
    cpu::MoeWorkspace cws;
    cpu::moe_ffn(x.data(), n, L.view(), want.data(), cws, load_want.data());

    Tensor dx = dev(x), dy = dev_zeros(n * d);
    std::vector<std::vector<float>> results;
    for (MoeGemm mode : kModes) {
      SCOPED_TRACE(moe_gemm_name(mode));
      be().fill_zero(dy.raw(), sizeof(float) * n * d);
      std::vector<int64_t> load(experts, 5);
      be().moe_ffn(f(dx), n, L.dev_view(), f(dy), mode, load.data());
      EXPECT_EQ(load, load_want);
      results.push_back(host(dy, n * d));
      test::expect_close(results.back(), want, bf16 ? 2e-2 : 1e-4, "moe_ffn vs cpu");
      // Again without expert_load (kGrouped on a GPU then never waits for the host).
      be().fill_zero(dy.raw(), sizeof(float) * n * d);
      be().moe_ffn(f(dx), n, L.dev_view(), f(dy), mode, nullptr);
      test::expect_close(host(dy, n * d), results.back(), 1e-6, "moe_ffn repeated");
    }
    if (bf16) {
      test::expect_close(results[1], results[0], 2e-3, "bf16 cublas_grouped vs grouped");
      test::expect_close(results[2], results[0], 2e-3, "bf16 per-expert loop vs grouped");
    }
  }
};

TEST_P(MoeOp, AllModesMatchTheCpuKernelForManyShapes) {
  uint32_t seed = 40;
  for (auto [experts, top_k] : {std::pair<int, int>{4, 1}, {8, 2}, {16, 4}, {3, 3}}) {
    for (int64_t n : {0, 1, 2, 37, 300}) check(48, 80, experts, top_k, n, false, Activation::kSwish, seed++);
  }
}

TEST_P(MoeOp, OddSizesAndEveryActivation) {
  uint32_t seed = 60;
  for (Activation act : {Activation::kRelu, Activation::kGelu, Activation::kSwish}) {
    check(70, 130, 5, 2, 65, false, act, seed++);  // not multiples of the GPU's 64-wide tiles
  }
  check(128, 512, 8, 2, 1000, false, Activation::kSwish, seed++);  // several row tiles per expert
}

TEST_P(MoeOp, Bf16WeightsAgreeAcrossModesAndWithTheCpuKernel) {
  check(64, 256, 8, 2, 200, true, Activation::kSwish, 70);
  check(33, 50, 4, 1, 9, true, Activation::kRelu, 71);
}

// Equal logits (identical gate rows): ties go to the lower expert id, as on
// the CPU (torch.topk); experts above top_k get no token at all.
TEST_P(MoeOp, TiesGoToTheLowerExpertAndIdleExpertsGetNothing) {
  std::mt19937 rng(80);
  const int experts = 6, top_k = 2;
  Layer L = build(16, 24, experts, top_k, false, Activation::kRelu, rng);
  for (int e = 1; e < experts; ++e) std::copy(L.gate.begin(), L.gate.begin() + L.d, L.gate.begin() + e * L.d);
  L.dev_gate = dev(L.gate);
  const int64_t n = 20;
  const auto x = randn(n * L.d, rng);
  std::vector<float> want(n * L.d);
  std::vector<int64_t> load_want(experts, 0);
  cpu::MoeWorkspace cws;
  cpu::moe_ffn(x.data(), n, L.view(), want.data(), cws, load_want.data());
  ASSERT_EQ(load_want, (std::vector<int64_t>{n, n, 0, 0, 0, 0}));
  Tensor dx = dev(x), dy = dev_zeros(n * L.d);
  for (MoeGemm mode : kModes) {
    std::vector<int64_t> load(experts, 0);
    be().moe_ffn(f(dx), n, L.dev_view(), f(dy), mode, load.data());
    EXPECT_EQ(load, load_want) << moe_gemm_name(mode);
    test::expect_close(host(dy, n * L.d), want, 1e-4, moe_gemm_name(mode));
  }
}

MOEASR_OP_TEST_DEVICES(MoeOp);

}  // namespace
}  // namespace moeasr
