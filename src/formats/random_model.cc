#include "formats/random_model.h"

#include <sys/mman.h>

#include <cmath>
#include <cstring>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "formats/weight_spec.h"

namespace moeasr {

namespace {

// splitmix64: fast, seedable, good enough for weights.
struct Rng {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  float uniform() { return static_cast<float>(next() >> 40) * (1.f / 16777216.f) * 2.f - 1.f; }  // [-1, 1)
};

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

void fill(const ExpectedTensor& t, float* out, Rng& rng) {
  const int64_t n = shape_numel(t.shape);
  const std::string& name = t.name;
  auto constant = [&](float v) { std::fill(out, out + n, v); };
  if (name == "encoder.global_cmvn.mean") return constant(10.f);  // typical log-mel level
  if (name == "encoder.global_cmvn.istd") return constant(0.25f);
  if (ends_with(name, "running_mean")) return constant(0.f);
  if (ends_with(name, "running_var")) return constant(1.f);
  // Squeezeformer's adaptive scales start as WeNet initializes them; its preln is a LayerNorm.
  if (ends_with(name, ".ada_scale")) return constant(1.f);
  if (ends_with(name, ".ada_bias")) return constant(0.f);
  const bool norm = name.find("norm") != std::string::npos || name.rfind("encoder.preln.", 0) == 0;
  if (norm && ends_with(name, ".weight")) return constant(1.f);
  if (norm && ends_with(name, ".bias")) return constant(0.f);
  // fan_in: all dimensions but the first (Linear [out, in], Conv [out, in, k...]).
  int64_t fan_in = 1;
  for (size_t i = 1; i < t.shape.size(); ++i) fan_in *= t.shape[i];
  if (t.shape.size() == 1) fan_in = std::max<int64_t>(t.shape[0], 1);
  if (name.find("embed.0.weight") != std::string::npos && name.find("decoder") != std::string::npos) fan_in = 1;
  const float scale = 1.f / std::sqrt(static_cast<float>(fan_in));
  for (int64_t i = 0; i < n; ++i) out[i] = scale * rng.uniform();
}

std::string synthetic_units(int vocab) {
  std::string units = "<blank> 0\n<unk> 1\n";
  for (int i = 2; i < vocab - 1; ++i) units += "t" + std::to_string(i) + " " + std::to_string(i) + "\n";
  return units + "<sos/eos> " + std::to_string(vocab - 1) + "\n";
}

}  // namespace

std::shared_ptr<const SafeTensors> random_weights(const std::vector<ExpectedTensor>& tensors,
                                                  const std::string& source, uint64_t seed) {
  // One safetensors image: header, then every tensor back to back.
  nlohmann::json header = nlohmann::json::object();
  size_t data_bytes = 0;
  for (const ExpectedTensor& t : tensors) {
    const size_t bytes = static_cast<size_t>(shape_numel(t.shape)) * sizeof(float);
    header[t.name] = {{"dtype", "F32"}, {"shape", t.shape}, {"data_offsets", {data_bytes, data_bytes + bytes}}};
    data_bytes += bytes;
  }
  header["__metadata__"] = {{"format", "random"}, {"seed", std::to_string(seed)}};
  std::string h = header.dump();
  while ((8 + h.size()) % 64) h += ' ';  // tensors start 64-byte aligned
  const size_t total = 8 + h.size() + data_bytes;

  // An anonymous mapping: a 1B-parameter model is 4 GB, and pages are only
  // touched when filled.
  void* p = ::mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  MOEASR_CHECK(p != MAP_FAILED, MOEASR_ERR_OUT_OF_MEMORY, "cannot map ", total, " bytes for random weights");
  std::shared_ptr<void> owner(p, [total](void* q) { ::munmap(q, total); });
  auto* bytes = static_cast<unsigned char*>(p);
  const uint64_t len = h.size();
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<unsigned char>((len >> (8 * i)) & 0xFF);
  std::memcpy(bytes + 8, h.data(), h.size());
  float* data = reinterpret_cast<float*>(bytes + 8 + h.size());
  Rng rng{seed};
  for (const ExpectedTensor& t : tensors) {
    fill(t, data, rng);
    data += shape_numel(t.shape);
  }
  return SafeTensors::from_buffer(owner, bytes, total, source);
}

ModelDir random_model_dir(const std::string& yaml_text, const std::string& source, uint64_t seed) {
  ModelDir m;
  m.path = source;
  m.config = parse_model_config(yaml_text, source, -1);
  m.units = SymbolTable::parse(synthetic_units(m.config.vocab_size), source + " (synthetic units)");
  m.weights = random_weights(expected_tensors(m.config), source, seed);
  validate_weights(*m.weights, m.config);
  return m;
}

}  // namespace moeasr
