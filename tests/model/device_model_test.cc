// The whole model on each device other than the CPU (a GPU, or the host
// emulation of kernels/cuda in moeasr_device_emulated_tests) against the same
// model on the CPU, on the fixture models (tests/data): encoder output and
// CTC log-probs within 1e-3 in full attention and streaming, the same n-best
// with scores within 1e-3, bfloat16 keeping the n-best, batched streams equal
// to sequential ones, the offline batch, decoder scores, the features that
// run on every device (Mixture of Tokens, Soft MoE, mixtures of adapters and
// adapter sets), and the C API. The 1e-3 is the GPU's: cuBLAS and the CUDA
// kernels sum in other orders than the CPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iterator>
#include <memory>

#include <nlohmann/json.hpp>

#include "device_test_util.h"
#include "frontend/wav_reader.h"
#include "runtime/asr_model.h"
#include "runtime/offline_batch.h"
#include "runtime/stream.h"
#include "model/golden_options.h"
#include "test_util.h"

namespace moeasr {
namespace {

using test::max_abs_diff;

constexpr double kTolerance = 1e-3;

// Then the transformer encoder (MoE, conv2d6, abs_pos), conformers with linear
// input + no_pos and with conv2d8 + abs_pos + plain self-attention, a causal
// Branchformer, a non-causal E-Branchformer with MoE FFNs, a causal
// Squeezeformer (stream time reduction and recovery) and a non-causal one
// (conv1d time reduction, rel_shift), and two Efficient Conformers (strided
// layers, grouped attention).
const char* const kModels[] = {"moe_ln",       "dense_bn",  "moe_k1",    "odd_dims",   "tf_moe_c6",
                               "cf_lin_nopos", "cf_c8_abs", "bf_causal", "ebf_moe",    "sqz_causal",
                               "sqz_shift",    "effconf_stream", "effconf_c2"};
// Fixture models of the other FFN and adapter kinds (their goldens hold hello's fbank).
const char* const kOtherKinds[] = {"models/mot_seq", "soft_moe/models/soft_moa", "soft_moe/models/dense_moa"};

struct Mode {
  int chunk, left;
};
const Mode kModes[] = {{-1, -1}, {16, -1}, {4, 2}, {1, -1}};

// An efficient conformer streams in multiples of its total stride: chunk 1 becomes one stride.
Mode streamable(Mode m, const AsrModel& model) {
  if (m.chunk == 1) m.chunk = model.config().encoder.total_stride();
  return m;
}

std::shared_ptr<const AsrModel> load(const std::string& path, Device device, const std::string& compute_type = "default",
                                     int threads = 1) {
  ModelOptions o;
  o.device = device.name();
  o.compute_type = compute_type;
  o.threads = threads;
  return AsrModel::load(test::data_path(path), o);
}

std::vector<float> fbank_of(const std::string& utt) {
  return test::read_golden(test::data_path("golden/moe_ln/" + utt + ".safetensors")).at("fbank").data;
}

struct Decoded {
  std::vector<float> encoder, log_probs;
  RecognitionResult result;
};

Decoded decode(std::shared_ptr<const AsrModel> model, const std::vector<float>& fbank, Mode m) {
  DecodeOptions o;
  o.chunk_size = m.chunk;
  o.num_left_chunks = m.left;
  o.reverse_weight = 0.3f;
  Stream s(model, o);
  s.set_keep_debug_outputs(true);
  const int64_t bins = model->config().fbank.num_mel_bins, frames = static_cast<int64_t>(fbank.size()) / bins;
  // Pieces of 37 frames: chunks become ready at varying points, as when streaming.
  for (int64_t pos = 0; pos < frames; pos += 37) {
    s.accept_features(fbank.data() + pos * bins, std::min<int64_t>(37, frames - pos));
    s.decode();
  }
  s.input_finished();
  s.decode();
  return {s.encoder_output(), s.ctc_log_probs(), s.final_result()};
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

std::vector<Device> accelerators() {
  std::vector<Device> d = test::devices();
  d.erase(std::remove_if(d.begin(), d.end(), [](const Device& x) { return x.is_cpu(); }), d.end());
  return d;
}

class DeviceModel : public ::testing::TestWithParam<Device> {
 protected:
  Device device() const { return GetParam(); }
};

TEST_P(DeviceModel, EncoderAndNbestMatchTheCpuInEveryMode) {
  int cases = 0;
  for (const char* name : kModels) {
    const std::string path = std::string("models/") + name;
    auto cpu = load(path, Device::cpu());
    auto dev = load(path, device());
    EXPECT_EQ(dev->device(), device());
    for (const char* utt : {"hello", "numbers"}) {
      const std::vector<float> fbank = fbank_of(utt);
      for (Mode mode : kModes) {
        const Mode m = streamable(mode, *cpu);
        const std::string where =
            std::string(name) + "/" + utt + " chunk " + std::to_string(m.chunk) + " left " + std::to_string(m.left);
        const Decoded a = decode(cpu, fbank, m);
        const Decoded b = decode(dev, fbank, m);
        ASSERT_FALSE(a.encoder.empty()) << where;
        const double enc = max_abs_diff(a.encoder, b.encoder), lp = max_abs_diff(a.log_probs, b.log_probs);
        EXPECT_LE(enc, kTolerance) << where << ": encoder output differs by " << test::sci(enc);
        EXPECT_LE(lp, kTolerance) << where << ": CTC log-probs differ by " << test::sci(lp);
        expect_same_nbest(a.result, b.result, kTolerance, where);
        ++cases;
      }
    }
  }
  EXPECT_EQ(cases, static_cast<int>(std::size(kModels)) * 2 * 4);  // models x utterances x modes
}

// Mixture of Tokens (within sequence), a Soft MoE FFN with Soft-MoA adapters,
// and dense MoA adapters: the same layers, now on the device too.
TEST_P(DeviceModel, OtherFfnAndAdapterKindsMatchTheCpu) {
  const std::vector<float> fbank = fbank_of("hello");
  for (const char* path : kOtherKinds) {
    auto cpu = load(path, Device::cpu());
    auto dev = load(path, device());
    for (Mode m : {Mode{-1, -1}, Mode{4, 2}}) {
      const std::string where = std::string(path) + " chunk " + std::to_string(m.chunk);
      const Decoded a = decode(cpu, fbank, m), b = decode(dev, fbank, m);
      ASSERT_FALSE(a.encoder.empty()) << where;
      EXPECT_LE(max_abs_diff(a.encoder, b.encoder), kTolerance) << where;
      EXPECT_LE(max_abs_diff(a.log_probs, b.log_probs), kTolerance) << where;
      EXPECT_EQ(a.result.tokens, b.result.tokens) << where;
    }
  }
}

// A long utterance in full attention: the CPU runs the subsampling in rounds
// of 64 output frames (several pieces of one chunk), the device in one round
// (conv2d6's im2col bounded to ~64 MB), so the piece bookkeeping of every
// input layer is checked against a run that does not split.
TEST_P(DeviceModel, LongInputSubsamplingInRoundsMatchesTheCpu) {
  std::vector<float> fbank;
  for (int i = 0; i < 3; ++i) {
    for (const char* utt : {"hello", "numbers"}) {
      const std::vector<float> f = fbank_of(utt);
      fbank.insert(fbank.end(), f.begin(), f.end());
    }
  }
  for (const char* name : {"moe_ln", "tf_moe_c6", "cf_c8_abs", "cf_lin_nopos"}) {
    const std::string path = std::string("models/") + name;
    const Decoded a = decode(load(path, Device::cpu()), fbank, {-1, -1});
    const Decoded b = decode(load(path, device()), fbank, {-1, -1});
    ASSERT_GT(a.encoder.size(), size_t{64 * 32}) << name;  // more than one CPU round
    EXPECT_LE(max_abs_diff(a.encoder, b.encoder), kTolerance) << name;
    EXPECT_LE(max_abs_diff(a.log_probs, b.log_probs), kTolerance) << name;
  }
}

TEST_P(DeviceModel, Bfloat16KeepsTheFixtureNbest) {
  for (const char* name : kModels) {
    const std::string path = std::string("models/") + name;
    auto cpu = load(path, Device::cpu());
    auto dev = load(path, device(), "bfloat16");
    for (const char* utt : {"hello", "numbers"}) {
      const std::vector<float> fbank = fbank_of(utt);
      for (Mode mode : kModes) {
        const Mode m = streamable(mode, *cpu);
        const std::string where = std::string(name) + "/" + utt + " chunk " + std::to_string(m.chunk);
        const Decoded a = decode(cpu, fbank, m);
        const Decoded b = decode(dev, fbank, m);
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

TEST_P(DeviceModel, GoldenBestTokens) {
  // The reference (WeNet numerics) chose these; the device must too.
  for (const char* name : kModels) {
    auto dev = load(std::string("models/") + name, device());
    for (const char* utt : {"hello", "numbers"}) {
      std::ifstream in(test::data_path(std::string("golden/") + name + "/" + utt + ".json"));
      const nlohmann::json golden = nlohmann::json::parse(in);
      auto fb = test::read_golden(test::data_path(std::string("golden/") + name + "/" + utt + ".safetensors"));
      for (auto it = golden["modes"].begin(); it != golden["modes"].end(); ++it) {
        const DecodeOptions o = test::golden_decode_options(golden, it.value());
        Stream s(dev, o);
        s.accept_features(fb.at("fbank").data.data(), fb.at("fbank").shape[0]);
        s.input_finished();
        s.decode();
        EXPECT_EQ(s.final_result().tokens, it.value()["best_tokens"].get<std::vector<int>>())
            << name << "/" << utt << "/" << it.key();
      }
    }
  }
}

// A transducer's greedy and beam searches on the device: the reference's
// tokens in every mode (the predictor and joiner run on the device, chunk by chunk).
TEST_P(DeviceModel, TransducerSearchTokensMatchTheGoldens) {
  auto dev = load("models/rnnt_lstm", device());
  for (const char* utt : {"hello", "numbers"}) {
    std::ifstream in(test::data_path(std::string("golden/rnnt_lstm/") + utt + ".json"));
    const nlohmann::json golden = nlohmann::json::parse(in);
    auto fb = test::read_golden(test::data_path(std::string("golden/rnnt_lstm/") + utt + ".safetensors"));
    for (auto it = golden["modes"].begin(); it != golden["modes"].end(); ++it) {
      DecodeOptions o = test::golden_decode_options(golden, it.value());
      o.search = SearchMethod::kTransducerGreedy;
      Stream s(dev, o);
      s.accept_features(fb.at("fbank").data.data(), fb.at("fbank").shape[0]);
      s.input_finished();
      s.decode();
      EXPECT_EQ(s.final_result().tokens, it.value()["greedy_tokens"].get<std::vector<int>>())
          << utt << "/" << it.key();
      o.search = SearchMethod::kTransducerBeam;
      o.nbest = 5;
      Stream b(dev, o);
      b.accept_features(fb.at("fbank").data.data(), fb.at("fbank").shape[0]);
      b.input_finished();
      b.decode();
      const nlohmann::json& beam = it.value()["beam"];
      ASSERT_EQ(b.final_result().nbest.size(), beam.size()) << utt << "/" << it.key();
      for (size_t i = 0; i < beam.size(); ++i) {
        EXPECT_EQ(b.final_result().nbest[i].tokens, beam[i]["tokens"].get<std::vector<int>>()) << utt << "/" << it.key();
      }
    }
  }
}

// Many streams of different lengths in one batched step give what each gives
// alone; a reset stream decodes its next utterance from a clean state. The
// batch runs on a model with 4 threads: the streams' CTC searches run in
// parallel there.
TEST_P(DeviceModel, BatchedStreamsEqualSequentialOnes) {
  auto dev = load("models/moe_ln", device());
  auto dev_threads = load("models/moe_ln", device(), "default", 4);
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
      Stream s(dev, o);
      s.accept_waveform(a.data(), a.size(), 16000);
      s.input_finished();
      s.decode();
      alone.push_back(s.final_result());
    }
    std::vector<std::unique_ptr<Stream>> streams;
    std::vector<Stream*> raw;
    for (size_t i = 0; i < audio.size(); ++i) {
      streams.push_back(std::make_unique<Stream>(dev_threads, o));
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

TEST_P(DeviceModel, OfflineBatchEqualsStreams) {
  auto dev = load("models/odd_dims", device());
  DecodeOptions o;
  o.chunk_size = -1;
  std::vector<std::vector<float>> feats;
  std::vector<UtteranceFeatures> batch;
  std::vector<RecognitionResult> alone;
  for (const char* utt : {"hello", "numbers", "hello"}) feats.push_back(fbank_of(utt));
  for (const std::vector<float>& f : feats) {
    Stream s(dev, o);
    s.accept_features(f.data(), static_cast<int64_t>(f.size()) / 80);
    s.input_finished();
    s.decode();
    alone.push_back(s.final_result());
    batch.push_back({f.data(), static_cast<int64_t>(f.size()) / 80});
  }
  const auto done = decode_batch(*dev, batch, o);
  for (size_t i = 0; i < done.size(); ++i) {
    expect_same_nbest(alone[i], done[i]->final_result(), 1e-4, "utterance " + std::to_string(i));
  }
}

// A model whose Mixture of Tokens mixes the utterances of a batch runs there
// on the device too, as on the CPU.
TEST_P(DeviceModel, CrossExampleMixtureOfTokensBatchMatchesTheCpu) {
  const auto golden = test::read_golden(test::data_path("golden/mot_cross/batch.safetensors"));
  std::vector<UtteranceFeatures> batch;
  for (int i = 0; i < 5; ++i) {
    const test::GoldenTensor& f = golden.at("fbank." + std::to_string(i));
    batch.push_back({f.data.data(), f.shape[0]});
  }
  const auto on_cpu = decode_batch(*load("models/mot_cross", Device::cpu()), batch, DecodeOptions(), true);
  const auto on_dev = decode_batch(*load("models/mot_cross", device()), batch, DecodeOptions(), true);
  for (size_t i = 0; i < batch.size(); ++i) {
    EXPECT_LE(max_abs_diff(on_cpu[i]->encoder_output(), on_dev[i]->encoder_output()), kTolerance) << i;
    EXPECT_EQ(on_cpu[i]->final_result().tokens, on_dev[i]->final_result().tokens) << i;
  }
}

TEST_P(DeviceModel, DecoderScoresMatchTheCpu) {
  for (const char* name : kModels) {
    const std::string path = std::string("models/") + name;
    auto cpu = load(path, Device::cpu());
    auto dev = load(path, device());
    const Decoded d = decode(cpu, fbank_of("hello"), Mode{-1, -1});
    const int64_t dm = cpu->encoder().d_model();
    const int64_t frames = static_cast<int64_t>(d.encoder.size()) / dm;
    std::vector<std::vector<int>> hyps;
    for (const Hypothesis& h : d.result.nbest) hyps.push_back(h.tokens);
    hyps.push_back({});            // the empty hypothesis scores <eos> alone
    hyps.push_back({1, 2, 3, 1});  // repeated tokens
    auto cpu_be = Backend::open(Device::cpu());
    auto dev_be = Backend::open(device());
    const Tensor memory = test::host_tensor({frames, dm}, d.encoder);
    DecoderWorkspace ws_cpu, ws_dev;
    const auto want = cpu->decoder()->score(*cpu_be, memory, hyps, true, ws_cpu);
    const auto got = dev->decoder()->score(*dev_be, test::to_device(*dev_be, memory), hyps, true, ws_dev);
    ASSERT_EQ(want.size(), got.size());
    for (size_t i = 0; i < want.size(); ++i) {
      EXPECT_NEAR(want[i].l2r, got[i].l2r, kTolerance) << name << " hypothesis " << i;
      EXPECT_NEAR(want[i].r2l, got[i].r2l, kTolerance) << name << " hypothesis " << i;
    }
    std::string msg;
    EXPECT_EQ(test::status_of([&] {
                dev->decoder()->score(*dev_be, test::to_device(*dev_be, memory), {{cpu->config().vocab_size}}, false,
                                      ws_dev);
              }, &msg),
              MOEASR_ERR_INVALID_ARGUMENT)
        << msg;
  }
}

// The C API end to end: text and scores of a device model equal the CPU's.
TEST_P(DeviceModel, CApiDecodesLikeTheCpu) {
  const Waveform wav = read_wav(test::data_path("audio/numbers.wav"));
  moeasr_model* models[2] = {nullptr, nullptr};
  const std::string name = device().name();
  for (int i = 0; i < 2; ++i) {
    moeasr_model_options o;
    ASSERT_EQ(moeasr_model_default_options(&o), MOEASR_OK);
    o.device = i ? name.c_str() : "cpu";
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
  for (size_t k = 0; k < scores[0].size(); ++k) EXPECT_NEAR(scores[0][k], scores[1][k], kTolerance) << k;
}

// int8 has no kernels on the device: refused at load, naming the type, and
// a file that stores int8 weights is refused unless converted at load.
TEST_P(DeviceModel, Int8IsRefusedWhereTheDeviceHasNoKernels) {
  if (device_reads(device().kind, WeightType::kI8)) GTEST_SKIP() << device().name() << " reads int8";
  ModelOptions o;
  o.device = device().name();
  o.compute_type = "int8";
  std::string msg;
  EXPECT_EQ(test::status_of([&] { AsrModel::load(test::data_path("models/moe_ln"), o); }, &msg),
            MOEASR_ERR_UNSUPPORTED);
  EXPECT_NE(msg.find("int8"), std::string::npos) << msg;
}

INSTANTIATE_TEST_SUITE_P(Devices, DeviceModel, ::testing::ValuesIn(accelerators()), test::device_label);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(DeviceModel);

}  // namespace
}  // namespace moeasr
