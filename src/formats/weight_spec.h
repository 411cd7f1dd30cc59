// Which tensors a configuration implies, by WeNet's state_dict names, and the
// check that a weight file holds exactly those (right shape, supported dtype).
#pragma once

#include <string>
#include <vector>

#include "core/tensor.h"
#include "formats/model_config.h"
#include "formats/safetensors.h"

namespace moeasr {

struct ExpectedTensor {
  std::string name;
  Shape shape;
  // A Linear (or 1x1 convolution) weight: may be stored as I8 with a
  // `<name>.scale` F32 [out] tensor next to it.
  bool quantizable = false;
};

// At most this many by default: a real model has a few thousand tensors.
constexpr size_t kMaxExpectedTensors = size_t{1} << 18;

// Throws Error(MOEASR_ERR_FORMAT) once the config implies more than
// `max_tensors` tensors (a train.yaml with an absurd num_blocks or n_expert),
// after building only that many names.
std::vector<ExpectedTensor> expected_tensors(const ModelConfig& config,
                                             size_t max_tensors = kMaxExpectedTensors);
// The tensors of an adapter set for an encoder (every layer's placed adapters).
std::vector<ExpectedTensor> expected_adapter_tensors(const EncoderConfig& encoder, const AdapterConfig& adapters);

// Appends the tensors of one adapter mixture named `prefix` (prefix.phi,
// prefix.experts.{e}.w_1, ...) for width `d` (the AST classifier's layers).
void append_adapter_tensors(const std::string& prefix, int64_t d, const AdapterConfig& adapters,
                            std::vector<ExpectedTensor>& out);

// Appends the tensors of one feed-forward layer named `prefix` of width `d`
// (benchmarks of single layers).
void append_ffn_tensors(const std::string& prefix, int64_t d, const FfnConfig& ffn, std::vector<ExpectedTensor>& out);

// Buffers a WeNet state_dict may carry that the runtime recomputes or never
// uses: the sinusoid tables (`*.pe`) and BatchNorm's `num_batches_tracked`.
bool is_ignorable_tensor(const std::string& name);

// Throws Error(MOEASR_ERR_FORMAT) listing missing tensors, shape mismatches and
// unexpected tensors; Error(MOEASR_ERR_UNSUPPORTED) for a dtype the runtime
// cannot read: F32, F16 and BF16 everywhere, I8 (+ .scale) for Linear weights.
void validate_weights(const SafeTensors& weights, const ModelConfig& config);
// The same against any list; `config_name` names the file they come from in messages.
void validate_tensors(const SafeTensors& weights, const std::vector<ExpectedTensor>& expected,
                      const std::string& config_name);

}  // namespace moeasr
