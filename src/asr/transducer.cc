#include "asr/transducer.h"

#include <string>

#include "core/error.h"
#include "ops/ops.h"

namespace moeasr {

namespace {

// A float32 Linear read as stored in the file's float types: the predictor
// and joiner are never quantized (formats/weight_spec.cc).
Linear float_linear(const WeightReader& r, const std::string& prefix) {
  return r.linear(r.host(prefix + ".weight"), r.has(prefix + ".bias") ? r.host(prefix + ".bias") : Tensor());
}

Tensor device_tensor(Backend& be, Shape shape) {
  Tensor t(std::move(shape), DType::kF32, be.device());
  ops::fill_zero(be, t);
  return t;
}

}  // namespace

Transducer::Transducer(const ModelConfig& config, const WeightReader& r)
    : predictor_(config.transducer.predictor),
      blank_(config.transducer.blank),
      join_dim_(config.transducer.joint.join_dim),
      joint_activation_(config.transducer.joint.activation) {
  const PredictorConfig& p = predictor_;
  embed_ = r.tensor("predictor.embed.weight");
  switch (p.type) {
    case PredictorType::kRnn:
      for (int l = 0; l < p.num_layers; ++l) {
        const std::string k = "_l" + std::to_string(l);
        const bool bias = p.bias;
        w_ih_.push_back(r.linear(r.host("predictor.rnn.weight_ih" + k),
                                 bias ? r.host("predictor.rnn.bias_ih" + k) : Tensor()));
        w_hh_.push_back(r.linear(r.host("predictor.rnn.weight_hh" + k),
                                 bias ? r.host("predictor.rnn.bias_hh" + k) : Tensor()));
      }
      projection_ = float_linear(r, "predictor.projection");
      break;
    case PredictorType::kEmbedding: {
      // Each head h weighs window position j by pos_embed.weight[h] read as
      // [embed, context] (column j); the heads' weights are summed before
      // the window is weighted, which is the same sum WeNet takes after.
      const Tensor pos = r.host("predictor.pos_embed.weight");  // [heads, embed * context]
      const int64_t e = p.embed_size, ctx = p.context();
      Tensor mix({ctx, e});
      for (int64_t j = 0; j < ctx; ++j) {
        for (int64_t i = 0; i < e; ++i) {
          float s = 0.f;
          for (int h = 0; h < p.heads; ++h) s += pos.data<float>()[h * e * ctx + i * ctx + j];
          mix.data<float>()[j * e + i] = s;
        }
      }
      mix_weight_ = r.upload(mix);
      ffn_ = float_linear(r, "predictor.ffn");
      norm_ = r.layer_norm("predictor.norm", p.norm_eps);
      break;
    }
    case PredictorType::kConv: {
      Tensor w = r.host("predictor.conv.weight");  // [embed, 1, context]
      conv_weight_ = r.upload(w.reshape({p.embed_size, p.context()}));
      if (p.bias) conv_bias_ = r.tensor("predictor.conv.bias");
      norm_ = r.layer_norm("predictor.norm", p.norm_eps);
      break;
    }
  }
  const JointConfig& j = config.transducer.joint;
  if (j.prejoin) {
    enc_ffn_ = float_linear(r, "joint.enc_ffn");
    pred_ffn_ = float_linear(r, "joint.pred_ffn");
  }
  if (j.postjoin) post_ffn_ = float_linear(r, "joint.post_ffn");
  out_ = float_linear(r, "joint.ffn_out");
}

PredictorState Transducer::initial_state(Backend& be) const {
  PredictorState s;
  if (predictor_.type == PredictorType::kRnn) {
    for (int l = 0; l < predictor_.num_layers; ++l) {
      s.h.push_back(device_tensor(be, {1, predictor_.hidden_size}));
      s.c.push_back(device_tensor(be, {1, predictor_.hidden_size}));
    }
  } else if (predictor_.history_size > 0) {
    s.history = device_tensor(be, {predictor_.history_size, predictor_.embed_size});
  }
  return s;
}

void Transducer::step(Backend& be, int token, const PredictorState& in, PredictorState& out, Tensor& projected,
                      TransducerWorkspace& ws) const {
  MOEASR_CHECK(token >= 0 && token < embed_.dim(0), MOEASR_ERR_INTERNAL, "predictor token ", token,
               " outside the vocabulary of ", embed_.dim(0));
  const int64_t e = predictor_.embed_size;
  if (predictor_.type == PredictorType::kRnn) {
    ws.x.resize({1, e}, be.device());
    be.embedding(embed_.data<float>(), e, {token}, 1.f, ws.x.data<float>());
    lstm_step(be, in, out, ws);
    projection_.forward(be, ws.x, ws.mixed);
  } else {
    // The window: the history rows, then this token's embedding.
    const int64_t hist = predictor_.history_size;
    ws.window.resize({hist + 1, e}, be.device());
    if (hist > 0) be.copy(ws.window.data<float>(), in.history.data<float>(), sizeof(float) * hist * e);
    be.embedding(embed_.data<float>(), e, {token}, 1.f, ws.window.data<float>() + hist * e);
    window_step(be, out, ws);
  }
  if (pred_ffn_.present()) {
    pred_ffn_.forward(be, ws.mixed, projected);
  } else {
    projected.resize({1, ws.mixed.dim(1)}, be.device());
    be.copy(projected.data<float>(), ws.mixed.data<float>(), sizeof(float) * ws.mixed.numel());
  }
}

// torch.nn.LSTM's cell, layer after layer, on ws.x ([1, in]; becomes the top
// layer's h): gates = W_ih x + b_ih + W_hh h + b_hh split as i, f, g, o;
// c' = sigmoid(f) c + sigmoid(i) tanh(g), h' = sigmoid(o) tanh(c'). Each
// product a * sigmoid(b) is a GLU of the pair [a | b].
void Transducer::lstm_step(Backend& be, const PredictorState& in, PredictorState& out,
                           TransducerWorkspace& ws) const {
  const int64_t hd = predictor_.hidden_size;
  const size_t block = sizeof(float) * hd;
  std::vector<Tensor> h(in.h.size()), c(in.c.size());
  Tensor recurrent, input_gate, forget_gate;
  for (size_t l = 0; l < w_ih_.size(); ++l) {
    w_ih_[l].forward(be, ws.x, ws.gates);
    w_hh_[l].forward(be, in.h[l], recurrent);
    ops::add_scaled(be, ws.gates, recurrent, 1.f);
    const float* g = ws.gates.data<float>();  // [i | f | g | o]
    ws.pair.resize({1, 2 * hd}, be.device());
    float* pair = ws.pair.data<float>();
    // sigmoid(i) * tanh(g)
    be.copy(pair, g + 2 * hd, block);
    be.activation(pair, hd, Activation::kTanh);
    be.copy(pair + hd, g, block);
    input_gate.resize({1, hd}, be.device());
    be.glu(pair, 1, hd, input_gate.data<float>());
    // sigmoid(f) * c
    be.copy(pair, in.c[l].data<float>(), block);
    be.copy(pair + hd, g + hd, block);
    forget_gate.resize({1, hd}, be.device());
    be.glu(pair, 1, hd, forget_gate.data<float>());
    c[l] = Tensor({1, hd}, DType::kF32, be.device());
    be.copy(c[l].data<float>(), forget_gate.data<float>(), block);
    ops::add_scaled(be, c[l], input_gate, 1.f);
    // h = sigmoid(o) * tanh(c)
    be.copy(pair, c[l].data<float>(), block);
    be.activation(pair, hd, Activation::kTanh);
    be.copy(pair + hd, g + 3 * hd, block);
    h[l] = Tensor({1, hd}, DType::kF32, be.device());
    be.glu(pair, 1, hd, h[l].data<float>());
    ws.x.resize({1, hd}, be.device());
    be.copy(ws.x.data<float>(), h[l].data<float>(), block);
  }
  // New tensors: `out` may share buffers with `in` (a copied hypothesis state).
  out.h = std::move(h);
  out.c = std::move(c);
}

void Transducer::window_step(Backend& be, PredictorState& out, TransducerWorkspace& ws) const {
  const int64_t e = predictor_.embed_size, ctx = predictor_.context();
  const float* window = ws.window.data<float>();  // [ctx, e]
  ws.mixed.resize({1, e}, be.device());
  if (predictor_.type == PredictorType::kEmbedding) {
    // a[j] = mix[j] . window[j]; mixed = sum_j a[j] window[j] / (heads * ctx), then ffn.
    ws.pair.resize({1, ctx}, be.device());
    be.gemm(false, true, 1, 1, e, 1.f, mix_weight_.data<float>(), e, window, e, 0.f, ws.pair.data<float>(), 1, ctx,
            e, e, 1);
    ws.post.resize({1, e}, be.device());
    be.gemm(false, false, 1, e, ctx, 1.f / static_cast<float>(predictor_.heads * ctx), ws.pair.data<float>(), ctx,
            window, e, 0.f, ws.post.data<float>(), e);
    ffn_.forward(be, ws.post, ws.mixed);
  } else {
    // Depthwise: mixed[i] = sum_j w[i, j] window[j, i] (+ bias).
    be.gemm(false, false, 1, 1, ctx, 1.f, conv_weight_.data<float>(), ctx, window, e, 0.f, ws.mixed.data<float>(),
            1, e, ctx, 1, 1);
    if (!conv_bias_.empty()) ops::add_scaled(be, ws.mixed, conv_bias_, 1.f);
  }
  norm_.forward(be, ws.mixed, ws.mixed);
  ops::activation(be, ws.mixed, predictor_.activation);
  // The next history: the window without its oldest row (a new tensor, as in lstm_step).
  const int64_t hist = predictor_.history_size;
  if (hist > 0) {
    Tensor next({hist, e}, DType::kF32, be.device());
    be.copy(next.data<float>(), window + e, sizeof(float) * hist * e);
    out.history = next;
  }
}

void Transducer::project_encoder(Backend& be, const Tensor& rows, Tensor& out) const {
  if (enc_ffn_.present()) {
    enc_ffn_.forward(be, rows, out);
  } else {
    out.resize(rows.shape(), be.device());
    be.copy(out.data<float>(), rows.data<float>(), rows.nbytes());
  }
}

void Transducer::joint(Backend& be, const Tensor& rows, const Tensor& single, Tensor& logits,
                       TransducerWorkspace& ws) const {
  const int64_t n = rows.dim(0);
  ws.joined.resize({n, join_dim_}, be.device());
  be.gather_rows(single.data<float>(), join_dim_, std::vector<int32_t>(static_cast<size_t>(n), 0), 0.f,
                 ws.joined.data<float>());
  ops::add_scaled(be, ws.joined, rows, 1.f);
  if (post_ffn_.present()) post_ffn_.forward(be, ws.joined, ws.post);
  Tensor& x = post_ffn_.present() ? ws.post : ws.joined;
  ops::activation(be, x, joint_activation_);
  out_.forward(be, x, logits);
}

}  // namespace moeasr
