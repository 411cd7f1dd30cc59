// parse_ast_config (classifier.yaml) on arbitrary YAML, then the tensor list it
// implies: a moeasr::Error or a config whose invariants hold, never a crash, a
// hang or a huge allocation.
#include "core/error.h"
#include "fuzz_util.h"
#include "formats/classifier_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string yaml(reinterpret_cast<const char*>(data), size);
  moeasr::AstConfig c;
  try {
    c = moeasr::parse_ast_config(yaml, "fuzz_classifier.yaml");
  } catch (const moeasr::Error& e) {
    FUZZ_CHECK(e.status() == MOEASR_ERR_FORMAT || e.status() == MOEASR_ERR_UNSUPPORTED, "status %d: %s",
               e.status(), e.what());
    return 0;
  }
  FUZZ_CHECK(c.hidden > 0 && c.heads > 0 && c.hidden % c.heads == 0, "heads");
  FUZZ_CHECK(c.f_dim() >= 1 && c.t_dim() >= 1, "patch grid %d x %d", c.f_dim(), c.t_dim());
  FUZZ_CHECK(c.num_labels >= 1 && c.std > 0, "labels / std");
  FUZZ_CHECK(!c.adapter.feed_forward_macaron, "macaron adapter");
  const std::vector<moeasr::ExpectedTensor> expected = moeasr::expected_ast_tensors(c);
  FUZZ_CHECK(expected.size() <= moeasr::kMaxExpectedTensors, "%zu tensors", expected.size());
  return 0;
}
