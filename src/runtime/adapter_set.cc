#include "runtime/adapter_set.h"

#include <sys/stat.h>

#include "core/error.h"
#include "core/mapped_file.h"
#include "nn/weight_precision.h"
#include "nn/weight_reader.h"
#include "formats/weight_spec.h"

namespace moeasr {

std::shared_ptr<const AdapterSet> AdapterSet::load(const std::string& dir, const AsrModel& model) {
  struct stat st;
  MOEASR_CHECK(!dir.empty(), MOEASR_ERR_INVALID_ARGUMENT, "empty adapter set directory path");
  MOEASR_CHECK(::stat(dir.c_str(), &st) == 0, MOEASR_ERR_IO, "adapter set directory ", dir, " does not exist");
  MOEASR_CHECK(S_ISDIR(st.st_mode), MOEASR_ERR_IO, dir, " is not a directory");
  const std::string base = dir.back() == '/' ? dir : dir + "/";
  return from_parts(read_file(base + "adapters.yaml"), SafeTensors::open(base + "adapters.safetensors"), model,
                    base + "adapters.yaml");
}

std::shared_ptr<const AdapterSet> AdapterSet::from_parts(const std::string& yaml_text,
                                                         std::shared_ptr<const SafeTensors> weights,
                                                         const AsrModel& model, const std::string& source) {
  const EncoderConfig& e = model.config().encoder;
  std::shared_ptr<AdapterSet> set(new AdapterSet());
  set->config_ = parse_adapter_config(yaml_text, source);
  MOEASR_CHECK(!set->config_.feed_forward_macaron || e.macaron, MOEASR_ERR_FORMAT, source,
               ": adapter_placement has feed_forward_macaron but the model has no macaron FFNs");
  validate_tensors(*weights, expected_adapter_tensors(e, set->config_), "adapters.yaml");
  set->d_model_ = e.d_model;
  set->num_blocks_ = e.num_blocks;
  set->device_ = model.device();
  PrecisionPolicy precision;
  precision.type = parse_compute_type(model.options().compute_type);
  precision.experts_only = model.options().compute_experts_only;
  auto worker = model.workers().acquire();
  const WeightReader r(*weights, precision, *worker->backend);
  for (int i = 0; i < e.num_blocks; ++i) {
    set->layers_.push_back(read_layer_adapters(r, "encoder.encoders." + std::to_string(i), e.d_model, set->config_));
  }
  worker->backend->synchronize();
  return set;
}

bool AdapterSet::fits(const AsrModel& model) const {
  const EncoderConfig& e = model.config().encoder;
  return e.d_model == d_model_ && e.num_blocks == num_blocks_ && (e.macaron || !config_.feed_forward_macaron) &&
         model.device() == device_;
}

}  // namespace moeasr
