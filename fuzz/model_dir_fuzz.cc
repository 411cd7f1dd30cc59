// A whole model directory packed into one input (see fuzz_util.h): units.txt,
// train.yaml and model.safetensors parsed as load_model_dir does, then
// validate_weights, then (when everything is valid) the model itself is built
// from the weights as AsrModel::load does. Only moeasr::Error may escape.
#include "core/error.h"
#include "fuzz_util.h"
#include "formats/model_config.h"
#include "asr/decoder.h"
#include "asr/encoder.h"
#include "formats/safetensors.h"
#include "formats/units.h"
#include "formats/weight_spec.h"
#include "nn/weight_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const moeasr::fuzz::PackedModelDir dir = moeasr::fuzz::unpack_model_dir(data, size);
  try {
    const moeasr::SymbolTable units = moeasr::SymbolTable::parse(dir.units, "units.txt");
    const moeasr::ModelConfig config = moeasr::parse_model_config(dir.yaml, "train.yaml", units.size());
    const auto weights = moeasr::SafeTensors::from_bytes(dir.weights, "model.safetensors");
    moeasr::validate_weights(*weights, config);
    // Valid: building the model must work (it reads every tensor).
    const auto be = moeasr::Backend::open(moeasr::Device::cpu());
    const moeasr::WeightReader r(*weights, moeasr::PrecisionPolicy{}, *be);
    moeasr::Encoder encoder(config, r, moeasr::MoeGemm::kGrouped);
    if (config.decoder.type != moeasr::DecoderType::kNone) {
      moeasr::AttentionDecoder decoder(config, r, moeasr::MoeGemm::kGrouped);
    }
  } catch (const moeasr::Error& e) {
    FUZZ_CHECK(e.status() == MOEASR_ERR_FORMAT || e.status() == MOEASR_ERR_UNSUPPORTED, "status %d: %s",
               e.status(), e.what());
  }
  return 0;
}
