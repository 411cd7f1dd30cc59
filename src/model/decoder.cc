#include "model/decoder.h"

#include <cmath>
#include <cstring>

#include "core/error.h"

namespace moeasr {

AttentionDecoder::AttentionDecoder(const ModelConfig& config, const SafeTensors& st, const PrecisionPolicy& precision)
    : d_(config.encoder.d_model),
      heads_(config.decoder.heads),
      vocab_(config.vocab_size),
      sos_(config.sos_id),
      eos_(config.eos_id),
      pos_enc_(config.encoder.d_model) {
  WeightReader r(st, precision);
  const DecoderConfig& c = config.decoder;
  if (c.type == DecoderType::kTransformer) {
    left_ = r.decoder("decoder", c.num_blocks, c);
  } else if (c.type == DecoderType::kBiTransformer) {
    left_ = r.decoder("decoder.left_decoder", c.num_blocks, c);
    right_ = r.decoder("decoder.right_decoder", c.r_num_blocks, c);
    has_right_ = true;
  }
}

void AttentionDecoder::log_probs(const DecoderWeights& dec, const Tensor& memory,
                                 const std::vector<std::vector<int>>& inputs, DecoderWorkspace& ws, Tensor& out) const {
  const int64_t d = d_;
  const int d_k = static_cast<int>(d / heads_);
  std::vector<int64_t> row(inputs.size() + 1, 0);
  for (size_t i = 0; i < inputs.size(); ++i) row[i + 1] = row[i] + static_cast<int64_t>(inputs[i].size()) + 1;
  const int64_t n = row.back();
  const float xscale = std::sqrt(static_cast<float>(d));

  // Embedding * sqrt(d) + absolute position encoding; <sos> first.
  ws.x.resize({n, d});
  for (size_t i = 0; i < inputs.size(); ++i) {
    const int64_t len = row[i + 1] - row[i];
    float* x = ws.x.data<float>() + row[i] * d;
    pos_enc_.rows(0, len, x);
    for (int64_t j = 0; j < len; ++j) {
      const int token = j == 0 ? sos_ : inputs[i][j - 1];
      MOEASR_CHECK(token >= 0 && token < vocab_, MOEASR_ERR_INVALID_ARGUMENT, "token id ", token,
                   " is outside the vocabulary of ", vocab_);
      const float* e = dec.embedding.data<float>() + static_cast<int64_t>(token) * d;
      for (int64_t c = 0; c < d; ++c) x[j * d + c] += e[c] * xscale;
    }
  }

  const int64_t t_mem = memory.dim(0);
  for (const DecoderLayerWeights& layer : dec.layers) {
    // Causal self-attention, per hypothesis.
    ops::layer_norm(ws.x, layer.norm1, ws.h);
    ops::linear(ws.h, layer.self_attn.q, ws.q);
    ops::linear(ws.h, layer.self_attn.k, ws.k);
    ops::linear(ws.h, layer.self_attn.v, ws.v);
    ws.att.resize({n, d});
    for (size_t i = 0; i < inputs.size(); ++i) {
      const int64_t r = row[i], len = row[i + 1] - row[i];
      cpu::dot_product_attention(ws.q.data<float>() + r * d, len, d, ws.k.data<float>() + r * d,
                                 ws.v.data<float>() + r * d, len, d, heads_, d_k, true, ws.att.data<float>() + r * d,
                                 d, ws.attention);
    }
    ops::linear(ws.att, layer.self_attn.out, ws.y);
    ops::add_scaled(ws.x, ws.y, 1.f);

    // Cross-attention to the encoder output: keys/values once for all hypotheses.
    ops::layer_norm(ws.x, layer.norm2, ws.h);
    ops::linear(ws.h, layer.src_attn.q, ws.q);
    ops::linear(memory, layer.src_attn.k, ws.mem_k);
    ops::linear(memory, layer.src_attn.v, ws.mem_v);
    for (size_t i = 0; i < inputs.size(); ++i) {
      const int64_t r = row[i], len = row[i + 1] - row[i];
      cpu::dot_product_attention(ws.q.data<float>() + r * d, len, d, ws.mem_k.data<float>(), ws.mem_v.data<float>(),
                                 t_mem, d, heads_, d_k, false, ws.att.data<float>() + r * d, d, ws.attention);
    }
    ops::linear(ws.att, layer.src_attn.out, ws.y);
    ops::add_scaled(ws.x, ws.y, 1.f);

    ops::layer_norm(ws.x, layer.norm3, ws.h);
    ops::ffn(ws.h, layer.ff, ws.y, ws.ffn);
    ops::add_scaled(ws.x, ws.y, 1.f);
  }
  ops::layer_norm(ws.x, dec.after_norm, ws.h);
  ops::linear(ws.h, dec.output, out);
  ops::log_softmax(out);
}

std::vector<HypothesisScores> AttentionDecoder::score(const Tensor& memory, const std::vector<std::vector<int>>& hyps,
                                                      bool with_r2l, DecoderWorkspace& ws) const {
  std::vector<HypothesisScores> scores(hyps.size());
  if (hyps.empty()) return scores;
  MOEASR_CHECK(memory.rank() == 2 && memory.dim(1) == d_ && memory.dim(0) > 0, MOEASR_ERR_INVALID_ARGUMENT,
               "rescoring needs a non-empty encoder output");
  // Position j of hypothesis i predicts token j; position len predicts <eos>.
  auto accumulate = [&](const std::vector<std::vector<int>>& inputs, bool reversed) {
    log_probs(reversed ? right_ : left_, memory, inputs, ws, ws.logits);
    int64_t r = 0;
    for (size_t i = 0; i < inputs.size(); ++i) {
      const std::vector<int>& in = inputs[i];
      double s = 0;
      for (size_t j = 0; j < in.size(); ++j) s += ws.logits.data<float>()[(r + j) * vocab_ + in[j]];
      s += ws.logits.data<float>()[(r + in.size()) * vocab_ + eos_];
      (reversed ? scores[i].r2l : scores[i].l2r) = s;
      r += static_cast<int64_t>(in.size()) + 1;
    }
  };
  accumulate(hyps, false);
  if (with_r2l && has_right_) {
    std::vector<std::vector<int>> reversed(hyps.size());
    for (size_t i = 0; i < hyps.size(); ++i) reversed[i].assign(hyps[i].rbegin(), hyps[i].rend());
    accumulate(reversed, true);
  }
  return scores;
}

}  // namespace moeasr
