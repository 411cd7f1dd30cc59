// The U2++ encoder (WeNet's ConformerEncoder, TransformerEncoder,
// BranchformerEncoder, EBranchformerEncoder, EfficientConformerEncoder or
// SqueezeformerEncoder): global CMVN, the input layer (Conv2dSubsampling2/4/6/8,
// LinearNoSubsampling or DepthwiseConv2dSubsampling4), the position encoding,
// N x ConformerLayer, TransformerLayer, BranchformerLayer, EBranchformerLayer
// (an efficient conformer's strided and grouped Conformer layers:
// efficient_conformer.cc) or SqueezeformerEncoderLayer (with its time
// reduction: squeezeformer.cc), after_norm.
// Written once on the op layer: its weights live on the model's device and
// forward() runs there.
//
// One forward call runs one chunk for each of several streams at once: the
// streams' frames are stacked into one [sum of frames, d] matrix for every
// position-wise op (projections, FFN/MoE, norms), so the GEMMs and the MoE
// expert groups see the whole batch; attention and the convolution module run
// as batched ops with one job per stream against that stream's caches. No op
// mixes the streams' rows (the batch reaches a stream's output only through
// rounding: a GEMM's kernel depends on its row count); the one exception is
// asked for by name: a Mixture-of-Tokens model grouped across
// examples, run with TokenMixing::kAcrossExamples (the offline batch API).
// Full attention is one chunk holding the whole utterance.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "asr/encoder_state.h"
#include "core/tensor.h"
#include "formats/model_config.h"
#include "nn/feed_forward.h"
#include "nn/linear.h"
#include "nn/positional_encoding.h"
#include "ops/backend.h"

namespace moeasr {

// Mixtures of adapters in parallel to a Conformer layer's sublayers, each
// absent unless placed there: from train.yaml, or from an adapter set.
struct LayerAdapters {
  std::unique_ptr<FeedForward> ff_macaron, self_attn, ff;
};
// Reads one layer's adapters (`layer` = "encoder.encoders.{i}").
LayerAdapters read_layer_adapters(const WeightReader& r, const std::string& layer, int64_t d,
                                  const AdapterConfig& config);

// One stream's share of a forward call.
struct EncoderChunk {
  const float* features = nullptr;  // host: [num_frames, input_dim], before CMVN
  int64_t num_frames = 0;           // >= right_context + 1 (the input layer's receptive field) to give an output frame
  EncoderState* state = nullptr;
  int64_t keep_cache = -1;          // attention frames kept for the next chunk (< 0: all)
  // Adapters for this stream, one entry per layer (an adapter set), or null
  // for the model's own. Must outlive the forward call.
  const std::vector<LayerAdapters>* adapters = nullptr;
  // Filled by forward(): where this stream's output rows are in `out`.
  int64_t out_row = 0;
  int64_t out_frames = 0;
};

// Per-stage time spent (seconds), accumulated when a pointer is given. Stages
// are timed on the CPU only: a GPU runs the ops asynchronously, so its whole
// forward is counted in `other` by the caller. `conv`: the conformer's
// convolution module, or the Branchformers' cgMLP branch and merge.
struct EncoderProfile {
  double subsampling = 0, attention = 0, conv = 0, ffn = 0, other = 0;
};

// Scratch of forward calls, owned by a worker (runtime/worker.h), on its
// device, sized by the largest batch that worker has run.
struct EncoderWorkspace {
  Tensor feats, conv1, conv2, conv3, cols, x, h, q, k, v, p_in, p, att, y, g, c;
  Tensor branch1, branch2;  // Branchformer / E-Branchformer: the attention and cgMLP branches' outputs
  Tensor qg, attg;          // efficientConformer's grouped attention: queries and outputs padded to whole groups
  // Squeezeformer: the activations saved at the time reduction (added back at
  // the recovery) and the reduced blocks' position rows (their input and
  // each layer's linear_pos of them), with each chunk's first row there.
  Tensor saved, p_red_in, p_red;
  Tensor rs_qu, rs_qv, rs_ac, rs_bd, rs_shifted;  // do_rel_shift's per-job scratch
  std::vector<int64_t> p_red_row;
  FfnScratch ffn;
  // Outgrown caches: kept until the worker's step has finished on the device.
  std::vector<Tensor> retired;
};

class Encoder {
 public:
  // `moe_gemm`: how the MoE layers run their experts (ModelOptions::moe_gemm).
  Encoder(const ModelConfig& config, const WeightReader& weights, MoeGemm moe_gemm);

