#include "asr/encoder.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "ops/ops.h"

namespace moeasr {

namespace {

using Clock = std::chrono::steady_clock;
constexpr int kKinds = 3;  // attention cache rows: keys, values, linear_pos of the positions (rel_selfattn)

// Adds the time since `start` to *slot (when profiling) and restarts the clock.
void lap(double* slot, Clock::time_point& start) {
  if (!slot) return;
  const auto now = Clock::now();
  *slot += std::chrono::duration<double>(now - start).count();
  start = now;
}

float* row_ptr(Tensor& t, int64_t row, int64_t width) { return t.data<float>() + row * width; }

// A Conv1d depthwise kernel [C, 1, K] (channels c0 .. c0 + n) as [K, n].
Tensor depthwise_transposed(const Tensor& w, int64_t c0, int64_t n, int64_t kernel) {
  Tensor t({kernel, n});
  for (int64_t j = 0; j < kernel; ++j) {
    for (int64_t ci = 0; ci < n; ++ci) t.data<float>()[j * n + ci] = w.data<float>()[(c0 + ci) * kernel + j];
  }
  return t;
}

// Rows [r0, r0 + n) of a [rows, cols] host matrix, or columns [c0, c0 + n) of it.
Tensor host_rows(const Tensor& m, int64_t r0, int64_t n) {
  const int64_t cols = m.dim(1);
  Tensor t({n, cols});
  std::memcpy(t.data<float>(), m.data<float>() + r0 * cols, sizeof(float) * n * cols);
  return t;
}
Tensor host_cols(const Tensor& m, int64_t c0, int64_t n) {
  const int64_t rows = m.dim(0), cols = m.dim(1);
  Tensor t({rows, n});
  for (int64_t r = 0; r < rows; ++r) {
    std::memcpy(t.data<float>() + r * n, m.data<float>() + r * cols + c0, sizeof(float) * n);
  }
  return t;
}
Tensor host_slice(const Tensor& v, int64_t i0, int64_t n) {
  Tensor t({n});
  std::memcpy(t.data<float>(), v.data<float>() + i0, sizeof(float) * n);
  return t;
}

}  // namespace

LayerAdapters read_layer_adapters(const WeightReader& r, const std::string& layer, int64_t d,
                                  const AdapterConfig& c) {
  LayerAdapters a;
  if (c.feed_forward_macaron) a.ff_macaron = make_adapter(r, layer + ".adapter_feed_forward_macaron", d, c);
  if (c.self_attn) a.self_attn = make_adapter(r, layer + ".adapter_self_attn", d, c);
  if (c.feed_forward) a.ff = make_adapter(r, layer + ".adapter_feed_forward", d, c);
  return a;
}

// A layer's FFN (every layer's are of one kind), or null for a model without
// FFNs (Branchformer; E-Branchformer with use_ffn: false).
const FeedForward* Encoder::first_ffn() const {
  if (layers_.empty()) return nullptr;
  return layers_[0].ff ? layers_[0].ff.get() : layers_[0].ff_macaron.get();
}

int Encoder::routed_experts() const { return first_ffn() ? first_ffn()->routed_experts() : 0; }

int64_t Encoder::expert_weight_bytes() const { return first_ffn() ? first_ffn()->expert_bytes() : 0; }

bool Encoder::mixes_examples() const { return first_ffn() && first_ffn()->mixes_examples(); }

void Encoder::read_input_layer(const WeightReader& r) {
  const EncoderConfig& c = config_;
  const int64_t d = c.d_model;
  // In int8 the input layer's Linear weights (the convolutions over d channels,
  // on im2col rows, and the output Linear) are int8 GEMMs; in every other
  // compute type they stay float32, as the first convolution (one channel)
  // always does: with bf16 weights a GEMM of this many rows was slower than
  // sgemm on a CPU without AMX tiles (docs/benchmarks.md).
  auto subsampling_linear = [&r](const std::string& prefix, const std::vector<int64_t>& order) {
    Linear l = r.linear(prefix, order);
    if (l.weight.dtype() == DType::kI8) return l;
    const Tensor w = r.host(prefix + ".weight");
    const int64_t n = w.dim(0), k = w.numel() / n;
    Tensor t({n, k});
    for (int64_t o = 0; o < n; ++o) {
      for (int64_t col = 0; col < k; ++col) t.data<float>()[o * k + col] = w.data<float>()[o * k + order[col]];
    }
    return r.linear(t, r.host(prefix + ".bias"));
  };
  if (c.input_layer == InputLayer::kLinear) {  // LinearNoSubsampling: Linear, LayerNorm (eps 1e-5 in WeNet)
    std::vector<int64_t> identity(c.input_dim);
    for (int64_t col = 0; col < c.input_dim; ++col) identity[col] = col;
    embed_out_ = subsampling_linear("encoder.embed.out.0", identity);
    embed_norm_ = r.layer_norm("encoder.embed.out.1", 1e-5f);
    return;
  }
  // (kernel, stride) of each Conv2d; they are encoder.embed.conv.{0,2,4}.
  std::vector<std::pair<int, int>> shapes = {{3, 2}, {3, 2}};
  if (c.input_layer == InputLayer::kConv2d2) shapes = {{3, 2}};
  if (c.input_layer == InputLayer::kConv2d6) shapes = {{3, 2}, {5, 3}};
  if (c.input_layer == InputLayer::kConv2d8) shapes = {{3, 2}, {3, 2}, {3, 2}};
  // Squeezeformer's DepthwiseConv2dSubsampling4: the same two convolutions
  // (dw_stride false: not depthwise), named pw_conv and dw_conv.
  const bool squeeze = c.squeezeformer();
  for (size_t i = 0; i < shapes.size(); ++i) {
    const std::string name = squeeze ? (i == 0 ? "encoder.embed.pw_conv" : "encoder.embed.dw_conv")
                                     : "encoder.embed.conv." + std::to_string(2 * i);
    const int64_t k = shapes[i].first, kk = k * k, c_in = i == 0 ? 1 : d;
    ConvStage stage;
    stage.kernel = shapes[i].first;
    stage.stride = shapes[i].second;
    // As a Linear on im2col rows: a row per output position, columns (kt, kf,
    // c_in) of the file's [out, in, kt, kf].
    Linear as_linear;
    if (c_in > 1) {
      std::vector<int64_t> order(kk * c_in);
      for (int64_t j = 0; j < kk; ++j) {
        for (int64_t ci = 0; ci < c_in; ++ci) order[j * c_in + ci] = ci * kk + j;
      }
      as_linear = subsampling_linear(name, order);
    }
    const bool int8 = as_linear.present() && as_linear.weight.dtype() == DType::kI8;
    if (k == 3 && stage.stride == 2 && !int8) {  // the backend's float32 kernel: [3, 3, c_in, c_out]
      const Tensor w = r.host(name + ".weight");
      Tensor t({kk * c_in, d});
      for (int64_t o = 0; o < d; ++o) {
        for (int64_t ci = 0; ci < c_in; ++ci) {
          for (int64_t j = 0; j < kk; ++j) {
            t.data<float>()[(j * c_in + ci) * d + o] = w.data<float>()[(o * c_in + ci) * kk + j];
          }
        }
      }
      stage.w = r.upload(t);
      stage.b = r.tensor(name + ".bias");
    } else {
      MOEASR_CHECK(as_linear.present(), MOEASR_ERR_INTERNAL, name, ": no im2col form for one input channel");
      stage.as_linear = std::move(as_linear);
    }
    convs_.push_back(std::move(stage));
  }
  // WeNet flattens the conv output per frame as (channel, freq); ours is (freq, channel).
  const int64_t f2 = c.subsampled_features();
  const bool out0 = c.input_layer == InputLayer::kConv2d || c.input_layer == InputLayer::kConv2d2;
  const std::string out_name = squeeze ? "encoder.embed.input_proj.0"
                               : out0  ? "encoder.embed.out.0"
                                       : "encoder.embed.linear";
  std::vector<int64_t> order(f2 * d);
  for (int64_t f = 0; f < f2; ++f) {
    for (int64_t ci = 0; ci < d; ++ci) order[f * d + ci] = ci * f2 + f;
  }
  embed_out_ = subsampling_linear(out_name, order);
}

void Encoder::read_attention(const WeightReader& r, Layer& layer, const std::string& a) const {
  layer.q = r.linear(a + ".linear_q");
  layer.k = r.linear(a + ".linear_k");
  layer.v = r.linear(a + ".linear_v");
  layer.out = r.linear(a + ".linear_out");
  if (config_.rel_attention) {
    layer.pos = r.linear(a + ".linear_pos");
    layer.pos_bias_u = r.tensor(a + ".pos_bias_u");
    layer.pos_bias_v = r.tensor(a + ".pos_bias_v");
  }
}

void Encoder::read_branchformer_layers(const WeightReader& r, MoeGemm moe_gemm) {
  const EncoderConfig& c = config_;
  const int64_t d = c.d_model, half = c.cgmlp_channels(), kernel = c.cgmlp_kernel;
  const bool ebranch = c.type == EncoderType::kEBranchformer;
  constexpr float kEps = 1e-5f;  // WeNet builds these layers' norms as nn.LayerNorm(size)
  Tensor conv_init;
  if (c.causal) conv_init = Tensor::zeros({c.num_blocks * (kernel - 1), half});
  for (int i = 0; i < c.num_blocks; ++i) {
    const std::string l = "encoder.encoders." + std::to_string(i);
    Layer layer;
    read_attention(r, layer, l + ".attn");
    layer.norm_mha = r.layer_norm(l + ".norm_mha", kEps);
    layer.norm_mlp = r.layer_norm(l + ".norm_mlp", kEps);
    layer.norm_final = r.layer_norm(l + ".norm_final", kEps);
    const std::string m = l + ".cgmlp";
    Cgmlp& cg = layer.cgmlp;
    const Tensor w1 = r.host(m + ".channel_proj1.0.weight"), b1 = r.host(m + ".channel_proj1.0.bias");
    cg.proj1_r = r.linear(host_rows(w1, 0, half), host_slice(b1, 0, half));
    cg.proj1_g = r.linear(host_rows(w1, half, half), host_slice(b1, half, half));
    cg.norm = r.layer_norm(m + ".csgu.norm", kEps);
    cg.conv_t = r.upload(depthwise_transposed(r.host(m + ".csgu.conv.weight"), 0, half, kernel));
    cg.conv_bias = r.tensor(m + ".csgu.conv.bias");
    if (c.cgmlp_linear_after_conv) cg.after_conv = r.linear(m + ".csgu.linear");
    cg.proj2 = r.linear(m + ".channel_proj2");
    if (c.causal) {
      // WeNet left-pads the gating unit's input (before its LayerNorm) with
      // zero frames; normalized, a zero frame is the norm's bias. The cache
      // holds normalized frames, so it starts filled with that row.
      const Tensor beta = r.host(m + ".csgu.norm.bias");
      for (int64_t row = 0; row < kernel - 1; ++row) {
        std::memcpy(conv_init.data<float>() + (i * (kernel - 1) + row) * half, beta.data<float>(),
                    sizeof(float) * half);
      }
    }
    const Tensor mw = r.host(l + ".merge_proj.weight"), mb = r.host(l + ".merge_proj.bias");
    if (!ebranch && c.merge == MergeMethod::kFixedAve) {
      layer.merge_a = r.linear(mw, mb);
    } else {
      layer.merge_a = r.linear(host_cols(mw, 0, d), mb);
      layer.merge_b = r.linear(host_cols(mw, d, d), Tensor());
    }
    if (ebranch) {
      if (c.macaron) {
        layer.ff_macaron = make_feed_forward(r, l + ".feed_forward_macaron", c.ffn, d, moe_gemm);
        layer.norm_ff_macaron = r.layer_norm(l + ".norm_ff_macaron", kEps);
      }
      if (c.use_ffn) {
        layer.ff = make_feed_forward(r, l + ".feed_forward", c.ffn, d, moe_gemm);
        layer.norm_ff = r.layer_norm(l + ".norm_ff", kEps);
      }
      const Tensor fw = r.host(l + ".depthwise_conv_fusion.weight"), fb = r.host(l + ".depthwise_conv_fusion.bias");
      const int64_t k = c.merge_conv_kernel;
      layer.fusion_a_t = r.upload(depthwise_transposed(fw, 0, d, k));
      layer.fusion_b_t = r.upload(depthwise_transposed(fw, d, d, k));
      layer.fusion_a_bias = r.upload(host_slice(fb, 0, d));
      layer.fusion_b_bias = r.upload(host_slice(fb, d, d));
    }
    layers_.push_back(std::move(layer));
  }
  if (!conv_init.empty()) conv_init_ = r.upload(conv_init);
}

void Encoder::read_conv_module(const WeightReader& r, const std::string& m, int64_t kernel, int64_t cache_row,
                               ConvModule& cm, Tensor& conv_init) const {
  const EncoderConfig& c = config_;
  const int64_t ch = c.conv_channels();
  cm.kernel = static_cast<int>(kernel);
  cm.cache_row = cache_row;
  // Conv1d weights [out, in, 1] are linear layers over channels.
  cm.pointwise1 = r.linear(m + ".pointwise_conv1");
  cm.pointwise2 = r.linear(m + ".pointwise_conv2");
  const Tensor dw = r.host(m + ".depthwise_conv.weight");  // [C, 1, K]
  Tensor dw_t({kernel, ch});
  for (int64_t j = 0; j < kernel; ++j) {
    for (int64_t ci = 0; ci < ch; ++ci) dw_t.data<float>()[j * ch + ci] = dw.data<float>()[ci * kernel + j];
  }
  cm.depthwise_t = r.upload(dw_t);
  cm.depthwise_bias = r.optional(m + ".depthwise_conv.bias");
  cm.layer_norm = c.cnn_norm == ConvNorm::kLayerNorm;
  if (cm.layer_norm) {
    cm.norm = r.layer_norm(m + ".norm", c.conv_norm_eps);
  } else {
    // Inference BatchNorm: y = (x - mean) / sqrt(var + eps) * w + b = x * scale + shift.
    const Tensor w = r.host(m + ".norm.weight"), b = r.host(m + ".norm.bias");
    const Tensor mean = r.host(m + ".norm.running_mean"), var = r.host(m + ".norm.running_var");
    Tensor scale({ch}), shift({ch});
    for (int64_t ci = 0; ci < ch; ++ci) {
      const float inv = 1.f / std::sqrt(var.data<float>()[ci] + c.conv_norm_eps);
      scale.data<float>()[ci] = w.data<float>()[ci] * inv;
      shift.data<float>()[ci] = b.data<float>()[ci] - mean.data<float>()[ci] * w.data<float>()[ci] * inv;
    }
    cm.bn_scale = r.upload(scale);
    cm.bn_shift = r.upload(shift);
  }
  if (c.causal) {
    // WeNet left-pads the module input with zeros; after pointwise_conv1
    // and GLU a zero frame becomes GLU(bias). The cache holds post-GLU
    // frames, so it starts filled with this row.
    const Tensor bias = r.has(m + ".pointwise_conv1.bias") ? r.host(m + ".pointwise_conv1.bias") : Tensor();
    for (int64_t row = 0; row < kernel - 1; ++row) {
      float* dst = conv_init.data<float>() + (cache_row + row) * ch;
      for (int64_t ci = 0; ci < ch && !bias.empty(); ++ci) {
        dst[ci] = bias.data<float>()[ci] / (1.f + std::exp(-bias.data<float>()[ch + ci]));
      }
    }
  }
}

Encoder::Encoder(const ModelConfig& config, const WeightReader& r, MoeGemm moe_gemm)
    : config_(config.encoder), pos_enc_(config.encoder.d_model, r.backend()) {
  const EncoderConfig& c = config_;
  const int64_t d = c.d_model, ch = c.conv_channels();
  const bool transformer = c.type == EncoderType::kTransformer;
  if (c.global_cmvn) {
    cmvn_mean_ = r.tensor("encoder.global_cmvn.mean");
    cmvn_istd_ = r.tensor("encoder.global_cmvn.istd");
  }
  read_input_layer(r);
  if (c.squeezeformer()) {
    read_squeezeformer_layers(r, moe_gemm);
    return;
  }
  if (c.branchformer()) {
    read_branchformer_layers(r, moe_gemm);
    if (c.final_norm) after_norm_ = r.layer_norm("encoder.after_norm", c.norm_eps);
    return;
  }
  // The causal convolutions' cache rows: kernel - 1 per layer.
  int64_t conv_rows = 0;
  for (int i = 0; i < c.num_blocks; ++i) conv_rows += c.layer_kernel(i) - 1;
  Tensor conv_init;
  if (c.use_cnn_module && c.causal) conv_init = Tensor::zeros({conv_rows, ch});
  if (!c.group_layers.empty() && c.group_size > 1) zero_rows_ = r.upload(Tensor::zeros({c.group_size - 1, d}));
  int64_t cache_row = 0;
  for (int i = 0; i < c.num_blocks; ++i) {
    const std::string l = "encoder.encoders." + std::to_string(i);
    const int64_t kernel = c.layer_kernel(i);
    Layer layer;
    layer.stride = c.layer_stride(i);
    layer.group = c.layer_group(i);
    layer.rate = c.rate_before(i);
    if (c.macaron) {
      layer.ff_macaron = make_feed_forward(r, l + ".feed_forward_macaron", c.ffn, d, moe_gemm);
      layer.norm_ff_macaron = r.layer_norm(l + ".norm_ff_macaron", c.norm_eps);
    }
    read_attention(r, layer, l + ".self_attn");
    // TransformerEncoderLayer names its two norms norm1 (attention) and norm2 (FFN).
    layer.norm_mha = r.layer_norm(l + (transformer ? ".norm1" : ".norm_mha"), c.norm_eps);
    if (c.use_cnn_module) {
      read_conv_module(r, l + ".conv_module", kernel, cache_row, layer.conv, conv_init);
      cache_row += kernel - 1;
      layer.norm_conv = r.layer_norm(l + ".norm_conv", c.norm_eps);
      layer.norm_final = r.layer_norm(l + ".norm_final", c.norm_eps);
    }
    layer.ff = make_feed_forward(r, l + ".feed_forward", c.ffn, d, moe_gemm);
    layer.norm_ff = r.layer_norm(l + (transformer ? ".norm2" : ".norm_ff"), c.norm_eps);
    layer.adapters = read_layer_adapters(r, l, d, c.adapter);
    layers_.push_back(std::move(layer));
  }
  if (!conv_init.empty()) conv_init_ = r.upload(conv_init);
  if (c.final_norm) after_norm_ = r.layer_norm("encoder.after_norm", c.norm_eps);
}

void Encoder::prepare_states(Backend& be, const std::vector<EncoderChunk>& chunks, EncoderWorkspace& ws) const {
  const int64_t d = config_.d_model, blocks = static_cast<int64_t>(layers_.size()) * kKinds;
  std::vector<RowCopy> attention_moves, conv_primes;
  for (const EncoderChunk& c : chunks) {
    EncoderState& s = *c.state;
    if (!s.conv_primed_ && !conv_init_.empty()) {
      s.conv_.resize(conv_init_.shape(), be.device());
      conv_primes.push_back({s.conv_.data<float>(), conv_init_.data<float>(), static_cast<int32_t>(conv_init_.dim(0))});
    }
    s.conv_primed_ = true;
    if (c.out_frames == 0) continue;
    // An efficient conformer's layers after strides keep 1 / rate of the
    // rows (layers_[].rate): the stream's rows so far must divide evenly,
    // which only a chunk of fewer frames, an utterance's last, breaks.
    const int64_t total_stride = config_.total_stride();
    MOEASR_CHECK(s.len_ % total_stride == 0 && s.start_ % total_stride == 0, MOEASR_ERR_UNSUPPORTED,
                 "encoder efficientConformer: a chunk after one whose frames were not a multiple of its total stride ",
                 total_stride, " (only an utterance's last chunk may be shorter)");

    // Grouped attention pads each stream's keys with zero rows up to a whole group.
    const int64_t need = s.len_ + c.out_frames + (config_.efficient() ? config_.group_size - 1 : 0);
    if (s.capacity_ >= 2 * need && s.start_ + need <= s.capacity_) continue;
    // Grow (to twice the window, so the window can slide before the next
    // move) or move the window to the front. Either way the source rows and
    // the destination never overlap: when the window moves within the
    // buffer, start > capacity - need >= need >= len.
    const bool grow = s.capacity_ < 2 * need;
    const int64_t capacity = grow ? std::max(2 * need, 2 * s.capacity_) : s.capacity_;
    Tensor target = s.attention_;
    if (grow) target = Tensor({blocks * capacity, d}, DType::kF32, be.device());
    if (s.len_ > 0) {
      for (int64_t b = 0; b < blocks; ++b) {
        const int64_t rate = layers_[b / kKinds].rate;
        attention_moves.push_back({row_ptr(target, b * capacity, d),
                                   row_ptr(s.attention_, b * s.capacity_ + s.start_ / rate, d),
                                   static_cast<int32_t>(s.len_ / rate)});
      }
    }
    if (grow) {
      // The copies above still read the old buffer: it lives until the step is done.
      if (!s.attention_.empty()) ws.retired.push_back(s.attention_);
      s.attention_ = target;
      s.capacity_ = capacity;
    }
    s.start_ = 0;
  }
  if (!attention_moves.empty()) be.copy_rows(attention_moves, d);
  if (!conv_primes.empty()) be.copy_rows(conv_primes, conv_init_.dim(1));
}

void Encoder::subsample(Backend& be, const std::vector<EncoderChunk>& chunks, int64_t total,
                        EncoderWorkspace& ws) const {
  const int64_t f_in = config_.input_dim;
  // The features of every chunk with output frames go to the device, then CMVN: (x - mean) * istd.
  std::vector<int64_t> feat_row(chunks.size(), 0);
  int64_t feat_rows = 0;
  for (size_t i = 0; i < chunks.size(); ++i) {
    feat_row[i] = feat_rows;
    if (chunks[i].out_frames > 0) feat_rows += chunks[i].num_frames;
  }
  ws.feats.resize({feat_rows, f_in}, be.device());
  for (size_t i = 0; i < chunks.size(); ++i) {
    if (chunks[i].out_frames == 0) continue;
    be.copy_from_host(row_ptr(ws.feats, feat_row[i], f_in), chunks[i].features,
                      sizeof(float) * chunks[i].num_frames * f_in);
  }
  if (config_.global_cmvn && feat_rows) {
    be.cmvn(ws.feats.data<float>(), feat_rows, f_in, cmvn_mean_.data<float>(), cmvn_istd_.data<float>());
  }
  if (config_.input_layer == InputLayer::kLinear) {
    // One output frame per feature frame, in the same order: x = LayerNorm(Linear(feats)).
    MOEASR_CHECK(feat_rows == total, MOEASR_ERR_INTERNAL, "linear input layer: ", feat_rows, " rows for ", total);
    embed_out_.forward(be, ws.feats, ws.x);
    embed_norm_.forward(be, ws.x, ws.x);
  } else {
    convolve(be, chunks, feat_row, total, ws);
  }
  position_input(be, chunks, ws);
}

void Encoder::convolve(Backend& be, const std::vector<EncoderChunk>& chunks, const std::vector<int64_t>& feat_row,
                       int64_t total, EncoderWorkspace& ws) const {
  const int64_t d = config_.d_model, f_in = config_.input_dim;
  const size_t n = convs_.size();
  // Frequency bins before each stage and after the last.
  std::vector<int64_t> freq(n + 1, f_in);
  for (size_t s = 0; s < n; ++s) freq[s + 1] = (freq[s] - convs_[s].kernel) / convs_[s].stride + 1;
  Tensor* stage_out[] = {&ws.conv1, &ws.conv2, &ws.conv3};

  // Output frames in pieces of at most `block` per chunk, and rounds of at
  // most `block` rows in all, so the activations of a long input stay small.
  // Pieces are in output-row order, so a round is a contiguous range of rows
  // of x. rows[s]: the piece's time rows into stage s (rows[n]: its output frames).
  int64_t block = be.subsampling_block_rows();
  // The im2col matrix of conv2d6's last stage is kernel^2 times that stage's
  // input (25 * f * d floats per output frame): a GPU's 4096-row rounds would
  // make it gigabytes at d = 512, so its rounds hold at most ~64 MB of it.
  constexpr int64_t kColsBudget = int64_t{16} << 20;  // floats
  for (size_t s = 0; s < n; ++s) {
    if (!convs_[s].as_linear.present()) continue;
    const int64_t per_frame = freq[s + 1] * convs_[s].kernel * convs_[s].kernel * (s == 0 ? 1 : d);
    block = std::max<int64_t>(1, std::min(block, kColsBudget / per_frame));
  }
  struct Piece {
    const float* in;
    std::vector<int64_t> rows;
  };
  std::vector<Piece> pieces;
  const int rate = config_.subsampling_rate();
  for (size_t i = 0; i < chunks.size(); ++i) {
    for (int64_t t0 = 0; t0 < chunks[i].out_frames; t0 += block) {
      Piece p{row_ptr(ws.feats, feat_row[i] + rate * t0, f_in), std::vector<int64_t>(n + 1)};
      p.rows[n] = std::min(block, chunks[i].out_frames - t0);
      for (size_t s = n; s-- > 0;) p.rows[s] = convs_[s].stride * (p.rows[s + 1] - 1) + convs_[s].kernel;
      pieces.push_back(std::move(p));
    }
  }
  int64_t row0 = 0;
  for (size_t first = 0; first < pieces.size();) {
    size_t end = first;
    int64_t rows = 0;
    std::vector<int64_t> stage_rows(n + 1, 0);
    while (end < pieces.size() && (end == first || rows + pieces[end].rows[n] <= block)) {
      rows += pieces[end].rows[n];
      for (size_t s = 0; s <= n; ++s) stage_rows[s] += pieces[end].rows[s];
      ++end;
    }
    const float* in_base = nullptr;  // stage s's input rows of the first piece (features for s = 0)
    for (size_t s = 0; s < n; ++s) {
      const ConvStage& cs = convs_[s];
      const int64_t c_in = s == 0 ? 1 : d, f = freq[s], f_out = freq[s + 1];
      Tensor& out = *stage_out[s];
      out.resize({stage_rows[s + 1] * f_out, d}, be.device());
      if (cs.as_linear.present()) {
        // Gather each output position's k x k input rows (of width c_in) into one row, then one GEMM.
        std::vector<int32_t> gather;
        int64_t in_off = 0;
        for (size_t p = first; p < end; ++p) {
          for (int64_t t = 0; t < pieces[p].rows[s + 1]; ++t) {
            for (int64_t fo = 0; fo < f_out; ++fo) {
              for (int kt = 0; kt < cs.kernel; ++kt) {
                for (int kf = 0; kf < cs.kernel; ++kf) {
                  const int64_t row = in_off + (cs.stride * t + kt) * f + cs.stride * fo + kf;
                  gather.push_back(static_cast<int32_t>(row));
                }
              }
            }
          }
          in_off += pieces[p].rows[s] * f;
        }
        const int64_t kk = int64_t{cs.kernel} * cs.kernel;
        ws.cols.resize({static_cast<int64_t>(gather.size()) / kk, kk * c_in}, be.device());
        be.gather_rows(in_base, c_in, gather, 0.f, ws.cols.data<float>());
        cs.as_linear.forward(be, ws.cols, out, Activation::kRelu);
      } else {
        std::vector<Conv2dJob> jobs;
        int64_t in_off = 0, out_off = 0;
        for (size_t p = first; p < end; ++p) {
          const float* in = s == 0 ? pieces[p].in : in_base + in_off * f * c_in;
          jobs.push_back({in, static_cast<int32_t>(pieces[p].rows[s]), row_ptr(out, out_off * f_out, d)});
          in_off += pieces[p].rows[s];
          out_off += pieces[p].rows[s + 1];
        }
        be.conv2d_3x3_s2_relu(jobs, f, c_in, cs.w.data<float>(), cs.b.data<float>(), d);
      }
      in_base = out.data<float>();
    }
    // The last stage's [frames * f, d] rows are the [frames, f * d] input of the output Linear.
    Tensor& last = *stage_out[n - 1];
    last.reshape({rows, freq[n] * d});
    // Squeezeformer scales by sqrt(d) (its position encoding's xscale) before input_proj.
    if (config_.squeezeformer()) ops::scale(be, last, std::sqrt(static_cast<float>(d)));
    Tensor x_rows = ws.x.slice_rows(row0, rows);
    embed_out_.forward(be, last, x_rows);
    row0 += rows;
    first = end;
  }
  MOEASR_CHECK(row0 == total, MOEASR_ERR_INTERNAL, "subsampling produced ", row0, " of ", total, " rows");
}

void Encoder::position_input(Backend& be, const std::vector<EncoderChunk>& chunks, EncoderWorkspace& ws) const {
  if (config_.pos_enc == PosEnc::kNoPos) return;  // NoPositionalEncoding leaves x as it is
  const int64_t d = config_.d_model;
  if (!config_.squeezeformer()) ops::scale(be, ws.x, std::sqrt(static_cast<float>(d)));  // else before input_proj
  // The position rows of each stream's new frames, pe[offset .. offset + frames)
  // with offset = the stream's frames so far, made once per forward: abs_pos
  // adds them to x, and every rel_selfattn layer projects them (linear_pos).
  ws.p_in.resize(ws.x.shape(), be.device());
  std::vector<PositionJob> positions;
  for (const EncoderChunk& c : chunks) {
    if (c.out_frames > 0) {
      // An efficient conformer counts offset_ in output frames, its positions
      // in the input layer's (WeNet: offset times the total stride).
      positions.push_back({row_ptr(ws.p_in, c.out_row, d), c.state->offset_ * config_.total_stride(),
                           static_cast<int32_t>(c.out_frames)});
    }
  }
  pos_enc_.rows(be, positions);
  if (config_.pos_enc == PosEnc::kAbsPos) ops::add_scaled(be, ws.x, ws.p_in, 1.f);
}

void Encoder::attention_block(Backend& be, const Layer& layer, int index, const std::vector<EncoderChunk>& chunks,
                              const FfnBatch& batch, EncoderWorkspace& ws, Tensor* branch) const {
  const int64_t d = config_.d_model, total = ws.x.dim(0);
  if (config_.squeezeformer()) {
    adaptive_input(be, layer, kAdaAttention, ws.x, ws.h);
  } else {
    layer.norm_mha.forward(be, ws.x, ws.h);
  }
  // Squeezeformer's reduced blocks: their own key window, and position rows
  // made for this call (prepare_reduced) rather than cached with the keys.
  const bool reduced = config_.reduced_block(index);
  layer.q.forward(be, ws.h, ws.q);
  layer.k.forward(be, ws.h, ws.k);
  layer.v.forward(be, ws.h, ws.v);
  // rel_selfattn: linear_pos of the position rows (position_input) is cached
  // with the keys, since a key keeps its absolute position.
  // NoPositionalEncoding's rows are zeros, and so is linear_pos of them (it has no bias).
  if (config_.rel_attention && config_.pos_enc == PosEnc::kNoPos) {
    ws.p.resize({total, d}, be.device());
    ops::fill_zero(be, ws.p);
  } else if (config_.rel_attention) {
    layer.pos.forward(be, reduced ? ws.p_red_in : ws.p_in, ws.p);
  }
  ws.att.resize({total, d}, be.device());

  // Append the new rows to each stream's window, then attend over all of it.
  // A layer after strides (rate > 1) keeps 1 / rate of the window's rows.
  std::vector<RowCopy> appends;
  std::vector<AttentionJob> jobs;
  std::vector<CacheView> views;
  for (size_t ci = 0; ci < chunks.size(); ++ci) {
    const EncoderChunk& c = chunks[ci];
    if (c.out_frames == 0) continue;
    EncoderState& s = *c.state;
    const int32_t t = static_cast<int32_t>(c.out_frames);
    if (reduced) {
      const int64_t block = int64_t{index - config_.reduce_idx} * 2;
      float* keys = row_ptr(s.reduced_, block * s.r_capacity_ + s.r_start_, d);
      float* values = row_ptr(s.reduced_, (block + 1) * s.r_capacity_ + s.r_start_, d);
      appends.push_back({keys + s.r_len_ * d, ws.k.data<float>() + c.out_row * d, t});
      appends.push_back({values + s.r_len_ * d, ws.v.data<float>() + c.out_row * d, t});
      jobs.push_back({row_ptr(ws.q, c.out_row, d), row_ptr(ws.att, c.out_row, d), keys, values,
                      row_ptr(ws.p, ws.p_red_row[ci], d), t, static_cast<int32_t>(s.r_len_ + c.out_frames), 0});
      continue;
    }
    const int64_t len = s.len_ / layer.rate;
    float* cache[kKinds];
    for (int kind = 0; kind < kKinds; ++kind) {
      cache[kind] = row_ptr(s.attention_, (int64_t{index} * kKinds + kind) * s.capacity_ + s.start_ / layer.rate, d);
    }
    const Tensor* sources[kKinds] = {&ws.k, &ws.v, &ws.p};
    const int kinds = config_.rel_attention ? kKinds : 2;  // plain attention caches no positions
    for (int kind = 0; kind < kinds; ++kind) {
      appends.push_back({cache[kind] + len * d, sources[kind]->data<float>() + c.out_row * d, t});
    }
    jobs.push_back({row_ptr(ws.q, c.out_row, d), row_ptr(ws.att, c.out_row, d), cache[0], cache[1], cache[2], t,
                    static_cast<int32_t>(len + c.out_frames), 0});
    views.push_back({cache[0], cache[1], cache[2], len});
  }
  be.copy_rows(appends, d);
  if (layer.group > 1) {
    grouped_attention(be, layer, chunks, views, ws);
  } else if (config_.rel_shift) {
    rel_shift_attention(be, layer, jobs, ws);
  } else if (config_.rel_attention) {
    be.rel_pos_attention(jobs, d, layer.pos_bias_u.data<float>(), layer.pos_bias_v.data<float>(), config_.heads,
                         config_.d_k());
  } else {
    be.dot_product_attention(jobs, d, config_.heads, config_.d_k(), /*causal=*/false);
  }
  if (branch) {
    layer.out.forward(be, ws.att, *branch);
    return;
  }
  layer.out.forward(be, ws.att, ws.y);
  ops::add_scaled(be, ws.x, ws.y, 1.f);
  // A parallel adapter reads the same norm_mha output (still in ws.h).
  add_adapters(be, index, &LayerAdapters::self_attn, chunks, batch, ws);
}

const FeedForward* Encoder::adapter_for(const EncoderChunk& c, int index,
                                        std::unique_ptr<FeedForward> LayerAdapters::*place) const {
  return (c.adapters ? (*c.adapters)[index].*place : layers_[index].adapters.*place).get();
}

void Encoder::add_adapters(Backend& be, int index, std::unique_ptr<FeedForward> LayerAdapters::*place,
                           const std::vector<EncoderChunk>& chunks, const FfnBatch& batch, EncoderWorkspace& ws) const {
  // Runs of consecutive chunks that use the same adapters share one call (all
  // of them when no stream picked its own set); each chunk stays its own
  // example of the call.
  for (size_t first = 0; first < chunks.size();) {
    const FeedForward* m = adapter_for(chunks[first], index, place);
    size_t end = first + 1;
    while (end < chunks.size() && adapter_for(chunks[end], index, place) == m) ++end;
    const int64_t row0 = chunks[first].out_row;
    const int64_t rows = chunks[end - 1].out_row + chunks[end - 1].out_frames - row0;
    if (m && first == 0 && end == chunks.size()) {
      m->forward(be, ws.h, ws.y, batch, ws.ffn);
      ops::add_scaled(be, ws.x, ws.y, 1.f);
    } else if (m && rows > 0) {
      FfnBatch run{{0}, batch.mixing};
      for (size_t c = first; c < end; ++c) run.segments.push_back(chunks[c].out_row + chunks[c].out_frames - row0);
      m->forward(be, ws.h.slice_rows(row0, rows), ws.y, run, ws.ffn);
      Tensor x_rows = ws.x.slice_rows(row0, rows);
      ops::add_scaled(be, x_rows, ws.y, 1.f);
    }
    first = end;
  }
}

void Encoder::conv_block(Backend& be, const Layer& layer, const std::vector<EncoderChunk>& chunks,
                         EncoderWorkspace& ws) const {
  const ConvModule& m = layer.conv;
  const int64_t ch = config_.conv_channels(), total = ws.x.dim(0);
  const int kernel = m.kernel;
  if (config_.squeezeformer()) {
    adaptive_input(be, layer, kAdaConv, ws.x, ws.h);
  } else {
    layer.norm_conv.forward(be, ws.x, ws.h);
  }
  m.pointwise1.forward(be, ws.h, ws.g);
  ops::glu(be, ws.g, ws.c);  // [N, C]: the depthwise convolution's input
  ws.h.resize({total, ch}, be.device());
  std::vector<DepthwiseConvJob> jobs;
  for (const EncoderChunk& c : chunks) {
    if (c.out_frames == 0) continue;
    const int32_t t = static_cast<int32_t>(c.out_frames);
    if (config_.causal) {
      // Left context: the stream's cache, the last kernel - 1 frames of its previous chunk.
      float* cache = row_ptr(c.state->conv_, m.cache_row, ch);
      jobs.push_back({cache, row_ptr(ws.c, c.out_row, ch), t, 0, 0, row_ptr(ws.h, c.out_row, ch)});
    } else {
      // Non-causal: zero padding on both sides of the chunk (WeNet has no cache here).
      const int32_t pad = (kernel - 1) / 2;
      jobs.push_back({nullptr, row_ptr(ws.c, c.out_row, ch), t, pad, pad, row_ptr(ws.h, c.out_row, ch)});
    }
  }
  be.depthwise_conv(jobs, ch, m.depthwise_t.data<float>(),
                    m.depthwise_bias.empty() ? nullptr : m.depthwise_bias.data<float>(), kernel);
  Tensor* conv = &ws.h;
  if (layer.stride > 1) {
    // A strided depthwise convolution's output j is the unstrided one's
    // output j * stride (the same window over the same padding).
    std::vector<int32_t> rows;
    for (const EncoderChunk& c : chunks) {
      for (int64_t j = 0; j < c.out_frames; j += layer.stride) rows.push_back(static_cast<int32_t>(c.out_row + j));
    }
    ws.c.resize({static_cast<int64_t>(rows.size()), ch}, be.device());
    if (!rows.empty()) be.gather_rows(ws.h.data<float>(), ch, rows, 0.f, ws.c.data<float>());
    conv = &ws.c;
  }
  const int64_t rows = conv->dim(0);
  if (m.layer_norm) {
    m.norm.forward(be, *conv, *conv);
  } else if (rows) {
    be.channel_affine(conv->data<float>(), rows, ch, m.bn_scale.data<float>(), m.bn_shift.data<float>(),
                      conv->data<float>());
  }
  ops::activation(be, *conv, config_.ffn.activation);
  m.pointwise2.forward(be, *conv, ws.y);
}

void Encoder::time_conv(Backend& be, const std::vector<EncoderChunk>& chunks, const Tensor& in, Tensor& out,
                        const Tensor& w_t, const Tensor& bias, int kernel, bool causal, int64_t cache_row) const {
  const int64_t ch = in.dim(1);
  out.resize(in.shape(), be.device());
  std::vector<DepthwiseConvJob> jobs;
  const int32_t pad = causal ? 0 : (kernel - 1) / 2;
  for (const EncoderChunk& c : chunks) {
    if (c.out_frames == 0) continue;
    float* cache = causal && cache_row >= 0 ? row_ptr(c.state->conv_, cache_row, ch) : nullptr;
    jobs.push_back({cache, in.data<float>() + c.out_row * ch, static_cast<int32_t>(c.out_frames), pad, pad,
                    row_ptr(out, c.out_row, ch)});
  }
  be.depthwise_conv(jobs, ch, w_t.data<float>(), bias.empty() ? nullptr : bias.data<float>(), kernel);
}

void Encoder::cgmlp_branch(Backend& be, const Layer& layer, int index, const std::vector<EncoderChunk>& chunks,
                           EncoderWorkspace& ws, Tensor& out) const {
  const Cgmlp& cg = layer.cgmlp;
  const int kernel = config_.cgmlp_kernel;
  layer.norm_mlp.forward(be, ws.x, ws.h);
  cg.proj1_r.forward(be, ws.h, ws.g, Activation::kGelu);  // r
  cg.proj1_g.forward(be, ws.h, ws.c, Activation::kGelu);  // g
  cg.norm.forward(be, ws.c, ws.c);
  // Causal: the stream's cache holds the last kernel - 1 normalized frames.
  time_conv(be, chunks, ws.c, ws.h, cg.conv_t, cg.conv_bias, kernel, config_.causal, int64_t{index} * (kernel - 1));
  Tensor* gate = &ws.h;
  if (cg.after_conv.present()) {
    cg.after_conv.forward(be, ws.h, ws.c);
    gate = &ws.c;
  }
  if (!config_.gate_identity) ops::activation(be, *gate, config_.gate_activation);
  ops::mul(be, ws.g, *gate);
  cg.proj2.forward(be, ws.g, out);
}

void Encoder::merge_branches(Backend& be, const Layer& layer, const std::vector<EncoderChunk>& chunks,
                             EncoderWorkspace& ws) const {
  if (config_.type == EncoderType::kEBranchformer) {
    // merge_proj(c + fusion(c)), c = [attention | cgMLP], one branch's columns at a time.
    // WeNet pads the fusion convolution's input afresh for every chunk (no cache).
    const int k = config_.merge_conv_kernel;
    time_conv(be, chunks, ws.branch1, ws.h, layer.fusion_a_t, layer.fusion_a_bias, k, config_.causal, -1);
    ops::add_scaled(be, ws.h, ws.branch1, 1.f);
    layer.merge_a.forward(be, ws.h, ws.y);
    time_conv(be, chunks, ws.branch2, ws.h, layer.fusion_b_t, layer.fusion_b_bias, k, config_.causal, -1);
    ops::add_scaled(be, ws.h, ws.branch2, 1.f);
    layer.merge_b.forward(be, ws.h, ws.g);
    ops::add_scaled(be, ws.y, ws.g, 1.f);
  } else if (config_.merge == MergeMethod::kConcat) {
    layer.merge_a.forward(be, ws.branch1, ws.y);
    layer.merge_b.forward(be, ws.branch2, ws.g);
    ops::add_scaled(be, ws.y, ws.g, 1.f);
  } else {  // fixed_ave: merge_proj((1 - w) attention + w cgMLP)
    ops::scale(be, ws.branch1, 1.f - config_.cgmlp_weight);
    ops::add_scaled(be, ws.branch1, ws.branch2, config_.cgmlp_weight);
    layer.merge_a.forward(be, ws.branch1, ws.y);
  }
  ops::add_scaled(be, ws.x, ws.y, 1.f);
}

void Encoder::forward(Backend& be, std::vector<EncoderChunk>& chunks, EncoderWorkspace& ws, Tensor& out,
                      EncoderProfile* profile, std::vector<int64_t>* expert_load, TokenMixing mixing) const {
  MOEASR_CHECK(!mixes_examples() || mixing == TokenMixing::kAcrossExamples, MOEASR_ERR_UNSUPPORTED,
               "encoder_conf.mot_grouping: cross_example mixes the tokens of different utterances; such a model "
               "runs only in the offline batch API (moeasr_decode_batch), never in streaming");
  const int64_t d = config_.d_model;
  const int num_layers = static_cast<int>(layers_.size());
  // A GPU runs the ops asynchronously: its stages are not timed one by one.
  EncoderProfile* stages = be.device().is_cpu() ? profile : nullptr;
  auto start = Clock::now();

  // The input layer's frames; an efficient conformer's strided layers then
  // halve the chunks' frames (downsample): the stream state counts these.
  int64_t total = 0;
  FfnBatch batch{{0}, mixing};
  std::vector<int64_t> embedded(chunks.size());
  for (size_t i = 0; i < chunks.size(); ++i) {
    EncoderChunk& c = chunks[i];
    MOEASR_CHECK(c.state && (c.features || c.num_frames == 0) && c.num_frames >= 0, MOEASR_ERR_INTERNAL,
                 "encoder: bad chunk");
    c.out_row = total;
    c.out_frames = embedded[i] = config_.embedded_frames(c.num_frames);
    total += c.out_frames;
    batch.segments.push_back(total);
  }
  prepare_states(be, chunks, ws);
  ws.x.resize({total, d}, be.device());
  subsample(be, chunks, total, ws);
  lap(stages ? &stages->subsampling : nullptr, start);

  if (config_.squeezeformer()) {
    squeezeformer_layers(be, chunks, batch, ws, stages);
    start = Clock::now();
  }
  const int experts = routed_experts();
  if (expert_load && experts) expert_load->resize(static_cast<size_t>(num_layers) * 2 * experts, 0);
  auto load = [&](int layer, int which) -> int64_t* {
    return expert_load && experts ? expert_load->data() + (layer * 2 + which) * experts : nullptr;
  };
  const float ff_scale = config_.macaron ? 0.5f : 1.f;

  for (int i = 0; i < num_layers && !config_.squeezeformer(); ++i) {
    const Layer& layer = layers_[i];
    if (layer.ff_macaron) {
      layer.norm_ff_macaron.forward(be, ws.x, ws.h);
      layer.ff_macaron->forward(be, ws.h, ws.y, batch, ws.ffn, load(i, 0));
      ops::add_scaled(be, ws.x, ws.y, ff_scale);
      add_adapters(be, i, &LayerAdapters::ff_macaron, chunks, batch, ws);
      lap(stages ? &stages->ffn : nullptr, start);
    }
    if (config_.branchformer()) {
      // The profile counts the cgMLP branch and the merge as the convolution stage.
      attention_block(be, layer, i, chunks, batch, ws, &ws.branch1);
      lap(stages ? &stages->attention : nullptr, start);
      cgmlp_branch(be, layer, i, chunks, ws, ws.branch2);
      merge_branches(be, layer, chunks, ws);
      lap(stages ? &stages->conv : nullptr, start);
      if (layer.ff) {
        layer.norm_ff.forward(be, ws.x, ws.h);
        layer.ff->forward(be, ws.h, ws.y, batch, ws.ffn, load(i, 1));
        ops::add_scaled(be, ws.x, ws.y, ff_scale);
      }
      layer.norm_final.forward(be, ws.x, ws.x);
      lap(stages ? &stages->ffn : nullptr, start);
      continue;
    }
    attention_block(be, layer, i, chunks, batch, ws);
    lap(stages ? &stages->attention : nullptr, start);
    if (config_.use_cnn_module) {
      conv_block(be, layer, chunks, ws);
      if (layer.stride > 1) downsample(be, chunks, batch, ws);
      ops::add_scaled(be, ws.x, ws.y, 1.f);
      lap(stages ? &stages->conv : nullptr, start);
    }
    layer.norm_ff.forward(be, ws.x, ws.h);
    layer.ff->forward(be, ws.h, ws.y, batch, ws.ffn, load(i, 1));
    ops::add_scaled(be, ws.x, ws.y, ff_scale);
    add_adapters(be, i, &LayerAdapters::ff, chunks, batch, ws);
    if (config_.use_cnn_module) layer.norm_final.forward(be, ws.x, ws.x);
    lap(stages ? &stages->ffn : nullptr, start);
  }

  // WeNet keeps the last `required_cache_size` frames for the next chunk:
  // the window's start moves past the others.
  for (size_t i = 0; i < chunks.size(); ++i) {
    EncoderChunk& c = chunks[i];
    EncoderState& s = *c.state;
    const int64_t len = s.len_ + embedded[i];
    const int64_t kept = c.keep_cache >= 0 ? std::min(len, c.keep_cache) : len;
    s.start_ += len - kept;
    s.len_ = kept;
    s.offset_ += c.out_frames;
  }
  if (config_.final_norm) {
    after_norm_.forward(be, ws.x, out);
  } else {
    out.resize(ws.x.shape(), be.device());
    be.copy(out.raw(), ws.x.raw(), ws.x.nbytes());
  }
  lap(stages ? &stages->other : nullptr, start);
}

}  // namespace moeasr
