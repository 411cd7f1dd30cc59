// C API: streams, decoding and results.
#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <set>

#include "api/handles.h"
#include "runtime/result_json.h"

using moeasr::api::checked;
using moeasr::api::guarded;
using moeasr::api::StreamUse;

namespace {

// A moeasr_result and the storage its pointers point into; freed as one.
constexpr uint32_t kResultMagic = 0x4D4F4552;  // "MOER"

struct ResultHolder : moeasr_result {
  uint32_t magic = kResultMagic;
  // Entry i < n backs nbest[i]; entry n backs the best result's own fields.
  std::vector<std::string> texts;
  std::vector<std::vector<int32_t>> token_lists, time_lists;
  std::vector<moeasr_hypothesis> hypotheses;
  std::vector<std::string> word_texts;
  std::vector<moeasr_word> word_list;
  moeasr::RecognitionResult source;  // for moeasr_result_to_json
};

moeasr_result* to_c(const moeasr::RecognitionResult& r) {
  auto h = std::make_unique<ResultHolder>();
  h->source = r;
  const size_t n = r.nbest.size();
  h->texts.resize(n + 1);
  h->token_lists.resize(n + 1);
  h->time_lists.resize(n + 1);
  auto fill = [&](size_t i, const std::string& text, const std::vector<int>& tokens, const std::vector<int>& times) {
    h->texts[i] = text;
    h->token_lists[i].assign(tokens.begin(), tokens.end());
    h->time_lists[i].assign(times.begin(), times.end());
  };
  for (size_t i = 0; i < n; ++i) fill(i, r.nbest[i].text, r.nbest[i].tokens, r.nbest[i].timestamps_ms);
  fill(n, r.text, r.tokens, r.timestamps_ms);
  // Without timestamps the times pointer is NULL (for a non-empty hypothesis).
  auto times_of = [&](size_t i) -> const int32_t* {
    return h->time_lists[i].empty() && !h->token_lists[i].empty() ? nullptr : h->time_lists[i].data();
  };
  h->hypotheses.resize(n);
  for (size_t i = 0; i < n; ++i) {
    moeasr_hypothesis& c = h->hypotheses[i];
    c.text = h->texts[i].c_str();
    c.tokens = h->token_lists[i].data();
    c.num_tokens = h->token_lists[i].size();
    c.timestamps_ms = times_of(i);
    c.ctc_score = r.nbest[i].ctc_score;
    c.attention_score = r.nbest[i].attention_score;
    c.score = r.nbest[i].score;
    c.rescored = r.nbest[i].rescored ? 1 : 0;
  }
  h->text = h->texts[n].c_str();
  h->tokens = h->token_lists[n].data();
  h->num_tokens = h->token_lists[n].size();
  h->timestamps_ms = times_of(n);
  h->nbest = h->hypotheses.data();
  h->num_nbest = n;
  h->is_final = r.is_final ? 1 : 0;
  h->word_texts.reserve(r.words.size());
  for (const moeasr::WordTiming& w : r.words) {
    h->word_texts.push_back(w.text);
    h->word_list.push_back({h->word_texts.back().c_str(), w.start_ms, w.end_ms});
  }
  h->words = h->word_list.data();
  h->num_words = h->word_list.size();
  return h.release();
}

char* to_c_string(const std::string& s) {
  char* out = static_cast<char*>(std::malloc(s.size() + 1));
  if (!out) throw std::bad_alloc();
  std::memcpy(out, s.c_str(), s.size() + 1);
  return out;
}

}  // namespace

namespace moeasr::api {
moeasr_result* result_to_c(const RecognitionResult& r) { return to_c(r); }
}  // namespace moeasr::api