  const EncoderConfig& config() const { return config_; }
  int64_t d_model() const { return config_.d_model; }
  int subsampling_rate() const { return config_.subsampling_rate(); }
  int right_context() const { return config_.right_context(); }
  // Output frames for n feature frames (the input layer's).
  int64_t output_frames(int64_t n) const { return config_.output_frames(n); }
  // Routed experts per MoE layer (0 for other FFN kinds) and the bytes of one
  // expert's weights in their compute type.
  int routed_experts() const;
  int64_t expert_weight_bytes() const;
  // True for a MoT model whose groups span examples (mot_grouping: cross_example):
  // its output for one utterance depends on the others in the batch.
  bool mixes_examples() const;

  // Runs one chunk per entry on `be` (the weights' device); `out` becomes
  // [sum of out_frames, d] there. `expert_load` (optional):
  // [layers][2 (macaron, ffn)][experts] token counts. A cross-example MoT
  // model needs `mixing` = kAcrossExamples (else Error(MOEASR_ERR_UNSUPPORTED)).
  void forward(Backend& be, std::vector<EncoderChunk>& chunks, EncoderWorkspace& ws, Tensor& out,
               EncoderProfile* profile = nullptr, std::vector<int64_t>* expert_load = nullptr,
               TokenMixing mixing = TokenMixing::kWithinStream) const;

 private:
  struct ConvModule {
    Linear pointwise1;   // [2C, d]
    Linear pointwise2;   // [d, C]
    Tensor depthwise_t;  // [kernel, C] (the kernel transposed at load)
    Tensor depthwise_bias;
    bool layer_norm = true;
    LayerNorm norm;                // cnn_module_norm: layer_norm
    Tensor bn_scale, bn_shift;     // cnn_module_norm: batch_norm folded to an affine map at load
    int kernel = 0;                // the depthwise kernel (an efficient conformer's differ per layer)
    int64_t cache_row = 0;         // causal: this layer's kernel - 1 rows in EncoderState::conv_ start here
  };
  // Branchformer's cgMLP: channel_proj1 (+ GELU) split at load into the
  // halves r and g; the gating unit g -> act(linear(conv(norm(g)))); r * g;
  // channel_proj2.
  struct Cgmlp {
    Linear proj1_r, proj1_g;
    LayerNorm norm;
    Tensor conv_t, conv_bias;  // [kernel, U/2] (transposed at load), [U/2]
    Linear after_conv;         // use_linear_after_conv only
    Linear proj2;
  };
  struct Layer {
    std::unique_ptr<FeedForward> ff_macaron, ff;
    LayerAdapters adapters;  // the model's own (absent unless train.yaml configures them)
    Linear q, k, v, out, pos;       // pos: rel_selfattn only
    Tensor pos_bias_u, pos_bias_v;  // [heads, d_k], rel_selfattn only
    ConvModule conv;
    LayerNorm norm_ff_macaron, norm_mha, norm_conv, norm_ff, norm_final;
    // Branchformer / E-Branchformer: the cgMLP branch, its norm and the merge.
    // merge_proj is split by input columns: merge_a takes the attention
    // branch (and the bias), merge_b the cgMLP branch (concat merges only;
    // fixed_ave has merge_a alone). E-Branchformer's depthwise_conv_fusion
    // likewise, per branch ([kernel, d] transposed, [d]).
    Cgmlp cgmlp;
    LayerNorm norm_mlp;
    Linear merge_a, merge_b;
    Tensor fusion_a_t, fusion_a_bias, fusion_b_t, fusion_b_bias;
    // efficientConformer: the layer's stride (2: it halves the frame rate),
    // its attention's group size (1: plain) and the frame rate divisor at its
    // input (its attention cache holds 1 / rate of the stream's cached rows).
    int stride = 1, group = 1, rate = 1;
    // Squeezeformer: the adaptive scale and bias of each sublayer's input
    // (kAdaAttention ..), [d] each. Its layer_norm1..4 are norm_mha,
    // norm_ff_macaron, norm_conv, norm_ff (after each sublayer), ffn1 / ffn2
    // are ff_macaron / ff.
    Tensor ada_scale[4], ada_bias[4];
  };
  // One stream's cached rows of one layer before this chunk's: keys, values,
  // linear_pos of the positions, `len` rows each.
  struct CacheView {
    float* keys;
    float* values;
    float* positions;
    int64_t len;
  };
  enum { kAdaAttention, kAdaFfn1, kAdaConv, kAdaFfn2 };

