// WeNet's SqueezeformerEncoder on the op layer: preln, post-norm blocks
//   x = layer_norm1(x + MHSA(a1(x)));  x = layer_norm2(x + FFN1(a2(x)))
//   x = layer_norm3(x + Conv(a3(x)));  x = layer_norm4(x + FFN2(a4(x)))
// (a_k: the sublayer's adaptive scale, x * ada_scale + ada_bias), with a time
// reduction before block reduce_idx (depthwise conv, the even frames,
// pointwise conv: half the frame rate) and a recovery before block
// recover_idx (each reduced frame twice through time_recover_layer, added to
// the activations saved at the reduction).
//
// Streaming is WeNet's forward_chunk: the reduction sees each chunk alone
// (zero padding at its edges), and the reduced blocks' attention cache
// follows WeNet's full-rate cache tensor, which stores a reduced block's new
// keys twice each, cut to block 0's length, and hands the block every second
// row cut to (its position rows - its frames). Kept here as the reduced
// window itself: its first u rows, u = min(rows kept, ceil(len / 2),
// ceil((len + C) / 2) - ceil(C / 2)) for len cached full-rate frames and C
// new ones; key j's position row is pe[offset - len + 2 j] (WeNet's
// pos_emb[::2] over the chunk's keys), made anew for each call. For even chunk
// sizes and left contexts this is every reduced frame at its own position.
#include <algorithm>
#include <chrono>
#include <cmath>

#include "asr/encoder.h"
#include "core/error.h"
#include "ops/ops.h"

