// The `device` model option: "cpu", "cuda" (device 0) or "cuda:N".
#pragma once

#include <string>

namespace moeasr {

struct DeviceSpec {
  bool cuda = false;
  int index = 0;  // CUDA device index
};

// Throws Error(MOEASR_ERR_INVALID_ARGUMENT) for anything else ("cuda:abc",
// "cuda:-1", "cuda:", "CPU", ...). Whether the device exists is not checked here.
DeviceSpec parse_device(const std::string& device);

}  // namespace moeasr
