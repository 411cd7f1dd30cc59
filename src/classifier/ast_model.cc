#include "classifier/ast_model.h"

#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "nn/weight_reader.h"
#include "ops/ops.h"

namespace moeasr {

AstModel::AstModel(const AstConfig& config, std::shared_ptr<const SafeTensors> weights)
    : config_(config), weights_(std::move(weights)) {
  const std::unique_ptr<Backend> be = Backend::open(Device::cpu());
  const WeightReader r(*weights_, PrecisionPolicy{}, *be);
  const float eps = config.layer_norm_eps;
  const std::string body = "audio_spectrogram_transformer.";
  // Conv2d(1, H, p x p) over one input channel is a Linear over the p*p pixels
  // of a patch: the weight [H, 1, p, p] read as [H, p*p].
  const int64_t pixels = int64_t{config.patch_size} * config.patch_size;
  Tensor projection = r.host(body + "embeddings.patch_embeddings.projection.weight");
  projection.reshape({config.hidden, pixels});
  patch_ = r.linear(projection, r.host(body + "embeddings.patch_embeddings.projection.bias"));
  cls_ = r.tensor(body + "embeddings.cls_token");
  dist_ = r.tensor(body + "embeddings.distillation_token");
  position_ = r.tensor(body + "embeddings.position_embeddings");
  for (int i = 0; i < config.layers; ++i) {
    const std::string l = ast_layer_prefix(i);
    Layer w;
    w.before = r.layer_norm(l + ".layernorm_before", eps);
    w.after = r.layer_norm(l + ".layernorm_after", eps);
    w.query = r.linear(l + ".attention.attention.query");
    w.key = r.linear(l + ".attention.attention.key");
    w.value = r.linear(l + ".attention.attention.value");
    w.attention_out = r.linear(l + ".attention.output.dense");
    w.intermediate = r.linear(l + ".intermediate.dense");
    w.output = r.linear(l + ".output.dense");
    if (config.adapter.self_attn) {
      w.adapter_self_attn = make_adapter(r, l + ".adapter_self_attn", config.hidden, config.adapter);
    }
    if (config.adapter.feed_forward) {
      w.adapter_feed_forward = make_adapter(r, l + ".adapter_feed_forward", config.hidden, config.adapter);
    }
    layers_.push_back(std::move(w));
  }
  final_norm_ = r.layer_norm(body + "layernorm", eps);
  if (config.head_layernorm) head_norm_ = r.layer_norm("classifier.layernorm", eps);
  head_ = r.linear("classifier.dense");
}

void AstModel::im2col(const float* values, float* patches) const {
  const AstConfig& c = config_;
  const int p = c.patch_size, bins = c.num_mel_bins, t_dim = c.t_dim();
  for (int f = 0; f < c.f_dim(); ++f) {
    for (int t = 0; t < t_dim; ++t) {
      float* row = patches + (int64_t{f} * t_dim + t) * p * p;
      for (int a = 0; a < p; ++a) {      // frequency within the patch
        for (int b = 0; b < p; ++b) {    // time within the patch
          const int64_t frame = int64_t{t} * c.time_stride + b, bin = int64_t{f} * c.frequency_stride + a;
          row[a * p + b] = values[frame * bins + bin];
        }
      }
    }
  }
}

std::vector<float> AstModel::forward(const float* values) const {
  const AstConfig& c = config_;
  const int64_t n = c.num_tokens(), h = c.hidden, patches = c.num_patches();
  const std::unique_ptr<Backend> owned = Backend::open(Device::cpu());
  Backend& be = *owned;
  // Tokens: [CLS, DIST, patch embeddings] + position embeddings.
  Tensor pixels({patches, int64_t{c.patch_size} * c.patch_size});
  im2col(values, pixels.data<float>());
  Tensor embedded;
  patch_.forward(be, pixels, embedded);
  Tensor x({n, h});
  float* xd = x.data<float>();
  std::memcpy(xd, cls_.data<float>(), sizeof(float) * h);
  std::memcpy(xd + h, dist_.data<float>(), sizeof(float) * h);
  std::memcpy(xd + 2 * h, embedded.data<float>(), sizeof(float) * patches * h);
  ops::add_scaled(be, x, position_, 1.f);

  Tensor y, q, k, v, att, out, mid, self_attn_mix;
  FfnScratch scratch;
  // One Soft-MoA group: every token of the clip.
  const FfnBatch clip = FfnBatch::whole(n);
  for (const Layer& w : layers_) {
    // x += Attn(LN_before x) [+ adapter(LN_before x)]
    w.before.forward(be, x, y);
    w.query.forward(be, y, q);
    w.key.forward(be, y, k);
    w.value.forward(be, y, v);
    att.resize({n, h});
    be.dot_product_attention({{q.data<float>(), att.data<float>(), k.data<float>(), v.data<float>(), nullptr,
                               static_cast<int32_t>(n), static_cast<int32_t>(n), 0}},
                             h, c.heads, c.d_head(), /*causal=*/false);
    w.attention_out.forward(be, att, out);
    ops::add_scaled(be, x, out, 1.f);
    if (w.adapter_self_attn) {
      w.adapter_self_attn->forward(be, y, self_attn_mix, clip, scratch);
      ops::add_scaled(be, x, self_attn_mix, 1.f);
    }
    // x += W_out GELU(W_in LN_after x) [+ adapter(LN_after x)]
    w.after.forward(be, x, y);
    w.intermediate.forward(be, y, mid);
    ops::activation(be, mid, Activation::kGelu);
    w.output.forward(be, mid, out);
    ops::add_scaled(be, x, out, 1.f);
    if (w.adapter_feed_forward) {
      w.adapter_feed_forward->forward(be, y, out, clip, scratch);
      ops::add_scaled(be, x, out, 1.f);
    }
    // PETL_AST's Pfeiffer-on-MHSA layer leaves the attention-side mixture in
    // the variable its last line adds, so that mixture counts twice.
    if (c.adapter_self_attn_twice) ops::add_scaled(be, x, self_attn_mix, 1.f);
  }
  final_norm_.forward(be, x, x);

  Tensor pooled = Tensor::zeros({1, h});
  float* pd = pooled.data<float>();
  if (c.pooling == AstPooling::kClsDist) {
    for (int64_t j = 0; j < h; ++j) pd[j] = 0.5f * (xd[j] + xd[h + j]);
  } else if (c.pooling == AstPooling::kCls) {
    for (int64_t j = 0; j < h; ++j) pd[j] = xd[j];
  } else {
    // Sum in double: the mean of ~1200 tokens in float32 would drift.
    const int64_t first = c.pooling == AstPooling::kMeanAll ? 0 : 2;
    std::vector<double> sum(static_cast<size_t>(h), 0.0);
    for (int64_t t = first; t < n; ++t) {
      for (int64_t j = 0; j < h; ++j) sum[j] += xd[t * h + j];
    }
    for (int64_t j = 0; j < h; ++j) pd[j] = static_cast<float>(sum[j] / static_cast<double>(n - first));
  }
  if (c.head_layernorm) head_norm_.forward(be, pooled, pooled);
  Tensor logits;
  head_.forward(be, pooled, logits);
  return std::vector<float>(logits.data<float>(), logits.data<float>() + c.num_labels);
}

}  // namespace moeasr