namespace moeasr {

namespace {

using Clock = std::chrono::steady_clock;

float* row_ptr(Tensor& t, int64_t row, int64_t width) { return t.data<float>() + row * width; }

}  // namespace

void Encoder::read_squeezeformer_layers(const WeightReader& r, MoeGemm moe_gemm) {
  const EncoderConfig& c = config_;
  const int64_t d = c.d_model, kernel = c.cnn_kernel;
  constexpr float kEps = 1e-5f;  // WeNet builds every norm here as nn.LayerNorm(size)
  preln_ = r.layer_norm("encoder.preln", kEps);
  Tensor conv_init;
  if (c.causal) conv_init = Tensor::zeros({c.num_blocks * (kernel - 1), d});
  for (int i = 0; i < c.num_blocks; ++i) {
    const std::string l = "encoder.encoders." + std::to_string(i);
    Layer layer;
    read_attention(r, layer, l + ".self_attn");
    layer.ff_macaron = make_feed_forward(r, l + ".ffn1", c.ffn, d, moe_gemm);
    layer.ff = make_feed_forward(r, l + ".ffn2", c.ffn, d, moe_gemm);
    read_conv_module(r, l + ".conv_module", kernel, int64_t{i} * (kernel - 1), layer.conv, conv_init);
    layer.norm_mha = r.layer_norm(l + ".layer_norm1", kEps);
    layer.norm_ff_macaron = r.layer_norm(l + ".layer_norm2", kEps);
    layer.norm_conv = r.layer_norm(l + ".layer_norm3", kEps);
    layer.norm_ff = r.layer_norm(l + ".layer_norm4", kEps);
    const char* ada[] = {".self_attn", ".ffn1", ".conv_module", ".ffn2"};  // kAdaAttention ..
    for (int k = 0; k < 4; ++k) {
      layer.ada_scale[k] = r.tensor(l + ada[k] + ".ada_scale");  // [1, 1, d]: d contiguous floats
      layer.ada_bias[k] = r.tensor(l + ada[k] + ".ada_bias");
    }
    layers_.push_back(std::move(layer));
  }
  if (!conv_init.empty()) conv_init_ = r.upload(conv_init);
  const int64_t k = c.time_reduction == TimeReduction::kConv1d ? 5 : 1;
  const Tensor w = r.host("encoder.time_reduction_layer.dw_conv.weight");  // [d, 1, k]
  Tensor w_t({k, d});
  for (int64_t j = 0; j < k; ++j) {
    for (int64_t ci = 0; ci < d; ++ci) w_t.data<float>()[j * d + ci] = w.data<float>()[ci * k + j];
  }
  reduce_dw_t_ = r.upload(w_t);
  reduce_dw_bias_ = r.tensor("encoder.time_reduction_layer.dw_conv.bias");
  reduce_pw_ = r.linear("encoder.time_reduction_layer.pw_conv");
  recover_ = r.linear("encoder.time_recover_layer");
  if (c.rel_shift) {
    Tensor ones({d});
    std::fill(ones.data<float>(), ones.data<float>() + d, 1.f);
    ones_ = r.upload(ones);
  }
}

void Encoder::adaptive_input(Backend& be, const Layer& layer, int which, const Tensor& x, Tensor& h) const {
  h.resize(x.shape(), be.device());
  if (x.dim(0) == 0) return;
  if (config_.adaptive_scale) {
    be.channel_affine(x.data<float>(), x.dim(0), x.dim(1), layer.ada_scale[which].data<float>(),
                      layer.ada_bias[which].data<float>(), h.data<float>());
  } else {
    be.copy(h.raw(), x.raw(), x.nbytes());
  }
}

std::vector<EncoderChunk> Encoder::prepare_reduced(Backend& be, const std::vector<EncoderChunk>& chunks,
                                                   EncoderWorkspace& ws) const {
  const int64_t d = config_.d_model, blocks = int64_t{2} * (config_.recover_idx - config_.reduce_idx);
  std::vector<EncoderChunk> reduced = chunks;
  std::vector<RowCopy> moves;
  std::vector<PositionJob> positions;
  ws.p_red_row.assign(chunks.size(), 0);
  int64_t row = 0, p_rows = 0;
  for (size_t ci = 0; ci < chunks.size(); ++ci) {
    const int64_t frames = chunks[ci].out_frames, half = (frames + 1) / 2;
    EncoderChunk& rc = reduced[ci];
    rc.out_row = row;
    rc.out_frames = half;
    row += half;
    if (frames == 0) continue;
    EncoderState& s = *rc.state;
    // The reduced rows WeNet hands the block (see the top of this file).
    const int64_t u = std::min({s.r_len_, (s.len_ + 1) / 2, (s.len_ + frames + 1) / 2 - half});
    s.r_len_ = u;
    const int64_t need = u + half;
    ws.p_red_row[ci] = p_rows;
    // Position rows offset - len + 2 j: made consecutive (twice as many), then every second one kept.
    positions.push_back({nullptr, s.offset_ - s.len_, static_cast<int32_t>(2 * need)});
    p_rows += need;
    if (s.r_capacity_ >= 2 * need && s.r_start_ + need <= s.r_capacity_) continue;
    // Grow or move the window to the front, as prepare_states does for the full-rate window.
    const bool grow = s.r_capacity_ < 2 * need;
    const int64_t capacity = grow ? std::max(2 * need, 2 * s.r_capacity_) : s.r_capacity_;
    Tensor target = s.reduced_;
    if (grow) target = Tensor({blocks * capacity, d}, DType::kF32, be.device());
    for (int64_t b = 0; b < blocks && u > 0; ++b) {
      moves.push_back({row_ptr(target, b * capacity, d), row_ptr(s.reduced_, b * s.r_capacity_ + s.r_start_, d),
                       static_cast<int32_t>(u)});
    }
    if (grow) {
      if (!s.reduced_.empty()) ws.retired.push_back(s.reduced_);
      s.reduced_ = target;
      s.r_capacity_ = capacity;
    }
    s.r_start_ = 0;
  }
  if (!moves.empty()) be.copy_rows(moves, d);
  ws.branch2.resize({2 * p_rows, d}, be.device());
  ws.p_red_in.resize({p_rows, d}, be.device());
  if (p_rows == 0) return reduced;
  int64_t first = 0;
  for (PositionJob& job : positions) {
    job.dst = row_ptr(ws.branch2, first, d);
    first += job.count;
  }
  pos_enc_.rows(be, positions);
  std::vector<int32_t> even(static_cast<size_t>(p_rows));
  for (int64_t i = 0; i < p_rows; ++i) even[i] = static_cast<int32_t>(2 * i);
  be.gather_rows(ws.branch2.data<float>(), d, even, 0.f, ws.p_red_in.data<float>());
  return reduced;
}

void Encoder::time_reduce(Backend& be, const std::vector<EncoderChunk>& chunks,
                          const std::vector<EncoderChunk>& reduced, EncoderWorkspace& ws) const {
  const int64_t d = config_.d_model;
  ws.saved.resize(ws.x.shape(), be.device());
  be.copy(ws.saved.raw(), ws.x.raw(), ws.x.nbytes());
  // conv1d: kernel 5, padding 3, stride 2 = the stride-1 output at even rows
  // of [3 zeros; frames; 1 zero] (kernel - 1 = 4 zeros on the left, skip 1);
  // stream: kernel 1.
  const bool conv1d = config_.time_reduction == TimeReduction::kConv1d;
  const int kernel = conv1d ? 5 : 1;
  ws.h.resize(ws.x.shape(), be.device());
  std::vector<DepthwiseConvJob> jobs;
  std::vector<int32_t> even;
  for (size_t ci = 0; ci < chunks.size(); ++ci) {
    const EncoderChunk& c = chunks[ci];
    if (c.out_frames == 0) continue;
    jobs.push_back({nullptr, row_ptr(ws.x, c.out_row, d), static_cast<int32_t>(c.out_frames), conv1d ? 1 : 0,
                    conv1d ? 1 : 0, row_ptr(ws.h, c.out_row, d)});
    for (int64_t j = 0; j < reduced[ci].out_frames; ++j) even.push_back(static_cast<int32_t>(c.out_row + 2 * j));
  }
  be.depthwise_conv(jobs, d, reduce_dw_t_.data<float>(), reduce_dw_bias_.data<float>(), kernel);
  ws.g.resize({static_cast<int64_t>(even.size()), d}, be.device());
  if (!even.empty()) be.gather_rows(ws.h.data<float>(), d, even, 0.f, ws.g.data<float>());
  reduce_pw_.forward(be, ws.g, ws.x);
}

void Encoder::time_recover(Backend& be, const std::vector<EncoderChunk>& chunks,
                           const std::vector<EncoderChunk>& reduced, EncoderWorkspace& ws) const {
  const int64_t d = config_.d_model;
  // time_recover_layer of each reduced frame, repeated twice and cut to the chunk's frames.
  recover_.forward(be, ws.x, ws.y);
  std::vector<int32_t> twice;
  for (size_t ci = 0; ci < chunks.size(); ++ci) {
    for (int64_t t = 0; t < chunks[ci].out_frames; ++t) twice.push_back(static_cast<int32_t>(reduced[ci].out_row + t / 2));
  }
  ws.g.resize({static_cast<int64_t>(twice.size()), d}, be.device());
  if (!twice.empty()) be.gather_rows(ws.y.data<float>(), d, twice, 0.f, ws.g.data<float>());
  std::swap(ws.x, ws.saved);
  ops::add_scaled(be, ws.x, ws.g, 1.f);
}

void Encoder::squeezeformer_layers(Backend& be, std::vector<EncoderChunk>& chunks, const FfnBatch& batch,
                                   EncoderWorkspace& ws, EncoderProfile* stages) const {
  auto start = Clock::now();
  auto lap = [&](double EncoderProfile::*slot) {
    if (!stages) return;
    const auto now = Clock::now();
    stages->*slot += std::chrono::duration<double>(now - start).count();
    start = now;
  };
  preln_.forward(be, ws.x, ws.x);
  const std::vector<EncoderChunk> reduced = prepare_reduced(be, chunks, ws);
  FfnBatch reduced_batch{{0}, batch.mixing};
  for (const EncoderChunk& c : reduced) reduced_batch.segments.push_back(c.out_row + c.out_frames);
  lap(&EncoderProfile::other);
  for (int i = 0; i < static_cast<int>(layers_.size()); ++i) {
    const Layer& layer = layers_[i];
    if (i == config_.reduce_idx) time_reduce(be, chunks, reduced, ws);
    if (i == config_.recover_idx) time_recover(be, chunks, reduced, ws);
    const bool half = config_.reduced_block(i);
    const std::vector<EncoderChunk>& view = half ? reduced : chunks;
    const FfnBatch& rows = half ? reduced_batch : batch;
    lap(&EncoderProfile::other);
    attention_block(be, layer, i, view, rows, ws);  // x += MHSA(a1(x))
    layer.norm_mha.forward(be, ws.x, ws.x);
    lap(&EncoderProfile::attention);
    adaptive_input(be, layer, kAdaFfn1, ws.x, ws.h);
    layer.ff_macaron->forward(be, ws.h, ws.y, rows, ws.ffn);
    ops::add_scaled(be, ws.x, ws.y, 1.f);
    layer.norm_ff_macaron.forward(be, ws.x, ws.x);
    lap(&EncoderProfile::ffn);
    conv_block(be, layer, view, ws);  // x += Conv(a3(x))
    ops::add_scaled(be, ws.x, ws.y, 1.f);
    layer.norm_conv.forward(be, ws.x, ws.x);
    lap(&EncoderProfile::conv);
    adaptive_input(be, layer, kAdaFfn2, ws.x, ws.h);
    layer.ff->forward(be, ws.h, ws.y, rows, ws.ffn);
    ops::add_scaled(be, ws.x, ws.y, 1.f);
    layer.norm_ff.forward(be, ws.x, ws.x);
    lap(&EncoderProfile::ffn);
  }
  // The reduced window for the next chunk: WeNet keeps the full-rate rows
  // from next_cache_start on, and of a reduced block's rows those from
  // next_cache_start / 2 on (forward() then moves the full-rate window).
  for (size_t ci = 0; ci < chunks.size(); ++ci) {
    const EncoderChunk& c = chunks[ci];
    if (c.out_frames == 0) continue;
    EncoderState& s = *c.state;
    const int64_t len = s.len_ + c.out_frames;
    const int64_t kept = c.keep_cache >= 0 ? std::min(len, c.keep_cache) : len;
    const int64_t rows = s.r_len_ + reduced[ci].out_frames;
    const int64_t drop = std::min((len - kept) / 2, rows);
    s.r_start_ += drop;
    s.r_len_ = rows - drop;
  }
}

}  // namespace moeasr
