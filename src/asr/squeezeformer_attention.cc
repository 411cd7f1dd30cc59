// Squeezeformer's attention with do_rel_shift (WeNet's default): the
// Transformer-XL shift applied to the position scores bd = (q + v) p^T of a
// query block of t rows against l keys. WeNet pads a zero column on the left
// of bd ([t, l + 1]), reads that buffer as [l + 1, t], drops its first row and
// reads the rest as [t, l]: shifted[i][j] is element k = t + i l + j of the
// padded buffer, i.e. zero when k % (l + 1) == 0, else bd[k / (l + 1)][k %
// (l + 1) - 1] (a score of another query for j > i + 1). No kernel computes
// that, so it runs as batched GEMMs over the heads, a gather of the shifted
// scores, a softmax and a GEMM with the values: scores = ((q + u) k^T +
// shifted) / sqrt(d_k). The positions are WeNet's absolute rows of the keys.
#include <algorithm>
#include <cmath>

#include "asr/encoder.h"
#include "ops/ops.h"

namespace moeasr {

void Encoder::rel_shift_attention(Backend& be, const Layer& layer, const std::vector<AttentionJob>& jobs,
                                  EncoderWorkspace& ws) const {
  const int64_t d = config_.d_model, heads = config_.heads, d_k = config_.d_k();
  const float scale = 1.f / std::sqrt(static_cast<float>(d_k));
  // The scratch is sized once for the largest job: ops queued on a device
  // may still read it while a later job would otherwise regrow it.
  int64_t rows = 0, scores = 0;
  for (const AttentionJob& j : jobs) {
    rows = std::max<int64_t>(rows, j.t);
    scores = std::max<int64_t>(scores, int64_t{j.t} * j.len);
  }
  ws.rs_qu.resize({rows, d}, be.device());
  ws.rs_qv.resize({rows, d}, be.device());
  ws.rs_ac.resize({heads * scores, 1}, be.device());
  ws.rs_bd.resize({heads * scores + 1, 1}, be.device());  // + one zero: the padding column's value
  ws.rs_shifted.resize({heads * scores, 1}, be.device());
  for (const AttentionJob& j : jobs) {
    const int64_t t = j.t, l = j.len;
    if (t <= 0) continue;
    be.channel_affine(j.q, t, d, ones_.data<float>(), layer.pos_bias_u.data<float>(), ws.rs_qu.data<float>());
    be.channel_affine(j.q, t, d, ones_.data<float>(), layer.pos_bias_v.data<float>(), ws.rs_qv.data<float>());
    // Per head h (columns h d_k .. of q, keys, positions): [t, l] blocks of ac and bd.
    be.gemm(false, true, t, l, d_k, scale, ws.rs_qu.data<float>(), d, j.keys, d, 0.f, ws.rs_ac.data<float>(), l,
            heads, d_k, d_k, t * l);
    be.gemm(false, true, t, l, d_k, scale, ws.rs_qv.data<float>(), d, j.positions, d, 0.f,
            ws.rs_bd.data<float>(), l, heads, d_k, d_k, t * l);
    const int64_t zero = heads * t * l;
    be.fill_zero(ws.rs_bd.data<float>() + zero, sizeof(float));
    std::vector<int64_t> from(static_cast<size_t>(heads * t * l));
    const std::vector<int32_t> column(from.size(), 0);
    for (int64_t h = 0; h < heads; ++h) {
      for (int64_t i = 0; i < t; ++i) {
        for (int64_t c = 0; c < l; ++c) {
          const int64_t k = t + i * l + c, row = k / (l + 1), col = k % (l + 1);
          from[(h * t + i) * l + c] = col == 0 ? zero : (h * t + row) * l + col - 1;
        }
      }
    }
    be.gather_elements(ws.rs_bd.data<float>(), 1, from, column, ws.rs_shifted.data<float>());
    be.add_scaled(ws.rs_ac.data<float>(), ws.rs_shifted.data<float>(), 1.f, heads * t * l);
    be.softmax_rows(ws.rs_ac.data<float>(), heads * t, l);
    be.gemm(false, false, t, d_k, l, 1.f, ws.rs_ac.data<float>(), l, j.values, d, 0.f, j.out, d, heads, t * l, d_k,
            d_k);
  }
}

}  // namespace moeasr
