// libtriton_moeasr.so: a Triton Inference Server backend that runs a moeasr
// model directory.
//
//  - Streaming model (config.pbtxt has sequence_batching, "oldest" strategy):
//    each request is one audio piece of one sequence. One execute call feeds
//    every request's piece to its sequence's stream and decodes all of them in
//    ONE moeasr_decode_streams step, so the MoE experts run one GEMM over the
//    tokens of every sequence in the batch. Responses carry the partial result
//    and the endpoint flag; the request with END gets the final (rescored) result.
//  - Offline model (no sequence_batching; dynamic batching): each request is a
//    whole utterance; one execute call decodes them with moeasr_decode_batch.
//
// The model (immutable) and the sequences' streams belong to the Triton model,
// shared by its instances; an instance holds nothing but a pointer to them.
// Inputs, outputs and parameters: serving/triton/README.md.
#include <chrono>
#include <cmath>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "moeasr/moeasr.h"
#include "serving/triton/backend_config.h"
#include "serving/triton/metrics.h"
#include "serving/triton/sequence_table.h"
#include "serving/triton/triton_io.h"
#include "triton/core/tritonbackend.h"

namespace moeasr::triton {
namespace {

#define MOEASR_TRITON_RETURN_IF_ERROR(expr)  \
  do {                                       \
    TRITONSERVER_Error* err_ = (expr);       \
    if (err_ != nullptr) return err_;        \
  } while (false)

void log(TRITONSERVER_LogLevel level, const std::string& message) {
  TRITONSERVER_Error* err = TRITONSERVER_LogMessage(level, __FILE__, __LINE__, message.c_str());
  if (err != nullptr) TRITONSERVER_ErrorDelete(err);
}

void log_library_message(moeasr_log_level level, const char* message, void* /*user_data*/) {
  TRITONSERVER_LogLevel triton_level = level >= MOEASR_LOG_ERROR     ? TRITONSERVER_LOG_ERROR
                                       : level >= MOEASR_LOG_WARNING ? TRITONSERVER_LOG_WARN
                                                                     : TRITONSERVER_LOG_INFO;
  log(triton_level, std::string("moeasr: ") + message);
}

// A moeasr status as a Triton error with moeasr's message.
TRITONSERVER_Error* moeasr_error(moeasr_status status, const std::string& context) {
  TRITONSERVER_Error_Code code = TRITONSERVER_ERROR_INTERNAL;
  switch (status) {
    case MOEASR_ERR_INVALID_ARGUMENT:
    case MOEASR_ERR_FORMAT: code = TRITONSERVER_ERROR_INVALID_ARG; break;
    case MOEASR_ERR_IO: code = TRITONSERVER_ERROR_NOT_FOUND; break;
    case MOEASR_ERR_UNSUPPORTED: code = TRITONSERVER_ERROR_UNSUPPORTED; break;
    case MOEASR_ERR_STATE: code = TRITONSERVER_ERROR_INVALID_ARG; break;
    case MOEASR_ERR_OUT_OF_MEMORY: code = TRITONSERVER_ERROR_UNAVAILABLE; break;
    default: break;
  }
  return make_error(code, context + ": " + moeasr_status_string(status) + ": " + moeasr_last_error());
}

uint64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

struct ModelState {
  std::string name;
  BackendConfig config;
  moeasr_model* model = nullptr;
  std::unique_ptr<SequenceTable> sequences;  // streaming models
  std::unique_ptr<ModelMetrics> metrics;

