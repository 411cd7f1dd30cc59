// The Mixture-of-Tokens layer (nn/mot_ffn.h) on every test device against a
// double-precision reference, its limits (G = 1, tau -> 0), the group tables,
// and the PyTorch reference's layer outputs (tests/data/golden/mot_layer,
// tools/make_mot_fixtures.py).
#include "nn/mot_ffn.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <numeric>

#include <nlohmann/json.hpp>

#include "device_test_util.h"
#include "formats/safetensors.h"
#include "kernels/cpu/moe.h"
#include "kernels/naive.h"
#include "nn/token_groups.h"
#include "test_util.h"

namespace moeasr {
namespace {

using test::sci;

constexpr double kTolerance = 1e-4;

// A MoT layer's parameters, whose buffers live in this struct; layer()
// builds the runtime's MotFfn from them (through a weight file in memory).
struct MotParams {
  int64_t d = 0, hidden = 0;
  int num_experts = 0, group_size = 0;
  float temperature = 1.f;
  Activation activation = Activation::kRelu;
  const float* controller = nullptr;
  const ExpertWeights* experts = nullptr;
};

struct RandomMot {
  RandomMot(int64_t d, int64_t hidden, int experts, int group_size, float tau, bool bias, Activation act,
            uint32_t seed) {
    std::mt19937 rng(seed);
    controller = test::random_vector(experts * d, rng, 1.f / std::sqrt(static_cast<float>(d)));
    for (int e = 0; e < experts; ++e) {
      w1.push_back(test::random_vector(hidden * d, rng, 0.2f));
      w2.push_back(test::random_vector(d * hidden, rng, 0.2f));
      b1.push_back(bias ? test::random_vector(hidden, rng, 0.1f) : std::vector<float>());
      b2.push_back(bias ? test::random_vector(d, rng, 0.1f) : std::vector<float>());
    }
    finish(d, hidden, experts, group_size, tau, act);
  }
  RandomMot() = default;

  // Points the view at the buffers (after they are filled).
  void finish(int64_t d, int64_t hidden, int experts, int group_size, float tau, Activation act) {
    weights.clear();
    for (int e = 0; e < experts; ++e) {
      const WeightMatrix m1{WeightType::kF32, hidden, d, w1[e].data(), nullptr, nullptr};
      const WeightMatrix m2{WeightType::kF32, d, hidden, w2[e].data(), nullptr, nullptr};
      weights.push_back({m1, b1[e].empty() ? nullptr : b1[e].data(), m2, b2[e].empty() ? nullptr : b2[e].data()});
    }
    view = {d, hidden, experts, group_size, tau, act, controller.data(), weights.data()};
  }

