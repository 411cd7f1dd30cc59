// The GPU model against the CPU model on the fixture models (tests/data):
// encoder output and CTC log-probabilities within 1e-3 in full attention and
// streaming, the same n-best with scores within 1e-3, bfloat16 keeping the
// n-best, batched streams equal to sequential ones, decoder scores. Each test
// skips without a CUDA device (see gpu_test_util.h).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <memory>

#include <nlohmann/json.hpp>

#include "frontend/wav_reader.h"
#include "gpu/model.h"
#include "gpu_test_util.h"
#include "runtime/asr_model.h"
#include "runtime/offline_batch.h"
#include "runtime/stream.h"
#include "test_util.h"

namespace moeasr {
namespace {

const char* const kModels[] = {"moe_ln", "dense_bn", "moe_k1", "odd_dims"};

struct Mode {
  int chunk, left;
};
const Mode kModes[] = {{-1, -1}, {16, -1}, {4, 2}, {1, -1}};

std::shared_ptr<const AsrModel> load(const std::string& name, const std::string& device,
                                     const std::string& compute_type = "default", int threads = 1) {
  ModelOptions o;
  o.device = device;
  o.compute_type = compute_type;
  o.threads = threads;
  return AsrModel::load(test::data_path("models/" + name), o);
}

struct Decoded {
  std::vector<float> encoder, log_probs;
  RecognitionResult result;
};

Decoded decode(std::shared_ptr<const AsrModel> model, const std::string& name, const std::string& utt, Mode m) {
  auto golden = test::read_golden(test::data_path("golden/" + name + "/" + utt + ".safetensors"));
  const test::GoldenTensor& fbank = golden.at("fbank");
  DecodeOptions o;
  o.chunk_size = m.chunk;
  o.num_left_chunks = m.left;
  o.reverse_weight = 0.3f;
  Stream s(model, o);
  s.set_keep_debug_outputs(true);
  // Pieces of 37 frames: chunks become ready at varying points, as when streaming.
  for (int64_t pos = 0; pos < fbank.shape[0]; pos += 37) {
    const int64_t n = std::min<int64_t>(37, fbank.shape[0] - pos);
    s.accept_features(fbank.data.data() + pos * fbank.shape[1], n);
    s.decode();
  }
  s.input_finished();
  s.decode();
  return {s.encoder_output(), s.ctc_log_probs(), s.final_result()};
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return INFINITY;
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(static_cast<double>(a[i]) - b[i]));
  return m;
}

void expect_same_nbest(const RecognitionResult& want, const RecognitionResult& got, double tol,
                       const std::string& where) {
  ASSERT_EQ(want.nbest.size(), got.nbest.size()) << where;
  EXPECT_EQ(want.tokens, got.tokens) << where;
  EXPECT_EQ(want.text, got.text) << where;
  for (size_t i = 0; i < want.nbest.size(); ++i) {
    EXPECT_EQ(want.nbest[i].tokens, got.nbest[i].tokens) << where << " hypothesis " << i;
    EXPECT_NEAR(want.nbest[i].ctc_score, got.nbest[i].ctc_score, tol) << where << " hypothesis " << i;
    EXPECT_NEAR(want.nbest[i].attention_score, got.nbest[i].attention_score, tol) << where << " hypothesis " << i;
    EXPECT_NEAR(want.nbest[i].score, got.nbest[i].score, tol) << where << " hypothesis " << i;
  }
}

TEST(CudaModel, EncoderAndNbestMatchTheCpuInEveryMode) {
  MOEASR_REQUIRE_CUDA_DEVICE();
  int cases = 0;
  for (const char* name : kModels) {
    auto cpu = load(name, "cpu");
    auto gpu = load(name, "cuda");
    ASSERT_TRUE(gpu->on_gpu());
    for (const char* utt : {"hello", "numbers"}) {
      for (Mode m : kModes) {
        const std::string where = std::string(name) + "/" + utt + " chunk " + std::to_string(m.chunk) + " left " +
                                  std::to_string(m.left);
        const Decoded a = decode(cpu, name, utt, m);
        const Decoded b = decode(gpu, name, utt, m);
        ASSERT_FALSE(a.encoder.empty()) << where;
        const double enc = max_abs_diff(a.encoder, b.encoder), lp = max_abs_diff(a.log_probs, b.log_probs);
        EXPECT_LE(enc, 1e-3) << where << ": encoder output differs by " << test::sci(enc);
        EXPECT_LE(lp, 1e-3) << where << ": CTC log-probs differ by " << test::sci(lp);
        expect_same_nbest(a.result, b.result, 1e-3, where);
        ++cases;
      }
    }
  }
  EXPECT_EQ(cases, 32);
}

TEST(CudaModel, Bfloat16KeepsTheFixtureNbest) {
  MOEASR_REQUIRE_CUDA_DEVICE();
  for (const char* name : kModels) {
    auto cpu = load(name, "cpu");
    auto gpu = load(name, "cuda", "bfloat16");
    for (const char* utt : {"hello", "numbers"}) {
      for (Mode m : kModes) {
        const std::string where = std::string(name) + "/" + utt + " chunk " + std::to_string(m.chunk);
        const Decoded a = decode(cpu, name, utt, m);
        const Decoded b = decode(gpu, name, utt, m);
        EXPECT_EQ(a.result.tokens, b.result.tokens) << where;
        std::vector<std::vector<int>> na, nb;
        for (const Hypothesis& h : a.result.nbest) na.push_back(h.tokens);
        for (const Hypothesis& h : b.result.nbest) nb.push_back(h.tokens);
        std::sort(na.begin(), na.end());
        std::sort(nb.begin(), nb.end());
        EXPECT_EQ(na, nb) << where;
      }
    }
  }
}

TEST(CudaModel, GoldenBestTokensOnTheGpu) {
  MOEASR_REQUIRE_CUDA_DEVICE();
  // The reference (WeNet numerics) chose these; the GPU must too.
  for (const char* name : kModels) {
    auto gpu = load(name, "cuda");
    for (const char* utt : {"hello", "numbers"}) {
      std::ifstream in(test::data_path(std::string("golden/") + name + "/" + utt + ".json"));
      const nlohmann::json golden = nlohmann::json::parse(in);
      for (auto it = golden["modes"].begin(); it != golden["modes"].end(); ++it) {
        const Mode m{it.value()["chunk_size"].get<int>(), it.value()["num_left_chunks"].get<int>()};
        auto fb = test::read_golden(test::data_path(std::string("golden/") + name + "/" + utt + ".safetensors"));
        DecodeOptions o;
        o.chunk_size = m.chunk;
        o.num_left_chunks = m.left;
        o.nbest = golden["beam_size"].get<int>();
        o.ctc_weight = golden["ctc_weight"].get<float>();
        o.reverse_weight = golden["reverse_weight"].get<float>();
        Stream s(gpu, o);
        s.accept_features(fb.at("fbank").data.data(), fb.at("fbank").shape[0]);
        s.input_finished();
        s.decode();
        EXPECT_EQ(s.final_result().tokens, it.value()["best_tokens"].get<std::vector<int>>())
            << name << "/" << utt << "/" << it.key();
      }
    }
  }
}

// Many streams of different lengths in one batched GPU step give what each
// gives alone; a reset stream decodes its next utterance from a clean state.
// The batch runs on a model with 4 threads: the streams' CTC searches run in
// parallel there.
TEST(CudaModel, BatchedStreamsEqualSequentialOnes) {
  MOEASR_REQUIRE_CUDA_DEVICE();
  auto gpu = load("moe_ln", "cuda");
  auto gpu_threads = load("moe_ln", "cuda", "default", 4);
  const Waveform hello = read_wav(test::data_path("audio/hello.wav"));
  const Waveform numbers = read_wav(test::data_path("audio/numbers.wav"));
  std::vector<std::vector<float>> audio;
  for (int i = 0; i < 12; ++i) {
    const std::vector<float>& src = (i % 2 ? numbers : hello).samples;
    const size_t len = src.size() - static_cast<size_t>(i) * 1500;  // different lengths
    audio.emplace_back(src.begin(), src.begin() + static_cast<std::ptrdiff_t>(len));
  }
  for (Mode m : {Mode{16, -1}, Mode{4, 2}, Mode{-1, -1}}) {
    DecodeOptions o;
    o.chunk_size = m.chunk;
    o.num_left_chunks = m.left;
    o.reverse_weight = 0.3f;
    std::vector<RecognitionResult> alone;
    for (const auto& a : audio) {
      Stream s(gpu, o);
      s.accept_waveform(a.data(), a.size(), 16000);
      s.input_finished();
      s.decode();
      alone.push_back(s.final_result());
    }
    std::vector<std::unique_ptr<Stream>> streams;
    std::vector<Stream*> raw;
    for (size_t i = 0; i < audio.size(); ++i) {
      streams.push_back(std::make_unique<Stream>(gpu_threads, o));
      raw.push_back(streams.back().get());
    }
    for (int round = 0; round < 2; ++round) {  // the second round after reset()
      const size_t piece = 2560;
      size_t longest = 0;
      for (const auto& a : audio) longest = std::max(longest, a.size());
      for (size_t pos = 0; pos < longest; pos += piece) {
        for (size_t i = 0; i < audio.size(); ++i) {
          if (pos < audio[i].size()) {
            streams[i]->accept_waveform(audio[i].data() + pos, std::min(piece, audio[i].size() - pos), 16000);
          }
        }
        decode_streams(raw);
      }
      for (Stream* s : raw) s->input_finished();
      decode_streams(raw);
      for (size_t i = 0; i < audio.size(); ++i) {
        expect_same_nbest(alone[i], streams[i]->final_result(), 1e-4,
                          "stream " + std::to_string(i) + " round " + std::to_string(round) + " chunk " +
                              std::to_string(m.chunk));
        streams[i]->reset();
      }
    }
  }
}

TEST(CudaModel, OfflineBatchEqualsStreams) {
  MOEASR_REQUIRE_CUDA_DEVICE();
  auto gpu = load("odd_dims", "cuda");
  const Waveform hello = read_wav(test::data_path("audio/hello.wav"));
  const Waveform numbers = read_wav(test::data_path("audio/numbers.wav"));
  DecodeOptions o;
  o.chunk_size = -1;
  std::vector<std::unique_ptr<Stream>> batch;
  std::vector<Stream*> raw;
  std::vector<RecognitionResult> alone;
  for (const Waveform* w : {&hello, &numbers, &hello}) {
    Stream s(gpu, o);
    s.accept_waveform(w->samples.data(), w->samples.size(), w->sample_rate);
    s.input_finished();
    s.decode();
    alone.push_back(s.final_result());
    batch.push_back(Stream::for_offline_batch(gpu, o));
    batch.back()->accept_waveform(w->samples.data(), w->samples.size(), w->sample_rate);
    batch.back()->input_finished();
    raw.push_back(batch.back().get());
  }
  decode_batch(raw);
  for (size_t i = 0; i < raw.size(); ++i) expect_same_nbest(alone[i], raw[i]->final_result(), 1e-4, "utterance " + std::to_string(i));
}

TEST(CudaModel, DecoderScoresMatchTheCpu) {
  MOEASR_REQUIRE_CUDA_DEVICE();
  for (const char* name : kModels) {
    auto cpu = load(name, "cpu");
    auto gpu = load(name, "cuda");
    const Decoded d = decode(cpu, name, "hello", Mode{-1, -1});
    const int64_t dm = cpu->encoder().d_model();
    const int64_t frames = static_cast<int64_t>(d.encoder.size()) / dm;
    const Tensor memory = Tensor::view(d.encoder.data(), {frames, dm}, DType::kF32, nullptr);
    std::vector<std::vector<int>> hyps;
    for (const Hypothesis& h : d.result.nbest) hyps.push_back(h.tokens);
    hyps.push_back({});             // the empty hypothesis scores <eos> alone
    hyps.push_back({1, 2, 3, 1});   // repeated tokens
    DecoderWorkspace ws;
    const auto want = cpu->decoder()->score(memory, hyps, true, ws);
    const auto got = gpu->gpu()->score(d.encoder.data(), frames, hyps, true);
    ASSERT_EQ(want.size(), got.size());
    for (size_t i = 0; i < want.size(); ++i) {
      EXPECT_NEAR(want[i].l2r, got[i].l2r, 1e-3) << name << " hypothesis " << i;
      EXPECT_NEAR(want[i].r2l, got[i].r2l, 1e-3) << name << " hypothesis " << i;
    }
    std::string msg;
    EXPECT_EQ(test::status_of([&] { gpu->gpu()->score(d.encoder.data(), frames, {{cpu->config().vocab_size}}, false); },
                              &msg),
              MOEASR_ERR_INVALID_ARGUMENT)
        << msg;
  }
}

// The C API end to end: text and scores of a GPU model equal the CPU's.
TEST(CudaModel, CApiDecodesLikeTheCpu) {
  MOEASR_REQUIRE_CUDA_DEVICE();
  const Waveform wav = read_wav(test::data_path("audio/numbers.wav"));
  moeasr_model* models[2] = {nullptr, nullptr};
  for (int i = 0; i < 2; ++i) {
    moeasr_model_options o;
    ASSERT_EQ(moeasr_model_default_options(&o), MOEASR_OK);
    o.device = i ? "cuda:0" : "cpu";
    ASSERT_EQ(moeasr_model_load(test::data_path("models/moe_ln").c_str(), &o, &models[i]), MOEASR_OK)
        << moeasr_last_error();
  }
  std::string text[2];
  std::vector<double> scores[2];
  for (int i = 0; i < 2; ++i) {
    moeasr_stream* s = nullptr;
    ASSERT_EQ(moeasr_stream_create(models[i], nullptr, &s), MOEASR_OK) << moeasr_last_error();
    ASSERT_EQ(moeasr_stream_accept_waveform(s, wav.samples.data(), wav.samples.size(), wav.sample_rate), MOEASR_OK);
    ASSERT_EQ(moeasr_stream_input_finished(s), MOEASR_OK);
    ASSERT_EQ(moeasr_stream_decode(s), MOEASR_OK) << moeasr_last_error();
    moeasr_result* r = nullptr;
    ASSERT_EQ(moeasr_stream_get_final_result(s, &r), MOEASR_OK);
    text[i] = r->text;
    for (size_t k = 0; k < r->num_nbest; ++k) scores[i].push_back(r->nbest[k].score);
    moeasr_result_free(r);
    moeasr_stream_free(s);
    moeasr_model_free(models[i]);
  }
  EXPECT_EQ(text[0], text[1]);
  ASSERT_EQ(scores[0].size(), scores[1].size());
  for (size_t k = 0; k < scores[0].size(); ++k) EXPECT_NEAR(scores[0][k], scores[1][k], 1e-3) << k;
}

TEST(CudaModel, AdapterSetsAreRefusedOnTheGpu) {
  MOEASR_REQUIRE_CUDA_DEVICE();
  auto gpu = load("moe_ln", "cuda");
  ASSERT_NE(gpu->gpu(), nullptr);
  EXPECT_FALSE(gpu->gpu()->device_name().empty());
  EXPECT_GT(gpu->gpu()->weight_bytes(), 0u);
  Stream s(gpu, DecodeOptions());
  // Refused before the set is looked at, so a non-null pointer that owns
  // nothing (aliasing constructor) stands in for a real set; never dereferenced.
  static const int stand_in = 0;
  const std::shared_ptr<const AdapterSet> set(std::shared_ptr<const void>(),
                                              reinterpret_cast<const AdapterSet*>(&stand_in));
  std::string msg;
  EXPECT_EQ(test::status_of([&] { s.set_adapters(set); }, &msg), MOEASR_ERR_UNSUPPORTED);
  EXPECT_NE(msg.find("adapter"), std::string::npos) << msg;
}

}  // namespace
}  // namespace moeasr