  void read_input_layer(const WeightReader& r);
  void read_attention(const WeightReader& r, Layer& layer, const std::string& prefix) const;
  // The convolution module at `prefix`, its depthwise kernel `kernel` wide; a
  // causal one's kernel - 1 cache rows start at cache_row of the stream's
  // conv cache, and their first values go to conv_init ([all rows, C]).
  void read_conv_module(const WeightReader& r, const std::string& prefix, int64_t kernel, int64_t cache_row,
                        ConvModule& cm, Tensor& conv_init) const;
  void read_branchformer_layers(const WeightReader& r, MoeGemm moe_gemm);
  // squeezeformer.cc: the Squeezeformer's blocks, time reduction and recovery.
  void read_squeezeformer_layers(const WeightReader& r, MoeGemm moe_gemm);
  void squeezeformer_layers(Backend& be, std::vector<EncoderChunk>& chunks, const FfnBatch& batch,
                            EncoderWorkspace& ws, EncoderProfile* stages) const;
  // The reduced blocks' attention windows for this call (WeNet's cache rule)
  // and their position rows; returns the chunks at the reduced frame rate.
  std::vector<EncoderChunk> prepare_reduced(Backend& be, const std::vector<EncoderChunk>& chunks,
                                            EncoderWorkspace& ws) const;
  void time_reduce(Backend& be, const std::vector<EncoderChunk>& chunks, const std::vector<EncoderChunk>& reduced,
                   EncoderWorkspace& ws) const;
  void time_recover(Backend& be, const std::vector<EncoderChunk>& chunks, const std::vector<EncoderChunk>& reduced,
                    EncoderWorkspace& ws) const;
  // do_rel_shift: WeNet's rel-pos attention with the position scores shifted
  // (squeezeformer_attention.cc), composed of batched GEMMs and a gather.
  void rel_shift_attention(Backend& be, const Layer& layer, const std::vector<AttentionJob>& jobs,
                           EncoderWorkspace& ws) const;
  // h = x * ada_scale + ada_bias (a copy without adaptive_scale).
  void adaptive_input(Backend& be, const Layer& layer, int which, const Tensor& x, Tensor& h) const;
  void prepare_states(Backend& be, const std::vector<EncoderChunk>& chunks, EncoderWorkspace& ws) const;
  void subsample(Backend& be, const std::vector<EncoderChunk>& chunks, int64_t total, EncoderWorkspace& ws) const;
  void convolve(Backend& be, const std::vector<EncoderChunk>& chunks, const std::vector<int64_t>& feat_row,
                int64_t total, EncoderWorkspace& ws) const;
  // x * sqrt(d) (rel_pos, abs_pos); the rows pe at each stream's offset into p_in, once
  // per forward for every layer's linear_pos (rel_selfattn); x + those rows (abs_pos).
  void position_input(Backend& be, const std::vector<EncoderChunk>& chunks, EncoderWorkspace& ws) const;
  // Attention of norm_mha(ws.x), added to ws.x (with the parallel adapters),
  // or, given `branch`, left there (linear_out's output) without adding.
  void attention_block(Backend& be, const Layer& layer, int index, const std::vector<EncoderChunk>& chunks,
                       const FfnBatch& batch, EncoderWorkspace& ws, Tensor* branch = nullptr) const;
  // The convolution module of norm_conv(ws.x) (a Squeezeformer's adaptive
  // input) into ws.y, not added: a strided layer's (efficientConformer) output
  // has the strided frames, and the caller first moves ws.x to them too
  // (downsample).
  void conv_block(Backend& be, const Layer& layer, const std::vector<EncoderChunk>& chunks,
                  EncoderWorkspace& ws) const;
  // efficient_conformer.cc: attention over groups of layer.group frames, the
  // stream's keys (views, this chunk's rows appended) and queries zero-padded
  // to whole groups; and the strided layer's frame halving.
  void grouped_attention(Backend& be, const Layer& layer, const std::vector<EncoderChunk>& chunks,
                         const std::vector<CacheView>& views, EncoderWorkspace& ws) const;
  void downsample(Backend& be, std::vector<EncoderChunk>& chunks, FfnBatch& batch, EncoderWorkspace& ws) const;
  // The cgMLP branch of norm_mlp(ws.x) into `out` (clobbers ws.h, ws.g, ws.c).
  void cgmlp_branch(Backend& be, const Layer& layer, int index, const std::vector<EncoderChunk>& chunks,
                    EncoderWorkspace& ws, Tensor& out) const;
  // Branchformer / E-Branchformer: merges ws.branch1 (attention) and
  // ws.branch2 (cgMLP) into ws.x.
  void merge_branches(Backend& be, const Layer& layer, const std::vector<EncoderChunk>& chunks,
                      EncoderWorkspace& ws) const;
  // Depthwise convolution over time of each chunk's rows of `in` into `out`
  // (resized like `in`), [kernel, C] weights: causal with the stream's cache
  // rows at cache_row (or, cache_row < 0, fresh zeros on the left of each
  // chunk), else centred with zero padding on both sides of each chunk.
  void time_conv(Backend& be, const std::vector<EncoderChunk>& chunks, const Tensor& in, Tensor& out,
                 const Tensor& w_t, const Tensor& bias, int kernel, bool causal, int64_t cache_row) const;
  const FeedForward* first_ffn() const;
  // Adds the parallel adapters at `place` (reading ws.h) to ws.x, each chunk with its stream's set.
  void add_adapters(Backend& be, int index, std::unique_ptr<FeedForward> LayerAdapters::*place,
                    const std::vector<EncoderChunk>& chunks, const FfnBatch& batch, EncoderWorkspace& ws) const;
  const FeedForward* adapter_for(const EncoderChunk& c, int index,
                                 std::unique_ptr<FeedForward> LayerAdapters::*place) const;

