#include "runtime/asr_model.h"

#include "core/error.h"
#include "core/logging.h"
#include "formats/weight_spec.h"
#include "nn/weight_reader.h"
#include "ops/ops.h"

namespace moeasr {

namespace {

void check_options(const ModelOptions& options) {
  MOEASR_CHECK(options.threads >= 1 && options.threads <= 1024, MOEASR_ERR_INVALID_ARGUMENT,
               "threads must be in [1, 1024], got ", options.threads);
  // Bad names and types the device has no kernels for are refused before anything is loaded.
  const Device device = parse_device(options.device);
  const ComputeType type = parse_compute_type(options.compute_type);
  parse_moe_gemm(options.moe_gemm);
  const WeightType weights = type == ComputeType::kInt8 ? WeightType::kI8 : type == ComputeType::kBFloat16
                                                                             ? WeightType::kBF16
                                                                             : WeightType::kF32;
  MOEASR_CHECK(device_reads(device.kind, weights), MOEASR_ERR_UNSUPPORTED, "compute_type ", options.compute_type,
               " on device '", options.device, "': there are no ", weight_type_name(weights), " kernels for ",
               device.is_cpu() ? "the CPU" : "CUDA", " (use float32 or bfloat16)");
}

}  // namespace

std::shared_ptr<const AsrModel> AsrModel::load(const std::string& dir, const ModelOptions& options) {
  check_options(options);  // before the (possibly long) load
  check_device_available(parse_device(options.device));
  return from_model_dir(load_model_dir(dir), options);
}

std::shared_ptr<const AsrModel> AsrModel::from_model_dir(ModelDir dir, const ModelOptions& options) {
  check_options(options);
  const Device device = parse_device(options.device);
  check_device_available(device);
  PrecisionPolicy precision;
  precision.type = parse_compute_type(options.compute_type);
  precision.experts_only = options.compute_experts_only;
  const MoeGemm moe_gemm = parse_moe_gemm(options.moe_gemm);

  std::shared_ptr<AsrModel> m(new AsrModel(device));
  m->config_ = std::move(dir.config);
  m->units_ = std::move(dir.units);
  m->options_ = options;
  m->device_ = device;
  for (const SafeTensorInfo& t : dir.weights->tensors()) {
    if (!is_ignorable_tensor(t.name)) m->num_parameters_ += shape_numel(t.shape);
  }
  {
    // The weights go up through a worker's backend, which the pool keeps.
    auto worker = m->workers_.acquire();
    Backend& be = *worker->backend;
    const WeightReader r(*dir.weights, precision, be);
    m->encoder_ = std::make_unique<Encoder>(m->config_, r, moe_gemm);
    if (m->config_.decoder.type != DecoderType::kNone) {
      m->decoder_ = std::make_unique<AttentionDecoder>(m->config_, r, moe_gemm);
    }
    m->ctc_ = r.linear("ctc.ctc_lo");
    if (m->config_.transducer.present) m->transducer_ = std::make_unique<Transducer>(m->config_, r);
    be.synchronize();  // surface a failed upload here, at load
    m->device_description_ = be.description();
  }
  // On the CPU the weights stored in their compute type are views of the
  // mapped file (each view keeps the mapping alive); on a GPU nothing of the
  // file is kept.
  if (!device.is_cpu()) log_info("model on ", device.name(), " (", m->device_description_, ")");
  return m;
}

void AsrModel::ctc_log_probs(Backend& be, const Tensor& encoder_out, Tensor& out) const {
  ctc_.forward(be, encoder_out, out);
  ops::log_softmax(be, out);
}

}  // namespace moeasr
