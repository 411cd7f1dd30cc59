// A position-wise feed-forward sublayer behind one interface, one type per
// kind, chosen at load from the config (make_feed_forward):
//   DenseFfn   w_2(act(w_1 x))                                   nn/dense_ffn.h
//   MoeFfn     top-k routed experts (WeNet's MoEFFNLayer)         nn/moe_ffn.h
//   MotFfn     Mixture of Tokens over token groups                nn/mot_ffn.h
//   SoftMoe    Soft MoE over each example's tokens                nn/soft_moe.h
//   DenseMoa   every adapter on every token, softmax-mixed        nn/dense_moa.h
// SoftMoe and DenseMoa are also the mixtures of adapters that sit beside a
// sublayer (make_adapter). Each kind is written once on the op layer and runs
// on whatever device its weights live on.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "formats/model_config.h"
#include "nn/weight_reader.h"
#include "ops/backend.h"

namespace moeasr {

// Which rows a Mixture-of-Tokens layer may mix in one forward call.
enum class TokenMixing {
  // The streaming path: a MoT layer groups frames of one chunk only
  // (mot_grouping: within_sequence); a cross-example model is refused.
  kWithinStream,
  // The offline batch: every example is a complete utterance, and a
  // cross-example model groups them in order, as it was trained.
  kAcrossExamples,
};

// The rows of one forward call: example e (a stream's chunk, an utterance)
// is rows [segments[e], segments[e + 1]). Layers that mix tokens (MoT, Soft
// MoE) mix within what this allows; the others ignore it.
struct FfnBatch {
  std::vector<int64_t> segments;
  TokenMixing mixing = TokenMixing::kWithinStream;
  // One example holding rows [0, rows).
  static FfnBatch whole(int64_t rows) { return FfnBatch{{0, rows}, TokenMixing::kWithinStream}; }
};

// Work buffers a forward call may use, owned by the caller's workspace and
// reused across layers and calls (each kind says which it uses).
struct FfnScratch {
  Tensor hidden, logits, weights, gathered, mixed, out;
};

class FeedForward {
 public:
  virtual ~FeedForward() = default;
  // y[n, d] = f(x[n, d]) for the rows `batch` describes; y never aliases x.
  // `expert_load` (a routed MoE only, may be null) accumulates the tokens
  // each expert received.
  virtual void forward(Backend& be, const Tensor& x, Tensor& y, const FfnBatch& batch, FfnScratch& scratch,
                       int64_t* expert_load = nullptr) const = 0;
  // Experts whose tokens expert_load counts (top-k MoE), else 0.
  virtual int routed_experts() const { return 0; }
  // Bytes of one routed expert's weights in their compute type (0 if none).
  virtual int64_t expert_bytes() const { return 0; }
  // True when one example's output depends on other examples of the batch
  // (a Mixture of Tokens grouped across examples).
  virtual bool mixes_examples() const { return false; }
};

// The FFN at `prefix` (WeNet's names: w_1/w_2, gate + experts, ...) of width d.
std::unique_ptr<FeedForward> make_feed_forward(const WeightReader& r, const std::string& prefix,
                                               const FfnConfig& config, int64_t d, MoeGemm moe_gemm);
// The adapter mixture at `prefix` (Soft-MoA or dense MoA, GELU adapters with
// biases), or null for AdapterType::kNone.
std::unique_ptr<FeedForward> make_adapter(const WeightReader& r, const std::string& prefix, int64_t d,
                                          const AdapterConfig& config);

}  // namespace moeasr
