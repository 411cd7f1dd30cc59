#include "asr/encoder.h"

#include <chrono>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "kernels/cpu/conv.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/norm.h"

namespace moeasr {

namespace {

using Clock = std::chrono::steady_clock;

// Adds the time since `start` to *slot (when profiling) and restarts the clock.
void lap(double* slot, Clock::time_point& start) {
  if (!slot) return;
  const auto now = Clock::now();
  *slot += std::chrono::duration<double>(now - start).count();
  start = now;
}

// Makes room for `rows` rows of `width` floats, keeping the first `keep` rows.
void ensure_rows(Tensor& t, int64_t rows, int64_t width, int64_t keep) {
  if (!t.empty() && t.dim(0) >= rows) return;
  int64_t capacity = std::max<int64_t>(rows, t.empty() ? 0 : t.dim(0) * 2);
  Tensor grown({capacity, width});
  if (keep > 0) std::memcpy(grown.data<float>(), t.data<float>(), sizeof(float) * keep * width);
  t = grown;
}

// Keeps the last `keep` of `rows` rows, moved to the front.
void keep_last_rows(Tensor& t, int64_t rows, int64_t keep, int64_t width) {
  if (keep >= rows || keep <= 0) return;
  std::memmove(t.data<float>(), t.data<float>() + (rows - keep) * width, sizeof(float) * keep * width);
}

}  // namespace

void EncoderState::reset() {
  offset_ = 0;
  cache_len_ = 0;
  conv_primed_ = false;
}

size_t EncoderState::cache_bytes() const {
  size_t bytes = 0;
  for (const Layer& l : layers_) bytes += l.keys.nbytes() + l.values.nbytes() + l.positions.nbytes() + l.conv.nbytes();
  return bytes;
}

int64_t Encoder::expert_weight_bytes() const {
  if (!config_.ffn.moe || layers_.empty()) return 0;
  const cpu::ExpertWeights& e = layers_[0].ff.experts[0];
  const int64_t biases = (e.b1 ? e.w1.n : 0) + (e.b2 ? e.w2.n : 0);
  return e.w1.bytes() + e.w2.bytes() + biases * int64_t{sizeof(float)};
}

bool Encoder::mixes_examples() const { return config_.ffn.mot && config_.ffn.grouping == MotGrouping::kCrossExample; }

const cpu::MotGroups* Encoder::token_groups(const std::vector<EncoderChunk>& chunks, EncoderWorkspace& ws,
                                            cpu::MotGroups* view) const {
  if (!config_.ffn.mot) return nullptr;
  std::vector<ops::RowSegment> examples;
  for (const EncoderChunk& c : chunks) examples.push_back({c.out_row, c.out_frames});
  if (config_.ffn.grouping == MotGrouping::kWithinSequence) {
    ops::within_sequence_groups(examples, config_.ffn.group_size, &ws.token_groups);
  } else {
    ops::cross_example_groups(examples, config_.ffn.group_size, &ws.token_groups);
  }
  *view = ws.token_groups.view();
  return view;
}

int64_t Encoder::output_frames(int64_t n) {
  if (n < 7) return 0;
  const int64_t t1 = (n - 3) / 2 + 1;
  return (t1 - 3) / 2 + 1;
}

Encoder::Encoder(const ModelConfig& config, const SafeTensors& st, const PrecisionPolicy& precision)
    : config_(config.encoder), pos_enc_(config_.d_model) {
  const EncoderConfig& c = config_;
  const int64_t d = c.d_model, f2 = c.subsampled_features();
  WeightReader r(st, precision);
  if (c.global_cmvn) {
    cmvn_mean_ = r.tensor("encoder.global_cmvn.mean");
    cmvn_istd_ = r.tensor("encoder.global_cmvn.istd");
  }
  // Both convolutions as [3, 3, c_in, c_out] (see kernels/cpu/conv.h).
  const Tensor w1 = r.tensor("encoder.embed.conv.0.weight");  // [out, 1, 3, 3]
  conv1_w_ = Tensor({9, d});
  for (int64_t o = 0; o < d; ++o) {
    for (int k = 0; k < 9; ++k) conv1_w_.data<float>()[k * d + o] = w1.data<float>()[o * 9 + k];
  }
  conv1_b_ = r.tensor("encoder.embed.conv.0.bias");
  const Tensor w2 = r.tensor("encoder.embed.conv.2.weight");  // [out, in, 3, 3]
  conv2_w_ = Tensor({9 * d, d});
  for (int64_t o = 0; o < d; ++o) {
    for (int64_t i = 0; i < d; ++i) {
      for (int k = 0; k < 9; ++k) conv2_w_.data<float>()[(k * d + i) * d + o] = w2.data<float>()[(o * d + i) * 9 + k];
    }
  }
  conv2_b_ = r.tensor("encoder.embed.conv.2.bias");
  // WeNet flattens the conv output per frame as (channel, freq); ours is (freq, channel).
  const Tensor out = r.tensor("encoder.embed.out.0.weight");
  embed_out_bias_ = r.tensor("encoder.embed.out.0.bias");
  embed_out_ = Tensor({d, f2 * d});
  for (int64_t o = 0; o < d; ++o) {
    for (int64_t ch = 0; ch < d; ++ch) {
      for (int64_t f = 0; f < f2; ++f) {
        embed_out_.data<float>()[o * f2 * d + f * d + ch] = out.data<float>()[o * f2 * d + ch * f2 + f];
      }
    }
  }
  for (int i = 0; i < c.num_blocks; ++i) {
    const std::string l = "encoder.encoders." + std::to_string(i);
    ConformerLayerWeights layer;
    layer.macaron = c.macaron;
    layer.conv = c.use_cnn_module;
    if (c.macaron) {
      layer.ff_macaron = r.ffn(l + ".feed_forward_macaron", c.ffn);
      layer.norm_ff_macaron = r.layer_norm(l + ".norm_ff_macaron", c.norm_eps);
    }
    layer.attention = r.attention(l + ".self_attn", true);
    layer.norm_mha = r.layer_norm(l + ".norm_mha", c.norm_eps);
    if (c.use_cnn_module) {
      layer.conv_module = r.conv_module(l + ".conv_module", c);
      layer.norm_conv = r.layer_norm(l + ".norm_conv", c.norm_eps);
      layer.norm_final = r.layer_norm(l + ".norm_final", c.norm_eps);
    }
    layer.ff = r.ffn(l + ".feed_forward", c.ffn);
    layer.norm_ff = r.layer_norm(l + ".norm_ff", c.norm_eps);
    layer.adapters = r.layer_adapters(l, d, c.adapter);
    layers_.push_back(std::move(layer));
  }
  if (c.final_norm) after_norm_ = r.layer_norm("encoder.after_norm", c.norm_eps);
}

void Encoder::subsample(const EncoderChunk& chunk, EncoderWorkspace& ws, float* out) const {
  const int64_t d = config_.d_model, f_in = config_.input_dim;
  const int64_t f1 = (f_in - 3) / 2 + 1, f2 = (f1 - 3) / 2 + 1;
  const int64_t t_out = output_frames(chunk.num_frames);
  const float xscale = std::sqrt(static_cast<float>(d));

  // Global CMVN: (x - mean) * istd.
  ws.cmvn.assign(chunk.features, chunk.features + chunk.num_frames * f_in);
  if (config_.global_cmvn) {
    const float* mean = cmvn_mean_.data<float>();
    const float* istd = cmvn_istd_.data<float>();
    for (int64_t t = 0; t < chunk.num_frames; ++t) {
      float* row = ws.cmvn.data() + t * f_in;
      for (int64_t f = 0; f < f_in; ++f) row[f] = (row[f] - mean[f]) * istd[f];
    }
  }
  // Output frames in blocks so the conv1 activations of a long utterance stay small.
  constexpr int64_t kBlock = 64;
  for (int64_t t0 = 0; t0 < t_out; t0 += kBlock) {
    const int64_t nt = std::min(kBlock, t_out - t0);
    const int64_t t1_begin = 2 * t0, t1_rows = 2 * (nt - 1) + 3;  // conv1 frames feeding this block
    const int64_t in_rows = 2 * (t1_rows - 1) + 3;                 // feature frames feeding those
    ws.conv1.resize(static_cast<size_t>(t1_rows * f1 * d));
    cpu::conv2d_3x3_s2_relu(ws.cmvn.data() + 2 * t1_begin * f_in, in_rows, f_in, 1, conv1_w_.data<float>(),
                            conv1_b_.data<float>(), d, ws.conv1.data(), ws.im2col);
    ws.conv2.resize(static_cast<size_t>(nt * f2 * d));
    cpu::conv2d_3x3_s2_relu(ws.conv1.data(), t1_rows, f1, d, conv2_w_.data<float>(), conv2_b_.data<float>(), d,
                            ws.conv2.data(), ws.im2col);
    float* y = out + t0 * d;
    cpu::linear(ws.conv2.data(), nt, f2 * d, embed_out_.data<float>(), embed_out_bias_.data<float>(), d, y, d);
    cpu::scale(y, y, xscale, nt * d);
  }
}

void Encoder::attention_block(const ConformerLayerWeights& layer, int index, std::vector<EncoderChunk>& chunks,
                              EncoderWorkspace& ws) const {
  const int64_t d = config_.d_model;
  const AttentionWeights& a = layer.attention;
  ops::layer_norm(ws.x, layer.norm_mha, ws.h);
  ops::linear(ws.h, a.q, ws.q);
  ops::linear(ws.h, a.k, ws.k);
  ops::linear(ws.h, a.v, ws.v);
  // Position encodings of each stream's new frames; linear_pos of those rows
  // is cached with the keys, since a key keeps its absolute position.
  ws.p_in.resize({ws.x.dim(0), d});
  for (const EncoderChunk& c : chunks) {
    pos_enc_.rows(c.state->offset_, c.out_frames, ws.p_in.data<float>() + c.out_row * d);
  }
  ops::linear(ws.p_in, a.pos, ws.p);
  ws.att.resize({ws.x.dim(0), d});

  for (EncoderChunk& c : chunks) {
    if (c.out_frames == 0) continue;
    EncoderState::Layer& cache = c.state->layers_[index];
    const int64_t old_len = c.state->cache_len_, len = old_len + c.out_frames;
    for (Tensor* t : {&cache.keys, &cache.values, &cache.positions}) ensure_rows(*t, len, d, old_len);
    const size_t bytes = sizeof(float) * c.out_frames * d;
    std::memcpy(cache.keys.data<float>() + old_len * d, ws.k.data<float>() + c.out_row * d, bytes);
    std::memcpy(cache.values.data<float>() + old_len * d, ws.v.data<float>() + c.out_row * d, bytes);
    std::memcpy(cache.positions.data<float>() + old_len * d, ws.p.data<float>() + c.out_row * d, bytes);
    cpu::rel_pos_attention(ws.q.data<float>() + c.out_row * d, c.out_frames, d, cache.keys.data<float>(),
                           cache.values.data<float>(), cache.positions.data<float>(), len, d,
                           a.pos_bias_u.data<float>(), a.pos_bias_v.data<float>(), config_.heads, config_.d_k(),
                           ws.att.data<float>() + c.out_row * d, d, ws.attention);
    // WeNet keeps the last `required_cache_size` frames for the next chunk.
    if (c.keep_cache >= 0) {
      for (Tensor* t : {&cache.keys, &cache.values, &cache.positions}) keep_last_rows(*t, len, c.keep_cache, d);
    }
  }
  ops::linear(ws.att, a.out, ws.y);
  ops::add_scaled(ws.x, ws.y, 1.f);
  // A parallel adapter reads the same norm_mha output (still in ws.h).
  add_adapters(index, &LayerAdapters::self_attn, chunks, ws);
}

const MixtureWeights& Encoder::adapter_for(const EncoderChunk& c, int index,
                                           MixtureWeights LayerAdapters::*place) const {
  return c.adapters ? (*c.adapters)[index].*place : layers_[index].adapters.*place;
}

void Encoder::add_adapters(int index, MixtureWeights LayerAdapters::*place, const std::vector<EncoderChunk>& chunks,
                           EncoderWorkspace& ws) const {
  const int64_t d = config_.d_model;
  // Runs of consecutive chunks that use the same adapters share one call (all
  // of them when no stream picked its own set); each chunk stays its own group.
  for (size_t first = 0; first < chunks.size();) {
    const MixtureWeights& m = adapter_for(chunks[first], index, place);
    size_t end = first + 1;
    while (end < chunks.size() && &adapter_for(chunks[end], index, place) == &m) ++end;
    if (m.present()) {
      const int64_t row0 = chunks[first].out_row;
      const int64_t rows = chunks[end - 1].out_row + chunks[end - 1].out_frames - row0;
      if (first == 0 && end == chunks.size()) {
        ops::mixture(ws.h, m, ws.y, ws.ffn, ws.soft_groups);
        ops::add_scaled(ws.x, ws.y, 1.f);
      } else if (rows > 0) {
        ws.run_soft_groups.assign(1, 0);
        for (size_t c = first; c < end; ++c) {
          ws.run_soft_groups.push_back(chunks[c].out_row + chunks[c].out_frames - row0);
        }
        const Tensor h = Tensor::view(ws.h.data<float>() + row0 * d, {rows, d}, DType::kF32, nullptr);
        ops::mixture(h, m, ws.y, ws.ffn, ws.run_soft_groups);
        cpu::add_scaled(ws.x.data<float>() + row0 * d, ws.y.data<float>(), 1.f, rows * d);
      }
    }
    first = end;
  }
}

void Encoder::conv_block(const ConformerLayerWeights& layer, int index, std::vector<EncoderChunk>& chunks,
                         EncoderWorkspace& ws) const {
  const ConvModuleWeights& m = layer.conv_module;
  const int64_t ch = config_.conv_channels();
  const int kernel = config_.cnn_kernel;
  ops::layer_norm(ws.x, layer.norm_conv, ws.h);
  ops::linear(ws.h, m.pointwise1, ws.g);
  ops::glu(ws.g, ws.c);  // [N, C]: the depthwise conv's input
  ws.h.resize({ws.x.dim(0), ch});
  const float* bias = m.depthwise_bias.empty() ? nullptr : m.depthwise_bias.data<float>();
  for (EncoderChunk& c : chunks) {
    if (c.out_frames == 0) continue;
    const float* frames = ws.c.data<float>() + c.out_row * ch;
    const int64_t pad = config_.causal ? kernel - 1 : (kernel - 1) / 2;
    const int64_t rows = c.out_frames + (config_.causal ? pad : 2 * pad);
    ws.conv_in.resize(static_cast<size_t>(rows * ch));
    if (config_.causal) {
      // Left context: the last kernel-1 frames of the previous chunk.
      Tensor& cache = c.state->layers_[index].conv;
      std::memcpy(ws.conv_in.data(), cache.data<float>(), sizeof(float) * pad * ch);
      std::memcpy(ws.conv_in.data() + pad * ch, frames, sizeof(float) * c.out_frames * ch);
      std::memcpy(cache.data<float>(), ws.conv_in.data() + (rows - pad) * ch, sizeof(float) * pad * ch);
    } else {
      // Non-causal: zero padding on both sides of the chunk (WeNet has no cache here).
      std::fill(ws.conv_in.begin(), ws.conv_in.end(), 0.f);
      std::memcpy(ws.conv_in.data() + pad * ch, frames, sizeof(float) * c.out_frames * ch);
    }
    cpu::depthwise_conv_time(ws.conv_in.data(), rows, ch, m.depthwise_t.data<float>(), bias, kernel,
                             ws.h.data<float>() + c.out_row * ch);
  }
  if (m.layer_norm) {
    ops::layer_norm(ws.h, m.norm, ws.h);
  } else {
    cpu::channel_affine(ws.h.data<float>(), ws.h.dim(0), ch, m.bn_scale.data<float>(), m.bn_shift.data<float>(),
                        ws.h.data<float>());
  }
  ops::activation(ws.h, config_.ffn.activation);
  ops::linear(ws.h, m.pointwise2, ws.y);
  ops::add_scaled(ws.x, ws.y, 1.f);
}

void Encoder::forward(std::vector<EncoderChunk>& chunks, EncoderWorkspace& ws, Tensor& out, EncoderProfile* profile,
                      std::vector<int64_t>* expert_load, TokenMixing mixing) const {
  MOEASR_CHECK(!mixes_examples() || mixing == TokenMixing::kAcrossExamples, MOEASR_ERR_UNSUPPORTED,
               "encoder_conf.mot_grouping: cross_example mixes the tokens of different utterances; such a model "
               "runs only in the offline batch API (moeasr_decode_batch), never in streaming");
  const int64_t d = config_.d_model;
  const int num_layers = static_cast<int>(layers_.size());
  auto start = Clock::now();

  int64_t total = 0;
  for (EncoderChunk& c : chunks) {
    MOEASR_CHECK(c.state && (c.features || c.num_frames == 0) && c.num_frames >= 0, MOEASR_ERR_INTERNAL,
                 "encoder: bad chunk");
    EncoderState& s = *c.state;
    if (s.layers_.size() != static_cast<size_t>(num_layers)) s.layers_.resize(num_layers);
    if (!s.conv_primed_ && config_.use_cnn_module && config_.causal) {
      const int64_t ch = config_.conv_channels(), pad = config_.cnn_kernel - 1;
      for (int i = 0; i < num_layers; ++i) {
        Tensor& cache = s.layers_[i].conv;
        cache.resize({pad, ch});
        for (int64_t r = 0; r < pad; ++r) {
          std::memcpy(cache.data<float>() + r * ch, layers_[i].conv_module.initial_cache_row.data<float>(),
                      sizeof(float) * ch);
        }
      }
    }
    s.conv_primed_ = true;
    c.out_row = total;
    c.out_frames = output_frames(c.num_frames);
    total += c.out_frames;
  }
  cpu::MotGroups group_view;
  const cpu::MotGroups* groups = token_groups(chunks, ws, &group_view);
  ws.soft_groups.assign(1, 0);
  for (const EncoderChunk& c : chunks) ws.soft_groups.push_back(c.out_row + c.out_frames);
  ws.x.resize({total, d});
  for (const EncoderChunk& c : chunks) {
    if (c.out_frames > 0) subsample(c, ws, ws.x.data<float>() + c.out_row * d);
  }
  lap(profile ? &profile->subsampling : nullptr, start);

  const int experts = config_.ffn.moe ? config_.ffn.num_experts : 0;
  if (expert_load && experts) expert_load->resize(static_cast<size_t>(num_layers) * 2 * experts, 0);
  auto load = [&](int layer, int which) -> int64_t* {
    return expert_load && experts ? expert_load->data() + (layer * 2 + which) * experts : nullptr;
  };
  const float ff_scale = config_.macaron ? 0.5f : 1.f;

  for (int i = 0; i < num_layers; ++i) {
    const ConformerLayerWeights& layer = layers_[i];
    if (layer.macaron) {
      ops::layer_norm(ws.x, layer.norm_ff_macaron, ws.h);
      ops::ffn(ws.h, layer.ff_macaron, ws.y, ws.ffn, load(i, 0), groups, ws.soft_groups);
      ops::add_scaled(ws.x, ws.y, ff_scale);
      add_adapters(i, &LayerAdapters::ff_macaron, chunks, ws);
      lap(profile ? &profile->ffn : nullptr, start);
    }
    attention_block(layer, i, chunks, ws);
    lap(profile ? &profile->attention : nullptr, start);
    if (layer.conv) {
      conv_block(layer, i, chunks, ws);
      lap(profile ? &profile->conv : nullptr, start);
    }
    ops::layer_norm(ws.x, layer.norm_ff, ws.h);
    ops::ffn(ws.h, layer.ff, ws.y, ws.ffn, load(i, 1), groups, ws.soft_groups);
    ops::add_scaled(ws.x, ws.y, ff_scale);
    add_adapters(i, &LayerAdapters::ff, chunks, ws);
    if (layer.conv) ops::layer_norm(ws.x, layer.norm_final, ws.x);
    lap(profile ? &profile->ffn : nullptr, start);
  }

  for (EncoderChunk& c : chunks) {
    EncoderState& s = *c.state;
    const int64_t len = s.cache_len_ + c.out_frames;
    s.cache_len_ = c.keep_cache >= 0 ? std::min(len, c.keep_cache) : len;
    s.offset_ += c.out_frames;
  }
  if (config_.final_norm) {
    ops::layer_norm(ws.x, after_norm_, out);
  } else {
    out.resize({total, d});
    if (total) std::memcpy(out.data<float>(), ws.x.data<float>(), sizeof(float) * total * d);
  }
  lap(profile ? &profile->other : nullptr, start);
}

}  // namespace moeasr
