// Soft MoE, Soft-MoA and dense MoA layers (nn/soft_moe.h, nn/dense_moa.h)
// against the PyTorch reference (tests/data/soft_moe/layers.safetensors,
// made by tools/make_soft_moe_fixtures.py), on every test device. Each case
// holds rows of three groups (5, 1 and 9 tokens); the reference ran them as
// one zero-padded, masked batch, the runtime as examples without padding.
//  - outputs: max abs diff < 1e-4 (float32 sums in different orders);
//  - dispatch columns sum to 1 over a group's tokens, combine rows to 1 over
//    slots: within 1e-5;
//  - groups are independent: a group run alone gives its rows of the batch
//    within 1e-6, and grouping does matter (one big group differs by > 1e-3).
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>

#include "device_test_util.h"
#include "formats/safetensors.h"
#include "nn/dense_moa.h"
#include "nn/soft_moe.h"
#include "test_util.h"

namespace moeasr {
namespace {

constexpr double kReferenceTolerance = 1e-4;
constexpr double kSumTolerance = 1e-5;
constexpr double kGroupAloneTolerance = 1e-6;
constexpr int64_t kD = 16;

struct LayerCase {
  std::unique_ptr<FeedForward> layer;
  SoftMoe* soft = nullptr;  // the same layer when it is a Soft MoE
  Tensor input;             // on the device
  std::vector<float> output;
  FfnBatch groups;
};

std::shared_ptr<const SafeTensors> fixture() {
  static auto st = SafeTensors::open(test::data_path("soft_moe/layers.safetensors"));
  return st;
}

// The layers exactly as tools/make_soft_moe_fixtures.py's LAYER_CASES build them.
LayerCase load_case(const std::string& name, Backend& be) {
  const WeightReader r(*fixture(), PrecisionPolicy{}, be);
  LayerCase c;
  auto soft = [&](int experts, int slots, bool normalize, Activation act) {
    auto layer = std::make_unique<SoftMoe>(r, name, kD, experts, slots, normalize, act);
    c.soft = layer.get();
    return layer;
  };
  if (name == "soft_moe") c.layer = soft(4, 2, false, Activation::kSwish);
  if (name == "soft_moe_norm") c.layer = soft(3, 3, true, Activation::kSwish);
  if (name == "soft_moa") c.layer = soft(4, 1, true, Activation::kGelu);
  if (name == "dense_moa") c.layer = std::make_unique<DenseMoa>(r, name, 3, Activation::kGelu);
  c.input = r.tensor(name + ".input");
  const Tensor out = r.host(name + ".output");
  c.output.assign(out.data<float>(), out.data<float>() + out.numel());
  const Tensor lengths = r.host(name + ".groups");
  c.groups.segments.assign(1, 0);
  for (int64_t g = 0; g < lengths.numel(); ++g) {
    c.groups.segments.push_back(c.groups.segments.back() + static_cast<int64_t>(lengths.data<float>()[g]));
  }
  return c;
}

double max_abs_diff(const float* a, const float* b, int64_t n) {
  double m = 0;
  for (int64_t i = 0; i < n; ++i) m = std::max(m, std::fabs(static_cast<double>(a[i]) - b[i]));
  return m;
}

std::vector<float> run(Backend& be, const LayerCase& c, const Tensor& x, const FfnBatch& batch) {
  FfnScratch scratch;
  Tensor y;
  c.layer->forward(be, x, y, batch, scratch);
  return test::to_host(be, y);
}

struct Param {
  std::string layer;
  Device device;
};

std::string label(const ::testing::TestParamInfo<Param>& info) {
  return info.param.layer + "_" + test::device_label({info.param.device, info.index});
}

std::vector<Param> params(std::vector<std::string> layers) {
  std::vector<Param> p;
  for (const Device& d : test::devices()) {
    for (const std::string& l : layers) p.push_back({l, d});
  }
  return p;
}

class MixtureLayerTest : public ::testing::TestWithParam<Param> {
 protected:
  void SetUp() override {
    be_ = Backend::open(GetParam().device);
    case_ = load_case(GetParam().layer, *be_);
  }
  std::unique_ptr<Backend> be_;
  LayerCase case_;
};

TEST_P(MixtureLayerTest, MatchesReferenceWithPaddedGroups) {
  const LayerCase& c = case_;
  ASSERT_EQ(c.groups.segments.back(), c.input.dim(0));
  const std::vector<float> y = run(*be_, c, c.input, c.groups);
  ASSERT_EQ(y.size(), c.output.size());
  const double err = max_abs_diff(y.data(), c.output.data(), static_cast<int64_t>(y.size()));
  EXPECT_LT(err, kReferenceTolerance);
  RecordProperty("max_abs_err", std::to_string(err));
}

TEST_P(MixtureLayerTest, EachGroupAloneGivesItsRows) {
  const LayerCase& c = case_;
  const std::vector<float> all = run(*be_, c, c.input, c.groups);
  const std::vector<int64_t>& g = c.groups.segments;
  for (size_t i = 0; i + 1 < g.size(); ++i) {
    const int64_t begin = g[i], n = g[i + 1] - begin;
    const std::vector<float> y = run(*be_, c, c.input.slice_rows(begin, n), FfnBatch::whole(n));
    EXPECT_LT(max_abs_diff(y.data(), all.data() + begin * kD, n * kD), kGroupAloneTolerance) << "group " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, MixtureLayerTest,
                         ::testing::ValuesIn(params({"soft_moe", "soft_moe_norm", "soft_moa", "dense_moa"})), label);

class SoftMoeTest : public MixtureLayerTest {};

TEST_P(SoftMoeTest, DispatchSumsToOneOverTokensCombineOverSlots) {
  const LayerCase& c = case_;
  const int64_t m = c.soft->slots();
  const std::vector<int64_t>& g = c.groups.segments;
  for (size_t i = 0; i + 1 < g.size(); ++i) {
    const int64_t begin = g[i], n = g[i + 1] - begin;
    Tensor dispatch_d, combine_d, scratch;
    c.soft->weights(*be_, c.input.slice_rows(begin, n), dispatch_d, combine_d, scratch);
    const std::vector<float> dispatch = test::to_host(*be_, dispatch_d), combine = test::to_host(*be_, combine_d);
    for (int64_t j = 0; j < m; ++j) {
      double sum = 0;
      for (int64_t t = 0; t < n; ++t) sum += dispatch[t * m + j];
      EXPECT_NEAR(sum, 1.0, kSumTolerance) << "group " << i << " slot " << j;
    }
    for (int64_t t = 0; t < n; ++t) {
      double sum = 0;
      for (int64_t j = 0; j < m; ++j) sum += combine[t * m + j];
      EXPECT_NEAR(sum, 1.0, kSumTolerance) << "group " << i << " token " << t;
    }
  }
}

TEST_P(SoftMoeTest, GroupingMatters) {
  // The same rows as one group give a different result: the groups are really used.
  const LayerCase& c = case_;
  const std::vector<float> grouped = run(*be_, c, c.input, c.groups);
  const std::vector<float> whole = run(*be_, c, c.input, FfnBatch::whole(c.input.dim(0)));
  EXPECT_GT(max_abs_diff(grouped.data(), whole.data(), static_cast<int64_t>(whole.size())), 1e-3);
}

TEST_P(SoftMoeTest, EmptyGroupsAreSkipped) {
  const LayerCase& c = case_;
  const std::vector<float> expected = run(*be_, c, c.input, c.groups);
  const std::vector<int64_t>& g = c.groups.segments;
  FfnBatch with_empty;
  with_empty.segments = {0, 0, g[1], g[1], g[2], g[3], g[3]};
  const std::vector<float> y = run(*be_, c, c.input, with_empty);
  EXPECT_LT(max_abs_diff(y.data(), expected.data(), static_cast<int64_t>(y.size())), kGroupAloneTolerance);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, SoftMoeTest, ::testing::ValuesIn(params({"soft_moe", "soft_moe_norm", "soft_moa"})),
                         label);

class SoftMoeNormalizedTest : public ::testing::TestWithParam<Device> {};

TEST_P(SoftMoeNormalizedTest, InputScaleDoesNotChangeTheWeights) {
  // With l2-normalized logits, scaling a token changes neither D nor C.
  auto be = Backend::open(GetParam());
  const LayerCase c = load_case("soft_moe_norm", *be);
  const int64_t n = c.groups.segments[1];
  const std::vector<float> input = test::to_host(*be, c.input.slice_rows(0, n));
  std::vector<float> scaled(input);
  for (float& x : scaled) x *= 7.f;
  Tensor d1, c1, d2, c2, scratch;
  c.soft->weights(*be, test::to_device(*be, test::host_tensor({n, kD}, input)), d1, c1, scratch);
  c.soft->weights(*be, test::to_device(*be, test::host_tensor({n, kD}, scaled)), d2, c2, scratch);
  const std::vector<float> hd1 = test::to_host(*be, d1), hd2 = test::to_host(*be, d2);
  const std::vector<float> hc1 = test::to_host(*be, c1), hc2 = test::to_host(*be, c2);
  EXPECT_LT(max_abs_diff(hd1.data(), hd2.data(), static_cast<int64_t>(hd1.size())), 1e-6);
  EXPECT_LT(max_abs_diff(hc1.data(), hc2.data(), static_cast<int64_t>(hc1.size())), 1e-6);
}

INSTANTIATE_TEST_SUITE_P(Devices, SoftMoeNormalizedTest, ::testing::ValuesIn(test::devices()), test::device_label);

}  // namespace
}  // namespace moeasr
