// A complete model directory built in memory from a WeNet-style train.yaml
// with seeded random weights: benchmarks of paper-sized shapes need no weight
// file. The weights have PyTorch-default scales (uniform +-1/sqrt(fan_in)),
// unit LayerNorms and neutral BatchNorm statistics.
#pragma once

#include <cstdint>
#include <string>

#include "formats/model_dir.h"
#include "formats/weight_spec.h"

namespace moeasr {

// `output_dim` in the yaml sets the vocabulary (units are synthetic).
// Throws like load_model_dir for an invalid or unsupported config.
ModelDir random_model_dir(const std::string& yaml_text, const std::string& source, uint64_t seed);

// A weight file in memory holding `tensors` (float32) with the same seeded
// values (benchmarks of single layers).
std::shared_ptr<const SafeTensors> random_weights(const std::vector<ExpectedTensor>& tensors,
                                                  const std::string& source, uint64_t seed);

}  // namespace moeasr