  EncoderConfig config_;
  Tensor cmvn_mean_, cmvn_istd_;
  // The subsampling convolutions (Conv2dSubsampling4/6/8), each + ReLU: a
  // float32 3x3 stride-2 one runs as a backend op with its kernel as [3, 3,
  // c_in, c_out]; the others (conv2d6's 5x5 stride-3 one, and the int8 ones)
  // as rows gathered per output position (im2col) times `as_linear` ([c_out,
  // k * k * c_in], columns (kt, kf, c_in)), float32 or int8.
  struct ConvStage {
    int kernel = 3, stride = 2;
    Tensor w, b;
    Linear as_linear;
  };
  std::vector<ConvStage> convs_;
  Linear embed_out_;  // conv: columns re-ordered to (freq, channel); linear: Linear(input_dim, d)
  LayerNorm embed_norm_;  // input_layer linear only
  std::vector<Layer> layers_;
  LayerNorm after_norm_;
  PositionalEncoding pos_enc_;
  // Squeezeformer: preln (after the input layer), the time reduction's
  // depthwise ([kernel, d] transposed) and pointwise convolutions, time_recover_layer.
  LayerNorm preln_;
  Tensor reduce_dw_t_, reduce_dw_bias_;
  Linear reduce_pw_, recover_;
  Tensor ones_;  // [d] ones (do_rel_shift: q + pos_bias as a channel affine map)
  // The causal convolution caches' first contents: [layers * (kernel - 1), C],
  // GLU(pointwise_conv1 bias) per layer (what WeNet's zero left padding
  // becomes); for the cgMLP's gating unit, LayerNorm of a zero frame: its bias.
  Tensor conv_init_;
  Tensor zero_rows_;  // [group_size - 1, d] zeros: a grouped attention's key padding
};

}  // namespace moeasr
