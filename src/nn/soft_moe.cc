#include "nn/soft_moe.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace moeasr {

namespace {

// Φ [d, E, S] -> [E * S, d]: one row per slot, what the logits GEMM reads as
// a Linear weight; normalized once here when the layer normalizes (the
// slots' normalization does not depend on the input).
Tensor slot_rows(const Tensor& phi, int64_t d, int64_t experts, int64_t slots, bool normalize,
                 SlotNormalization mode) {
  Tensor rows({slots, d});
  for (int64_t c = 0; c < d; ++c) {
    for (int64_t j = 0; j < slots; ++j) rows.data<float>()[j * d + c] = phi.data<float>()[c * slots + j];
  }
  if (normalize && mode == SlotNormalization::kPetlAst) {
    // PETL_AST's l2_normalize(slot_params, axis=1): over the E experts of each
    // (feature c, slot-in-expert s), v / (|v| + 1e-6). Slot j = e * S + s.
    const int64_t per_expert = slots / experts;
    for (int64_t c = 0; c < d; ++c) {
      for (int64_t s = 0; s < per_expert; ++s) {
        double sum = 0;
        for (int64_t e = 0; e < experts; ++e) {
          const double v = rows.data<float>()[(e * per_expert + s) * d + c];
          sum += v * v;
        }
        const float inv = 1.f / (static_cast<float>(std::sqrt(sum)) + 1e-6f);
        for (int64_t e = 0; e < experts; ++e) rows.data<float>()[(e * per_expert + s) * d + c] *= inv;
      }
    }
  } else if (normalize) {
    for (int64_t j = 0; j < slots; ++j) {
      float* row = rows.data<float>() + j * d;
      double sum = 0;
      for (int64_t c = 0; c < d; ++c) sum += static_cast<double>(row[c]) * row[c];
      const float inv = 1.f / std::max(static_cast<float>(std::sqrt(sum)), 1e-12f);  // F.normalize's eps
      for (int64_t c = 0; c < d; ++c) row[c] *= inv;
    }
  }
  return rows;
}

}  // namespace

SoftMoe::SoftMoe(const WeightReader& r, const std::string& prefix, int64_t d, int experts, int slots_per_expert,
                 bool normalize, Activation activation, SlotNormalization mode)
    : d_(d),
      slots_per_expert_(slots_per_expert),
      normalize_(normalize),
      dispatch_normalized_(normalize && mode == SlotNormalization::kPetlAst),
      experts_(r, prefix, experts, activation) {
  const int64_t slots = int64_t{experts} * slots_per_expert;
  phi_ = r.linear(slot_rows(r.host(prefix + ".phi"), d, experts, slots, normalize, mode), Tensor());
  if (normalize) scale_ = r.host(prefix + ".phi_scale").data<float>()[0];
}

void SoftMoe::logits(Backend& be, const Tensor& x, Tensor& out, Tensor& normalized) const {
  if (!normalize_) {
    phi_.forward(be, x, out);
    return;
  }
  normalized.resize(x.shape(), be.device());
  if (x.rows()) be.l2_normalize_rows(x.data<float>(), x.rows(), d_, normalized.data<float>());
  phi_.forward(be, normalized, out);
  ops::scale(be, out, scale_);
}

void SoftMoe::weights(Backend& be, const Tensor& x, Tensor& dispatch, Tensor& combine, Tensor& normalized) const {
  logits(be, x, combine, normalized);
  dispatch.resize(combine.shape(), be.device());
  be.copy(dispatch.raw(), combine.raw(), combine.nbytes());
  ops::softmax(be, combine);
  be.softmax_segments(dispatch.data<float>(), slots(), {0, x.rows()}, 1.f);
}

void SoftMoe::forward(Backend& be, const Tensor& x, Tensor& y, const FfnBatch& batch, FfnScratch& s,
                      int64_t*) const {
  ops::check_device(be, x, "soft_moe");
  const int64_t d = d_, m = slots(), S = slots_per_expert_, E = experts_.size(), n = x.rows();
  MOEASR_CHECK(x.dim(-1) == d, MOEASR_ERR_INTERNAL, "soft_moe: input width ", x.dim(-1), " != ", d);
  MOEASR_CHECK(batch.segments.size() >= 2 && batch.segments.front() == 0 && batch.segments.back() == n,
               MOEASR_ERR_INTERNAL, "soft_moe: the batch's examples do not cover its ", n, " rows");
  y.resize({n, d}, be.device());
  if (n == 0) return;
  // Empty examples have no slots (their dispatch softmax would be 0/0).
  std::vector<int64_t> groups;
  for (size_t g = 0; g + 1 < batch.segments.size(); ++g) {
    if (batch.segments[g + 1] > batch.segments[g]) groups.push_back(static_cast<int64_t>(g));
  }
  const int64_t G = static_cast<int64_t>(groups.size());

  // Logits for all tokens in one GEMM; the softmaxes are per example
  // (dispatch, over its tokens) and per token (combine, over the slots).
  logits(be, x, s.logits, s.hidden);
  Tensor& combine = s.logits;
  Tensor& dispatch = s.weights;
  dispatch.resize(combine.shape(), be.device());
  be.copy(dispatch.raw(), combine.raw(), combine.nbytes());
  ops::softmax(be, combine);
  be.softmax_segments(dispatch.data<float>(), m, batch.segments, 1.f);

  // Slot inputs Dᵀ x (Dᵀ l2norm(x), kept in s.hidden by logits(), for
  // PETL_AST's normalization), one GEMM per example into [G, m, d], then moved
  // expert-major ([E, G, S, d]) so each expert's slots of every example are
  // one contiguous block.
  s.gathered.resize({G * m, d}, be.device());
  s.mixed.resize({E * G * S, d}, be.device());
  float* by_group = s.gathered.data<float>();
  float* by_expert = s.mixed.data<float>();
  const float* dispatched = dispatch_normalized_ ? s.hidden.data<float>() : x.data<float>();
  std::vector<RowCopy> to_experts, to_groups;
  for (int64_t i = 0; i < G; ++i) {
    const int64_t begin = batch.segments[groups[i]], count = batch.segments[groups[i] + 1] - begin;
    be.gemm(true, false, m, d, count, 1.f, dispatch.data<float>() + begin * m, m, dispatched + begin * d, d, 0.f,
            by_group + i * m * d, d);
    for (int64_t e = 0; e < E; ++e) {
      float* group_rows = by_group + (i * m + e * S) * d;
      float* expert_rows = by_expert + (e * G + i) * S * d;
      to_experts.push_back({expert_rows, group_rows, static_cast<int32_t>(S)});
      to_groups.push_back({group_rows, expert_rows, static_cast<int32_t>(S)});
    }
  }
  be.copy_rows(to_experts, d);

  // Each expert: one GEMM pair over its G * S slots, the outputs written over
  // the inputs (w_1 has read them into the hidden rows by then).
  for (int e = 0; e < E; ++e) {
    Tensor slots_of_e = s.mixed.slice_rows(e * G * S, G * S);
    experts_.run(be, e, slots_of_e, s.hidden, slots_of_e);
  }

  // y = C · the example's slot outputs (moved back to slot order).
  be.copy_rows(to_groups, d);
  for (int64_t i = 0; i < G; ++i) {
    const int64_t begin = batch.segments[groups[i]], count = batch.segments[groups[i] + 1] - begin;
    be.gemm(false, false, count, d, m, 1.f, combine.data<float>() + begin * m, m, by_group + i * m * d, d, 0.f,
            y.data<float>() + begin * d, d);
  }
}

}  // namespace moeasr
