#include "asr/decoder.h"

#include <cmath>
#include <cstring>
#include <map>
#include <utility>

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

AttentionDecoder::Prefixes AttentionDecoder::prefixes(const std::vector<std::vector<int>>& sequences) const {
  Prefixes p;
  std::map<std::pair<int64_t, int>, int64_t> child;  // (parent node, token) -> node
  for (const std::vector<int>& seq : sequences) {
    std::vector<int64_t> path(seq.size() + 1);
    int64_t first_new = -1;
    for (size_t j = 0; j <= seq.size(); ++j) {
      const int token = j == 0 ? sos_ : seq[j - 1];
      MOEASR_CHECK(token >= 0 && token < vocab_, MOEASR_ERR_INVALID_ARGUMENT, "token id ", token,
                   " is outside the vocabulary of ", vocab_);
      const std::pair<int64_t, int> key(j == 0 ? -1 : path[j - 1], token);
      auto it = child.find(key);
      if (it == child.end()) {
        it = child.emplace(key, p.size()).first;
        p.token.push_back(token);
        p.depth.push_back(static_cast<int64_t>(j));
        if (first_new < 0) first_new = static_cast<int64_t>(j);
      }
      path[j] = it->second;
    }
    p.path.push_back(std::move(path));
    p.first_new.push_back(first_new < 0 ? static_cast<int64_t>(seq.size()) + 1 : first_new);
  }
  return p;
}

void AttentionDecoder::log_probs(const DecoderWeights& dec, const Tensor& memory, const Prefixes& pre,
                                 DecoderWorkspace& ws, Tensor& out) const {
  const int64_t d = d_;
  const int d_k = static_cast<int>(d / heads_);
  const int64_t n = pre.size();
  const float xscale = std::sqrt(static_cast<float>(d));

  // Embedding * sqrt(d) + absolute position encoding, one row per prefix.
  ws.x.resize({n, d});
  for (int64_t r = 0; r < n; ++r) {
    float* x = ws.x.data<float>() + r * d;
    pos_enc_.rows(pre.depth[r], 1, x);
    const float* e = dec.embedding.data<float>() + static_cast<int64_t>(pre.token[r]) * d;
    for (int64_t c = 0; c < d; ++c) x[c] += e[c] * xscale;
  }

  const int64_t t_mem = memory.dim(0);
  for (const DecoderLayerWeights& layer : dec.layers) {
    // Causal self-attention: each sequence's new prefixes attend to the
    // prefixes on its path (gathered, as earlier sequences may own them).
    ops::layer_norm(ws.x, layer.norm1, ws.h);
    ops::linear(ws.h, layer.self_attn.q, ws.q);
    ops::linear(ws.h, layer.self_attn.k, ws.k);
    ops::linear(ws.h, layer.self_attn.v, ws.v);
    ws.att.resize({n, d});
    for (size_t i = 0; i < pre.path.size(); ++i) {
      const std::vector<int64_t>& path = pre.path[i];
      const int64_t len = static_cast<int64_t>(path.size()), first = pre.first_new[i];
      if (first >= len) continue;  // a duplicate: every prefix computed already
      // A sequence that owns its whole path (the first one) has its rows
      // contiguous already; the others gather their path's keys and values.
      const float* keys = ws.k.data<float>() + path[0] * d;
      const float* values = ws.v.data<float>() + path[0] * d;
      if (first > 0) {
        ws.path_k.resize({len, d});
        ws.path_v.resize({len, d});
        for (int64_t j = 0; j < len; ++j) {
          std::memcpy(ws.path_k.data<float>() + j * d, ws.k.data<float>() + path[j] * d, sizeof(float) * d);
          std::memcpy(ws.path_v.data<float>() + j * d, ws.v.data<float>() + path[j] * d, sizeof(float) * d);
        }
        keys = ws.path_k.data<float>();
        values = ws.path_v.data<float>();
      }
      const int64_t r = path[first];
      cpu::dot_product_attention(ws.q.data<float>() + r * d, len - first, d, keys, values, len, d, heads_, d_k, true,
                                 ws.att.data<float>() + r * d, d, ws.attention, first);
    }
    ops::linear(ws.att, layer.self_attn.out, ws.y);
    ops::add_scaled(ws.x, ws.y, 1.f);

    // Cross-attention to the encoder output, every prefix at once.
    ops::layer_norm(ws.x, layer.norm2, ws.h);
    ops::linear(ws.h, layer.src_attn.q, ws.q);
    ops::linear(memory, layer.src_attn.k, ws.mem_k);
    ops::linear(memory, layer.src_attn.v, ws.mem_v);
    cpu::dot_product_attention(ws.q.data<float>(), n, d, ws.mem_k.data<float>(), ws.mem_v.data<float>(), t_mem, d,
                               heads_, d_k, false, ws.att.data<float>(), d, ws.attention);
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
  // The row of prefix (<sos>, t_0..t_{j-1}) predicts token j; the full
  // hypothesis' row predicts <eos>.
  auto accumulate = [&](const std::vector<std::vector<int>>& inputs, bool reversed) {
    const Prefixes pre = prefixes(inputs);
    log_probs(reversed ? right_ : left_, memory, pre, ws, ws.logits);
    const float* logits = ws.logits.data<float>();
    for (size_t i = 0; i < inputs.size(); ++i) {
      const std::vector<int>& in = inputs[i];
      const std::vector<int64_t>& path = pre.path[i];
      double s = 0;
      for (size_t j = 0; j < in.size(); ++j) s += logits[path[j] * vocab_ + in[j]];
      s += logits[path[in.size()] * vocab_ + eos_];
      (reversed ? scores[i].r2l : scores[i].l2r) = s;
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
