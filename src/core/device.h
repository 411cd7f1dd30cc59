// Where memory lives and ops run: the CPU, or CUDA device N. A Tensor carries
// its Device; the op layer (src/ops) runs each op on its tensors' device.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace moeasr {

enum class DeviceKind : uint8_t { kCpu, kCuda };

struct Device {
  DeviceKind kind = DeviceKind::kCpu;
  int index = 0;  // CUDA device index (0 on the CPU)

  static Device cpu() { return {}; }
  static Device cuda(int index) { return {DeviceKind::kCuda, index}; }
  bool is_cpu() const { return kind == DeviceKind::kCpu; }
  bool is_cuda() const { return kind == DeviceKind::kCuda; }
  std::string name() const;  // "cpu", "cuda:0"
  friend bool operator==(const Device& a, const Device& b) { return a.kind == b.kind && a.index == b.index; }
  friend bool operator!=(const Device& a, const Device& b) { return !(a == b); }
};

// The `device` option: "cpu", "cuda" (device 0) or "cuda:N". Throws
// Error(MOEASR_ERR_INVALID_ARGUMENT) for anything else ("cuda:abc", "cuda:-1",
// "cuda:", "CPU", ...). Whether the device exists is not checked here.
Device parse_device(const std::string& name);

// True in builds with the CUDA backend (kernels/cuda).
bool have_cuda_backend();
// Usable CUDA devices (0 without the backend, a driver or a GPU). Never throws.
int cuda_device_count();
// Throws unless `device` can hold memory and run ops in this build on this
// machine: Error(MOEASR_ERR_UNSUPPORTED) without the CUDA backend,
// Error(MOEASR_ERR_DEVICE) for a missing GPU or index.
void check_device_available(Device device);

// `bytes` of uninitialized memory on `device`, 64-byte aligned on the CPU,
// freed when the last owner lets go. Throws Error(MOEASR_ERR_OUT_OF_MEMORY)
// on the CPU and Error(MOEASR_ERR_DEVICE) on a GPU that has no room.
std::shared_ptr<void> allocate(Device device, size_t bytes);

}  // namespace moeasr
