#include "kernels/cpu/attention.h"

#include <gtest/gtest.h>

#include "kernels/naive.h"

namespace moeasr {
namespace {

// softmax(scores) v for one head, rows of q against all keys, in double.
std::vector<double> naive_head(const std::vector<double>& scores, int64_t t, int64_t l, const float* v, int64_t ld,
                               int64_t col, int d_k, bool causal) {
  std::vector<double> out(t * d_k, 0.0);
  for (int64_t i = 0; i < t; ++i) {
    const int64_t visible = causal ? std::min(i + 1, l) : l;
    double mx = -1e300, sum = 0;
    for (int64_t j = 0; j < visible; ++j) mx = std::max(mx, scores[i * l + j]);
    for (int64_t j = 0; j < visible; ++j) sum += std::exp(scores[i * l + j] - mx);
    for (int64_t j = 0; j < visible; ++j) {
      const double p = std::exp(scores[i * l + j] - mx) / sum;
      for (int c = 0; c < d_k; ++c) out[i * d_k + c] += p * v[j * ld + col + c];
    }
  }
  return out;
}

TEST(AttentionKernel, RelPosMatchesNaive) {
  const int heads = 3, d_k = 5;
  const int64_t d = heads * d_k, t = 4, l = 9;
  std::mt19937 rng(1);
  auto q = test::random_vector(t * d, rng), k = test::random_vector(l * d, rng), v = test::random_vector(l * d, rng);
  auto p = test::random_vector(l * d, rng), u = test::random_vector(d, rng), vb = test::random_vector(d, rng);
  std::vector<float> out(t * d);
  cpu::AttentionScratch s;
  cpu::rel_pos_attention(q.data(), t, d, k.data(), v.data(), p.data(), l, d, u.data(), vb.data(), heads, d_k,
                         out.data(), d, s);
  double err = 0;
  for (int h = 0; h < heads; ++h) {
    const int64_t col = h * d_k;
    std::vector<double> scores(t * l);
    for (int64_t i = 0; i < t; ++i) {
      for (int64_t j = 0; j < l; ++j) {
        double ac = 0, bd = 0;
        for (int c = 0; c < d_k; ++c) {
          ac += (double(q[i * d + col + c]) + u[col + c]) * k[j * d + col + c];
          bd += (double(q[i * d + col + c]) + vb[col + c]) * p[j * d + col + c];
        }
        scores[i * l + j] = (ac + bd) / std::sqrt(double(d_k));
      }
    }
    std::vector<double> ref = naive_head(scores, t, l, v.data(), d, col, d_k, false);
    for (int64_t i = 0; i < t; ++i) {
      for (int c = 0; c < d_k; ++c) err = std::max(err, std::fabs(out[i * d + col + c] - ref[i * d_k + c]));
    }
  }
  EXPECT_LT(err, 1e-5);
}

TEST(AttentionKernel, CausalDotProductMatchesNaive) {
  const int heads = 2, d_k = 4;
  const int64_t d = heads * d_k, t = 6;
  std::mt19937 rng(2);
  auto q = test::random_vector(t * d, rng), k = test::random_vector(t * d, rng), v = test::random_vector(t * d, rng);
  for (bool causal : {true, false}) {
    std::vector<float> out(t * d);
    cpu::AttentionScratch s;
    cpu::dot_product_attention(q.data(), t, d, k.data(), v.data(), t, d, heads, d_k, causal, out.data(), d, s);
    double err = 0;
    for (int h = 0; h < heads; ++h) {
      const int64_t col = h * d_k;
      std::vector<double> scores(t * t);
      for (int64_t i = 0; i < t; ++i) {
        for (int64_t j = 0; j < t; ++j) {
          double a = 0;
          for (int c = 0; c < d_k; ++c) a += double(q[i * d + col + c]) * k[j * d + col + c];
          scores[i * t + j] = a / std::sqrt(double(d_k));
        }
      }
      std::vector<double> ref = naive_head(scores, t, t, v.data(), d, col, d_k, causal);
      for (int64_t i = 0; i < t; ++i) {
        for (int c = 0; c < d_k; ++c) err = std::max(err, std::fabs(out[i * d + col + c] - ref[i * d_k + c]));
      }
    }
    EXPECT_LT(err, 1e-5) << "causal=" << causal;
  }
}

// Queries that are the last rows of a causal sequence (first_query_position
// p): the same outputs as those rows of the whole sequence's attention.
TEST(AttentionKernel, CausalQueriesFromAnOffsetEqualTheWholeSequence) {
  const int heads = 2, d_k = 4;
  const int64_t d = heads * d_k, l = 7;
  std::mt19937 rng(3);
  auto q = test::random_vector(l * d, rng), k = test::random_vector(l * d, rng), v = test::random_vector(l * d, rng);
  cpu::AttentionScratch s;
  std::vector<float> whole(l * d);
  cpu::dot_product_attention(q.data(), l, d, k.data(), v.data(), l, d, heads, d_k, true, whole.data(), d, s);
  for (int64_t p : {1, 3, 6}) {
    std::vector<float> part((l - p) * d);
    cpu::dot_product_attention(q.data() + p * d, l - p, d, k.data(), v.data(), l, d, heads, d_k, true, part.data(), d, s, p);
    for (int64_t i = 0; i < (l - p) * d; ++i) EXPECT_NEAR(part[i], whole[p * d + i], 1e-6) << "offset " << p;
  }
}

}  // namespace
}  // namespace moeasr
