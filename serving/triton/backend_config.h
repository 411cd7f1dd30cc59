// What a Triton model's config.pbtxt asks of moeasr: the model directory, the
// model and stream options, and whether requests are pieces of sequences
// (sequence batcher: streaming) or whole utterances (offline). Parsed from the
// JSON form of the config that Triton hands to backends, with no Triton
// headers, so it is unit-tested without a server.
#ifndef MOEASR_SERVING_TRITON_BACKEND_CONFIG_H_
#define MOEASR_SERVING_TRITON_BACKEND_CONFIG_H_

#include <cstdint>
#include <string>

#include "moeasr/moeasr.h"

namespace moeasr::triton {

struct BackendConfig {
  // Absolute path of the moeasr model directory (train.yaml, model.safetensors, units.txt).
  std::string model_dir;
  bool streaming = false;          // config has sequence_batching
  int64_t max_batch_size = 0;
  // Triton releases a sequence that sent nothing for this long; so does the backend.
  int64_t max_sequence_idle_us = 1000000;  // Triton's default
  int32_t default_sample_rate = 16000;     // when a request has no SAMPLE_RATE input
  std::string device = "cpu";
  std::string compute_type = "default";
  int32_t threads = 1;
  // Streaming: at an endpoint the backend ends the utterance itself (final
  // pass, rescoring), answers with that final result and goes on with a fresh
  // utterance on the same sequence, as moeasr-decode --continuous does; so a
  // sequence may stay open for hours in bounded memory.
  bool continuous = false;
  moeasr_stream_options stream{};  // streaming models
  moeasr_batch_options batch{};    // offline models (nbest, weights, rescoring)
};

// Parses `config_json` (TRITONBACKEND_ModelConfig serialized to JSON). A
// relative model_dir parameter is taken relative to `model_path` (the model's
// directory in the repository); without one, the model is `model_path`/`version` (its
// version directory, `version`), Triton's usual layout. On error returns false and sets
// *error to a message that names the parameter and what it accepts.
bool parse_backend_config(const std::string& config_json, const std::string& model_path, int64_t version, BackendConfig* out,
                          std::string* error);

}  // namespace moeasr::triton

#endif  // MOEASR_SERVING_TRITON_BACKEND_CONFIG_H_