  // The runtime's layer with these parameters on be's device, grouping as asked.
  std::unique_ptr<MotFfn> layer(Backend& be, bool cross) {
    auto raw = [](std::vector<int64_t> shape, const std::vector<float>& v) {
      test::RawTensor t;
      t.shape = std::move(shape);
      t.bytes.assign(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
      return t;
    };
    std::map<std::string, test::RawTensor> tensors;
    tensors["mot.controller.weight"] = raw({view.num_experts, view.d}, controller);
    for (int e = 0; e < view.num_experts; ++e) {
      const std::string p = "mot.experts." + std::to_string(e);
      tensors[p + ".w_1.weight"] = raw({view.hidden, view.d}, w1[e]);
      tensors[p + ".w_2.weight"] = raw({view.d, view.hidden}, w2[e]);
      if (!b1[e].empty()) tensors[p + ".w_1.bias"] = raw({view.hidden}, b1[e]);
      if (!b2[e].empty()) tensors[p + ".w_2.bias"] = raw({view.d}, b2[e]);
    }
    file = SafeTensors::from_bytes(test::safetensors_bytes(tensors), "mot layer");
    FfnConfig c;
    c.kind = FfnKind::kMot;
    c.num_experts = view.num_experts;
    c.group_size = view.group_size;
    c.temperature = view.temperature;
    c.activation = view.activation;
    c.grouping = cross ? MotGrouping::kCrossExample : MotGrouping::kWithinSequence;
    return std::make_unique<MotFfn>(WeightReader(*file, PrecisionPolicy{}, be), "mot", c, view.d);
  }

  std::vector<float> controller;
  std::vector<std::vector<float>> w1, w2, b1, b2;
  std::vector<ExpertWeights> weights;
  MotParams view;
  std::shared_ptr<const SafeTensors> file;
};

double act(double x, Activation a) {
  switch (a) {
    case Activation::kRelu: return std::max(0.0, x);
    case Activation::kSwish: return x / (1.0 + std::exp(-x));
    default: return x;
  }
}

// expert_e(v) in double.
std::vector<double> naive_expert(const MotParams& L, int e, const std::vector<double>& v) {
  const ExpertWeights& w = L.experts[e];
  std::vector<double> h(L.hidden), out(L.d);
  for (int64_t i = 0; i < L.hidden; ++i) {
    double s = w.b1 ? w.b1[i] : 0.0;
    for (int64_t c = 0; c < L.d; ++c) s += w.w1.f32()[i * L.d + c] * v[c];
    h[i] = act(s, L.activation);
  }
  for (int64_t c = 0; c < L.d; ++c) {
    double s = w.b2 ? w.b2[c] : 0.0;
    for (int64_t i = 0; i < L.hidden; ++i) s += w.w2.f32()[c * L.hidden + i] * h[i];
    out[c] = s;
  }
  return out;
}

// The paper's layer, group by group, in double. `one_hot`: the tau -> 0 limit
// (each expert takes its group's token with the largest logit, weight 1).
std::vector<double> naive_mot(const float* x, int64_t n, const MotParams& L, const TokenGroups& g,
                              bool one_hot = false) {
  const int64_t d = L.d;
  std::vector<double> y(n * d, 0.0);
  for (int64_t j = 0; j < g.num_groups(); ++j) {
    std::vector<int32_t> members;
    for (int s = 0; s < L.group_size; ++s) {
      if (g.rows[j * L.group_size + s] >= 0) members.push_back(g.rows[j * L.group_size + s]);
    }
    if (members.empty()) continue;
    for (int e = 0; e < L.num_experts; ++e) {
      std::vector<double> logit(members.size());
      for (size_t m = 0; m < members.size(); ++m) {
        for (int64_t c = 0; c < d; ++c) logit[m] += static_cast<double>(x[members[m] * d + c]) * L.controller[e * d + c];
      }
      const size_t best = std::max_element(logit.begin(), logit.end()) - logit.begin();
      std::vector<double> w(members.size());
      double sum = 0;
      for (size_t m = 0; m < members.size(); ++m) sum += w[m] = std::exp((logit[m] - logit[best]) / L.temperature);
      for (size_t m = 0; m < members.size(); ++m) w[m] = one_hot ? (m == best ? 1.0 : 0.0) : w[m] / sum;
      std::vector<double> mixed(d, 0.0);
      for (size_t m = 0; m < members.size(); ++m) {
        for (int64_t c = 0; c < d; ++c) mixed[c] += w[m] * x[members[m] * d + c];
      }
      const std::vector<double> out = naive_expert(L, e, mixed);
      for (size_t m = 0; m < members.size(); ++m) {
        for (int64_t c = 0; c < d; ++c) y[members[m] * d + c] += w[m] * out[c];
      }
    }
  }
  return y;
}

std::vector<RowSegment> segments(const std::vector<int64_t>& lengths) {
  std::vector<RowSegment> s;
  int64_t row = 0;
  for (int64_t n : lengths) {
    s.push_back({row, n});
    row += n;
  }
  return s;
}

TokenGroups make_groups(bool cross, const std::vector<int64_t>& lengths, int group_size) {
  TokenGroups g;
  if (cross) {
    cross_example_groups(segments(lengths), group_size, &g);
  } else {
    within_sequence_groups(segments(lengths), group_size, &g);
  }
  return g;
}

TEST(TokenGroups, WithinSequenceNeverSpansExamplesAndMasksTheTail) {
  const TokenGroups g = make_groups(false, {5, 2}, 4);
  EXPECT_EQ(g.rows, (std::vector<int32_t>{0, 1, 2, 3, 4, -1, -1, -1, 5, 6, -1, -1}));
  EXPECT_EQ(g.num_groups(), 3);
}

TEST(TokenGroups, CrossExampleGroupsPositionsOfGExamplesAndPadsTheBatch) {
  // Examples of lengths 3, 1 | 2 (its set completed with an absent example).
  const TokenGroups g = make_groups(true, {3, 1, 2}, 2);
  EXPECT_EQ(g.rows, (std::vector<int32_t>{0, 3, 1, -1, 2, -1, 4, -1, 5, -1}));
  EXPECT_EQ(make_groups(true, {0, 0}, 2).rows.size(), 0u);
}

FfnBatch batch_of(bool cross, const std::vector<int64_t>& lengths) {
  FfnBatch b{{0}, cross ? TokenMixing::kAcrossExamples : TokenMixing::kWithinStream};
  for (int64_t n : lengths) b.segments.push_back(b.segments.back() + n);
  return b;
}

// y = the runtime's MoT layer over x on be's device.
std::vector<float> run_mot(Backend& be, RandomMot& mot, bool cross, const std::vector<int64_t>& lengths,
                           const std::vector<float>& x) {
  const auto layer = mot.layer(be, cross);
  const int64_t n = std::accumulate(lengths.begin(), lengths.end(), int64_t{0});
  FfnScratch scratch;
  Tensor y;
  static_cast<const FeedForward&>(*layer).forward(be, test::to_device(be, test::host_tensor({n, mot.view.d}, x)), y,
                                                 batch_of(cross, lengths), scratch);
  return test::to_host(be, y);
}

struct MotCase {
  int group_size;
  bool cross;
  std::vector<int64_t> lengths;
  float tau;
  bool bias;
  int experts;
};

class MotLayerTest : public ::testing::TestWithParam<std::tuple<MotCase, Device>> {};

TEST_P(MotLayerTest, MatchesTheDoublePrecisionLayer) {
  const MotCase c = std::get<0>(GetParam());
  const auto be = Backend::open(std::get<1>(GetParam()));
  const int64_t d = 24, hidden = 40;
  RandomMot mot(d, hidden, c.experts, c.group_size, c.tau, c.bias, Activation::kSwish, 42);
  const int64_t n = std::accumulate(c.lengths.begin(), c.lengths.end(), int64_t{0});
  std::mt19937 rng(7);
  const std::vector<float> x = test::random_vector(n * d, rng);
  const TokenGroups groups = make_groups(c.cross, c.lengths, c.group_size);
  const std::vector<float> y = run_mot(*be, mot, c.cross, c.lengths, x);
  const double err = test::max_abs_diff(y.data(), naive_mot(x.data(), n, mot.view, groups));
  EXPECT_LT(err, kTolerance);
  RecordProperty("max_abs_err", sci(err));
}

INSTANTIATE_TEST_SUITE_P(Shapes, MotLayerTest,
                         ::testing::Combine(::testing::Values(MotCase{1, true, {5, 3}, 1.f, false, 4},
                                                              MotCase{4, true, {7, 3, 5, 1, 6, 4}, 0.7f, false, 4},
                                                              MotCase{4, false, {9, 4, 1}, 1.f, true, 3},
                                                              MotCase{8, true, {4, 9, 2, 6, 5}, 1.f, true, 8},
                                                              MotCase{8, false, {17, 8, 3}, 2.f, false, 4},
                                                              MotCase{4, true, {0, 3, 0}, 1.f, false, 2}),
                                            ::testing::ValuesIn(test::devices())),
                         [](const ::testing::TestParamInfo<std::tuple<MotCase, Device>>& info) {
                           const MotCase& c = std::get<0>(info.param);
                           return "g" + std::to_string(c.group_size) + (c.cross ? "_cross" : "_within") + "_e" +
                                  std::to_string(c.experts) + (c.bias ? "_bias" : "") + "_" +
                                  std::to_string(info.index) + "_" +
                                  test::device_label({std::get<1>(info.param), info.index});
                         });

class MotDeviceTest : public ::testing::TestWithParam<Device> {
 protected:
  void SetUp() override { be_ = Backend::open(GetParam()); }
  std::unique_ptr<Backend> be_;
};

// A group of one token: its softmax weight is 1 for every expert, whatever
// tau, so the layer is the sum of all experts -- a dense FFN of E * hidden.
TEST_P(MotDeviceTest, GroupOfOneIsTheSumOfAllExperts) {
  for (float tau : {0.01f, 1.f, 100.f}) {
    RandomMot mot(16, 24, 3, 1, tau, true, Activation::kRelu, 5);
    std::mt19937 rng(3);
    const int64_t n = 6;
    const std::vector<float> x = test::random_vector(n * 16, rng);
    const std::vector<float> y = run_mot(*be_, mot, true, {4, 2}, x);
    std::vector<double> sum(n * 16, 0.0);
    for (int64_t t = 0; t < n; ++t) {
      for (int e = 0; e < 3; ++e) {
        const std::vector<double> o = naive_expert(mot.view, e, std::vector<double>(x.begin() + t * 16, x.begin() + (t + 1) * 16));
        for (int c = 0; c < 16; ++c) sum[t * 16 + c] += o[c];
      }
    }
    EXPECT_LT(test::max_abs_diff(y.data(), sum), kTolerance) << "tau " << tau;
  }
}

// tau -> 0: the merge weights become one-hot, each expert processing exactly
// its group's highest-scoring token (expert-choice routing, capacity 1).
TEST_P(MotDeviceTest, SmallTemperatureIsOneHotRouting) {
  RandomMot mot(16, 24, 4, 4, 1e-5f, false, Activation::kSwish, 9);
  std::mt19937 rng(4);
  const std::vector<int64_t> lengths{6, 5, 6, 2, 4};
  const int64_t n = 23;
  const std::vector<float> x = test::random_vector(n * 16, rng);
  const TokenGroups groups = make_groups(true, lengths, 4);
  const std::vector<float> y = run_mot(*be_, mot, true, lengths, x);
  EXPECT_LT(test::max_abs_diff(y.data(), naive_mot(x.data(), n, mot.view, groups, true)), kTolerance);
  const auto layer = mot.layer(*be_, true);
  Tensor logits, w;
  layer->weights(*be_, test::to_device(*be_, test::host_tensor({n, 16}, x)), groups, logits, w);
  for (float v : test::to_host(*be_, w)) EXPECT_TRUE(v == 0.f || v > 1.f - 1e-6f) << v;
}

// The output of one group never depends on another group's tokens.
TEST_P(MotDeviceTest, GroupsDoNotInfluenceEachOther) {
  RandomMot mot(8, 16, 3, 2, 1.f, true, Activation::kSwish, 2);
  std::mt19937 rng(1);
  std::vector<float> x = test::random_vector(10 * 8, rng);
  // sets {0, 1} and {2, absent}
  const std::vector<float> a = run_mot(*be_, mot, true, {4, 3, 3}, x);
  for (int64_t i = 7 * 8; i < 10 * 8; ++i) x[i] = 100.f;  // example 2 only
  const std::vector<float> b = run_mot(*be_, mot, true, {4, 3, 3}, x);
  EXPECT_TRUE(std::equal(a.begin(), a.begin() + 7 * 8, b.begin()));
  EXPECT_FALSE(std::equal(a.begin() + 7 * 8, a.end(), b.begin() + 7 * 8));
}

INSTANTIATE_TEST_SUITE_P(Devices, MotDeviceTest, ::testing::ValuesIn(test::devices()), test::device_label);

// --- The PyTorch reference's layers (tools/make_mot_fixtures.py) -----------

struct LayerFixture {
  nlohmann::json index;
  std::map<std::string, test::GoldenTensor> tensors;
};

const LayerFixture& layer_fixture() {
  static const LayerFixture f = [] {
    LayerFixture l;
    std::ifstream in(test::data_path("golden/mot_layer/cases.json"));
    l.index = nlohmann::json::parse(in);
    l.tensors = test::read_golden(test::data_path("golden/mot_layer/cases.safetensors"));
    return l;
  }();
  return f;
}

// The named case's layer, built from the fixture's tensors.
RandomMot fixture_layer(const nlohmann::json& c) {
  const LayerFixture& f = layer_fixture();
  const std::string name = c["name"];
  const int64_t d = f.index["d"], hidden = f.index["hidden"];
  const int experts = f.index["experts"];
  RandomMot mot;
  mot.controller = f.tensors.at(name + ".controller").data;
  for (int e = 0; e < experts; ++e) {
    const std::string s = std::to_string(e);
    mot.w1.push_back(f.tensors.at(name + ".w1." + s).data);
    mot.w2.push_back(f.tensors.at(name + ".w2." + s).data);
    const bool bias = c["bias"];
    mot.b1.push_back(bias ? f.tensors.at(name + ".b1." + s).data : std::vector<float>());
    mot.b2.push_back(bias ? f.tensors.at(name + ".b2." + s).data : std::vector<float>());
  }
  mot.finish(d, hidden, experts, c["group_size"], c["temperature"].get<float>(),
             c["activation"] == "relu" ? Activation::kRelu : Activation::kSwish);
  return mot;
}

TEST_P(MotDeviceTest, LayerOutputsMatchThePytorchReference) {
  const LayerFixture& f = layer_fixture();
  ASSERT_GE(f.index["cases"].size(), 7u);
  std::set<int> sizes;
  std::set<int> padded_batches;  // G of the cross-example cases whose last set has absent examples
  int padded = 0, small_tau = 0;
  for (const nlohmann::json& c : f.index["cases"]) {
    const std::string name = c["name"];
    RandomMot mot = fixture_layer(c);
    const std::vector<int64_t> lengths = c["lengths"].get<std::vector<int64_t>>();
    const TokenGroups groups = make_groups(c["grouping"] == "cross_example", lengths, c["group_size"]);
    const test::GoldenTensor& x = f.tensors.at(name + ".x");
    const int64_t n = x.shape[0];
    const std::vector<float> y = run_mot(*be_, mot, c["grouping"] == "cross_example", lengths, x.data);
    const std::vector<float>& ref = f.tensors.at(name + ".y").data;
    const double err = test::max_abs_diff(y.data(), std::vector<double>(ref.begin(), ref.end()));
    EXPECT_LT(err, kTolerance) << name;
    RecordProperty(name + "_max_abs_err", sci(err));
    const int G = c["group_size"];
    sizes.insert(G);
    // Padded: a cross-example batch that is not a multiple of G examples (its
    // last set completed with absent ones), or shorter examples whose
    // positions past their end are masked; a within-sequence tail group.
    const bool ragged = std::adjacent_find(lengths.begin(), lengths.end(), std::not_equal_to<>()) != lengths.end();
    if (c["grouping"] == "cross_example" ? (lengths.size() % G != 0 || (G > 1 && ragged))
                                         : std::any_of(lengths.begin(), lengths.end(), [&](int64_t l) { return l % G; })) {
      ++padded;
    }
    if (c["grouping"] == "cross_example" && lengths.size() % G != 0) padded_batches.insert(G);
    // tau -> 0: the reference's softmax output is the one-hot (expert-choice) layer.
    if (c["temperature"].get<double>() <= 1e-3) {
      const double one_hot_err = test::max_abs_diff(ref.data(), naive_mot(x.data.data(), n, mot.view, groups, true));
      EXPECT_LT(one_hot_err, kTolerance) << name;
      RecordProperty(name + "_one_hot_max_abs_err", sci(one_hot_err));
      ++small_tau;
    }
  }
  EXPECT_EQ(sizes, (std::set<int>{1, 4, 8}));
  EXPECT_GE(padded, 4);
  EXPECT_EQ(padded_batches, (std::set<int>{4, 8}));
  EXPECT_GE(small_tau, 1);
}

// Transition tuning (tools/mot_to_moe.py): gate = controller / tau, experts
// unchanged. When every token's best expert picks that token and nothing else
// picks it (the fixture is built so: G = E, x_g = 3 c_pi(g) + noise), MoT at
// tau -> 0 and the converted top-1 MoE are the same function.
TEST_P(MotDeviceTest, TransitionTunedTopOneMoeAgreesWhereTheDerivationSaysItMust) {
  const LayerFixture& f = layer_fixture();
  const auto& cases = f.index["cases"];
  const auto it = std::find_if(cases.begin(), cases.end(), [](const nlohmann::json& c) { return c["name"] == "transition"; });
  ASSERT_NE(it, cases.end());
  RandomMot mot = fixture_layer(*it);
  const test::GoldenTensor& x = f.tensors.at("transition.x");
  const int64_t n = x.shape[0], d = mot.view.d;
  std::vector<float> gate(mot.controller.size());
  for (size_t i = 0; i < gate.size(); ++i) gate[i] = mot.controller[i] / mot.view.temperature;
  const MoeView moe{d, mot.view.hidden, mot.view.num_experts, 1, mot.view.activation, gate.data(),
                    mot.weights.data()};
  std::vector<float> y_moe(n * d);
  cpu::MoeWorkspace moe_ws;
  cpu::moe_ffn(x.data.data(), n, moe, y_moe.data(), moe_ws);
  const std::vector<float> y_mot = run_mot(*be_, mot, true, (*it)["lengths"].get<std::vector<int64_t>>(), x.data);
  const std::vector<float>& ref = f.tensors.at("transition.y_moe_top1").data;
  const std::vector<double> ref_d(ref.begin(), ref.end());
  EXPECT_LT(test::max_abs_diff(y_moe.data(), ref_d), kTolerance);
  EXPECT_LT(test::max_abs_diff(y_mot.data(), ref_d), kTolerance);
}

}  // namespace
}  // namespace moeasr
