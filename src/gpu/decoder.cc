#include "gpu/decoder.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "gpu/ffn.h"

namespace moeasr::gpu {

namespace {

void reserve_floats(cuda::Context& ctx, cuda::Buffer& b, int64_t floats) {
  b.reserve(ctx, sizeof(float) * static_cast<size_t>(std::max<int64_t>(floats, 1)));
}

void norm(cuda::Context& ctx, const float* x, int64_t rows, int64_t d, const DeviceLayerNorm& n, float* y) {
  cuda::layer_norm(ctx, x, rows, d, n.gamma, n.beta, n.eps, y);
}

}  // namespace

GpuDecoder::GpuDecoder(DeviceWeights& store, const ModelConfig& config, const AttentionDecoder& decoder)
    : d_(config.encoder.d_model),
      heads_(config.decoder.heads),
      vocab_(config.vocab_size),
      sos_(config.sos_id),
      eos_(config.eos_id),
      has_right_(decoder.bidirectional()),
      pos_enc_(config.encoder.d_model) {
  if (!config.decoder.ffn.moe) max_dense_hidden_ = config.decoder.ffn.hidden;
  left_ = upload(store, decoder.left(), "left decoder");
  if (has_right_) right_ = upload(store, decoder.right(), "right decoder");
}

GpuDecoder::Weights GpuDecoder::upload(DeviceWeights& store, const DecoderWeights& w, const char* which) {
  Weights out;
  out.embedding = store.floats(w.embedding);
  auto attention = [&](const AttentionWeights& a) {
    return Attention{store.linear(a.q, which), store.linear(a.k, which), store.linear(a.v, which),
                     store.linear(a.out, which)};
  };
  for (const DecoderLayerWeights& l : w.layers) {
    Layer layer;
    layer.self_attn = attention(l.self_attn);
    layer.src_attn = attention(l.src_attn);
    layer.ff = store.ffn(l.ff, d_, which);
    layer.norm1 = store.layer_norm(l.norm1);
    layer.norm2 = store.layer_norm(l.norm2);
    layer.norm3 = store.layer_norm(l.norm3);
    out.layers.push_back(std::move(layer));
  }
  out.after_norm = store.layer_norm(w.after_norm);
  out.output = store.linear(w.output, which);
  return out;
}

std::vector<double> GpuDecoder::sequence_scores(cuda::Context& ctx, const Weights& w, int64_t frames,
                                                const std::vector<std::vector<int>>& inputs, GpuDecoderWorkspace& ws,
                                                cuda::MoeGemm gemm) const {
  const int64_t d = d_;
  const int d_k = static_cast<int>(d / heads_);
  std::vector<int64_t> row(inputs.size() + 1, 0);
  for (size_t i = 0; i < inputs.size(); ++i) row[i + 1] = row[i] + static_cast<int64_t>(inputs[i].size()) + 1;
  const int64_t n = row.back();

  // Token ids (<sos> first), the column each row is scored at (the next token,
  // <eos> after the last), and the absolute position encodings.
  ws.host_ids.clear();
  ws.host_cols.clear();
  ws.host_pos.resize(static_cast<size_t>(n * d));
  for (size_t i = 0; i < inputs.size(); ++i) {
    const std::vector<int>& in = inputs[i];
    for (size_t j = 0; j <= in.size(); ++j) {
      const int token = j == 0 ? sos_ : in[j - 1];
      MOEASR_CHECK(token >= 0 && token < vocab_, MOEASR_ERR_INVALID_ARGUMENT, "token id ", token,
                   " is outside the vocabulary of ", vocab_);
      ws.host_ids.push_back(token);
      ws.host_cols.push_back(j < in.size() ? in[j] : eos_);
    }
    pos_enc_.rows(0, row[i + 1] - row[i], ws.host_pos.data() + row[i] * d);
  }

  // Scratch first: growing a buffer frees the old one, which no queued op may read.
  ws.ids.reserve(ctx, sizeof(int32_t) * static_cast<size_t>(n));
  ws.cols.reserve(ctx, sizeof(int32_t) * static_cast<size_t>(n));
  for (cuda::Buffer* b : {&ws.pos, &ws.x, &ws.h, &ws.q, &ws.k, &ws.v, &ws.att, &ws.y}) reserve_floats(ctx, *b, n * d);
  reserve_floats(ctx, ws.mem_k, frames * d);
  reserve_floats(ctx, ws.mem_v, frames * d);
  reserve_floats(ctx, ws.hidden, n * max_dense_hidden_);
  reserve_floats(ctx, ws.logits, n * vocab_);
  reserve_floats(ctx, ws.picked, n);

  cuda::upload(ctx, ws.ids.data(), ws.host_ids.data(), sizeof(int32_t) * ws.host_ids.size());
  cuda::upload(ctx, ws.cols.data(), ws.host_cols.data(), sizeof(int32_t) * ws.host_cols.size());
  cuda::upload(ctx, ws.pos.data(), ws.host_pos.data(), sizeof(float) * ws.host_pos.size());

  float* x = ws.x.as<float>();
  float* h = ws.h.as<float>();
  float* q = ws.q.as<float>();
  float* att = ws.att.as<float>();
  float* y = ws.y.as<float>();
  const float* memory = ws.memory.as<float>();
  // Embedding * sqrt(d) + position encoding (the CPU adds the same two terms).
  cuda::embedding(ctx, w.embedding, ws.ids.as<int32_t>(), n, d, std::sqrt(static_cast<float>(d)), x);
  cuda::add_scaled(ctx, x, ws.pos.as<float>(), 1.f, n * d);

  std::vector<cuda::AttentionJob> self_jobs, cross_jobs;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const int64_t r = row[i] * d;
    const int32_t len = static_cast<int32_t>(row[i + 1] - row[i]);
    self_jobs.push_back({q + r, att + r, ws.k.as<float>() + r, ws.v.as<float>() + r, nullptr, len, len});
    cross_jobs.push_back({q + r, att + r, ws.mem_k.as<float>(), ws.mem_v.as<float>(), nullptr, len,
                          static_cast<int32_t>(frames)});
  }
  for (const Layer& l : w.layers) {
    // Causal self-attention, one job per hypothesis.
    norm(ctx, x, n, d, l.norm1, h);
    cuda::linear(ctx, h, n, l.self_attn.q, q, ws.ops);
    cuda::linear(ctx, h, n, l.self_attn.k, ws.k.as<float>(), ws.ops);
    cuda::linear(ctx, h, n, l.self_attn.v, ws.v.as<float>(), ws.ops);
    cuda::dot_product_attention(ctx, self_jobs, d, heads_, d_k, true, ws.ops);
    cuda::linear(ctx, att, n, l.self_attn.out, y, ws.ops);
    cuda::add_scaled(ctx, x, y, 1.f, n * d);

    // Cross-attention to the encoder output: keys/values once for all hypotheses.
    norm(ctx, x, n, d, l.norm2, h);
    cuda::linear(ctx, h, n, l.src_attn.q, q, ws.ops);
    cuda::linear(ctx, memory, frames, l.src_attn.k, ws.mem_k.as<float>(), ws.ops);
    cuda::linear(ctx, memory, frames, l.src_attn.v, ws.mem_v.as<float>(), ws.ops);
    cuda::dot_product_attention(ctx, cross_jobs, d, heads_, d_k, false, ws.ops);
    cuda::linear(ctx, att, n, l.src_attn.out, y, ws.ops);
    cuda::add_scaled(ctx, x, y, 1.f, n * d);

    norm(ctx, x, n, d, l.norm3, h);
    ffn_forward(ctx, l.ff, h, n, y, ws.hidden, ws.ops, gemm);
    cuda::add_scaled(ctx, x, y, 1.f, n * d);
  }
  norm(ctx, x, n, d, w.after_norm, h);
  float* logits = ws.logits.as<float>();
  cuda::linear(ctx, h, n, w.output, logits, ws.ops);
  cuda::log_softmax_rows(ctx, logits, n, vocab_);
  // Only the log-probability of each row's target comes back.
  cuda::gather_columns(ctx, logits, n, vocab_, ws.cols.as<int32_t>(), ws.picked.as<float>());
  ws.host_picked.resize(static_cast<size_t>(n));
  cuda::download(ctx, ws.host_picked.data(), ws.picked.as<float>(), sizeof(float) * static_cast<size_t>(n));

