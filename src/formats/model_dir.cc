#include "formats/model_dir.h"

#include <sys/stat.h>

#include "core/error.h"
#include "formats/weight_spec.h"

namespace moeasr {

ModelDir load_model_dir(const std::string& dir) {
  struct stat st;
  MOEASR_CHECK(!dir.empty(), MOEASR_ERR_INVALID_ARGUMENT, "empty model directory path");
  MOEASR_CHECK(::stat(dir.c_str(), &st) == 0, MOEASR_ERR_IO, "model directory ", dir, " does not exist");
  MOEASR_CHECK(S_ISDIR(st.st_mode), MOEASR_ERR_IO, dir, " is not a directory");
  const std::string base = dir.back() == '/' ? dir : dir + "/";

  ModelDir m;
  m.path = dir;
  m.units = SymbolTable::load(base + "units.txt");
  m.config = load_model_config(base + "train.yaml", m.units.size());
  m.weights = SafeTensors::open(base + "model.safetensors");
  validate_weights(*m.weights, m.config);
  return m;
}

}  // namespace moeasr
