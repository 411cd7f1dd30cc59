#include "asr/decoder.h"

#include <cmath>
#include <map>
#include <utility>

#include "core/error.h"
#include "ops/ops.h"

namespace moeasr {

namespace {

struct Attention {
  Linear q, k, v, out;
};

Attention read_attention(const WeightReader& r, const std::string& prefix) {
  return {r.linear(prefix + ".linear_q"), r.linear(prefix + ".linear_k"), r.linear(prefix + ".linear_v"),
          r.linear(prefix + ".linear_out")};
}

}  // namespace

struct AttentionDecoder::Direction {
  struct Layer {
    Attention self_attn, src_attn;
    std::unique_ptr<FeedForward> ff;
    LayerNorm norm1, norm2, norm3;
  };
  Tensor embedding;  // [vocab, d]
  std::vector<Layer> layers;
  LayerNorm after_norm;
  Linear output;

  Direction(const WeightReader& r, const std::string& prefix, int blocks, const DecoderConfig& c, int64_t d,
            MoeGemm moe_gemm) {
    embedding = r.tensor(prefix + ".embed.0.weight");
    for (int i = 0; i < blocks; ++i) {
      const std::string l = prefix + ".decoders." + std::to_string(i);
      Layer layer;
      layer.self_attn = read_attention(r, l + ".self_attn");
      layer.src_attn = read_attention(r, l + ".src_attn");
      layer.ff = make_feed_forward(r, l + ".feed_forward", c.ffn, d, moe_gemm);
      layer.norm1 = r.layer_norm(l + ".norm1", c.norm_eps);
      layer.norm2 = r.layer_norm(l + ".norm2", c.norm_eps);
      layer.norm3 = r.layer_norm(l + ".norm3", c.norm_eps);
      layers.push_back(std::move(layer));
    }
    after_norm = r.layer_norm(prefix + ".after_norm", c.norm_eps);
    output = r.linear(prefix + ".output_layer");
  }
};

AttentionDecoder::~AttentionDecoder() = default;

AttentionDecoder::AttentionDecoder(const ModelConfig& config, const WeightReader& r, MoeGemm moe_gemm)
    : d_(config.encoder.d_model),
      heads_(config.decoder.heads),
      vocab_(config.vocab_size),
      sos_(config.sos_id),
      eos_(config.eos_id),
      pos_enc_(config.encoder.d_model, r.backend()) {
  const DecoderConfig& c = config.decoder;
  if (c.type == DecoderType::kTransformer) {
    left_ = std::make_unique<Direction>(r, "decoder", c.num_blocks, c, d_, moe_gemm);
  } else if (c.type == DecoderType::kBiTransformer) {
    left_ = std::make_unique<Direction>(r, "decoder.left_decoder", c.num_blocks, c, d_, moe_gemm);
    right_ = std::make_unique<Direction>(r, "decoder.right_decoder", c.r_num_blocks, c, d_, moe_gemm);
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

void AttentionDecoder::log_probs(Backend& be, bool right, const Tensor& memory, const Prefixes& pre,
                                 DecoderWorkspace& ws, Tensor& out) const {
  const Direction& dec = direction(right);
  const int64_t d = d_, n = pre.size(), t_mem = memory.dim(0);
  const int d_k = static_cast<int>(d / heads_);
  ops::check_device(be, memory, "decoder memory");

  // Embedding * sqrt(d) + absolute position encoding, one row per prefix.
  ws.x.resize({n, d}, be.device());
  be.embedding(dec.embedding.data<float>(), d, pre.token, std::sqrt(static_cast<float>(d)), ws.x.data<float>());
  ws.y.resize({n, d}, be.device());
  std::vector<PositionJob> positions;
  for (int64_t r = 0; r < n; ++r) positions.push_back({ws.y.data<float>() + r * d, pre.depth[r], 1});
  pos_enc_.rows(be, positions);
  ops::add_scaled(be, ws.x, ws.y, 1.f);

  // Causal self-attention: each sequence's new prefixes attend to the
  // prefixes on its path. A sequence that owns its whole path (the first one)
  // reads its rows in place; the others gather their path's keys and values
  // (earlier sequences may own them) into path_k / path_v.
  std::vector<int64_t> gather_at(pre.path.size(), -1);
  std::vector<int32_t> gather_rows;
  for (size_t i = 0; i < pre.path.size(); ++i) {
    const std::vector<int64_t>& path = pre.path[i];
    const int64_t first = pre.first_new[i];
    if (first == 0 || first >= static_cast<int64_t>(path.size())) continue;
    gather_at[i] = static_cast<int64_t>(gather_rows.size());
    for (int64_t node : path) gather_rows.push_back(static_cast<int32_t>(node));
  }
  const int64_t gathered = static_cast<int64_t>(gather_rows.size());

  FfnBatch batch = FfnBatch::whole(n);
  for (const Direction::Layer& layer : dec.layers) {
    layer.norm1.forward(be, ws.x, ws.h);
    layer.self_attn.q.forward(be, ws.h, ws.q);
    layer.self_attn.k.forward(be, ws.h, ws.k);
    layer.self_attn.v.forward(be, ws.h, ws.v);
    ws.path_k.resize({gathered, d}, be.device());
    ws.path_v.resize({gathered, d}, be.device());
    if (gathered) {
      be.gather_rows(ws.k.data<float>(), d, gather_rows, 0.f, ws.path_k.data<float>());
      be.gather_rows(ws.v.data<float>(), d, gather_rows, 0.f, ws.path_v.data<float>());
    }
    ws.att.resize({n, d}, be.device());
    std::vector<AttentionJob> jobs;
    for (size_t i = 0; i < pre.path.size(); ++i) {
      const std::vector<int64_t>& path = pre.path[i];
      const int64_t len = static_cast<int64_t>(path.size()), first = pre.first_new[i];
      if (first >= len) continue;  // a duplicate: every prefix computed already
      const bool own = gather_at[i] < 0;
      const float* keys = own ? ws.k.data<float>() + path[0] * d : ws.path_k.data<float>() + gather_at[i] * d;
      const float* values = own ? ws.v.data<float>() + path[0] * d : ws.path_v.data<float>() + gather_at[i] * d;
      const int64_t r = path[first];
      jobs.push_back({ws.q.data<float>() + r * d, ws.att.data<float>() + r * d, keys, values, nullptr,
                      static_cast<int32_t>(len - first), static_cast<int32_t>(len), static_cast<int32_t>(first)});
    }
    be.dot_product_attention(jobs, d, heads_, d_k, true);
    layer.self_attn.out.forward(be, ws.att, ws.y);
    ops::add_scaled(be, ws.x, ws.y, 1.f);

    // Cross-attention to the encoder output, every prefix at once.
    layer.norm2.forward(be, ws.x, ws.h);
    layer.src_attn.q.forward(be, ws.h, ws.q);
    layer.src_attn.k.forward(be, memory, ws.mem_k);
    layer.src_attn.v.forward(be, memory, ws.mem_v);
    be.dot_product_attention({{ws.q.data<float>(), ws.att.data<float>(), ws.mem_k.data<float>(),
                               ws.mem_v.data<float>(), nullptr, static_cast<int32_t>(n), static_cast<int32_t>(t_mem), 0}},
                             d, heads_, d_k, false);
    layer.src_attn.out.forward(be, ws.att, ws.y);
    ops::add_scaled(be, ws.x, ws.y, 1.f);

    layer.norm3.forward(be, ws.x, ws.h);
    layer.ff->forward(be, ws.h, ws.y, batch, ws.ffn);
    ops::add_scaled(be, ws.x, ws.y, 1.f);
  }
  dec.after_norm.forward(be, ws.x, ws.h);
  dec.output.forward(be, ws.h, out);
  ops::log_softmax(be, out);
}

std::vector<HypothesisScores> AttentionDecoder::score(Backend& be, const Tensor& memory,
                                                      const std::vector<std::vector<int>>& hyps, bool with_r2l,
                                                      DecoderWorkspace& ws) const {
  std::vector<HypothesisScores> scores(hyps.size());
  if (hyps.empty()) return scores;
  MOEASR_CHECK(memory.rank() == 2 && memory.dim(1) == d_ && memory.dim(0) > 0, MOEASR_ERR_INVALID_ARGUMENT,
               "rescoring needs a non-empty encoder output");
  // The row of prefix (<sos>, t_0..t_{j-1}) predicts token j; the full
  // hypothesis' row predicts <eos>. Only those log-probabilities come back
  // from the device, summed on the host in double in token order.
  auto accumulate = [&](const std::vector<std::vector<int>>& inputs, bool reversed) {
    const Prefixes pre = prefixes(inputs);
    log_probs(be, reversed, memory, pre, ws, ws.logits);
    std::vector<int64_t> rows;
    std::vector<int32_t> cols;
    for (size_t i = 0; i < inputs.size(); ++i) {
      const std::vector<int>& in = inputs[i];
      for (size_t j = 0; j <= in.size(); ++j) {
        rows.push_back(pre.path[i][j]);
        cols.push_back(j < in.size() ? in[j] : eos_);
      }
    }
    ws.picked.resize({static_cast<int64_t>(rows.size())}, be.device());
    be.gather_elements(ws.logits.data<float>(), vocab_, rows, cols, ws.picked.data<float>());
    std::vector<float> picked(rows.size());
    be.copy_to_host(picked.data(), ws.picked.data<float>(), sizeof(float) * picked.size());
    size_t at = 0;
    for (size_t i = 0; i < inputs.size(); ++i) {
      double s = 0;
      for (size_t j = 0; j <= inputs[i].size(); ++j) s += picked[at++];
      (reversed ? scores[i].r2l : scores[i].l2r) = s;
    }
  };
  accumulate(hyps, false);
  if (with_r2l && right_) {
    std::vector<std::vector<int>> reversed(hyps.size());
    for (size_t i = 0; i < hyps.size(); ++i) reversed[i].assign(hyps[i].rbegin(), hyps[i].rend());
    accumulate(reversed, true);
  }
  return scores;
}

}  // namespace moeasr
