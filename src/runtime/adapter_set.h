// A set of adapters loaded on top of a base model from its own directory
//   adapters.yaml         adapter_conf: the adapter keys of encoder_conf
//   adapters.safetensors  encoder.encoders.{i}.adapter_<place>.* (model names)
// so one base model in memory serves streams with different fine-tunings
// (parameter-efficient fine-tuning's practical point). Loaded onto the
// model's device; immutable after load; a stream that picks a set uses its
// adapters instead of the model's own.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "asr/encoder.h"
#include "formats/model_config.h"
#include "formats/safetensors.h"
#include "runtime/asr_model.h"

namespace moeasr {

class AdapterSet {
 public:
  // Loads and validates `dir` for `model` (its encoder's size and layer count;
  // Linear weights in the model's compute type, on its device). Throws moeasr::Error.
  static std::shared_ptr<const AdapterSet> load(const std::string& dir, const AsrModel& model);
  // From adapters.yaml text and an opened weight file (`source` names them in messages).
  static std::shared_ptr<const AdapterSet> from_parts(const std::string& yaml_text,
                                                      std::shared_ptr<const SafeTensors> weights,
                                                      const AsrModel& model, const std::string& source);

  const AdapterConfig& config() const { return config_; }
  // One entry per encoder layer.
  const std::vector<LayerAdapters>& layers() const { return layers_; }
  // Whether the set fits `model` (same model size and layer count, macaron
  // FFNs if placed there, the same device).
  bool fits(const AsrModel& model) const;

 private:
  AdapterSet() = default;
  AdapterConfig config_;
  int64_t d_model_ = 0;
  int num_blocks_ = 0;
  Device device_;
  std::vector<LayerAdapters> layers_;  // CPU: views into the mapped file, which they keep alive
};

}  // namespace moeasr
