#include "kernels/cpu/moe.h"

#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/gemm.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "kernels/naive.h"

namespace moeasr {
namespace {

// A random MoE layer whose buffers live in this struct.
struct RandomMoe {
  RandomMoe(int64_t d, int64_t hidden, int experts, int top_k, bool bias, Activation act, uint32_t seed) {
    std::mt19937 rng(seed);
    gate = test::random_vector(experts * d, rng, 0.5f);
    for (int e = 0; e < experts; ++e) {
      w1.push_back(test::random_vector(hidden * d, rng, 0.2f));
      w2.push_back(test::random_vector(d * hidden, rng, 0.2f));
      b1.push_back(test::random_vector(hidden, rng, 0.1f));
      b2.push_back(test::random_vector(d, rng, 0.1f));
    }
    for (int e = 0; e < experts; ++e) {
      const WeightMatrix m1{WeightType::kF32, hidden, d, w1[e].data(), nullptr, nullptr};
      const WeightMatrix m2{WeightType::kF32, d, hidden, w2[e].data(), nullptr, nullptr};
      weights.push_back({m1, bias ? b1[e].data() : nullptr, m2, bias ? b2[e].data() : nullptr});
    }
    view = {d, hidden, experts, top_k, act, gate.data(), weights.data()};
  }
  std::vector<float> gate;
  std::vector<std::vector<float>> w1, w2, b1, b2;
  std::vector<ExpertWeights> weights;
  MoeView view;
};

double act(double x, Activation a) {
  switch (a) {
    case Activation::kRelu: return std::max(0.0, x);
    case Activation::kSwish: return x / (1.0 + std::exp(-x));
    default: return x;
  }
}

// WeNet's MoEFFNLayer, token by token, in double.
std::vector<double> naive_moe(const float* x, int64_t n, const MoeView& L) {
  std::vector<double> y(n * L.d, 0.0);
  for (int64_t t = 0; t < n; ++t) {
    const float* xt = x + t * L.d;
    std::vector<double> logits = test::naive_linear(xt, 1, L.d, L.gate, nullptr, L.num_experts);
    std::vector<int> order(L.num_experts);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return logits[a] > logits[b]; });
    double sum = 0;
    for (int j = 0; j < L.top_k; ++j) sum += std::exp(logits[order[j]] - logits[order[0]]);
    std::vector<int> chosen(order.begin(), order.begin() + L.top_k);
    std::sort(chosen.begin(), chosen.end());
    for (int e : chosen) {
      const double w = std::exp(logits[e] - logits[order[0]]) / sum;
      const ExpertWeights& ew = L.experts[e];
      std::vector<double> h = test::naive_linear(xt, 1, L.d, ew.w1.f32(), ew.b1, L.hidden);
      std::vector<float> hf(h.size());
      for (size_t i = 0; i < h.size(); ++i) hf[i] = static_cast<float>(act(h[i], L.activation));
      std::vector<double> o = test::naive_linear(hf.data(), 1, L.hidden, ew.w2.f32(), ew.b2, L.d);
      for (int64_t c = 0; c < L.d; ++c) y[t * L.d + c] += w * o[c];
    }
  }
  return y;
}

struct MoeCase {
  int64_t tokens, d, hidden;
  int experts, top_k;
  bool bias;
};

class MoeKernelTest : public ::testing::TestWithParam<MoeCase> {};

TEST_P(MoeKernelTest, GroupedPathMatchesPerExpertLoopAndNaiveReference) {
  const MoeCase c = GetParam();
  RandomMoe moe(c.d, c.hidden, c.experts, c.top_k, c.bias, Activation::kSwish, 42);
  std::mt19937 rng(7);
  const std::vector<float> x = test::random_vector(c.tokens * c.d, rng);
  std::vector<float> grouped(c.tokens * c.d), loop(c.tokens * c.d);
  cpu::MoeWorkspace ws;
  std::vector<int64_t> load(c.experts, 0);
  cpu::moe_ffn(x.data(), c.tokens, moe.view, grouped.data(), ws, load.data());
  cpu::moe_ffn_per_expert_loop(x.data(), c.tokens, moe.view, loop.data(), ws);
  const std::vector<double> ref = naive_moe(x.data(), c.tokens, moe.view);
  EXPECT_LT(test::max_abs_diff(grouped.data(), ref), 1e-4);
  std::vector<double> loop_d(loop.begin(), loop.end());
  EXPECT_LT(test::max_abs_diff(grouped.data(), loop_d), 1e-5);
  // Every token went to exactly top_k experts.
  EXPECT_EQ(std::accumulate(load.begin(), load.end(), int64_t{0}), c.tokens * c.top_k);
}

