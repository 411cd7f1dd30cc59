#include "ops/ops.h"

#include <algorithm>

#include "core/error.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/linear.h"
#include "kernels/cpu/norm.h"
#include "kernels/cpu/softmax.h"

namespace moeasr::ops {

namespace {
int64_t rows_of(const Tensor& x) { return x.rank() == 0 ? 1 : x.numel() / x.dim(-1); }
}  // namespace

void linear(const Tensor& x, const LinearWeights& w, Tensor& y) {
  MOEASR_CHECK(x.dim(-1) == w.in(), MOEASR_ERR_INTERNAL, "linear: input width ", x.dim(-1), " != ", w.in());
  const int64_t rows = rows_of(x);
  y.resize({rows, w.out()});
  cpu::linear(x.data<float>(), rows, w.matrix, w.bias_data(), y.data<float>(), w.out());
}

void linear_activation(const Tensor& x, const LinearWeights& w, Activation act, Tensor& y) {
  MOEASR_CHECK(x.dim(-1) == w.in(), MOEASR_ERR_INTERNAL, "linear: input width ", x.dim(-1), " != ", w.in());
  const int64_t rows = rows_of(x);
  y.resize({rows, w.out()});
  cpu::linear_activation(x.data<float>(), rows, w.matrix, w.bias_data(), act, y.data<float>(), w.out());
}

void layer_norm(const Tensor& x, const LayerNormWeights& n, Tensor& y) {
  const int64_t cols = x.dim(-1);
  MOEASR_CHECK(n.gamma.numel() == cols, MOEASR_ERR_INTERNAL, "layer_norm: width ", cols, " != ", n.gamma.numel());
  if (&y != &x) y.resize(x.shape());
  cpu::layer_norm(x.data<float>(), rows_of(x), cols, n.gamma.data<float>(), n.beta.data<float>(), n.eps,
                  y.data<float>());
}

void add_scaled(Tensor& y, const Tensor& x, float alpha) {
  MOEASR_CHECK(y.numel() == x.numel(), MOEASR_ERR_INTERNAL, "add_scaled: ", shape_string(y.shape()), " vs ",
               shape_string(x.shape()));
  cpu::add_scaled(y.data<float>(), x.data<float>(), alpha, x.numel());
}

void activation(Tensor& x, Activation act) { cpu::activation(x.data<float>(), x.numel(), act); }

void glu(const Tensor& x, Tensor& y) {
  const int64_t cols = x.dim(-1);
  MOEASR_CHECK(cols % 2 == 0, MOEASR_ERR_INTERNAL, "glu: odd width ", cols);
  const int64_t rows = rows_of(x);
  y.resize({rows, cols / 2});
  cpu::glu(x.data<float>(), rows, cols / 2, y.data<float>());
}

void log_softmax(Tensor& x) {
  const int64_t cols = x.dim(-1);
  cpu::log_softmax_rows(x.data<float>(), rows_of(x), cols, cols);
}

void scale(Tensor& x, float s) { cpu::scale(x.data<float>(), x.data<float>(), s, x.numel()); }

namespace {

// The group table must partition the rows: a row left out would get no FFN
// output, a row in two groups would be counted twice.
void check_groups(const cpu::MotGroups& g, int group_size, int64_t rows, std::vector<uint8_t>& seen) {
  seen.assign(static_cast<size_t>(rows), 0);
  for (int64_t i = 0; i < g.num_groups * group_size; ++i) {
    const int32_t r = g.rows[i];
    if (r < 0) continue;
    MOEASR_CHECK(r < rows && !seen[r], MOEASR_ERR_INTERNAL, "MoT groups: row ", r, " out of range or repeated");
    seen[r] = 1;
  }
  MOEASR_CHECK(std::find(seen.begin(), seen.end(), 0) == seen.end(), MOEASR_ERR_INTERNAL,
               "MoT groups: a row is in no group");
}

}  // namespace

void mixture(const Tensor& x, const MixtureWeights& m, Tensor& y, FfnWorkspace& ws, const SoftGroups& groups) {
  const int64_t d = x.dim(-1);
  const int64_t rows = rows_of(x);
  MOEASR_CHECK(d == m.d, MOEASR_ERR_INTERNAL, "mixture: input width ", d, " != ", m.d);
  y.resize({rows, d});
  if (m.kind == MixtureWeights::Kind::kDense) {
    cpu::dense_moa(x.data<float>(), rows, m.dense_view(), y.data<float>(), ws.dense_moa);
    return;
  }
  MOEASR_CHECK(m.kind == MixtureWeights::Kind::kSoft, MOEASR_ERR_INTERNAL, "mixture: no weights");
  if (groups.empty()) {
    const int64_t whole[2] = {0, rows};
    cpu::soft_moe(x.data<float>(), whole, 1, m.soft_view(), y.data<float>(), ws.soft);
    return;
  }
  MOEASR_CHECK(groups.front() == 0 && groups.back() == rows, MOEASR_ERR_INTERNAL, "mixture: groups cover [",
               groups.front(), ", ", groups.back(), ") of ", rows, " rows");
  cpu::soft_moe(x.data<float>(), groups.data(), static_cast<int>(groups.size()) - 1, m.soft_view(), y.data<float>(),
                ws.soft);
}

void ffn(const Tensor& x, const FfnWeights& f, Tensor& y, FfnWorkspace& ws, int64_t* expert_load,
         const cpu::MotGroups* groups, const SoftGroups& soft_groups) {
  const int64_t d = x.dim(-1);
  const int64_t rows = rows_of(x);
  if (f.config.soft) {
    mixture(x, f.soft, y, ws, soft_groups);
    return;
  }
  if (f.config.mot) {
    MOEASR_CHECK(groups, MOEASR_ERR_INTERNAL, "a Mixture-of-Tokens layer needs its token groups");
    check_groups(*groups, f.config.group_size, rows, ws.row_seen);
    y.resize({rows, d});
    cpu::mot_ffn(x.data<float>(), rows, f.mot_view(d), *groups, y.data<float>(), ws.mot);
    return;
  }
  if (!f.config.moe) {
    linear_activation(x, f.w1, f.config.activation, ws.hidden);
    linear(ws.hidden, f.w2, y);
    return;
  }
  y.resize({rows, d});
  if (ws.per_expert_loop) {
    cpu::moe_ffn_per_expert_loop(x.data<float>(), rows, f.moe_view(d), y.data<float>(), ws.moe);
  } else {
    cpu::moe_ffn(x.data<float>(), rows, f.moe_view(d), y.data<float>(), ws.moe, expert_load);
  }
}

}  // namespace moeasr::ops
