// Soft MoE, Soft-MoA and dense MoA layers against the PyTorch reference
// (tests/data/soft_moe/layers.safetensors, made by tools/make_soft_moe_fixtures.py).
// Each case holds rows of three groups (5, 1 and 9 tokens); the reference ran
// them as one zero-padded, masked batch, the runtime as groups without padding.
//  - outputs: max abs diff < 1e-4 (float32 sums in different orders);
//  - dispatch columns sum to 1 over a group's tokens, combine rows to 1 over
//    slots: within 1e-5;
//  - groups are independent: a group run alone gives its rows of the batch
//    within 1e-6, and grouping does matter (one big group differs by > 1e-3).
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "nn/layers.h"
#include "formats/safetensors.h"
#include "ops/ops.h"
#include "test_util.h"

namespace moeasr {
namespace {

constexpr double kReferenceTolerance = 1e-4;
constexpr double kSumTolerance = 1e-5;
constexpr double kGroupAloneTolerance = 1e-6;
constexpr int64_t kD = 16;

struct LayerCase {
  std::string name;
  MixtureWeights weights;
  Tensor input, output;
  ops::SoftGroups groups;  // offsets
};

std::shared_ptr<const SafeTensors> fixture() {
  static auto st = SafeTensors::open(test::data_path("soft_moe/layers.safetensors"));
  return st;
}

// The layers exactly as tools/make_soft_moe_fixtures.py's LAYER_CASES build them.
LayerCase load_case(const std::string& name) {
  auto st = fixture();
  WeightReader r(*st);
  LayerCase c;
  c.name = name;
  if (name == "soft_moe") c.weights = r.soft_moe(name, kD, 24, 4, 2, false, Activation::kSwish);
  if (name == "soft_moe_norm") c.weights = r.soft_moe(name, kD, 24, 3, 3, true, Activation::kSwish);
  if (name == "soft_moa") c.weights = r.soft_moe(name, kD, 8, 4, 1, true, Activation::kGelu);
  if (name == "dense_moa") c.weights = r.dense_moa(name, kD, 8, 3, Activation::kGelu);
  c.input = r.tensor(name + ".input");
  c.output = r.tensor(name + ".output");
  const Tensor lengths = r.tensor(name + ".groups");
  c.groups.assign(1, 0);
  for (int64_t g = 0; g < lengths.numel(); ++g) {
    c.groups.push_back(c.groups.back() + static_cast<int64_t>(lengths.data<float>()[g]));
  }
  return c;
}

double max_abs_diff(const float* a, const float* b, int64_t n) {
  double m = 0;
  for (int64_t i = 0; i < n; ++i) m = std::max(m, std::fabs(static_cast<double>(a[i]) - b[i]));
  return m;
}

class MixtureLayerTest : public ::testing::TestWithParam<std::string> {};

TEST_P(MixtureLayerTest, MatchesReferenceWithPaddedGroups) {
  LayerCase c = load_case(GetParam());
  ASSERT_TRUE(c.weights.present());
  ASSERT_EQ(c.groups.back(), c.input.dim(0));
  ops::FfnWorkspace ws;
  Tensor y;
  ops::mixture(c.input, c.weights, y, ws, c.groups);
  ASSERT_EQ(y.numel(), c.output.numel());
  const double err = max_abs_diff(y.data<float>(), c.output.data<float>(), y.numel());
  EXPECT_LT(err, kReferenceTolerance);
  RecordProperty("max_abs_err", std::to_string(err));
}

TEST_P(MixtureLayerTest, EachGroupAloneGivesItsRows) {
  LayerCase c = load_case(GetParam());
  ops::FfnWorkspace ws;
  Tensor all;
  ops::mixture(c.input, c.weights, all, ws, c.groups);
  for (size_t g = 0; g + 1 < c.groups.size(); ++g) {
    const int64_t begin = c.groups[g], n = c.groups[g + 1] - begin;
    Tensor x({n, kD}), y;
    std::copy(c.input.data<float>() + begin * kD, c.input.data<float>() + (begin + n) * kD, x.data<float>());
    ops::mixture(x, c.weights, y, ws);
    EXPECT_LT(max_abs_diff(y.data<float>(), all.data<float>() + begin * kD, n * kD), kGroupAloneTolerance)
        << "group " << g;
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, MixtureLayerTest,
                         ::testing::Values("soft_moe", "soft_moe_norm", "soft_moa", "dense_moa"));

class SoftMoeTest : public ::testing::TestWithParam<std::string> {};

TEST_P(SoftMoeTest, DispatchSumsToOneOverTokensCombineOverSlots) {
  LayerCase c = load_case(GetParam());
  const cpu::SoftMoeView v = c.weights.soft_view();
  const int64_t m = v.slots();
  std::vector<float> scratch;
  for (size_t g = 0; g + 1 < c.groups.size(); ++g) {
    const int64_t begin = c.groups[g], n = c.groups[g + 1] - begin;
    std::vector<float> dispatch(n * m), combine(n * m);
    cpu::soft_moe_weights(c.input.data<float>() + begin * kD, n, v, dispatch.data(), combine.data(), scratch);
    for (int64_t j = 0; j < m; ++j) {
      double sum = 0;
      for (int64_t t = 0; t < n; ++t) sum += dispatch[t * m + j];
      EXPECT_NEAR(sum, 1.0, kSumTolerance) << "group " << g << " slot " << j;
    }
    for (int64_t t = 0; t < n; ++t) {
      double sum = 0;
      for (int64_t j = 0; j < m; ++j) sum += combine[t * m + j];
      EXPECT_NEAR(sum, 1.0, kSumTolerance) << "group " << g << " token " << t;
    }
  }
}

TEST_P(SoftMoeTest, GroupingMatters) {
  // The same rows as one group give a different result: the groups are really used.
  LayerCase c = load_case(GetParam());
  ops::FfnWorkspace ws;
  Tensor grouped, whole;
  ops::mixture(c.input, c.weights, grouped, ws, c.groups);
  ops::mixture(c.input, c.weights, whole, ws);
  EXPECT_GT(max_abs_diff(grouped.data<float>(), whole.data<float>(), whole.numel()), 1e-3);
}

TEST_P(SoftMoeTest, EmptyGroupsAreSkipped) {
  LayerCase c = load_case(GetParam());
  ops::FfnWorkspace ws;
  Tensor expected, y;
  ops::mixture(c.input, c.weights, expected, ws, c.groups);
  ops::SoftGroups with_empty = {0, 0, c.groups[1], c.groups[1], c.groups[2], c.groups[3], c.groups[3]};
  ops::mixture(c.input, c.weights, y, ws, with_empty);
  EXPECT_LT(max_abs_diff(y.data<float>(), expected.data<float>(), y.numel()), kGroupAloneTolerance);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, SoftMoeTest, ::testing::Values("soft_moe", "soft_moe_norm", "soft_moa"));

TEST(SoftMoeNormalizedTest, InputScaleDoesNotChangeTheWeights) {
  // With l2-normalized logits, scaling a token changes neither D nor C.
  LayerCase c = load_case("soft_moe_norm");
  const cpu::SoftMoeView v = c.weights.soft_view();
  const int64_t n = c.groups[1], m = v.slots();
  std::vector<float> scaled(c.input.data<float>(), c.input.data<float>() + n * kD);
  for (float& x : scaled) x *= 7.f;
  std::vector<float> d1(n * m), c1(n * m), d2(n * m), c2(n * m), scratch;
  cpu::soft_moe_weights(c.input.data<float>(), n, v, d1.data(), c1.data(), scratch);
  cpu::soft_moe_weights(scaled.data(), n, v, d2.data(), c2.data(), scratch);
  EXPECT_LT(max_abs_diff(d1.data(), d2.data(), n * m), 1e-6);
  EXPECT_LT(max_abs_diff(c1.data(), c2.data(), n * m), 1e-6);
}

}  // namespace
}  // namespace moeasr
