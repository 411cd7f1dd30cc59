// A complete model directory built in memory from a WeNet-style train.yaml
// with seeded random weights: benchmarks of paper-sized shapes need no weight
// file. The weights have PyTorch-default scales (uniform +-1/sqrt(fan_in)),
// unit LayerNorms and neutral BatchNorm statistics.
#pragma once

#include <cstdint>
#include <string>

#include "formats/model_dir.h"

namespace moeasr {

// `output_dim` in the yaml sets the vocabulary (units are synthetic).
// Throws like load_model_dir for an invalid or unsupported config.
ModelDir random_model_dir(const std::string& yaml_text, const std::string& source, uint64_t seed);

}  // namespace moeasr