extern "C" {

moeasr_status moeasr_stream_default_options(moeasr_stream_options* options) {
  return guarded("moeasr_stream_default_options", [&] {
    MOEASR_CHECK(options, MOEASR_ERR_INVALID_ARGUMENT, "options is NULL");
    const moeasr::DecodeOptions d;
    options->struct_size = sizeof(moeasr_stream_options);
    options->chunk_size = d.chunk_size;
    options->num_left_chunks = d.num_left_chunks;
    options->nbest = d.nbest;
    options->ctc_weight = d.ctc_weight;
    options->reverse_weight = d.reverse_weight;
    options->rescoring = d.rescoring ? 1 : 0;
    options->timestamps = d.timestamps ? 1 : 0;
    options->endpoint_silence_after_text_s = d.endpoint.silence_after_text_s;
    options->endpoint_silence_without_text_s = d.endpoint.silence_without_text_s;
    options->endpoint_max_utterance_s = d.endpoint.max_utterance_s;
    options->search = MOEASR_SEARCH_CTC;
    options->transducer_ctc_weight = d.transducer_ctc_weight;
    options->transducer_weight = d.transducer_weight;
  });
}

moeasr_status moeasr_stream_create(const moeasr_model* model, const moeasr_stream_options* options,
                                   moeasr_stream** out_stream) {
  if (out_stream) *out_stream = nullptr;
  return guarded("moeasr_stream_create", [&] {
    MOEASR_CHECK(out_stream, MOEASR_ERR_INVALID_ARGUMENT, "out_stream is NULL");
    const moeasr_model& m = checked(model);
    moeasr_stream_options defaults;
    moeasr_stream_default_options(&defaults);
    if (!options) defaults.chunk_size = m.model->config().encoder.default_chunk_size();
    // 0.1's struct ended after `timestamps`.
    const size_t v1_size = offsetof(moeasr_stream_options, timestamps) + sizeof(int32_t);
    const moeasr_stream_options o = moeasr::api::read_options(options, defaults, v1_size, "moeasr_stream_options");
    moeasr::DecodeOptions d;
    d.chunk_size = o.chunk_size;
    d.num_left_chunks = o.num_left_chunks;
    d.nbest = o.nbest;
    d.ctc_weight = o.ctc_weight;
    d.reverse_weight = o.reverse_weight;
    d.rescoring = o.rescoring != 0;
    d.timestamps = o.timestamps != 0;
    d.endpoint.silence_after_text_s = o.endpoint_silence_after_text_s;
    d.endpoint.silence_without_text_s = o.endpoint_silence_without_text_s;
    d.endpoint.max_utterance_s = o.endpoint_max_utterance_s;
    MOEASR_CHECK(o.search >= MOEASR_SEARCH_CTC && o.search <= MOEASR_SEARCH_TRANSDUCER_BEAM,
                 MOEASR_ERR_INVALID_ARGUMENT, "moeasr_stream_options.search must be MOEASR_SEARCH_CTC (0), ",
                 "MOEASR_SEARCH_TRANSDUCER_GREEDY (1) or MOEASR_SEARCH_TRANSDUCER_BEAM (2), got ", o.search);
    d.search = o.search == MOEASR_SEARCH_TRANSDUCER_GREEDY ? moeasr::SearchMethod::kTransducerGreedy
               : o.search == MOEASR_SEARCH_TRANSDUCER_BEAM ? moeasr::SearchMethod::kTransducerBeam
                                                           : moeasr::SearchMethod::kCtc;
    d.transducer_ctc_weight = o.transducer_ctc_weight;
    d.transducer_weight = o.transducer_weight;
    auto handle = std::make_unique<moeasr_stream>();
    handle->model = m.model;
    handle->stream = std::make_unique<moeasr::Stream>(m.model, d);
    *out_stream = handle.release();
  });
}

moeasr_status moeasr_stream_free(moeasr_stream* stream) {
  if (!stream) return MOEASR_OK;
  return guarded("moeasr_stream_free", [&] {
    { StreamUse use(stream); }  // not while another thread is inside
    stream->magic = kDeadMagic;
    delete stream;
  });
}

moeasr_status moeasr_stream_accept_waveform(moeasr_stream* stream, const float* samples, size_t n,
                                            int32_t sample_rate) {
  return guarded("moeasr_stream_accept_waveform", [&] {
    StreamUse use(stream);
    use.stream().accept_waveform(samples, n, sample_rate);
  });
}

moeasr_status moeasr_stream_accept_waveform_int16(moeasr_stream* stream, const int16_t* samples, size_t n,
                                                  int32_t sample_rate) {
  return guarded("moeasr_stream_accept_waveform_int16", [&] {
    StreamUse use(stream);
    use.stream().accept_waveform_int16(samples, n, sample_rate);
  });
}

moeasr_status moeasr_stream_input_finished(moeasr_stream* stream) {
  return guarded("moeasr_stream_input_finished", [&] {
    StreamUse use(stream);
    use.stream().input_finished();
  });
}

moeasr_status moeasr_stream_is_ready(const moeasr_stream* stream, int32_t* out_ready) {
  return guarded("moeasr_stream_is_ready", [&] {
    MOEASR_CHECK(out_ready, MOEASR_ERR_INVALID_ARGUMENT, "out_ready is NULL");
    StreamUse use(stream);
    *out_ready = use.stream().is_ready() ? 1 : 0;
  });
}

moeasr_status moeasr_stream_is_done(const moeasr_stream* stream, int32_t* out_done) {
  return guarded("moeasr_stream_is_done", [&] {
    MOEASR_CHECK(out_done, MOEASR_ERR_INVALID_ARGUMENT, "out_done is NULL");
    StreamUse use(stream);
    *out_done = use.stream().state() == moeasr::Stream::State::kDone ? 1 : 0;
  });
}

moeasr_status moeasr_stream_is_endpoint(const moeasr_stream* stream, int32_t* out_endpoint) {
  return guarded("moeasr_stream_is_endpoint", [&] {
    MOEASR_CHECK(out_endpoint, MOEASR_ERR_INVALID_ARGUMENT, "out_endpoint is NULL");
    StreamUse use(stream);
    *out_endpoint = use.stream().is_endpoint() ? 1 : 0;
  });
}

moeasr_status moeasr_stream_decode(moeasr_stream* stream) {
  return guarded("moeasr_stream_decode", [&] {
    StreamUse use(stream);
    use.stream().decode();
  });
}

moeasr_status moeasr_decode_streams(const moeasr_model* model, moeasr_stream* const* streams, size_t n) {
  return guarded("moeasr_decode_streams", [&] {
    const moeasr_model& m = checked(model);
    MOEASR_CHECK(streams || n == 0, MOEASR_ERR_INVALID_ARGUMENT, "streams is NULL");
    std::set<const moeasr_stream*> seen;
    for (size_t i = 0; i < n; ++i) {
      const moeasr_stream& s = checked(streams[i]);
      MOEASR_CHECK(seen.insert(&s).second, MOEASR_ERR_INVALID_ARGUMENT, "stream ", i, " appears twice");
      MOEASR_CHECK(s.model == m.model, MOEASR_ERR_INVALID_ARGUMENT, "stream ", i, " belongs to another model");
    }
    std::vector<std::unique_ptr<StreamUse>> uses;
    std::vector<moeasr::Stream*> batch;
    for (size_t i = 0; i < n; ++i) {
      uses.push_back(std::make_unique<StreamUse>(streams[i]));
      batch.push_back(&uses.back()->stream());
    }
    moeasr::decode_streams(batch);
  });
}

moeasr_status moeasr_stream_reset(moeasr_stream* stream) {
  return guarded("moeasr_stream_reset", [&] {
    StreamUse use(stream);
    use.stream().reset();
  });
}

moeasr_status moeasr_stream_set_time_offset(moeasr_stream* stream, int64_t offset_ms) {
  return guarded("moeasr_stream_set_time_offset", [&] {
    StreamUse use(stream);
    MOEASR_CHECK(offset_ms >= 0 && offset_ms <= (int64_t{1} << 31) - 1, MOEASR_ERR_INVALID_ARGUMENT,
                 "offset_ms ", offset_ms, " is outside [0, 2^31)");
    use.stream().set_time_offset_ms(offset_ms);
  });
}

moeasr_status moeasr_stream_get_partial_result(const moeasr_stream* stream, moeasr_result** out_result) {
  if (out_result) *out_result = nullptr;
  return guarded("moeasr_stream_get_partial_result", [&] {
    MOEASR_CHECK(out_result, MOEASR_ERR_INVALID_ARGUMENT, "out_result is NULL");
    StreamUse use(stream);
    *out_result = to_c(use.stream().partial_result());
  });
}

moeasr_status moeasr_stream_get_final_result(const moeasr_stream* stream, moeasr_result** out_result) {
  if (out_result) *out_result = nullptr;
  return guarded("moeasr_stream_get_final_result", [&] {
    MOEASR_CHECK(out_result, MOEASR_ERR_INVALID_ARGUMENT, "out_result is NULL");
    StreamUse use(stream);
    *out_result = to_c(use.stream().final_result());
  });
}

moeasr_status moeasr_result_free(moeasr_result* result) {
  if (!result) return MOEASR_OK;
  return guarded("moeasr_result_free", [&] {
    auto* holder = static_cast<ResultHolder*>(result);
    MOEASR_CHECK(holder->magic == kResultMagic, MOEASR_ERR_INVALID_ARGUMENT, "not a live moeasr_result");
    holder->magic = kDeadMagic;
    delete holder;
  });
}

moeasr_status moeasr_result_to_json(const moeasr_result* result, char** out_json) {
  if (out_json) *out_json = nullptr;
  return guarded("moeasr_result_to_json", [&] {
    MOEASR_CHECK(out_json, MOEASR_ERR_INVALID_ARGUMENT, "out_json is NULL");
    MOEASR_CHECK(result, MOEASR_ERR_INVALID_ARGUMENT, "result is NULL");
    const auto* holder = static_cast<const ResultHolder*>(result);
    MOEASR_CHECK(holder->magic == kResultMagic, MOEASR_ERR_INVALID_ARGUMENT, "not a live moeasr_result");
    *out_json = to_c_string(to_json(holder->source).dump());
  });
}

moeasr_status moeasr_stream_get_partial_result_json(const moeasr_stream* stream, char** out_json) {
  if (out_json) *out_json = nullptr;
  return guarded("moeasr_stream_get_partial_result_json", [&] {
    MOEASR_CHECK(out_json, MOEASR_ERR_INVALID_ARGUMENT, "out_json is NULL");
    StreamUse use(stream);
    *out_json = to_c_string(to_json(use.stream().partial_result()).dump());
  });
}

moeasr_status moeasr_stream_get_final_result_json(const moeasr_stream* stream, char** out_json) {
  if (out_json) *out_json = nullptr;
  return guarded("moeasr_stream_get_final_result_json", [&] {
    MOEASR_CHECK(out_json, MOEASR_ERR_INVALID_ARGUMENT, "out_json is NULL");
    StreamUse use(stream);
    *out_json = to_c_string(to_json(use.stream().final_result()).dump());
  });
}

moeasr_status moeasr_string_free(char* str) {
  std::free(str);
  return MOEASR_OK;
}

}  // extern "C"