  // Summed in double in token order, as AttentionDecoder::score does.
  std::vector<double> scores(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    double s = 0;
    for (int64_t r = row[i]; r < row[i + 1]; ++r) s += ws.host_picked[static_cast<size_t>(r)];
    scores[i] = s;
  }
  return scores;
}

std::vector<HypothesisScores> GpuDecoder::score(cuda::Context& ctx, const float* memory, int64_t frames,
                                                const std::vector<std::vector<int>>& hyps, bool with_r2l,
                                                GpuDecoderWorkspace& ws, cuda::MoeGemm gemm) const {
  std::vector<HypothesisScores> scores(hyps.size());
  if (hyps.empty()) return scores;
  MOEASR_CHECK(memory && frames > 0, MOEASR_ERR_INVALID_ARGUMENT, "rescoring needs a non-empty encoder output");
  reserve_floats(ctx, ws.memory, frames * d_);
  cuda::upload(ctx, ws.memory.data(), memory, sizeof(float) * static_cast<size_t>(frames * d_));
  const std::vector<double> l2r = sequence_scores(ctx, left_, frames, hyps, ws, gemm);
  for (size_t i = 0; i < hyps.size(); ++i) scores[i].l2r = l2r[i];
  if (with_r2l && has_right_) {
    std::vector<std::vector<int>> reversed(hyps.size());
    for (size_t i = 0; i < hyps.size(); ++i) reversed[i].assign(hyps[i].rbegin(), hyps[i].rend());
    const std::vector<double> r2l = sequence_scores(ctx, right_, frames, reversed, ws, gemm);
    for (size_t i = 0; i < hyps.size(); ++i) scores[i].r2l = r2l[i];
  }
  return scores;
}

}  // namespace moeasr::gpu
