// Random programs of C-API calls on a tiny random-weight model (fuzz/tiny_model):
// streams created with random options, fed float or int16 audio of random
// sizes and rates (NaN and Inf included), finished, decoded alone or in
// batches (with NULL, repeated and foreign streams), queried, reset and freed
// in any order; extra models loaded with random devices and freed while their
// streams live. Every call must return a status; the properties below must hold.
//
// Input format: a sequence of operations, one opcode byte each followed by its
// argument bytes (see Reader / run()); missing bytes read as 0. At most
// kMaxOps operations and kMaxSamples samples per input keep every run short.
#include <cmath>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fuzz_util.h"
#include "formats/units.h"
#include "moeasr/moeasr.h"

namespace {

constexpr size_t kMaxOps = 64;
constexpr size_t kMaxStreams = 8;
constexpr size_t kMaxModels = 3;
constexpr size_t kMaxSamples = 16000 * 40;  // per input, all streams together

std::string model_dir() {
  const char* env = std::getenv("MOEASR_FUZZ_MODEL");
  return env ? env : MOEASR_FUZZ_MODEL_DIR;
}

class Reader {
 public:
  Reader(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool done() const { return pos_ >= size_; }
  uint8_t u8() { return pos_ < size_ ? data_[pos_++] : 0; }
  uint16_t u16() { return static_cast<uint16_t>(u8() | (u8() << 8)); }
  uint32_t u32() { return u16() | (static_cast<uint32_t>(u16()) << 16); }
  float f32() {
    const uint32_t bits = u32();
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
  }
  // Remaining bytes, at most n (the caller copies them).
  size_t take(size_t n, const uint8_t** out) {
    const size_t k = std::min(n, size_ - std::min(pos_, size_));
    *out = data_ + pos_;
    pos_ += k;
    return k;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

moeasr_model* g_model = nullptr;  // loaded once; never freed (streams of every input share it)
int g_vocab = 0;

void check_status(moeasr_status st, const char* call) {
  FUZZ_CHECK(st >= MOEASR_OK && st <= MOEASR_ERR_INTERNAL, "%s returned unknown status %d", call, st);
  FUZZ_CHECK(st != MOEASR_ERR_INTERNAL, "%s: internal error: %s", call, moeasr_last_error());
  if (st != MOEASR_OK) FUZZ_CHECK(moeasr_last_error()[0] != '\0', "%s failed with no message", call);
}

struct StreamSlot {
  moeasr_stream* s = nullptr;
  moeasr_model* model = nullptr;  // the handle it was created from (may be freed since)
  bool finished = false;          // input_finished succeeded
  size_t samples = 0;
};

struct ModelSlot {
  moeasr_model* m = nullptr;
};

void check_result(const moeasr_result* r, bool final) {
  FUZZ_CHECK(r->text != nullptr, "result text is NULL");
  FUZZ_CHECK(moeasr::is_valid_utf8(r->text), "result text is not UTF-8");
  FUZZ_CHECK(r->is_final == (final ? 1 : 0), "is_final %d", r->is_final);
  FUZZ_CHECK(r->num_tokens == 0 || r->tokens != nullptr, "tokens NULL");
  for (size_t i = 0; i < r->num_tokens; ++i) {
    FUZZ_CHECK(r->tokens[i] >= 0 && r->tokens[i] < g_vocab, "token %d", r->tokens[i]);
  }
  FUZZ_CHECK(r->num_nbest >= 1, "empty n-best");
  FUZZ_CHECK(std::strcmp(r->text, r->nbest[0].text) == 0, "text is not nbest[0]");
  FUZZ_CHECK(r->num_tokens == r->nbest[0].num_tokens, "tokens are not nbest[0]'s");
  for (size_t k = 0; k < r->num_nbest; ++k) {
    const moeasr_hypothesis& h = r->nbest[k];
    FUZZ_CHECK(moeasr::is_valid_utf8(h.text), "hypothesis %zu is not UTF-8", k);
    FUZZ_CHECK(!std::isnan(h.score) && !std::isnan(h.ctc_score) && !std::isnan(h.attention_score),
               "NaN score in hypothesis %zu", k);
    FUZZ_CHECK(h.score <= r->nbest[0].score, "hypothesis %zu scores %g above the best %g", k, h.score,
               r->nbest[0].score);
    FUZZ_CHECK(!final || h.rescored == r->nbest[0].rescored, "mixed rescoring");
    for (size_t i = 0; i < h.num_tokens; ++i) {
      FUZZ_CHECK(h.tokens[i] >= 0 && h.tokens[i] < g_vocab, "token %d", h.tokens[i]);
    }
  }
}

void check_json(const char* json, bool final) {
  FUZZ_CHECK(json != nullptr, "json NULL");
  const nlohmann::json j = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  FUZZ_CHECK(!j.is_discarded() && j.is_object(), "result JSON does not parse: %s", json);
  FUZZ_CHECK(j.value("is_final", !final) == final, "JSON is_final");
  FUZZ_CHECK(j.contains("text") && j["text"].is_string() && j.contains("nbest") && j["nbest"].is_array(),
             "JSON fields");
}

// Audio for one accept call, from a recipe in the input (so a short input can
// drive seconds of audio) or from the input bytes themselves.
std::vector<float> make_audio(Reader& in, size_t n) {
  std::vector<float> x(n);
  const uint8_t kind = in.u8();
  const float amp = (in.u8() + 1) / 256.f;
  const float freq = 50.f + 40.f * in.u8();
  uint32_t seed = in.u8() + 1;
  switch (kind % 6) {
    case 0:  // silence
      break;
    case 1:  // tone
      for (size_t i = 0; i < n; ++i) x[i] = amp * std::sin(6.2831853f * freq * static_cast<float>(i) / 16000.f);
      break;
    case 2:  // white noise
      for (size_t i = 0; i < n; ++i) {
        seed = seed * 1664525u + 1013904223u;
        x[i] = amp * (static_cast<float>(seed >> 8) / 8388608.f - 1.f);
      }
      break;
    case 3: {  // raw input bytes as int16
      const uint8_t* p;
      const size_t k = in.take(2 * n, &p);
      for (size_t i = 0; i + 1 < k; i += 2) x[i / 2] = static_cast<int16_t>(p[i] | (p[i + 1] << 8)) / 32768.f;
      break;
    }
    case 4:  // full scale square wave, beyond [-1, 1]
      for (size_t i = 0; i < n; ++i) x[i] = ((i / 40) % 2 ? 1.f : -1.f) * amp * 64.f;
      break;
    case 5: {  // extreme finite values
      const float v[] = {std::numeric_limits<float>::max(), -std::numeric_limits<float>::max(),
                         std::numeric_limits<float>::denorm_min(), 1e-30f, -1.f, 1.f};
      for (size_t i = 0; i < n; ++i) x[i] = v[(i + seed) % 6];
      break;
    }
  }
  // Maybe poison one sample with NaN or +-Inf.
  const uint8_t poison = in.u8();
  if (n > 0 && poison >= 240) {
    const float bad[] = {std::nanf(""), std::numeric_limits<float>::infinity(),
                         -std::numeric_limits<float>::infinity()};
    x[(static_cast<size_t>(poison) * 7919u) % n] = bad[poison % 3];
  }
  return x;
}

int32_t pick_rate(Reader& in) {
  static const int32_t kRates[] = {16000, 16000, 8000, 44100, 48000, 22050, 11025, 0, -1, 1, 62, 63, 4096000,
                                   std::numeric_limits<int32_t>::max()};
  const uint8_t b = in.u8();
  if (b < sizeof(kRates) / sizeof(kRates[0])) return kRates[b];
  if (b == 255) return static_cast<int32_t>(in.u32());
  return kRates[0];
}

moeasr_stream_options pick_options(Reader& in) {
  moeasr_stream_options o;
  moeasr_stream_default_options(&o);
  static const int32_t kChunks[] = {16, 4, 1, -1, 0, 8, 2, 4097};
  static const int32_t kLeft[] = {-1, 0, 1, 2, 4, 1 << 20, (1 << 20) + 1, std::numeric_limits<int32_t>::min()};
  static const int32_t kNbest[] = {10, 1, 3, 0, 1000, 1001, -5, 2};
  static const float kCtcWeight[] = {0.5f, 0.f, 1.f, -3.f, 1e30f, std::nanf(""),
                                     std::numeric_limits<float>::infinity(), 0.3f};
  static const float kReverse[] = {0.f, 0.3f, 1.f, 1.5f, -0.1f, std::nanf(""), 0.5f, 0.f};
  const uint8_t a = in.u8(), b = in.u8(), c = in.u8();
  o.chunk_size = a & 0x80 ? static_cast<int32_t>(in.u32()) : kChunks[a % 8];
  o.num_left_chunks = kLeft[(a >> 3) % 8];
  o.nbest = kNbest[b % 8];
  o.ctc_weight = kCtcWeight[(b >> 3) % 8];
  o.reverse_weight = kReverse[c % 8];
  o.rescoring = (c >> 3) & 1;
  o.timestamps = (c >> 4) & 1;
  // Endpoint rules: defaults, short (endpoints within a program), off, invalid.
  static const float kEndpoint[4][3] = {{1.f, 5.f, 20.f}, {0.2f, 0.2f, 0.5f}, {0.f, 0.f, 0.f},
                                        {-1.f, std::nanf(""), std::numeric_limits<float>::infinity()}};
  const float* e = kEndpoint[(b >> 6) & 3];
  o.endpoint_silence_after_text_s = e[0];
  o.endpoint_silence_without_text_s = e[1];
  o.endpoint_max_utterance_s = e[2];
  // Current, none, too small, from a newer header, and 0.1's (before the endpoint fields).
  static const size_t kSizes[] = {sizeof(moeasr_stream_options), sizeof(moeasr_stream_options), 0,
                                  sizeof(moeasr_stream_options) + 8, sizeof(size_t) + 12,
                                  offsetof(moeasr_stream_options, timestamps) + sizeof(int32_t)};
  o.struct_size = kSizes[(c >> 5) % 6];
  return o;
}

void run(const uint8_t* data, size_t size) {
  Reader in(data, size);
  std::vector<StreamSlot> streams;
  std::vector<ModelSlot> models;
  size_t samples_left = kMaxSamples;

  // The stream an index byte picks; the last value means NULL.
  auto stream_at = [&](uint8_t b) -> StreamSlot* {
    if (streams.empty() || b % (streams.size() + 1) == streams.size()) return nullptr;
    return &streams[b % (streams.size() + 1)];
  };
  auto model_at = [&](uint8_t b) -> moeasr_model* {
    const size_t n = models.size() + 2;  // the shared model, extra models, NULL
    const size_t i = b % n;
    if (i == 0) return g_model;
    if (i == n - 1) return nullptr;
    return models[i - 1].m;
  };

  for (size_t op_count = 0; op_count < kMaxOps && !in.done(); ++op_count) {
    const uint8_t op = in.u8();
    switch (op % 16) {
      case 0: {  // create
        moeasr_model* m = model_at(in.u8());
        const uint8_t flags = in.u8();
        moeasr_stream_options o = pick_options(in);
        moeasr_stream* s = reinterpret_cast<moeasr_stream*>(0x1);
        const bool null_out = flags & 1;
        const moeasr_status st =
            moeasr_stream_create(m, flags & 2 ? nullptr : &o, null_out ? nullptr : &s);
        check_status(st, "moeasr_stream_create");
        if (null_out) {
          FUZZ_CHECK(st != MOEASR_OK, "create with NULL out succeeded");
          break;
        }
        if (st != MOEASR_OK) {
          FUZZ_CHECK(s == nullptr, "failed create left a handle");
          break;
        }
        FUZZ_CHECK(s != nullptr, "create gave NULL");
        if (streams.size() >= kMaxStreams) {
          check_status(moeasr_stream_free(s), "moeasr_stream_free");
          break;
        }
        streams.push_back({s, m, false, 0});
        break;
      }
      case 1:
      case 2: {  // accept float / int16
        StreamSlot* slot = stream_at(in.u8());
        size_t n = in.u16();
        const uint8_t scale = in.u8();
        if (scale & 1) n *= 8;
        const int32_t rate = pick_rate(in);
        // Budget in samples at the model's rate (a low input rate multiplies them).
        const size_t expansion = rate > 0 && rate < 16000 ? static_cast<size_t>(16000 / rate + 1) : 1;
        n = std::min(n, samples_left / expansion);
        samples_left -= n * expansion;
        std::vector<float> x = make_audio(in, n);
        const bool null_samples = (scale & 6) == 6;
        bool finite = true;
        for (float v : x) finite &= std::isfinite(v);
        moeasr_status st;
        if (op % 16 == 1) {
          st = moeasr_stream_accept_waveform(slot ? slot->s : nullptr, null_samples ? nullptr : x.data(), n, rate);
          check_status(st, "moeasr_stream_accept_waveform");
        } else {
          std::vector<int16_t> pcm(n);
          for (size_t i = 0; i < n; ++i) {
            const float v = std::isfinite(x[i]) ? std::max(-1.f, std::min(x[i], 32767.f / 32768.f)) : 0.f;
            pcm[i] = static_cast<int16_t>(v * 32768.f);
          }
          finite = true;
          st = moeasr_stream_accept_waveform_int16(slot ? slot->s : nullptr, null_samples ? nullptr : pcm.data(), n,
                                                   rate);
          check_status(st, "moeasr_stream_accept_waveform_int16");
        }
        if (slot && slot->finished) FUZZ_CHECK(st != MOEASR_OK, "accept after input_finished succeeded");
        if (slot && !slot->finished && finite && rate > 0 && (!null_samples || n == 0) && st != MOEASR_OK) {
          // Only a rate the resampler cannot handle or a rate change may fail.
          FUZZ_CHECK(st == MOEASR_ERR_INVALID_ARGUMENT, "accept of valid audio failed: %s", moeasr_last_error());
        }
        if (slot && st == MOEASR_OK) slot->samples += n;
        break;
      }
      case 3: {  // input_finished
        StreamSlot* slot = stream_at(in.u8());
        const moeasr_status st = moeasr_stream_input_finished(slot ? slot->s : nullptr);
        check_status(st, "moeasr_stream_input_finished");
        if (slot) {
          FUZZ_CHECK((st == MOEASR_OK) == !slot->finished, "input_finished: status %d, finished before %d", st,
                     slot->finished);
          slot->finished = true;
        }
        break;
      }
      case 4: {  // decode
        StreamSlot* slot = stream_at(in.u8());
        const moeasr_status st = moeasr_stream_decode(slot ? slot->s : nullptr);
        check_status(st, "moeasr_stream_decode");
        if (!slot) break;
        FUZZ_CHECK(st == MOEASR_OK, "decode failed: %s", moeasr_last_error());
        int32_t ready = 1, done = 0;
        check_status(moeasr_stream_is_ready(slot->s, &ready), "moeasr_stream_is_ready");
        check_status(moeasr_stream_is_done(slot->s, &done), "moeasr_stream_is_done");
        FUZZ_CHECK(ready == 0, "ready after decode");
        FUZZ_CHECK(done == (slot->finished ? 1 : 0), "done %d after decode, finished %d", done, slot->finished);
        break;
      }
      case 5: {  // decode_streams over a random selection
        const uint8_t count = in.u8() % 10;
        moeasr_model* m = model_at(in.u8());
        std::vector<moeasr_stream*> batch;
        std::vector<StreamSlot*> slots;
        // Valid: a live model, and distinct live streams created from that handle.
        bool valid = m != nullptr;
        for (uint8_t i = 0; i < count; ++i) {
          StreamSlot* slot = stream_at(in.u8());
          for (StreamSlot* seen : slots) valid &= seen != slot;
          valid &= slot != nullptr && slot->model == m;
          batch.push_back(slot ? slot->s : nullptr);
          slots.push_back(slot);
        }
        const bool null_array = count == 0 && (in.u8() & 1);
        const moeasr_status st = moeasr_decode_streams(m, null_array ? nullptr : batch.data(), batch.size());
        check_status(st, "moeasr_decode_streams");
        if (!valid) {
          FUZZ_CHECK(st == MOEASR_ERR_INVALID_ARGUMENT, "bad batch accepted (status %d)", st);
          break;
        }
        FUZZ_CHECK(st == MOEASR_OK, "decode_streams failed: %s", moeasr_last_error());
        for (StreamSlot* slot : slots) {
          int32_t ready = 1, done = 0;
          check_status(moeasr_stream_is_ready(slot->s, &ready), "moeasr_stream_is_ready");
          check_status(moeasr_stream_is_done(slot->s, &done), "moeasr_stream_is_done");
          FUZZ_CHECK(ready == 0, "ready after decode_streams");
          FUZZ_CHECK(done == (slot->finished ? 1 : 0), "done %d after decode_streams, finished %d", done,
                     slot->finished);
        }
        break;
      }
      case 6: {  // is_ready / is_done / is_endpoint, maybe with NULL out
        StreamSlot* slot = stream_at(in.u8());
        const uint8_t f = in.u8();
        int32_t v = -1;
        moeasr_stream* s = slot ? slot->s : nullptr;
        int32_t* out = f & 2 ? nullptr : &v;
        moeasr_status st = f & 4   ? moeasr_stream_is_endpoint(s, out)
                           : f & 1 ? moeasr_stream_is_ready(s, out)
                                   : moeasr_stream_is_done(s, out);
        check_status(st, "moeasr_stream_is_ready/done");
        if (st == MOEASR_OK) FUZZ_CHECK(v == 0 || v == 1, "flag %d", v);
        break;
      }
      case 7:
      case 8: {  // partial / final result
        StreamSlot* slot = stream_at(in.u8());
        const bool final = op % 16 == 8;
        moeasr_result* r = reinterpret_cast<moeasr_result*>(0x1);
        const moeasr_status st = final ? moeasr_stream_get_final_result(slot ? slot->s : nullptr, &r)
                                       : moeasr_stream_get_partial_result(slot ? slot->s : nullptr, &r);
        check_status(st, "moeasr_stream_get_*_result");
        if (st != MOEASR_OK) {
          FUZZ_CHECK(r == nullptr, "failed result call left a pointer");
          if (slot && !final) FUZZ_CHECK(false, "partial result failed: %s", moeasr_last_error());
          break;
        }
        check_result(r, final);
        check_status(moeasr_result_free(r), "moeasr_result_free");
        break;
      }
      case 9: {  // JSON results
        StreamSlot* slot = stream_at(in.u8());
        const bool final = in.u8() & 1;
        char* json = reinterpret_cast<char*>(0x1);
        const moeasr_status st = final ? moeasr_stream_get_final_result_json(slot ? slot->s : nullptr, &json)
                                       : moeasr_stream_get_partial_result_json(slot ? slot->s : nullptr, &json);
        check_status(st, "moeasr_stream_get_*_result_json");
        if (st != MOEASR_OK) {
          FUZZ_CHECK(json == nullptr, "failed JSON call left a pointer");
          break;
        }
        check_json(json, final);
        check_status(moeasr_string_free(json), "moeasr_string_free");
        break;
      }
      case 10: {  // reset
        StreamSlot* slot = stream_at(in.u8());
        const moeasr_status st = moeasr_stream_reset(slot ? slot->s : nullptr);
        check_status(st, "moeasr_stream_reset");
        if (slot) {
          FUZZ_CHECK(st == MOEASR_OK, "reset failed: %s", moeasr_last_error());
          slot->finished = false;
          slot->samples = 0;
        }
        break;
      }
      case 11: {  // free a stream
        const uint8_t b = in.u8();
        StreamSlot* slot = stream_at(b);
        check_status(moeasr_stream_free(slot ? slot->s : nullptr), "moeasr_stream_free");
        if (slot) streams.erase(streams.begin() + (slot - streams.data()));
        break;
      }
      case 12: {  // model info, with odd struct sizes
        moeasr_model* m = model_at(in.u8());
        const uint8_t f = in.u8();
        moeasr_model_info info;
        std::memset(&info, 0xAB, sizeof(info));
        static const size_t kSizes[] = {sizeof(moeasr_model_info), 0, 1, sizeof(size_t) + 4, sizeof(size_t) + 8,
                                        sizeof(moeasr_model_info) + 64};
        info.struct_size = kSizes[f % 6];
        const moeasr_status st = moeasr_model_get_info(m, f & 0x80 ? nullptr : &info);
        check_status(st, "moeasr_model_get_info");
        if (st == MOEASR_OK) FUZZ_CHECK(info.struct_size <= sizeof(info), "struct_size grew");
        break;
      }
      case 13: {  // load an extra model (random options) or free one
        const uint8_t f = in.u8();
        if (f & 1) {
          if (models.empty()) break;
          const size_t i = in.u8() % models.size();
          check_status(moeasr_model_free(models[i].m), "moeasr_model_free");
          // Streams keep the model alive; forget the freed handle but keep the streams.
          for (StreamSlot& s : streams) {
            if (s.model == models[i].m) s.model = nullptr;
          }
          models.erase(models.begin() + i);
          break;
        }
        if (models.size() >= kMaxModels) break;
        static const char* kDevices[] = {"cpu", "cpu", nullptr, "cuda", "cuda:99", "cpu:7", "", "\xff\xfe garbage"};
        moeasr_model_options o;
        moeasr_model_default_options(&o);
        o.device = kDevices[(f >> 1) % 8];
        static const int32_t kThreads[] = {1, 2, 0, -1};
        o.threads = kThreads[(f >> 4) % 4];
        moeasr_model* m = reinterpret_cast<moeasr_model*>(0x1);
        const std::string dir = f & 0x40 ? model_dir() + "/nonexistent" : model_dir();
        const moeasr_status st = moeasr_model_load(dir.c_str(), &o, &m);
        check_status(st, "moeasr_model_load");
        if (st != MOEASR_OK) {
          FUZZ_CHECK(m == nullptr, "failed load left a handle");
          break;
        }
        models.push_back({m});
        break;
      }
      case 14: {  // last error is always a string
        FUZZ_CHECK(moeasr_last_error() != nullptr, "last_error NULL");
        FUZZ_CHECK(moeasr_status_string(static_cast<moeasr_status>(in.u8())) != nullptr, "status string NULL");
        break;
      }
      case 15: {  // decode every stream of the shared model until done (drains a program quickly)
        for (StreamSlot& s : streams) {
          const moeasr_status st = moeasr_stream_decode(s.s);
          check_status(st, "moeasr_stream_decode");
          FUZZ_CHECK(st == MOEASR_OK, "decode failed: %s", moeasr_last_error());
        }
        break;
      }
    }
  }
  for (StreamSlot& s : streams) check_status(moeasr_stream_free(s.s), "moeasr_stream_free");
  for (ModelSlot& m : models) check_status(moeasr_model_free(m.m), "moeasr_model_free");
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const std::string dir = model_dir();
  if (moeasr_model_load(dir.c_str(), nullptr, &g_model) != MOEASR_OK) {
    std::fprintf(stderr, "cannot load the fuzz model %s: %s\n", dir.c_str(), moeasr_last_error());
    std::abort();
  }
  moeasr_model_info info;
  info.struct_size = sizeof(info);
  moeasr_model_get_info(g_model, &info);
  g_vocab = info.vocab_size;
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  run(data, size);
  return 0;
}
