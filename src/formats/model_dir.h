// A model directory: train.yaml (WeNet's config), model.safetensors (WeNet's
// state_dict names) and units.txt (the symbol table). Loading validates all
// three and their agreement before any model is built.
#pragma once

#include <memory>
#include <string>

#include "formats/model_config.h"
#include "formats/safetensors.h"
#include "formats/units.h"

namespace moeasr {

struct ModelDir {
  std::string path;
  ModelConfig config;
  SymbolTable units;
  std::shared_ptr<const SafeTensors> weights;
};

// Throws Error(MOEASR_ERR_IO) for a missing directory or file,
// Error(MOEASR_ERR_FORMAT / MOEASR_ERR_UNSUPPORTED) for anything invalid.
ModelDir load_model_dir(const std::string& dir);

}  // namespace moeasr
