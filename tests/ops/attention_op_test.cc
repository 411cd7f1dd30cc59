// The attention ops of the Backend table on every test device against
// kernels/cpu/attention (checked against naive attention in
// tests/kernels/attention_test.cc): float32, tolerance 1e-4; several jobs of
// different lengths in one call, rel-pos, causal, and causal queries that
// start past position 0 (the decoder's shared prefixes).
#include "kernels/cpu/attention.h"
#include "ops/op_test_util.h"

namespace moeasr {
namespace {

using test::randn;

class AttentionOp : public test::OpTest {
 protected:
  struct Job {
    int t, len, first;
    std::vector<float> q, k, v, p;
    Tensor dq, dk, dv, dp, dout;
  };

  std::vector<Job> make_jobs(const std::vector<std::tuple<int, int, int>>& shapes, int64_t d, std::mt19937& rng) {
    std::vector<Job> jobs(shapes.size());
    for (size_t i = 0; i < shapes.size(); ++i) {
      Job& j = jobs[i];
      std::tie(j.t, j.len, j.first) = shapes[i];
      j.q = randn(std::max(j.t, 1) * d, rng);
      j.k = randn(std::max(j.len, 1) * d, rng);
      j.v = randn(std::max(j.len, 1) * d, rng);
      j.p = randn(std::max(j.len, 1) * d, rng);
      j.dq = dev(j.q);
      j.dk = dev(j.k);
      j.dv = dev(j.v);
      j.dp = dev(j.p);
      j.dout = dev_zeros(std::max(j.t, 1) * d);
    }
    return jobs;
  }
};

TEST_P(AttentionOp, RelPosBatchedJobsOfDifferentLengths) {
  std::mt19937 rng(30);
  for (auto [heads, d_k] : {std::pair<int, int>{4, 16}, {8, 88}, {2, 64}}) {
    const int64_t d = static_cast<int64_t>(heads) * d_k;
    // (t, len): streaming chunks with caches, a single query, a full-attention utterance.
    auto jobs = make_jobs({{16, 16, 0}, {16, 80, 0}, {1, 300, 0}, {5, 20, 0}, {700, 1500, 0}, {0, 10, 0}}, d, rng);
    const auto u = randn(d, rng, 0.1f), vb = randn(d, rng, 0.1f);
    Tensor du = dev(u), dvb = dev(vb);
    std::vector<AttentionJob> table;
    for (Job& j : jobs) table.push_back({f(j.dq), f(j.dout), f(j.dk), f(j.dv), f(j.dp), j.t, j.len, 0});
    be().rel_pos_attention(table, d, f(du), f(dvb), heads, d_k);
    cpu::AttentionScratch scratch;
    for (Job& j : jobs) {
      if (j.t == 0) continue;
      std::vector<float> want(j.t * d);
      cpu::rel_pos_attention(j.q.data(), j.t, d, j.k.data(), j.v.data(), j.p.data(), j.len, d, u.data(), vb.data(),
                             heads, d_k, want.data(), d, scratch);
      test::expect_close(host(j.dout, j.t * d), want, 1e-4, "rel_pos_attention");
    }
  }
}

TEST_P(AttentionOp, DotProductCausalFullAndOffset) {
  std::mt19937 rng(31);
  const int heads = 4, d_k = 32;
  const int64_t d = heads * d_k;
  for (bool causal : {false, true}) {
    // Decoder self-attention (t == len), cross-attention shapes (t != len), a
    // single token, and the last queries of a sequence (first > 0).
    auto jobs = make_jobs({{9, 9, 0}, {1, 1, 0}, {12, 40, 0}, {30, 30, 0}, {4, 2, 0}, {3, 11, 8}, {1, 6, 5}}, d, rng);
    std::vector<AttentionJob> table;
    for (Job& j : jobs) table.push_back({f(j.dq), f(j.dout), f(j.dk), f(j.dv), nullptr, j.t, j.len, j.first});
    be().dot_product_attention(table, d, heads, d_k, causal);
    cpu::AttentionScratch scratch;
    for (Job& j : jobs) {
      std::vector<float> want(j.t * d);
      cpu::dot_product_attention(j.q.data(), j.t, d, j.k.data(), j.v.data(), j.len, d, heads, d_k, causal,
                                 want.data(), d, scratch, j.first);
      test::expect_close(host(j.dout, j.t * d), want, 1e-4, causal ? "causal attention" : "attention");
    }
  }
}

MOEASR_OP_TEST_DEVICES(AttentionOp);

}  // namespace
}  // namespace moeasr
