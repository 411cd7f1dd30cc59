// SafeTensors::from_bytes on arbitrary bytes: either a moeasr::Error, or every
// tensor it hands out lies inside the buffer with numel * dtype size bytes.
#include <cstring>

#include "core/error.h"
#include "fuzz_util.h"
#include "formats/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  std::shared_ptr<const moeasr::SafeTensors> st;
  try {
    st = moeasr::SafeTensors::from_bytes(bytes, "fuzz.safetensors");
  } catch (const moeasr::Error&) {
    return 0;
  }
  size_t total = 0;
  for (const moeasr::SafeTensorInfo& info : st->tensors()) {
    FUZZ_CHECK(info.begin <= info.end && info.end <= size, "tensor %s [%zu, %zu) outside %zu bytes",
               info.name.c_str(), info.begin, info.end, size);
    FUZZ_CHECK(st->find(info.name) == &info, "find(%s) does not return its entry", info.name.c_str());
    const moeasr::Tensor t = st->get(info.name);
    FUZZ_CHECK(t.nbytes() == info.end - info.begin, "tensor %s: %zu bytes, range holds %zu", info.name.c_str(),
               t.nbytes(), info.end - info.begin);
    // Touch every byte so ASan sees any view that points outside the copy.
    const auto* p = static_cast<const unsigned char*>(t.raw());
    unsigned sum = 0;
    for (size_t i = 0; i < t.nbytes(); ++i) sum += p[i];
    total += sum;
  }
  return total == 1 ? 1 : 0;  // keeps the loop from being optimized away; libFuzzer ignores the value
}
