// CUDA attention against kernels/cpu/attention (float32, tolerance 1e-4):
// several jobs of different lengths in one call, rel-pos and causal.
#include "kernels/cpu/attention.h"

#include "cuda/cuda_test_util.h"

namespace moeasr {
namespace {

using test::CudaTest;

class CudaAttention : public CudaTest {};

struct HostJob {
  int t, len;
  std::vector<float> q, k, v, p;
  cuda::Buffer dq, dk, dv, dp, dout;
};

std::vector<HostJob> make_jobs(const std::vector<std::pair<int, int>>& shapes, int64_t d, std::mt19937& rng) {
  std::vector<HostJob> jobs(shapes.size());
  for (size_t i = 0; i < shapes.size(); ++i) {
    jobs[i].t = shapes[i].first;
    jobs[i].len = shapes[i].second;
    jobs[i].q = test::randn(std::max(jobs[i].t, 1) * d, rng);
    jobs[i].k = test::randn(std::max(jobs[i].len, 1) * d, rng);
    jobs[i].v = test::randn(std::max(jobs[i].len, 1) * d, rng);
    jobs[i].p = test::randn(std::max(jobs[i].len, 1) * d, rng);
  }
  return jobs;
}

TEST_F(CudaAttention, RelPosBatchedJobsOfDifferentLengths) {
  std::mt19937 rng(30);
  for (auto [heads, d_k] : {std::pair<int, int>{4, 16}, {8, 88}, {2, 64}}) {
    const int64_t d = static_cast<int64_t>(heads) * d_k;
    // (t, len): streaming chunks with caches, a single query, a full-attention utterance.
    auto jobs = make_jobs({{16, 16}, {16, 80}, {1, 300}, {5, 20}, {700, 1500}, {0, 10}}, d, rng);
    const auto u = test::randn(d, rng, 0.1f), vb = test::randn(d, rng, 0.1f);
    cuda::Buffer du = to_device(u), dvb = to_device(vb);
    std::vector<cuda::AttentionJob> cj;
    for (HostJob& j : jobs) {
      j.dq = to_device(j.q);
      j.dk = to_device(j.k);
      j.dv = to_device(j.v);
      j.dp = to_device(j.p);
      j.dout = cuda::Buffer(ctx(), sizeof(float) * std::max(j.t, 1) * d);
      cj.push_back({j.dq.as<float>(), j.dout.as<float>(), j.dk.as<float>(), j.dv.as<float>(), j.dp.as<float>(), j.t,
                    j.len});
    }
    cuda::rel_pos_attention(ctx(), cj, d, du.as<float>(), dvb.as<float>(), heads, d_k, ws_);
    cpu::AttentionScratch scratch;
    for (HostJob& j : jobs) {
      if (j.t == 0) continue;
      std::vector<float> want(j.t * d);
      cpu::rel_pos_attention(j.q.data(), j.t, d, j.k.data(), j.v.data(), j.p.data(), j.len, d, u.data(), vb.data(),
                             heads, d_k, want.data(), d, scratch);
      test::expect_close(to_host<float>(j.dout, j.t * d), want, 1e-4, "rel_pos_attention");
    }
  }
}

TEST_F(CudaAttention, DotProductCausalAndFull) {
  std::mt19937 rng(31);
  const int heads = 4, d_k = 32;
  const int64_t d = heads * d_k;
  for (bool causal : {false, true}) {
    // Decoder self-attention (t == len), cross-attention shapes (t != len), a single token.
    auto jobs = make_jobs({{9, 9}, {1, 1}, {12, 40}, {30, 30}, {4, 2}}, d, rng);
    std::vector<cuda::AttentionJob> cj;
    for (HostJob& j : jobs) {
      j.dq = to_device(j.q);
      j.dk = to_device(j.k);
      j.dv = to_device(j.v);
      j.dout = cuda::Buffer(ctx(), sizeof(float) * j.t * d);
      cj.push_back({j.dq.as<float>(), j.dout.as<float>(), j.dk.as<float>(), j.dv.as<float>(), nullptr, j.t, j.len});
    }
    cuda::dot_product_attention(ctx(), cj, d, heads, d_k, causal, ws_);
    cpu::AttentionScratch scratch;
    for (HostJob& j : jobs) {
      std::vector<float> want(j.t * d);
      cpu::dot_product_attention(j.q.data(), j.t, d, j.k.data(), j.v.data(), j.len, d, heads, d_k, causal,
                                 want.data(), d, scratch);
      test::expect_close(to_host<float>(j.dout, j.t * d), want, 1e-4, causal ? "causal attention" : "attention");
    }
  }
}

TEST_F(CudaAttention, RejectsHeadsWiderThanTheRows) {
  std::vector<cuda::AttentionJob> jobs = {{nullptr, nullptr, nullptr, nullptr, nullptr, 1, 1}};
  EXPECT_THROW(cuda::dot_product_attention(ctx(), jobs, 64, 4, 32, false, ws_), Error);
  EXPECT_THROW(cuda::dot_product_attention(ctx(), jobs, 1024, 2, 512, false, ws_), Error);
}

}  // namespace
}  // namespace moeasr
