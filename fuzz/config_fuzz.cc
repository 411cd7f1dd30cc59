// parse_model_config on arbitrary YAML (with a units-count hint taken from
// the first byte), then the tensor list it implies: a moeasr::Error or a
// config whose invariants hold, never a crash, a hang or a huge allocation.
#include "core/error.h"
#include "fuzz_util.h"
#include "formats/model_config.h"
#include "formats/weight_spec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const int hint = data[0] < 128 ? -1 : data[0] - 128;  // -1: no units.txt hint
  const std::string yaml(reinterpret_cast<const char*>(data + 1), size - 1);
  moeasr::ModelConfig c;
  try {
    c = moeasr::parse_model_config(yaml, "fuzz_train.yaml", hint);
  } catch (const moeasr::Error& e) {
    FUZZ_CHECK(e.status() == MOEASR_ERR_FORMAT || e.status() == MOEASR_ERR_UNSUPPORTED, "status %d: %s",
               e.status(), e.what());
    return 0;
  }
  FUZZ_CHECK(c.vocab_size >= 2, "vocab %d", c.vocab_size);
  FUZZ_CHECK(hint < 0 || c.vocab_size == hint, "vocab %d vs hint %d", c.vocab_size, hint);
  FUZZ_CHECK(c.blank_id >= 0 && c.blank_id < c.vocab_size, "blank %d", c.blank_id);
  FUZZ_CHECK(c.sos_id >= 0 && c.sos_id < c.vocab_size && c.eos_id >= 0 && c.eos_id < c.vocab_size, "sos/eos");
  FUZZ_CHECK(c.encoder.d_model > 0 && c.encoder.heads > 0 && c.encoder.d_model % c.encoder.heads == 0, "heads");
  FUZZ_CHECK(c.encoder.subsampled_features() >= 1, "input_dim %d", c.encoder.input_dim);
  FUZZ_CHECK(!c.encoder.ffn.moe() || (c.encoder.ffn.top_k >= 1 && c.encoder.ffn.top_k <= c.encoder.ffn.num_experts),
             "top-k");
  try {
    const std::vector<moeasr::ExpectedTensor> expected = moeasr::expected_tensors(c);
    FUZZ_CHECK(!expected.empty(), "no tensors");
  } catch (const moeasr::Error& e) {
    FUZZ_CHECK(e.status() == MOEASR_ERR_FORMAT || e.status() == MOEASR_ERR_UNSUPPORTED, "status %d: %s",
               e.status(), e.what());
  }
  return 0;
}
