#include "runtime/asr_model.h"

#include "core/error.h"
#include "ops/ops.h"

namespace moeasr {

namespace {

void check_options(const ModelOptions& options) {
  MOEASR_CHECK(options.threads >= 1 && options.threads <= 1024, MOEASR_ERR_INVALID_ARGUMENT,
               "threads must be in [1, 1024], got ", options.threads);
  if (options.device.rfind("cuda", 0) == 0) {
    throw_error(MOEASR_ERR_UNSUPPORTED, "device '", options.device, "': this build has no CUDA backend yet");
  }
  MOEASR_CHECK(options.device == "cpu", MOEASR_ERR_INVALID_ARGUMENT, "unknown device '", options.device,
               "' (expected \"cpu\" or \"cuda[:N]\")");
  parse_compute_type(options.compute_type);  // reject a bad name before loading anything
}

}  // namespace

std::shared_ptr<const AsrModel> AsrModel::load(const std::string& dir, const ModelOptions& options) {
  check_options(options);  // before the (possibly long) load
  return from_model_dir(load_model_dir(dir), options);
}

std::shared_ptr<const AsrModel> AsrModel::from_model_dir(ModelDir dir, const ModelOptions& options) {
  check_options(options);
  PrecisionPolicy precision;
  precision.type = parse_compute_type(options.compute_type);
  precision.experts_only = options.compute_experts_only;
  std::shared_ptr<AsrModel> m(new AsrModel());
  m->dir_ = std::move(dir);
  m->options_ = options;
  m->encoder_ = std::make_unique<Encoder>(m->dir_.config, *m->dir_.weights, precision);
  if (m->dir_.config.decoder.type != DecoderType::kNone) {
    m->decoder_ = std::make_unique<AttentionDecoder>(m->dir_.config, *m->dir_.weights, precision);
  }
  m->ctc_ = WeightReader(*m->dir_.weights, precision).linear("ctc.ctc_lo");
  return m;
}

void AsrModel::ctc_log_probs(const Tensor& encoder_out, Tensor& out) const {
  ops::linear(encoder_out, ctc_, out);
  ops::log_softmax(out);
}

}  // namespace moeasr
