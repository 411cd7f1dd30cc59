// Attention rescoring computes each distinct prefix of the n-best once. The
// scores must not depend on which hypotheses share prefixes: scoring a list
// equals scoring each hypothesis alone (both directions), duplicates and
// the empty hypothesis included.
#include <gtest/gtest.h>

#include <random>

#include "asr/decoder.h"
#include "runtime/asr_model.h"
#include "test_util.h"

namespace moeasr {
namespace {

TEST(DecoderPrefixes, OneNodePerDistinctPrefix) {
  auto model = AsrModel::load(test::data_path("models/moe_ln"));
  const AttentionDecoder& dec = *model->decoder();
  const auto p = dec.prefixes({{5, 6, 7}, {5, 6, 8}, {5, 6, 7}, {}, {9}});
  // <sos>, 5, 56, 567 | 568 | (duplicate) | (the root) | 9
  EXPECT_EQ(p.size(), 6);
  EXPECT_EQ(p.first_new, (std::vector<int64_t>{0, 3, 4, 1, 1}));
  EXPECT_EQ(p.path[1], (std::vector<int64_t>{0, 1, 2, 4}));
  EXPECT_EQ(p.path[2], p.path[0]);
  EXPECT_EQ(p.path[3], (std::vector<int64_t>{0}));
  EXPECT_EQ(p.depth[5], 1);
}

TEST(DecoderPrefixes, SharedPrefixesScoreLikeHypothesesAlone) {
  for (const char* name : {"moe_ln", "dense_bn", "moe_k1"}) {
    auto model = AsrModel::load(test::data_path(std::string("models/") + name));
    const AttentionDecoder& dec = *model->decoder();
    const int64_t d = model->config().encoder.d_model;
    const int vocab = model->config().vocab_size;
    std::mt19937 rng(7);
    Tensor memory({23, d});
    std::normal_distribution<float> normal;
    for (int64_t i = 0; i < memory.numel(); ++i) memory.data<float>()[i] = normal(rng);
    std::uniform_int_distribution<int> token(1, vocab - 2);
    std::vector<int> stem(9);
    for (int& t : stem) t = token(rng);
    std::vector<std::vector<int>> hyps;
    for (int i = 0; i < 6; ++i) {  // shared stems of different lengths, different tails
      std::vector<int> h(stem.begin(), stem.begin() + 2 * i % 9);
      for (int j = 0; j < i % 3 + 1; ++j) h.push_back(token(rng));
      hyps.push_back(h);
    }
    hyps.push_back(hyps[2]);  // a duplicate
    hyps.push_back({});       // only <eos>
    DecoderWorkspace ws;
    const auto be = Backend::open(Device::cpu());
    const bool r2l = dec.bidirectional();
    const auto together = dec.score(*be, memory, hyps, r2l, ws);
    ASSERT_EQ(together.size(), hyps.size());
    for (size_t i = 0; i < hyps.size(); ++i) {
      const auto alone = dec.score(*be, memory, {hyps[i]}, r2l, ws);
      EXPECT_NEAR(together[i].l2r, alone[0].l2r, 1e-4) << name << " hypothesis " << i;
      EXPECT_NEAR(together[i].r2l, alone[0].r2l, 1e-4) << name << " hypothesis " << i;
    }
  }
}

}  // namespace
}  // namespace moeasr
