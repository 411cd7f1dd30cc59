#include "runtime/asr_model.h"

#include "core/error.h"
#include "ops/ops.h"
#include "core/device.h"

#if MOEASR_HAVE_CUDA
#include "core/logging.h"
#include "gpu/model.h"
#include "kernels/cuda/device.h"
#endif

namespace moeasr {

namespace {

void check_options(const ModelOptions& options) {
  MOEASR_CHECK(options.threads >= 1 && options.threads <= 1024, MOEASR_ERR_INVALID_ARGUMENT,
               "threads must be in [1, 1024], got ", options.threads);
  const DeviceSpec device = parse_device(options.device);
  const ComputeType type = parse_compute_type(options.compute_type);  // reject a bad name before loading anything
  if (!device.cuda) return;
#if MOEASR_HAVE_CUDA
  gpu::parse_moe_gemm(options.cuda_moe_gemm);
  MOEASR_CHECK(type != ComputeType::kInt8, MOEASR_ERR_UNSUPPORTED, "compute_type int8 on device '", options.device,
               "': the CUDA backend has no int8 kernels (use float32 or bfloat16)");
  const int count = cuda::device_count();
  MOEASR_CHECK(count > 0, MOEASR_ERR_DEVICE, "device '", options.device,
               "': no usable CUDA device (no GPU, no driver, or a driver older than the CUDA runtime)");
  MOEASR_CHECK(device.index < count, MOEASR_ERR_DEVICE, "device '", options.device, "': there is no CUDA device ",
               device.index, " (", count, count == 1 ? " device is" : " devices are", " available: 0..", count - 1,
               ")");
#else
  (void)type;
  throw_error(MOEASR_ERR_UNSUPPORTED, "device '", options.device,
              "': this build has no CUDA backend (configure with -DMOEASR_WITH_CUDA=ON and a CUDA toolkit)");
#endif
}

}  // namespace

std::shared_ptr<const AsrModel> AsrModel::load(const std::string& dir, const ModelOptions& options) {
  check_options(options);  // before the (possibly long) load
  return from_model_dir(load_model_dir(dir), options);
}

std::shared_ptr<const AsrModel> AsrModel::from_model_dir(ModelDir dir, const ModelOptions& options) {
  check_options(options);
  const DeviceSpec device = parse_device(options.device);
#if MOEASR_HAVE_CUDA
  if (device.cuda) gpu::GpuModel::check_supported(dir.config);  // before the weights are read
#endif
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
#if MOEASR_HAVE_CUDA
  if (device.cuda) {
    m->gpu_ = std::make_shared<const gpu::GpuModel>(device.index, m->dir_.config, *m->encoder_, m->decoder_.get(),
                                                     m->ctc_, gpu::parse_moe_gemm(options.cuda_moe_gemm));
    log_info("model on ", options.device, " (", m->gpu_->device_name(), "): ",
             m->gpu_->weight_bytes() / (1 << 20), " MiB of weights uploaded");
  }
#else
  (void)device;  // check_options refused "cuda" already
#endif
  return m;
}

void AsrModel::ctc_log_probs(const Tensor& encoder_out, Tensor& out) const {
  ops::linear(encoder_out, ctc_, out);
  ops::log_softmax(out);
}

}  // namespace moeasr
