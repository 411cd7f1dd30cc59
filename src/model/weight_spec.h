// Which tensors a configuration implies, by WeNet's state_dict names, and the
// check that a weight file holds exactly those (right shape, supported dtype).
#pragma once

#include <string>
#include <vector>

#include "core/tensor.h"
#include "model/config.h"
#include "model/safetensors.h"

namespace moeasr {

struct ExpectedTensor {
  std::string name;
  Shape shape;
  // A Linear (or 1x1 convolution) weight: may be stored as I8 with a
  // `<name>.scale` F32 [out] tensor next to it.
  bool quantizable = false;
};

std::vector<ExpectedTensor> expected_tensors(const ModelConfig& config);

// Buffers a WeNet state_dict may carry that the runtime recomputes or never
// uses: the sinusoid tables (`*.pe`) and BatchNorm's `num_batches_tracked`.
bool is_ignorable_tensor(const std::string& name);

// Throws Error(MOEASR_ERR_FORMAT) listing missing tensors, shape mismatches and
// unexpected tensors; Error(MOEASR_ERR_UNSUPPORTED) for a dtype the runtime
// cannot read: F32, F16 and BF16 everywhere, I8 (+ .scale) for Linear weights.
void validate_weights(const SafeTensors& weights, const ModelConfig& config);

}  // namespace moeasr
