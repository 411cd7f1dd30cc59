// Helpers shared by the fuzz targets: a property check that crashes the
// fuzzer (so libFuzzer saves the input) and the model-directory container.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

// A violated property is a bug: print it and abort so libFuzzer keeps the input.
#define FUZZ_CHECK(cond, ...)                                                  \
  do {                                                                         \
    if (!(cond)) {                                                             \
      std::fprintf(stderr, "FUZZ_CHECK failed at %s:%d: %s: ", __FILE__, __LINE__, #cond); \
      std::fprintf(stderr, __VA_ARGS__);                                       \
      std::fprintf(stderr, "\n");                                              \
      std::abort();                                                            \
    }                                                                          \
  } while (0)

namespace moeasr::fuzz {

// A model directory packed into one input (fuzz/make_seeds.py writes them):
//   u32 LE yaml length | u32 LE units length | train.yaml | units.txt | model.safetensors
// Lengths past the end are clamped, so every input splits into three parts.
struct PackedModelDir {
  std::string yaml, units, weights;
};

inline PackedModelDir unpack_model_dir(const uint8_t* data, size_t size) {
  auto u32 = [&](size_t at) -> uint32_t {
    uint32_t v = 0;
    for (size_t i = 0; i < 4; ++i) v |= at + i < size ? uint32_t{data[at + i]} << (8 * i) : 0u;
    return v;
  };
  PackedModelDir out;
  const uint32_t yaml_len = u32(0), units_len = u32(4);
  size_t pos = size < 8 ? size : 8;
  const size_t y = std::min<size_t>(yaml_len, size - pos);
  out.yaml.assign(reinterpret_cast<const char*>(data + pos), y);
  pos += y;
  const size_t u = std::min<size_t>(units_len, size - pos);
  out.units.assign(reinterpret_cast<const char*>(data + pos), u);
  pos += u;
  out.weights.assign(reinterpret_cast<const char*>(data + pos), size - pos);
  return out;
}

}  // namespace moeasr::fuzz