  ~ModelState() {
    sequences.reset();  // streams before the model
    moeasr_model_free(model);
  }
};

struct InstanceState {
  ModelState* model = nullptr;
};

TRITONSERVER_Error* load_model(TRITONBACKEND_Model* triton_model, std::unique_ptr<ModelState>* out) {
  auto state = std::make_unique<ModelState>();
  const char* name = nullptr;
  uint64_t version = 0;
  MOEASR_TRITON_RETURN_IF_ERROR(TRITONBACKEND_ModelName(triton_model, &name));
  MOEASR_TRITON_RETURN_IF_ERROR(TRITONBACKEND_ModelVersion(triton_model, &version));
  state->name = name;
  TRITONBACKEND_ArtifactType artifact = TRITONBACKEND_ARTIFACT_FILESYSTEM;
  const char* location = nullptr;
  MOEASR_TRITON_RETURN_IF_ERROR(TRITONBACKEND_ModelRepository(triton_model, &artifact, &location));
  TRITONSERVER_Message* message = nullptr;
  MOEASR_TRITON_RETURN_IF_ERROR(TRITONBACKEND_ModelConfig(triton_model, 1, &message));
  const char* json = nullptr;
  size_t json_size = 0;
  TRITONSERVER_Error* err = TRITONSERVER_MessageSerializeToJson(message, &json, &json_size);
  std::string config_json = err == nullptr ? std::string(json, json_size) : std::string();
  TRITONSERVER_MessageDelete(message);
  if (err != nullptr) return err;

  std::string error;
  if (!parse_backend_config(config_json, location, static_cast<int64_t>(version), &state->config, &error)) {
    return make_error(TRITONSERVER_ERROR_INVALID_ARG, "model " + state->name + ": " + error);
  }
  const BackendConfig& c = state->config;
  TRITONBACKEND_Backend* backend = nullptr;
  void* families = nullptr;
  MOEASR_TRITON_RETURN_IF_ERROR(TRITONBACKEND_ModelBackend(triton_model, &backend));
  MOEASR_TRITON_RETURN_IF_ERROR(TRITONBACKEND_BackendState(backend, &families));
  // The metrics are about sequences: an offline model has none.
  state->metrics =
      std::make_unique<ModelMetrics>(c.streaming ? static_cast<MetricFamilies*>(families) : nullptr, state->name);
  if (c.streaming && c.max_batch_size < 1) {
    return make_error(TRITONSERVER_ERROR_INVALID_ARG,
                      "model " + state->name + ": a streaming model needs max_batch_size >= 1 (the most sequences "
                      "decoded in one step)");
  }
  moeasr_model_options options;
  moeasr_model_default_options(&options);
  options.threads = c.threads;
  options.device = c.device.c_str();
  options.compute_type = c.compute_type.c_str();
  moeasr_status status = moeasr_model_load(c.model_dir.c_str(), &options, &state->model);
  if (status != MOEASR_OK) return moeasr_error(status, "model " + state->name + ": loading " + c.model_dir);
  if (c.streaming) {
    // One grace period past Triton's own idle limit (sequence_table.h says why).
    auto idle = std::chrono::microseconds(c.max_sequence_idle_us) + std::chrono::seconds(1);
    state->sequences = std::make_unique<SequenceTable>(state->model, c.stream, idle);
    moeasr_stream* probe = nullptr;  // the stream options are checked now, not at the first request
    status = moeasr_stream_create(state->model, &c.stream, &probe);
    moeasr_stream_free(probe);
    if (status != MOEASR_OK) return moeasr_error(status, "model " + state->name + ": stream options");
  }
  log(TRITONSERVER_LOG_INFO, "moeasr " + std::string(moeasr_version()) + ": model " + state->name + " loaded from " +
                                 c.model_dir + (c.streaming ? " (streaming, chunk_size " +
                                                                  std::to_string(c.stream.chunk_size) + ")"
                                                            : " (offline)"));
  *out = std::move(state);
  return nullptr;
}

// One request of an execute call and what became of it.
struct Item {
  TRITONBACKEND_Request* request = nullptr;
  SequenceControl control;
  moeasr_stream* stream = nullptr;  // streaming: in use until the response is sent
  AudioPiece audio;
  TRITONSERVER_Error* error = nullptr;
  // Continuous mode: the final result of the utterance that ended at an endpoint in this piece.
  moeasr_result* segment = nullptr;
};

TRITONSERVER_Error* check_finite(const AudioPiece& audio) {
  if (audio.is_int16) return nullptr;
  for (size_t i = 0; i < audio.samples.size(); ++i) {
    if (!std::isfinite(audio.samples[i])) {
      return make_error(TRITONSERVER_ERROR_INVALID_ARG,
                        "audio sample " + std::to_string(i) + " is " + (std::isnan(audio.samples[i]) ? "NaN" : "infinite"));
    }
  }
  return nullptr;
}

// Streaming: finds (or starts) the request's stream and gives it the audio.
TRITONSERVER_Error* prepare_piece(ModelState& m, Item* item) {
  MOEASR_TRITON_RETURN_IF_ERROR(read_control(item->request, &item->control));
  const SequenceControl& control = item->control;
  if (control.start) {
    moeasr_status status = m.sequences->start(control.id, &item->stream);
    if (status != MOEASR_OK) return moeasr_error(status, "starting a stream");
  } else {
    item->stream = m.sequences->acquire(control.id);
    if (item->stream == nullptr) {
      return make_error(TRITONSERVER_ERROR_INVALID_ARG,
                        "sequence " + control.id.substr(2) +
                            " has no stream: its first request must have START, and it ends at END or after " +
                            std::to_string(m.config.max_sequence_idle_us / 1000) + " ms without a request");
    }
  }
  MOEASR_TRITON_RETURN_IF_ERROR(read_audio(item->request, m.config.default_sample_rate, &item->audio));
  if (item->audio.size() == 0 && !control.end) {
    return make_error(TRITONSERVER_ERROR_INVALID_ARG,
                      "empty audio piece: send at least one sample, or an empty piece only with END");
  }
  moeasr_status status =
      item->audio.is_int16
          ? moeasr_stream_accept_waveform_int16(item->stream, item->audio.pcm16.data(), item->audio.pcm16.size(),
                                                item->audio.sample_rate)
          : moeasr_stream_accept_waveform(item->stream, item->audio.samples.data(), item->audio.samples.size(),
                                          item->audio.sample_rate);
  if (status != MOEASR_OK) return moeasr_error(status, "audio");
  if (control.end && (status = moeasr_stream_input_finished(item->stream)) != MOEASR_OK) {
    return moeasr_error(status, "END");
  }
  return nullptr;
}

// The outputs the request asked for; the result's JSON is made only for RESULT_JSON.
TRITONSERVER_Error* write_result(TRITONBACKEND_Request* request, TRITONBACKEND_Response* response, bool batch_dim,
                                 const moeasr_result* result, bool endpoint) {
  std::set<std::string> wanted;
  MOEASR_TRITON_RETURN_IF_ERROR(requested_outputs(request, &wanted));
  ResponseWriter out(response, batch_dim);
  if (wanted.count("TEXT")) MOEASR_TRITON_RETURN_IF_ERROR(out.bytes("TEXT", result->text));
  if (wanted.count("TOKENS")) MOEASR_TRITON_RETURN_IF_ERROR(out.int32s("TOKENS", result->tokens, result->num_tokens));
  if (wanted.count("TIMESTAMPS_MS")) {
    size_t n = result->timestamps_ms != nullptr ? result->num_tokens : 0;
    MOEASR_TRITON_RETURN_IF_ERROR(out.int32s("TIMESTAMPS_MS", result->timestamps_ms, n));
  }
  if (wanted.count("IS_FINAL")) MOEASR_TRITON_RETURN_IF_ERROR(out.boolean("IS_FINAL", result->is_final != 0));
  if (wanted.count("ENDPOINT")) MOEASR_TRITON_RETURN_IF_ERROR(out.boolean("ENDPOINT", endpoint));
  if (wanted.count("RESULT_JSON")) {
    char* json = nullptr;
    moeasr_status status = moeasr_result_to_json(result, &json);
    TRITONSERVER_Error* err = status != MOEASR_OK ? moeasr_error(status, "result JSON") : out.bytes("RESULT_JSON", json);
    moeasr_string_free(json);
    return err;
  }
  return nullptr;
}

TRITONSERVER_Error* respond_streaming(ModelState& m, const Item& item, TRITONBACKEND_Response* response) {
  const bool batch_dim = m.config.max_batch_size > 0;
  if (item.segment != nullptr) {  // an utterance ended at an endpoint (continuous mode)
    return write_result(item.request, response, batch_dim, item.segment, true);
  }
  moeasr_result* result = nullptr;
  int32_t endpoint = 0;
  const bool final = item.control.end;
  moeasr_status status = final ? moeasr_stream_get_final_result(item.stream, &result)
                               : moeasr_stream_get_partial_result(item.stream, &result);
  if (status == MOEASR_OK && !final) status = moeasr_stream_is_endpoint(item.stream, &endpoint);
  TRITONSERVER_Error* err = status != MOEASR_OK ? moeasr_error(status, "result")
                                                : write_result(item.request, response, batch_dim, result, endpoint != 0);
  moeasr_result_free(result);
  return err;
}

// Continuous mode: the streams (not ending) whose utterance reached an
// endpoint get their final pass together, keep the final result for the
// response, and start a new utterance (times go on: moeasr_stream_reset).
void finish_endpointed_utterances(ModelState& m, std::vector<Item>& items) {
  std::vector<Item*> ended;
  for (Item& item : items) {
    int32_t endpoint = 0;
    if (item.error != nullptr || item.control.end) continue;
    moeasr_status status = moeasr_stream_is_endpoint(item.stream, &endpoint);
    if (status == MOEASR_OK && endpoint) status = moeasr_stream_input_finished(item.stream);
    if (status != MOEASR_OK) {
      item.error = moeasr_error(status, "endpoint");
    } else if (endpoint) {
      ended.push_back(&item);
    }
  }
  if (ended.empty()) return;
  std::vector<moeasr_stream*> batch;
  for (Item* item : ended) batch.push_back(item->stream);
  moeasr_status status = moeasr_decode_streams(m.model, batch.data(), batch.size());
  for (Item* item : ended) {
    if (status == MOEASR_OK) status = moeasr_stream_get_final_result(item->stream, &item->segment);
    if (status == MOEASR_OK) status = moeasr_stream_reset(item->stream);
    if (status != MOEASR_OK) item->error = moeasr_error(status, "final pass at an endpoint");
    status = MOEASR_OK;  // one stream's failure is its own
  }
}

// Sends the response of `item` (its error, or `respond`'s outputs) and releases the request.
template <typename Respond>
void finish(Item& item, Respond respond) {
  TRITONBACKEND_Response* response = nullptr;
  TRITONSERVER_Error* err = TRITONBACKEND_ResponseNew(&response, item.request);
  if (err == nullptr) {
    if (item.error == nullptr) item.error = respond(response);
    err = TRITONBACKEND_ResponseSend(response, TRITONSERVER_RESPONSE_COMPLETE_FINAL, item.error);
  }
  if (err != nullptr) {
    log(TRITONSERVER_LOG_ERROR, std::string("moeasr: sending a response failed: ") + TRITONSERVER_ErrorMessage(err));
    TRITONSERVER_ErrorDelete(err);
  }
}

void execute_streaming(ModelState& m, std::vector<Item>& items) {
  size_t released = m.sequences->release_idle(SequenceTable::Clock::now());
  m.metrics->add_idle_released(released);
  if (released > 0) {
    log(TRITONSERVER_LOG_INFO, "moeasr: model " + m.name + ": released " + std::to_string(released) +
                                   " stream(s) of sequences idle past max_sequence_idle_microseconds");
  }
  for (Item& item : items) item.error = prepare_piece(m, &item);
  std::vector<moeasr_stream*> batch;
  for (Item& item : items) {
    if (item.error == nullptr) batch.push_back(item.stream);
  }
  if (!batch.empty()) {
    moeasr_status status = moeasr_decode_streams(m.model, batch.data(), batch.size());
    if (status != MOEASR_OK) {
      for (Item& item : items) {
        if (item.error == nullptr) item.error = moeasr_error(status, "decoding");
      }
    }
  }
  if (m.config.continuous) finish_endpointed_utterances(m, items);
  for (Item& item : items) {
    finish(item, [&](TRITONBACKEND_Response* response) { return respond_streaming(m, item, response); });
    moeasr_result_free(item.segment);
    // A sequence ends at END whatever happened to its last piece: Triton sends it nothing more.
    if (item.control.end) {
      m.sequences->end(item.control.id);
    } else if (item.stream != nullptr) {
      m.sequences->give_back(item.control.id);
    }
  }
  m.metrics->set_live_sequences(m.sequences->size());
}

void execute_offline(ModelState& m, std::vector<Item>& items) {
  std::vector<moeasr_audio> utterances;
  std::vector<size_t> owner;
  for (size_t i = 0; i < items.size(); ++i) {
    Item& item = items[i];
    item.error = read_audio(item.request, m.config.default_sample_rate, &item.audio);
    if (item.error == nullptr && item.audio.size() == 0) {
      item.error = make_error(TRITONSERVER_ERROR_INVALID_ARG, "empty audio: an utterance needs at least one sample");
    }
    if (item.error == nullptr) item.error = check_finite(item.audio);
    if (item.error != nullptr) continue;
    if (item.audio.is_int16) {  // decode_batch takes float samples
      item.audio.samples.resize(item.audio.pcm16.size());
      for (size_t k = 0; k < item.audio.pcm16.size(); ++k) item.audio.samples[k] = item.audio.pcm16[k] / 32768.0f;
    }
    utterances.push_back({item.audio.samples.data(), item.audio.samples.size(), item.audio.sample_rate});
    owner.push_back(i);
  }
  std::vector<moeasr_result*> results(utterances.size(), nullptr);
  if (!utterances.empty()) {
    moeasr_status status =
        moeasr_decode_batch(m.model, utterances.data(), utterances.size(), &m.config.batch, results.data());
    if (status != MOEASR_OK) {
      for (size_t k : owner) items[k].error = moeasr_error(status, "decoding");
    }
  }
  for (size_t r = 0; r < owner.size(); ++r) {
    Item& item = items[owner[r]];
    if (item.error != nullptr || results[r] == nullptr) continue;
    finish(item, [&](TRITONBACKEND_Response* response) {
      return write_result(item.request, response, m.config.max_batch_size > 0, results[r], false);
    });
    item.request = nullptr;  // responded
  }
  for (Item& item : items) {
    if (item.request != nullptr) finish(item, [](TRITONBACKEND_Response*) { return nullptr; });
  }
  for (moeasr_result* result : results) moeasr_result_free(result);
}

}  // namespace
}  // namespace moeasr::triton

