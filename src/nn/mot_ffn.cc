#include "nn/mot_ffn.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace moeasr {

namespace {

// The group table must partition the rows: a row left out would get no FFN
// output, a row in two groups would be counted twice.
void check_partition(const TokenGroups& g, int64_t rows) {
  std::vector<uint8_t> seen(static_cast<size_t>(rows), 0);
  for (const int32_t r : g.rows) {
    if (r < 0) continue;
    MOEASR_CHECK(r < rows && !seen[r], MOEASR_ERR_INTERNAL, "MoT groups: row ", r, " out of range or repeated");
    seen[r] = 1;
  }
  MOEASR_CHECK(std::find(seen.begin(), seen.end(), 0) == seen.end(), MOEASR_ERR_INTERNAL,
               "MoT groups: a row is in no group");
}

}  // namespace

MotFfn::MotFfn(const WeightReader& r, const std::string& prefix, const FfnConfig& config, int64_t d)
    : d_(d),
      group_size_(config.group_size),
      temperature_(config.temperature),
      grouping_(config.grouping),
      controller_(r.linear(r.host(prefix + ".controller.weight"), Tensor())),
      experts_(r, prefix, config.num_experts, config.activation) {}

TokenGroups MotFfn::groups(const FfnBatch& batch) const {
  MOEASR_CHECK(grouping_ == MotGrouping::kWithinSequence || batch.mixing == TokenMixing::kAcrossExamples,
               MOEASR_ERR_UNSUPPORTED,
               "encoder_conf.mot_grouping: cross_example mixes the tokens of different utterances; such a model "
               "runs only in the offline batch API (moeasr_decode_batch), never in streaming");
  std::vector<RowSegment> examples;
  for (size_t e = 0; e + 1 < batch.segments.size(); ++e) {
    examples.push_back({batch.segments[e], batch.segments[e + 1] - batch.segments[e]});
  }
  TokenGroups g;
  if (grouping_ == MotGrouping::kWithinSequence) {
    within_sequence_groups(examples, group_size_, &g);
  } else {
    cross_example_groups(examples, group_size_, &g);
  }
  return g;
}

void MotFfn::weights(Backend& be, const Tensor& x, const TokenGroups& groups, Tensor& logits, Tensor& w) const {
  const int64_t E = experts_.size(), G = group_size_, M = groups.num_groups();
  controller_.forward(be, x, logits);
  w.resize({M * G, E}, be.device());
  if (M == 0) return;
  // Masked slots get -inf logits: exp() gives them weight 0.
  be.gather_rows(logits.data<float>(), E, groups.rows, -INFINITY, w.data<float>());
  std::vector<int64_t> offsets(static_cast<size_t>(M) + 1);
  for (int64_t j = 0; j <= M; ++j) offsets[j] = j * G;
  be.softmax_segments(w.data<float>(), E, offsets, temperature_);
}

void MotFfn::forward(Backend& be, const Tensor& x, Tensor& y, const FfnBatch& batch, FfnScratch& s,
                     int64_t*) const {
  ops::check_device(be, x, "mot_ffn");
  const int64_t n = x.rows(), d = d_, E = experts_.size(), G = group_size_;
  MOEASR_CHECK(x.dim(-1) == d, MOEASR_ERR_INTERNAL, "mot_ffn: input width ", x.dim(-1), " != ", d);
  const TokenGroups groups = this->groups(batch);
  check_partition(groups, n);
  const int64_t M = groups.num_groups();
  y.resize({n, d}, be.device());
  if (n == 0) return;
  weights(be, x, groups, s.logits, s.weights);
  const float* w = s.weights.data<float>();

  // One mixed token per expert and group, expert-major ([E, M, d]) so each
  // expert's mixtures are one contiguous GEMM input: group j's mixtures are
  // W_j^T X_j with W_j [G, E] its weights and X_j [G, d] its gathered tokens.
  s.gathered.resize({M * G, d}, be.device());
  be.gather_rows(x.data<float>(), d, groups.rows, 0.f, s.gathered.data<float>());
  s.mixed.resize({E * M, d}, be.device());
  be.gemm(true, false, E, d, G, 1.f, w, E, s.gathered.data<float>(), d, 0.f, s.mixed.data<float>(), M * d, M, G * E,
          G * d, d);
  // Every expert runs once per group: one GEMM pair each over the M mixtures.
  s.out.resize({E * M, d}, be.device());
  for (int e = 0; e < E; ++e) {
    Tensor out = s.out.slice_rows(e * M, M);
    experts_.run(be, static_cast<int>(e), s.mixed.slice_rows(e * M, M), s.hidden, out);
  }
  // Each token gets its experts' outputs with the same weights: group j's
  // rows are W_j [G, E] times its experts' outputs [E, d] (rows M apart).
  be.gemm(false, false, G, d, E, 1.f, w, E, s.out.data<float>(), M * d, 0.f, s.gathered.data<float>(), d, M, G * E, d,
          G * d);
  ops::fill_zero(be, y);  // rows in no group (there are none after check_partition) stay 0
  be.scatter_rows(s.gathered.data<float>(), d, groups.rows, y.data<float>());
}

}  // namespace moeasr