INSTANTIATE_TEST_SUITE_P(Shapes, MoeKernelTest,
                         ::testing::Values(MoeCase{1, 16, 32, 4, 2, true}, MoeCase{17, 24, 40, 8, 2, true},
                                           MoeCase{64, 32, 64, 8, 1, false}, MoeCase{5, 12, 20, 3, 3, true},
                                           MoeCase{0, 16, 32, 4, 2, true}),
                         [](const ::testing::TestParamInfo<MoeCase>& info) {
                           const MoeCase& c = info.param;
                           return "t" + std::to_string(c.tokens) + "_d" + std::to_string(c.d) + "_e" +
                                  std::to_string(c.experts) + "_k" + std::to_string(c.top_k) +
                                  (c.bias ? "_bias" : "_nobias");
                         });

TEST(MoeKernel, ExpertsOnlySeeTheirTokens) {
  // Experts 0 and 1 only; the gate sends every token to them. Poisoning the
  // other experts' weights with NaN must not change the output.
  RandomMoe moe(8, 16, 4, 2, true, Activation::kRelu, 3);
  for (int64_t c = 0; c < 8; ++c) {
    moe.gate[0 * 8 + c] = 1.f;
    moe.gate[1 * 8 + c] = 1.f;
    moe.gate[2 * 8 + c] = -1.f;
    moe.gate[3 * 8 + c] = -1.f;
  }
  std::vector<float> x(10 * 8, 0.5f);
  std::vector<float> clean(x.size()), poisoned(x.size());
  cpu::MoeWorkspace ws;
  cpu::moe_ffn(x.data(), 10, moe.view, clean.data(), ws);
  std::fill(moe.w1[2].begin(), moe.w1[2].end(), NAN);
  std::fill(moe.w2[3].begin(), moe.w2[3].end(), NAN);
  cpu::moe_ffn(x.data(), 10, moe.view, poisoned.data(), ws);
  EXPECT_EQ(clean, poisoned);
}

TEST(MoeKernel, RoutingWeightsAreASoftmaxOverTheTopK) {
  RandomMoe moe(16, 8, 6, 3, true, Activation::kRelu, 11);
  std::mt19937 rng(5);
  const std::vector<float> x = test::random_vector(20 * 16, rng);
  cpu::MoeWorkspace ws;
  cpu::moe_route(x.data(), 20, moe.view, ws);
  for (int t = 0; t < 20; ++t) {
    float sum = 0;
    for (int j = 0; j < 3; ++j) {
      sum += ws.slot_weight[t * 3 + j];
      if (j) {
        EXPECT_GE(ws.slot_weight[t * 3 + j - 1], ws.slot_weight[t * 3 + j]);  // best first
      }
    }
    EXPECT_NEAR(sum, 1.f, 1e-6);
  }
}

}  // namespace
}  // namespace moeasr

namespace moeasr {
namespace {

// A dense FFN is an MoE layer with one expert and k = 1 (routing weight 1):
// the grouped path must give exactly the dense result.
TEST(MoeKernel, OneExpertEqualsTheDenseFfn) {
  RandomMoe moe(24, 40, 1, 1, true, Activation::kSwish, 21);
  std::mt19937 rng(8);
  const int64_t n = 13;
  const std::vector<float> x = test::random_vector(n * 24, rng);
  std::vector<float> grouped(n * 24), dense(n * 24), hidden(n * 40);
  cpu::MoeWorkspace ws;
  cpu::moe_ffn(x.data(), n, moe.view, grouped.data(), ws);
  cpu::linear(x.data(), n, 24, moe.w1[0].data(), moe.b1[0].data(), 40, hidden.data(), 40);
  cpu::activation(hidden.data(), n * 40, Activation::kSwish);
  cpu::linear(hidden.data(), n, 40, moe.w2[0].data(), moe.b2[0].data(), 24, dense.data(), 24);
  EXPECT_EQ(grouped, dense);
}

}  // namespace
}  // namespace moeasr