using moeasr::triton::InstanceState;
using moeasr::triton::ModelState;

extern "C" {

TRITONSERVER_Error* TRITONBACKEND_Initialize(TRITONBACKEND_Backend* backend) {
  uint32_t major = 0, minor = 0;
  MOEASR_TRITON_RETURN_IF_ERROR(TRITONBACKEND_ApiVersion(&major, &minor));
  if (major != TRITONBACKEND_API_VERSION_MAJOR || minor < TRITONBACKEND_API_VERSION_MINOR) {
    return moeasr::triton::make_error(
        TRITONSERVER_ERROR_UNSUPPORTED,
        "the moeasr backend was built for Triton backend API " + std::to_string(TRITONBACKEND_API_VERSION_MAJOR) +
            "." + std::to_string(TRITONBACKEND_API_VERSION_MINOR) + " or newer; this server has " +
            std::to_string(major) + "." + std::to_string(minor));
  }
  moeasr_set_log_callback(moeasr::triton::log_library_message, nullptr, MOEASR_LOG_WARNING);
  auto families = std::make_unique<moeasr::triton::MetricFamilies>();
  MOEASR_TRITON_RETURN_IF_ERROR(TRITONBACKEND_BackendSetState(backend, families.get()));
  families.release();
  return nullptr;
}

TRITONSERVER_Error* TRITONBACKEND_Finalize(TRITONBACKEND_Backend* backend) {
  void* families = nullptr;
  MOEASR_TRITON_RETURN_IF_ERROR(TRITONBACKEND_BackendState(backend, &families));
  delete static_cast<moeasr::triton::MetricFamilies*>(families);
  return nullptr;
}

TRITONSERVER_Error* TRITONBACKEND_ModelInitialize(TRITONBACKEND_Model* model) {
  std::unique_ptr<ModelState> state;
  MOEASR_TRITON_RETURN_IF_ERROR(moeasr::triton::load_model(model, &state));
  MOEASR_TRITON_RETURN_IF_ERROR(TRITONBACKEND_ModelSetState(model, state.get()));
  state.release();
  return nullptr;
}

TRITONSERVER_Error* TRITONBACKEND_ModelFinalize(TRITONBACKEND_Model* model) {
  void* state = nullptr;
  MOEASR_TRITON_RETURN_IF_ERROR(TRITONBACKEND_ModelState(model, &state));
  delete static_cast<ModelState*>(state);
  return nullptr;
}

TRITONSERVER_Error* TRITONBACKEND_ModelInstanceInitialize(TRITONBACKEND_ModelInstance* instance) {
  TRITONBACKEND_Model* model = nullptr;
  void* model_state = nullptr;
  MOEASR_TRITON_RETURN_IF_ERROR(TRITONBACKEND_ModelInstanceModel(instance, &model));
  MOEASR_TRITON_RETURN_IF_ERROR(TRITONBACKEND_ModelState(model, &model_state));
  // The model runs where its `device` parameter says, shared by all instances;
  // a GPU instance kind would suggest otherwise, so it is refused, not ignored.
  TRITONSERVER_InstanceGroupKind kind = TRITONSERVER_INSTANCEGROUPKIND_CPU;
  MOEASR_TRITON_RETURN_IF_ERROR(TRITONBACKEND_ModelInstanceKind(instance, &kind));
  if (kind != TRITONSERVER_INSTANCEGROUPKIND_CPU) {
    return moeasr::triton::make_error(
        TRITONSERVER_ERROR_INVALID_ARG,
        std::string("instance_group kind ") + TRITONSERVER_InstanceGroupKindString(kind) +
            ": the moeasr backend takes KIND_CPU instances; a GPU is chosen with the parameter device "
            "(\"cuda\" or \"cuda:N\"), and the instances share the model there");
  }
  auto state = std::make_unique<InstanceState>();
  state->model = static_cast<ModelState*>(model_state);
  MOEASR_TRITON_RETURN_IF_ERROR(TRITONBACKEND_ModelInstanceSetState(instance, state.get()));
  state.release();
  return nullptr;
}

TRITONSERVER_Error* TRITONBACKEND_ModelInstanceFinalize(TRITONBACKEND_ModelInstance* instance) {
  void* state = nullptr;
  MOEASR_TRITON_RETURN_IF_ERROR(TRITONBACKEND_ModelInstanceState(instance, &state));
  delete static_cast<InstanceState*>(state);
  return nullptr;
}

TRITONSERVER_Error* TRITONBACKEND_ModelInstanceExecute(TRITONBACKEND_ModelInstance* instance,
                                                       TRITONBACKEND_Request** requests, const uint32_t count) {
  void* raw_state = nullptr;
  MOEASR_TRITON_RETURN_IF_ERROR(TRITONBACKEND_ModelInstanceState(instance, &raw_state));
  ModelState& m = *static_cast<InstanceState*>(raw_state)->model;
  const uint64_t exec_start = moeasr::triton::now_ns();
  std::vector<moeasr::triton::Item> items(count);
  for (uint32_t i = 0; i < count; ++i) items[i].request = requests[i];
  // From here every request gets a response: ownership is ours once we return success.
  std::vector<TRITONBACKEND_Request*> all(requests, requests + count);
  if (m.config.streaming) {
    moeasr::triton::execute_streaming(m, items);
  } else {
    moeasr::triton::execute_offline(m, items);
  }
  const uint64_t exec_end = moeasr::triton::now_ns();
  size_t succeeded = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    const bool ok = items[i].error == nullptr;
    succeeded += ok ? 1 : 0;
    TRITONSERVER_Error* err =
        TRITONBACKEND_ModelInstanceReportStatistics(instance, all[i], ok, exec_start, exec_start, exec_end, exec_end);
    if (err != nullptr) TRITONSERVER_ErrorDelete(err);
    if (items[i].error != nullptr) TRITONSERVER_ErrorDelete(items[i].error);
    err = TRITONBACKEND_RequestRelease(all[i], TRITONSERVER_REQUEST_RELEASE_ALL);
    if (err != nullptr) TRITONSERVER_ErrorDelete(err);
  }
  if (succeeded > 0) {
    TRITONSERVER_Error* err =
        TRITONBACKEND_ModelInstanceReportBatchStatistics(instance, succeeded, exec_start, exec_start, exec_end, exec_end);
    if (err != nullptr) TRITONSERVER_ErrorDelete(err);
  }
  return nullptr;
}

}  // extern "C"
