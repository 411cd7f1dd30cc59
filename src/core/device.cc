#include "core/device.h"

#include "core/error.h"

namespace moeasr {

DeviceSpec parse_device(const std::string& device) {
  DeviceSpec spec;
  if (device == "cpu") return spec;
  spec.cuda = true;
  if (device == "cuda") return spec;
  const std::string prefix = "cuda:";
  bool ok = device.size() > prefix.size() && device.size() <= prefix.size() + 4 &&
            device.compare(0, prefix.size(), prefix) == 0;
  int index = 0;
  for (size_t i = prefix.size(); ok && i < device.size(); ++i) {
    const char ch = device[i];
    ok = ch >= '0' && ch <= '9';
    index = index * 10 + (ch - '0');
  }
  MOEASR_CHECK(ok, MOEASR_ERR_INVALID_ARGUMENT, "unknown device '", device,
               "' (expected \"cpu\", \"cuda\" or \"cuda:N\" with N a device index 0..9999)");
  spec.index = index;
  return spec;
}

}  // namespace moeasr
