#include "gpu/encoder.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "gpu/ffn.h"

namespace moeasr::gpu {

namespace {

constexpr int kKinds = 3;  // keys, values, positions

// Grows `b` to hold `floats` floats (at least one, so data() is never null).
void reserve_floats(cuda::Context& ctx, cuda::Buffer& b, int64_t floats) {
  b.reserve(ctx, sizeof(float) * static_cast<size_t>(std::max<int64_t>(floats, 1)));
}

}  // namespace

GpuEncoder::GpuEncoder(DeviceWeights& store, const Encoder& e, const LinearWeights& ctc, int vocab)
    : config_(e.config_), pos_enc_(e.config_.d_model), vocab_(vocab) {
  const EncoderConfig& c = config_;
  const int64_t d = c.d_model, ch = c.conv_channels(), kernel = c.cnn_kernel;
  MOEASR_CHECK(!c.use_cnn_module || c.causal || kernel % 2 == 1, MOEASR_ERR_UNSUPPORTED,
               "the CUDA backend runs a non-causal convolution module only with an odd cnn_module_kernel, got ",
               kernel);
  if (c.global_cmvn) {
    cmvn_mean_ = store.floats(e.cmvn_mean_);
    cmvn_istd_ = store.floats(e.cmvn_istd_);
  }
  conv1_w_ = store.floats(e.conv1_w_);
  conv1_b_ = store.floats(e.conv1_b_);
  conv2_w_ = store.floats(e.conv2_w_);
  conv2_b_ = store.floats(e.conv2_b_);
  embed_out_ = store.linear(e.embed_out_, e.embed_out_bias_);
  for (const ConformerLayerWeights& w : e.layers_) {
    Layer l;
    if (w.macaron) {
      l.ff_macaron = store.ffn(w.ff_macaron, d, "encoder feed_forward_macaron");
      l.norm_ff_macaron = store.layer_norm(w.norm_ff_macaron);
      if (!w.ff_macaron.config.moe) max_dense_hidden_ = std::max<int64_t>(max_dense_hidden_, w.ff_macaron.config.hidden);
    }
    const AttentionWeights& a = w.attention;
    l.q = store.linear(a.q, "encoder self_attn.linear_q");
    l.k = store.linear(a.k, "encoder self_attn.linear_k");
    l.v = store.linear(a.v, "encoder self_attn.linear_v");
    l.out = store.linear(a.out, "encoder self_attn.linear_out");
    l.pos = store.linear(a.pos, "encoder self_attn.linear_pos");
    l.pos_bias_u = store.floats(a.pos_bias_u);
    l.pos_bias_v = store.floats(a.pos_bias_v);
    l.norm_mha = store.layer_norm(w.norm_mha);
    if (w.conv) {
      const ConvModuleWeights& m = w.conv_module;
      l.pointwise1 = store.linear(m.pointwise1, "encoder conv_module.pointwise_conv1");
      l.pointwise2 = store.linear(m.pointwise2, "encoder conv_module.pointwise_conv2");
      l.depthwise_t = store.floats(m.depthwise_t);
      l.depthwise_bias = store.floats(m.depthwise_bias);
      l.conv_layer_norm = m.layer_norm;
      if (m.layer_norm) {
        l.conv_norm = store.layer_norm(m.norm);
      } else {
        std::vector<float> mean(static_cast<size_t>(ch)), istd(static_cast<size_t>(ch));
        for (int64_t i = 0; i < ch; ++i) {
          const float scale = m.bn_scale.data<float>()[i], shift = m.bn_shift.data<float>()[i];
          // There is no channel-affine op; the CMVN op computes (x - mean) * istd,
          // which is the affine map only for a non-zero scale.
          MOEASR_CHECK(scale != 0.f && std::isfinite(scale), MOEASR_ERR_UNSUPPORTED,
                       "the CUDA backend cannot run a conv_module batch_norm with weight 0 (channel ", i, ")");
          istd[i] = scale;
          mean[i] = -shift / scale;
        }
        l.bn_mean = store.floats(mean);
        l.bn_istd = store.floats(istd);
      }
      l.norm_conv = store.layer_norm(w.norm_conv);
      l.norm_final = store.layer_norm(w.norm_final);
      if (c.causal) {
        // WeNet's zero left padding, seen after pointwise_conv1 + GLU (layers.h).
        const float* row = m.initial_cache_row.data<float>();
        for (int64_t r = 0; r < kernel - 1; ++r) conv_init_.insert(conv_init_.end(), row, row + ch);
      }
    }
    l.ff = store.ffn(w.ff, d, "encoder feed_forward");
    l.norm_ff = store.layer_norm(w.norm_ff);
    if (!w.ff.config.moe) max_dense_hidden_ = std::max<int64_t>(max_dense_hidden_, w.ff.config.hidden);
    layers_.push_back(std::move(l));
  }
  if (c.final_norm) after_norm_ = store.layer_norm(e.after_norm_);
  ctc_ = store.linear(ctc, "ctc.ctc_lo");
  MOEASR_CHECK(ctc_.n == vocab_ && ctc_.k == d, MOEASR_ERR_INTERNAL, "CTC head shape");
}

float* GpuEncoder::cache(GpuEncoderState& s, int buffer, int layer, int kind) const {
  return s.att_[buffer].as<float>() + (static_cast<int64_t>(layer) * kKinds + kind) * s.capacity_ * config_.d_model;
}

void GpuEncoder::prepare_state(cuda::Context& ctx, GpuEncoderState& s, int64_t new_frames,
                               GpuEncoderWorkspace& ws) const {
  const int64_t d = config_.d_model, layers = static_cast<int64_t>(layers_.size());
  if (config_.use_cnn_module && config_.causal && !s.conv_primed_) {
    const size_t bytes = conv_init_.size() * sizeof(float);
    s.conv_.reserve(ctx, std::max<size_t>(bytes, 1));
    if (bytes) cuda::upload(ctx, s.conv_.data(), conv_init_.data(), bytes);
  }
  s.conv_primed_ = true;

  const int64_t need = s.cache_len_ + new_frames;
  if (need <= s.capacity_) return;
  // Grow both buffers; the live rows move to the new current buffer.
  const int64_t cap = std::max(need, 2 * s.capacity_);
  const size_t bytes = sizeof(float) * static_cast<size_t>(layers * kKinds * cap * d);
  cuda::Buffer grown(ctx, bytes);
  if (s.cache_len_ > 0) {
    std::vector<cuda::RowCopy> jobs;
    for (int64_t i = 0; i < layers * kKinds; ++i) {
      jobs.push_back({grown.as<float>() + i * cap * d, s.att_[s.cur_].as<float>() + i * s.capacity_ * d,
                      static_cast<int32_t>(s.cache_len_)});
    }
    cuda::copy_rows(ctx, jobs, d, ws.ops);
  }
  // The old buffer may still be read by the queued copy: freed after the download.
  ws.retired.push_back(std::move(s.att_[s.cur_]));
  s.att_[s.cur_] = std::move(grown);
  s.att_[1 - s.cur_].reserve(ctx, bytes);
  s.capacity_ = cap;
}

void GpuEncoder::forward(cuda::Context& ctx, std::vector<EncoderChunk>& chunks,
                         const std::vector<GpuEncoderState*>& states, bool want_rows, GpuEncoderWorkspace& ws,
                         cuda::MoeGemm gemm, Tensor& host, Tensor& rows, Tensor& log_probs) const {
  const EncoderConfig& c = config_;
  const int64_t d = c.d_model, f_in = c.input_dim, ch = c.conv_channels();
  const int64_t f1 = (f_in - 3) / 2 + 1, f2 = (f1 - 3) / 2 + 1;
  MOEASR_CHECK(chunks.size() == states.size(), MOEASR_ERR_INTERNAL, "GPU encoder: chunks and states differ");
  // Every op of the previous forward finished with its download.
  ws.retired.clear();

  int64_t total = 0, feat_rows = 0, t1_rows = 0, jobs_with_frames = 0;
  for (size_t i = 0; i < chunks.size(); ++i) {
    EncoderChunk& ck = chunks[i];
    MOEASR_CHECK(states[i] && (ck.features || ck.num_frames == 0) && ck.num_frames >= 0, MOEASR_ERR_INTERNAL,
                 "GPU encoder: bad chunk");
    MOEASR_CHECK(!ck.adapters, MOEASR_ERR_UNSUPPORTED, "adapter sets have no CUDA path; decode on the CPU");
    ck.out_row = total;
    ck.out_frames = Encoder::output_frames(ck.num_frames);
    total += ck.out_frames;
    if (ck.out_frames > 0) {
      feat_rows += ck.num_frames;
      t1_rows += (ck.num_frames - 3) / 2 + 1;
      ++jobs_with_frames;
    }
  }
  rows = Tensor();
  if (total == 0) {
    log_probs.resize({0, vocab_});
    return;
  }

  // All scratch is sized before the first op is queued: growing a buffer frees
  // the old one, which no queued op may still read.
  const int64_t pad = (c.cnn_kernel - 1) / 2;  // non-causal convolution padding
  reserve_floats(ctx, ws.feats, feat_rows * f_in);
  reserve_floats(ctx, ws.conv1, t1_rows * f1 * d);
  reserve_floats(ctx, ws.conv2, total * f2 * d);
  for (cuda::Buffer* b : {&ws.x, &ws.q, &ws.k, &ws.v, &ws.pos_in, &ws.p, &ws.att, &ws.y}) {
    reserve_floats(ctx, *b, total * d);
  }
  reserve_floats(ctx, ws.h, total * std::max(d, ch));
  reserve_floats(ctx, ws.g, total * 2 * ch);
  reserve_floats(ctx, ws.c, total * ch);
  reserve_floats(ctx, ws.hidden, total * max_dense_hidden_);
  if (c.use_cnn_module && !c.causal) {
    reserve_floats(ctx, ws.nc_in, (total + jobs_with_frames * pad) * ch);
    reserve_floats(ctx, ws.nc_out, (total + jobs_with_frames * pad) * ch);
    reserve_floats(ctx, ws.nc_cache, jobs_with_frames * (c.cnn_kernel - 1) * ch);
  }
  reserve_floats(ctx, ws.result, total * (vocab_ + d));
  int64_t last_position = 0;
  for (size_t i = 0; i < chunks.size(); ++i) {
    last_position = std::max(last_position, states[i]->offset_ + chunks[i].out_frames);
  }
  if (last_position > ws.pe_rows) {
    const int64_t n = std::max({last_position, 2 * ws.pe_rows, int64_t{1024}});
    ws.host_pe.resize(static_cast<size_t>(n * d));
    pos_enc_.rows(0, n, ws.host_pe.data());
    ws.pe_table = cuda::Buffer(ctx, ws.host_pe.size() * sizeof(float));
    cuda::upload(ctx, ws.pe_table.data(), ws.host_pe.data(), ws.host_pe.size() * sizeof(float));
    ws.pe_rows = n;
  }
  for (size_t i = 0; i < chunks.size(); ++i) {
    if (chunks[i].out_frames > 0) prepare_state(ctx, *states[i], chunks[i].out_frames, ws);
  }

  // Features (before CMVN) go up; each stream's new frames get the position
  // encodings of their absolute positions from the device table.
  ws.host_feats.resize(static_cast<size_t>(feat_rows * f_in));
  std::vector<cuda::RowCopy> positions;
  int64_t fo = 0;
  for (size_t i = 0; i < chunks.size(); ++i) {
    const EncoderChunk& ck = chunks[i];
    if (ck.out_frames == 0) continue;
    std::memcpy(ws.host_feats.data() + fo * f_in, ck.features, sizeof(float) * ck.num_frames * f_in);
    fo += ck.num_frames;
    positions.push_back({ws.pos_in.as<float>() + ck.out_row * d, ws.pe_table.as<float>() + states[i]->offset_ * d,
                         static_cast<int32_t>(ck.out_frames)});
  }
  float* feats = ws.feats.as<float>();
  cuda::upload(ctx, feats, ws.host_feats.data(), ws.host_feats.size() * sizeof(float));
  cuda::copy_rows(ctx, positions, d, ws.ops);

  // Conv2dSubsampling4, both convolutions batched over the streams.
  if (c.global_cmvn) cuda::cmvn(ctx, feats, feat_rows, f_in, cmvn_mean_, cmvn_istd_);
  std::vector<cuda::Conv2dJob> conv1_jobs, conv2_jobs;
  fo = 0;
  int64_t o1 = 0;
  for (const EncoderChunk& ck : chunks) {
    if (ck.out_frames == 0) continue;
    const int64_t t1 = (ck.num_frames - 3) / 2 + 1;
    float* mid = ws.conv1.as<float>() + o1 * f1 * d;
    conv1_jobs.push_back({feats + fo * f_in, static_cast<int32_t>(ck.num_frames), mid});
    conv2_jobs.push_back({mid, static_cast<int32_t>(t1), ws.conv2.as<float>() + ck.out_row * f2 * d});
    fo += ck.num_frames;
    o1 += t1;
  }
  cuda::conv2d_3x3_s2_relu(ctx, conv1_jobs, f_in, 1, conv1_w_, conv1_b_, d, ws.ops);
  cuda::conv2d_3x3_s2_relu(ctx, conv2_jobs, f1, d, conv2_w_, conv2_b_, d, ws.ops);
  float* x = ws.x.as<float>();
  cuda::linear(ctx, ws.conv2.as<float>(), total, embed_out_, x, ws.ops);
  cuda::scale(ctx, x, std::sqrt(static_cast<float>(d)), total * d);

  const float ff_scale = c.macaron ? 0.5f : 1.f;
  float* h = ws.h.as<float>();
  float* y = ws.y.as<float>();
  for (size_t i = 0; i < layers_.size(); ++i) {
    const Layer& l = layers_[i];
    if (c.macaron) {
      cuda::layer_norm(ctx, x, total, d, l.norm_ff_macaron.gamma, l.norm_ff_macaron.beta, l.norm_ff_macaron.eps, h);
      ffn_forward(ctx, l.ff_macaron, h, total, y, ws.hidden, ws.ops, gemm);
      cuda::add_scaled(ctx, x, y, ff_scale, total * d);
    }
    attention_block(ctx, l, static_cast<int>(i), chunks, states, total, ws);
    if (c.use_cnn_module) conv_block(ctx, l, static_cast<int>(i), chunks, states, total, ws);
    cuda::layer_norm(ctx, x, total, d, l.norm_ff.gamma, l.norm_ff.beta, l.norm_ff.eps, h);
    ffn_forward(ctx, l.ff, h, total, y, ws.hidden, ws.ops, gemm);
    cuda::add_scaled(ctx, x, y, ff_scale, total * d);
    if (c.use_cnn_module) cuda::layer_norm(ctx, x, total, d, l.norm_final.gamma, l.norm_final.beta, l.norm_final.eps, x);
  }
  trim_caches(ctx, chunks, states, ws);

  // result = [log-probs (total x vocab) | encoder rows (total x d)]: one download.
  float* logp = ws.result.as<float>();
  float* out = logp + total * vocab_;
  if (c.final_norm) {
    cuda::layer_norm(ctx, x, total, d, after_norm_.gamma, after_norm_.beta, after_norm_.eps, out);
  } else {
    cuda::copy_on_device(ctx, out, x, sizeof(float) * static_cast<size_t>(total * d));
  }
  cuda::linear(ctx, out, total, ctc_, logp, ws.ops);
  cuda::log_softmax_rows(ctx, logp, total, vocab_);

  const int64_t width = vocab_ + (want_rows ? d : 0);
  host.resize({total * width});
  cuda::download(ctx, host.data<float>(), logp, sizeof(float) * static_cast<size_t>(total * width));
  log_probs = Tensor::view(host.data<float>(), {total, vocab_}, DType::kF32, nullptr);
  if (want_rows) rows = Tensor::view(host.data<float>() + total * vocab_, {total, d}, DType::kF32, nullptr);
}

void GpuEncoder::attention_block(cuda::Context& ctx, const Layer& l, int index, const std::vector<EncoderChunk>& chunks,
                                 const std::vector<GpuEncoderState*>& states, int64_t total,
                                 GpuEncoderWorkspace& ws) const {
  const int64_t d = config_.d_model;
  float* h = ws.h.as<float>();
  float* q = ws.q.as<float>();
  float* k = ws.k.as<float>();
  float* v = ws.v.as<float>();
  float* p = ws.p.as<float>();
  float* att = ws.att.as<float>();
  cuda::layer_norm(ctx, ws.x.as<float>(), total, d, l.norm_mha.gamma, l.norm_mha.beta, l.norm_mha.eps, h);
  cuda::linear(ctx, h, total, l.q, q, ws.ops);
  cuda::linear(ctx, h, total, l.k, k, ws.ops);
  cuda::linear(ctx, h, total, l.v, v, ws.ops);
  // linear_pos of the new frames' encodings; cached with the keys, since a
  // key keeps its absolute position.
  cuda::linear(ctx, ws.pos_in.as<float>(), total, l.pos, p, ws.ops);

  // Append the new rows to each stream's caches, then attend over all of them.
  std::vector<cuda::RowCopy> appends;
  std::vector<cuda::AttentionJob> jobs;
  for (size_t i = 0; i < chunks.size(); ++i) {
    const EncoderChunk& ck = chunks[i];
    if (ck.out_frames == 0) continue;
    GpuEncoderState& s = *states[i];
    const int64_t old_len = s.cache_len_, len = old_len + ck.out_frames, r = ck.out_row * d;
    const int32_t t = static_cast<int32_t>(ck.out_frames);
    float* keys = cache(s, s.cur_, index, 0);
    float* values = cache(s, s.cur_, index, 1);
    float* positions = cache(s, s.cur_, index, 2);
    appends.push_back({keys + old_len * d, k + r, t});
    appends.push_back({values + old_len * d, v + r, t});
    appends.push_back({positions + old_len * d, p + r, t});
    jobs.push_back({q + r, att + r, keys, values, positions, t, static_cast<int32_t>(len)});
  }
  cuda::copy_rows(ctx, appends, d, ws.ops);
  cuda::rel_pos_attention(ctx, jobs, d, l.pos_bias_u, l.pos_bias_v, config_.heads, config_.d_k(), ws.ops);
  cuda::linear(ctx, att, total, l.out, ws.y.as<float>(), ws.ops);
  cuda::add_scaled(ctx, ws.x.as<float>(), ws.y.as<float>(), 1.f, total * d);
}

void GpuEncoder::conv_block(cuda::Context& ctx, const Layer& l, int index, const std::vector<EncoderChunk>& chunks,
                            const std::vector<GpuEncoderState*>& states, int64_t total, GpuEncoderWorkspace& ws) const {
  const EncoderConfig& c = config_;
  const int64_t d = c.d_model, ch = c.conv_channels();
  const int kernel = c.cnn_kernel;
  float* h = ws.h.as<float>();
  float* glu_out = ws.c.as<float>();
  cuda::layer_norm(ctx, ws.x.as<float>(), total, d, l.norm_conv.gamma, l.norm_conv.beta, l.norm_conv.eps, h);
  cuda::linear(ctx, h, total, l.pointwise1, ws.g.as<float>(), ws.ops);
  cuda::glu(ctx, ws.g.as<float>(), total, ch, glu_out);  // [total, C]: the depthwise input

  // Depthwise convolution over time into h ([total, C]).
  std::vector<cuda::CausalConvJob> jobs;
  if (c.causal) {
    // Left context: the stream's cache, the last kernel-1 frames of its previous chunk.
    for (size_t i = 0; i < chunks.size(); ++i) {
      const EncoderChunk& ck = chunks[i];
      if (ck.out_frames == 0) continue;
      float* cache_rows = states[i]->conv_.as<float>() + static_cast<int64_t>(index) * (kernel - 1) * ch;
      jobs.push_back({cache_rows, glu_out + ck.out_row * ch, static_cast<int32_t>(ck.out_frames), h + ck.out_row * ch});
    }
    cuda::causal_depthwise_conv(ctx, jobs, ch, l.depthwise_t, l.depthwise_bias, kernel, ws.ops);
  } else {
    // Non-causal: zero padding of p = (K-1)/2 on both sides of the chunk. The
    // causal op computes that with a zeroed cache (2p rows) and p zero frames
    // appended: its output row p + j is the padded convolution's row j.
    const int64_t pad = (kernel - 1) / 2;
    float* in = ws.nc_in.as<float>();
    float* out = ws.nc_out.as<float>();
    std::vector<cuda::RowCopy> stage, unstage;
    int64_t row = 0, job = 0;
    for (const EncoderChunk& ck : chunks) {
      if (ck.out_frames == 0) continue;
      const int32_t t = static_cast<int32_t>(ck.out_frames);
      stage.push_back({in + row * ch, glu_out + ck.out_row * ch, t});
      float* zero_cache = ws.nc_cache.as<float>() + job * (kernel - 1) * ch;
      jobs.push_back({zero_cache, in + row * ch, static_cast<int32_t>(t + pad), out + row * ch});
      unstage.push_back({h + ck.out_row * ch, out + (row + pad) * ch, t});
      row += t + pad;
      ++job;
    }
    cuda::fill_zero(ctx, in, sizeof(float) * static_cast<size_t>(row * ch));
    cuda::fill_zero(ctx, ws.nc_cache.data(), sizeof(float) * static_cast<size_t>(job * (kernel - 1) * ch));
    cuda::copy_rows(ctx, stage, ch, ws.ops);
    cuda::causal_depthwise_conv(ctx, jobs, ch, l.depthwise_t, l.depthwise_bias, kernel, ws.ops);
    cuda::copy_rows(ctx, unstage, ch, ws.ops);
  }
  if (l.conv_layer_norm) {
    cuda::layer_norm(ctx, h, total, ch, l.conv_norm.gamma, l.conv_norm.beta, l.conv_norm.eps, h);
  } else {
    cuda::cmvn(ctx, h, total, ch, l.bn_mean, l.bn_istd);  // folded batch_norm
  }
  cuda::activation(ctx, h, total * ch, c.ffn.activation);
  cuda::linear(ctx, h, total, l.pointwise2, ws.y.as<float>(), ws.ops);
  cuda::add_scaled(ctx, ws.x.as<float>(), ws.y.as<float>(), 1.f, total * d);
}

void GpuEncoder::trim_caches(cuda::Context& ctx, const std::vector<EncoderChunk>& chunks,
                             const std::vector<GpuEncoderState*>& states, GpuEncoderWorkspace& ws) const {
  const int64_t d = config_.d_model;
  const int layers = static_cast<int>(layers_.size());
  // WeNet keeps the last keep_cache frames for the next chunk: copied into the
  // other buffer (never overlapping), which becomes the current one.
  std::vector<cuda::RowCopy> jobs;
  std::vector<GpuEncoderState*> flipped;
  for (size_t i = 0; i < chunks.size(); ++i) {
    const EncoderChunk& ck = chunks[i];
    GpuEncoderState& s = *states[i];
    const int64_t len = s.cache_len_ + ck.out_frames, keep = ck.keep_cache;
    if (ck.out_frames > 0 && keep > 0 && keep < len) {
      for (int l = 0; l < layers; ++l) {
        for (int kind = 0; kind < kKinds; ++kind) {
          jobs.push_back({cache(s, 1 - s.cur_, l, kind), cache(s, s.cur_, l, kind) + (len - keep) * d,
                          static_cast<int32_t>(keep)});
        }
      }
      flipped.push_back(&s);
    }
    s.cache_len_ = keep >= 0 ? std::min(len, keep) : len;
    s.offset_ += ck.out_frames;
  }
  if (!jobs.empty()) cuda::copy_rows(ctx, jobs, d, ws.ops);
  for (GpuEncoderState* s : flipped) s->cur_ = 1 - s->cur_;
}

}  // namespace moeasr::gpu
