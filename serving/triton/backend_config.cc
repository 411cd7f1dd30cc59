#include "serving/triton/backend_config.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <set>

#include <nlohmann/json.hpp>

namespace moeasr::triton {
namespace {

using nlohmann::json;

// config.pbtxt `parameters` this backend reads; any other key is refused, so a
// misspelled option is an error at load, not a silently ignored setting.
const char* const kParameters[] = {"model_dir",  "device",      "compute_type",   "threads",     "chunk_size",
                                   "left_chunks", "nbest",      "ctc_weight",     "reverse_weight",
                                   "rescoring",   "timestamps", "sample_rate",    "endpoint_silence_after_text_s",
                                   "endpoint_silence_without_text_s",            "endpoint_max_utterance_s", "continuous"};

std::string known_parameters() {
  std::string names;
  for (const char* name : kParameters) names += std::string(names.empty() ? "" : ", ") + name;
  return names;
}

bool parse_int(const std::string& key, const std::string& text, int64_t lo, int64_t hi, int64_t* out,
               std::string* error) {
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno != 0 || v < lo || v > hi) {
    *error = "parameter " + key + " = \"" + text + "\": expected an integer in [" + std::to_string(lo) + ", " +
             std::to_string(hi) + "]";
    return false;
  }
  *out = v;
  return true;
}

bool parse_float(const std::string& key, const std::string& text, double lo, double hi, float* out,
                 std::string* error) {
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || !std::isfinite(v) || v < lo || v > hi) {
    *error = "parameter " + key + " = \"" + text + "\": expected a number in [" + std::to_string(lo) + ", " +
             std::to_string(hi) + "]";
    return false;
  }
  *out = static_cast<float>(v);
  return true;
}

bool parse_bool(const std::string& key, const std::string& text, int32_t* out, std::string* error) {
  if (text == "1" || text == "true") {
    *out = 1;
  } else if (text == "0" || text == "false") {
    *out = 0;
  } else {
    *error = "parameter " + key + " = \"" + text + "\": expected true or false";
    return false;
  }
  return true;
}

bool apply_parameter(const std::string& key, const std::string& value, const std::string& model_path,
                     BackendConfig* c, std::string* error) {
  int64_t i = 0;
  if (key == "model_dir") {
    if (value.empty()) {
      *error = "parameter model_dir is empty";
      return false;
    }
    c->model_dir = value[0] == '/' ? value : model_path + "/" + value;
  } else if (key == "device") {
    c->device = value;
  } else if (key == "compute_type") {
    c->compute_type = value;  // moeasr_model_load checks it and names the choices
  } else if (key == "threads") {
    if (!parse_int(key, value, 1, 1024, &i, error)) return false;
    c->threads = static_cast<int32_t>(i);
  } else if (key == "chunk_size") {
    if (!parse_int(key, value, -1, 1 << 20, &i, error)) return false;
    c->stream.chunk_size = static_cast<int32_t>(i);
  } else if (key == "left_chunks") {
    if (!parse_int(key, value, -1, 1 << 20, &i, error)) return false;
    c->stream.num_left_chunks = static_cast<int32_t>(i);
  } else if (key == "nbest") {
    if (!parse_int(key, value, 1, 1000, &i, error)) return false;
    c->stream.nbest = c->batch.nbest = static_cast<int32_t>(i);
  } else if (key == "ctc_weight") {
    if (!parse_float(key, value, 0.0, 1e6, &c->stream.ctc_weight, error)) return false;
    c->batch.ctc_weight = c->stream.ctc_weight;
  } else if (key == "reverse_weight") {
    if (!parse_float(key, value, 0.0, 1.0, &c->stream.reverse_weight, error)) return false;
    c->batch.reverse_weight = c->stream.reverse_weight;
  } else if (key == "rescoring") {
    if (!parse_bool(key, value, &c->stream.rescoring, error)) return false;
    c->batch.rescoring = c->stream.rescoring;
  } else if (key == "timestamps") {
    if (!parse_bool(key, value, &c->stream.timestamps, error)) return false;
    c->batch.timestamps = c->stream.timestamps;
  } else if (key == "continuous") {
    int32_t on = 0;
    if (!parse_bool(key, value, &on, error)) return false;
    c->continuous = on != 0;
  } else if (key == "sample_rate") {
    if (!parse_int(key, value, 1, 1000000, &i, error)) return false;
    c->default_sample_rate = static_cast<int32_t>(i);
  } else if (key == "endpoint_silence_after_text_s") {
    return parse_float(key, value, 0.0, 1e6, &c->stream.endpoint_silence_after_text_s, error);
  } else if (key == "endpoint_silence_without_text_s") {
    return parse_float(key, value, 0.0, 1e6, &c->stream.endpoint_silence_without_text_s, error);
  } else if (key == "endpoint_max_utterance_s") {
    return parse_float(key, value, 0.0, 1e6, &c->stream.endpoint_max_utterance_s, error);
  } else {
    *error = "unknown parameter \"" + key + "\"; the moeasr backend reads: " + known_parameters();
    return false;
  }
  return true;
}

// Triton serializes int64 fields of the config as JSON strings or numbers
// depending on the field; accept both.
int64_t json_int(const json& v, int64_t fallback) {
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    char* end = nullptr;
    long long x = std::strtoll(s.c_str(), &end, 10);
    if (!s.empty() && *end == '\0') return x;
  }
  return fallback;
}

}  // namespace

bool parse_backend_config(const std::string& config_json, const std::string& model_path, int64_t version,
                          BackendConfig* out, std::string* error) {
  BackendConfig c;
  moeasr_stream_default_options(&c.stream);
  moeasr_batch_default_options(&c.batch);
  c.model_dir = model_path + "/" + std::to_string(version);
  json config = json::parse(config_json, nullptr, /*allow_exceptions=*/false);
  if (config.is_discarded() || !config.is_object()) {
    *error = "the model configuration is not a JSON object";
    return false;
  }
  c.max_batch_size = json_int(config.value("max_batch_size", json()), 0);
  if (config.contains("sequence_batching") && config["sequence_batching"].is_object()) {
    const json& seq = config["sequence_batching"];
    c.streaming = true;
    int64_t idle = json_int(seq.value("max_sequence_idle_microseconds", json()), 0);
    if (idle > 0) c.max_sequence_idle_us = idle;
    if (seq.contains("direct")) {
      *error = "sequence_batching: the moeasr backend takes the \"oldest\" strategy (it batches the requests "
               "of different sequences itself), not \"direct\"";
      return false;
    }
  }
  if (config.contains("parameters") && config["parameters"].is_object()) {
    for (const auto& [key, entry] : config["parameters"].items()) {
      std::string value = entry.is_object() ? entry.value("string_value", std::string()) : std::string();
      if (!apply_parameter(key, value, model_path, &c, error)) return false;
    }
  }
  *out = std::move(c);
  return true;
}

}  // namespace moeasr::triton
