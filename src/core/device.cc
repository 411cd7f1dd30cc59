#include "core/device.h"

#include <cstdlib>

#include "core/error.h"

#if MOEASR_HAVE_CUDA
#include "kernels/cuda/device.h"
#endif

namespace moeasr {

std::string Device::name() const { return is_cpu() ? "cpu" : "cuda:" + std::to_string(index); }

Device parse_device(const std::string& name) {
  if (name == "cpu") return Device::cpu();
  if (name == "cuda") return Device::cuda(0);
  const std::string prefix = "cuda:";
  bool ok = name.size() > prefix.size() && name.size() <= prefix.size() + 4 &&
            name.compare(0, prefix.size(), prefix) == 0;
  int index = 0;
  for (size_t i = prefix.size(); ok && i < name.size(); ++i) {
    const char ch = name[i];
    ok = ch >= '0' && ch <= '9';
    index = index * 10 + (ch - '0');
  }
  MOEASR_CHECK(ok, MOEASR_ERR_INVALID_ARGUMENT, "unknown device '", name,
               "' (expected \"cpu\", \"cuda\" or \"cuda:N\" with N a device index 0..9999)");
  return Device::cuda(index);
}

bool have_cuda_backend() {
#if MOEASR_HAVE_CUDA
  return true;
#else
  return false;
#endif
}

int cuda_device_count() {
#if MOEASR_HAVE_CUDA
  return cuda::device_count();
#else
  return 0;
#endif
}

void check_device_available(Device device) {
  if (device.is_cpu()) return;
  MOEASR_CHECK(have_cuda_backend(), MOEASR_ERR_UNSUPPORTED, "device '", device.name(),
               "': this build has no CUDA backend (configure with -DMOEASR_WITH_CUDA=ON and a CUDA toolkit)");
  const int count = cuda_device_count();
  MOEASR_CHECK(count > 0, MOEASR_ERR_DEVICE, "device '", device.name(),
               "': no usable CUDA device (no GPU, no driver, or a driver older than the CUDA runtime)");
  MOEASR_CHECK(device.index < count, MOEASR_ERR_DEVICE, "device '", device.name(), "': there is no CUDA device ",
               device.index, " (", count, count == 1 ? " device is" : " devices are", " available: 0..", count - 1,
               ")");
}

std::shared_ptr<void> allocate(Device device, size_t bytes) {
  if (device.is_cuda()) {
#if MOEASR_HAVE_CUDA
    return cuda::allocate(device.index, bytes);
#else
    check_device_available(device);  // throws: no backend
#endif
  }
  constexpr size_t kAlignment = 64;
  size_t rounded = (bytes + kAlignment - 1) / kAlignment * kAlignment;
  if (rounded == 0) rounded = kAlignment;
  void* p = std::aligned_alloc(kAlignment, rounded);
  if (!p) throw_error(MOEASR_ERR_OUT_OF_MEMORY, "cannot allocate ", bytes, " bytes");
  return std::shared_ptr<void>(p, [](void* q) { std::free(q); });
}

}  // namespace moeasr
