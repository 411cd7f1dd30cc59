#include "ops/backend.h"

#include "core/error.h"

namespace moeasr {

MoeGemm parse_moe_gemm(const std::string& name) {
  if (name == "grouped") return MoeGemm::kGrouped;
  if (name == "cublas_grouped") return MoeGemm::kCublasGrouped;
  if (name == "loop") return MoeGemm::kPerExpertLoop;
  throw_error(MOEASR_ERR_INVALID_ARGUMENT, "unknown MoE GEMM mode '", name,
              "' (expected grouped, cublas_grouped or loop)");
}

bool device_reads(DeviceKind kind, WeightType type) {
  return kind == DeviceKind::kCpu || type == WeightType::kF32 || type == WeightType::kBF16;
}

std::unique_ptr<Backend> Backend::open(Device device) {
  check_device_available(device);
  if (device.is_cpu()) return open_cpu_backend();
#if MOEASR_HAVE_CUDA
  return open_cuda_backend(device.index);
#else
  throw_error(MOEASR_ERR_INTERNAL, "no backend for ", device.name());  // check_device_available refused it
#endif
}

}  // namespace moeasr
