// A transducer's predictor, joiner and greedy search against the PyTorch
// reference (tools/moeasr_ref/transducer_search.py, checked against WeNet's
// own basic_greedy_search by tools/check_against_wenet.py) on the committed
// fixture tests/data/models/rnnt_lstm: the golden encoder output of every
// utterance and mode goes in, the token sequence must be identical. Every
// greedy decision of the fixture has its best joiner logit at least 1e-4
// above the runner-up (tools/fixtures/margins.py), well above float32
// rounding differences (~1e-6 in the joiner's logits), so equality is exact.
#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <fstream>

#include <nlohmann/json.hpp>

#include "asr/transducer_beam.h"
#include "asr/transducer_greedy.h"
#include "formats/safetensors.h"
#include "moeasr/moeasr.h"
#include "ops/backend.h"
#include "runtime/asr_model.h"
#include "runtime/stream.h"
#include "test_util.h"

namespace moeasr {
namespace {

const char* kModel = "rnnt_lstm";

std::shared_ptr<const AsrModel> model() {
  static std::shared_ptr<const AsrModel> m = AsrModel::load(test::data_path(std::string("models/") + kModel));
  return m;
}

// The golden beams: WeNet's Transducer.beam_search weights (CTC 0.3,
// transducer 0.7) and its recognize.py's search weights (1.0, 0.0), which
// find different beams on every utterance and mode of the fixture.
struct BeamWeights {
  const char* golden_key;
  float ctc_weight, transducer_weight;
};
constexpr BeamWeights kBeamWeights[] = {{"beam", 0.3f, 0.7f}, {"beam_recognize_weights", 1.0f, 0.0f}};

Tensor rows_of(const test::GoldenTensor& g) {
  Tensor t({g.shape[0], g.shape[1]});
  std::copy(g.data.begin(), g.data.end(), t.data<float>());
  return t;
}

TEST(TransducerGolden, GreedySearchMatchesReferenceWholeAndChunkByChunk) {
  ASSERT_NE(model()->transducer(), nullptr);
  auto backend = Backend::open(Device::cpu());
  int checked = 0;
  for (const char* utt : {"hello", "numbers"}) {
    const std::string base = test::data_path(std::string("golden/") + kModel + "/" + utt);
    const auto tensors = test::read_golden(base + ".safetensors");
    std::ifstream in(base + ".json");
    const nlohmann::json golden = nlohmann::json::parse(in);
    for (auto it = golden["modes"].begin(); it != golden["modes"].end(); ++it) {
      const std::vector<int> expected = it.value()["greedy_tokens"].get<std::vector<int>>();
      const Tensor rows = rows_of(tensors.at("encoder_out." + it.key()));
      TransducerWorkspace ws;
      TransducerGreedySearch whole(*model()->transducer());
      whole.advance(*backend, rows, ws);
      EXPECT_EQ(whole.tokens(), expected) << utt << " " << it.key();
      // Fed in pieces of 1, 3 and 7 frames, the predictor state carried across.
      for (int64_t piece : {1, 3, 7}) {
        TransducerGreedySearch chunked(*model()->transducer());
        for (int64_t t = 0; t < rows.dim(0); t += piece) {
          chunked.advance(*backend, rows.slice_rows(t, std::min(piece, rows.dim(0) - t)), ws);
        }
        EXPECT_EQ(chunked.tokens(), expected) << utt << " " << it.key() << " pieces of " << piece;
        EXPECT_EQ(chunked.frames(), whole.frames());
      }
      ++checked;
    }
  }
  EXPECT_EQ(checked, 8);  // 2 utterances x 4 modes
}

// Through a Stream: the reference's fbank in, the encoder chunk by chunk (or
// in full attention), the greedy search fed each step's rows.
TEST(TransducerGolden, StreamGreedySearchMatchesReferenceInEveryMode) {
  struct Mode {
    const char* name;
    int chunk, left;
  } modes[] = {{"full", -1, -1}, {"chunk16_left-1", 16, -1}, {"chunk4_left2", 4, 2}, {"chunk1_left-1", 1, -1}};
  for (const char* utt : {"hello", "numbers"}) {
    const std::string base = test::data_path(std::string("golden/") + kModel + "/" + utt);
    const auto tensors = test::read_golden(base + ".safetensors");
    std::ifstream in(base + ".json");
    const nlohmann::json golden = nlohmann::json::parse(in);
    const test::GoldenTensor& fbank = tensors.at("fbank");
    for (const Mode& m : modes) {
      DecodeOptions o;
      o.chunk_size = m.chunk;
      o.num_left_chunks = m.left;
      o.search = SearchMethod::kTransducerGreedy;
      Stream stream(model(), o);
      stream.accept_features(fbank.data.data(), fbank.shape[0]);
      stream.input_finished();
      stream.decode();
      ASSERT_EQ(stream.state(), Stream::State::kDone);
      const RecognitionResult& r = stream.final_result();
      ASSERT_EQ(r.nbest.size(), 1u);
      EXPECT_EQ(r.tokens, golden["modes"][m.name]["greedy_tokens"].get<std::vector<int>>()) << utt << " " << m.name;
      EXPECT_EQ(r.timestamps_ms.size(), r.tokens.size());
      EXPECT_FALSE(r.nbest[0].rescored);
    }
  }
}

// The beam search through a Stream, chunk by chunk: the reference's beam.
TEST(TransducerGolden, StreamBeamSearchMatchesReferenceInEveryMode) {
  struct Mode {
    const char* name;
    int chunk, left;
  } modes[] = {{"full", -1, -1}, {"chunk16_left-1", 16, -1}, {"chunk4_left2", 4, 2}, {"chunk1_left-1", 1, -1}};
  for (const char* utt : {"hello", "numbers"}) {
    const std::string base = test::data_path(std::string("golden/") + kModel + "/" + utt);
    const auto tensors = test::read_golden(base + ".safetensors");
    std::ifstream in(base + ".json");
    const nlohmann::json golden = nlohmann::json::parse(in);
    const test::GoldenTensor& fbank = tensors.at("fbank");
    for (const Mode& m : modes) {
      for (const BeamWeights& w : kBeamWeights) {
        DecodeOptions o;
        o.chunk_size = m.chunk;
        o.num_left_chunks = m.left;
        o.nbest = 5;
        o.search = SearchMethod::kTransducerBeam;
        o.transducer_ctc_weight = w.ctc_weight;
        o.transducer_weight = w.transducer_weight;
        Stream stream(model(), o);
        stream.accept_features(fbank.data.data(), fbank.shape[0]);
        stream.input_finished();
        stream.decode();
        const RecognitionResult& r = stream.final_result();
        const nlohmann::json& beam = golden["modes"][m.name][w.golden_key];
        const std::string where = std::string(utt) + " " + m.name + " " + w.golden_key;
        ASSERT_EQ(r.nbest.size(), beam.size()) << where;
        for (size_t i = 0; i < beam.size(); ++i) {
          EXPECT_EQ(r.nbest[i].tokens, beam[i]["tokens"].get<std::vector<int>>()) << where << " " << i;
          EXPECT_NEAR(r.nbest[i].score, beam[i]["score"].get<double>(), 1e-3) << where << " " << i;
          EXPECT_EQ(r.nbest[i].timestamps_ms.size(), r.nbest[i].tokens.size());
        }
        EXPECT_EQ(r.tokens, r.nbest[0].tokens);
      }
    }
  }
}

TEST(TransducerGolden, GreedySearchNeedsATransducerModel) {
  DecodeOptions o;
  o.search = SearchMethod::kTransducerGreedy;
  std::string msg;
  EXPECT_EQ(test::status_of([&] { Stream s(AsrModel::load(test::data_path("models/dense_bn")), o); }, &msg),
            MOEASR_ERR_INVALID_ARGUMENT);
  EXPECT_NE(msg.find("needs a model: transducer"), std::string::npos) << msg;
}

// WeNet's transducer prefix beam search (beam 5) from the golden encoder
// output and CTC log-probs: the reference's beam (tokens exactly, scores
// within 1e-3, the golden tests' score tolerance), whole and fed in pieces of
// 7 frames, at both weightings.
TEST(TransducerGolden, BeamSearchMatchesReference) {
  auto backend = Backend::open(Device::cpu());
  for (const char* utt : {"hello", "numbers"}) {
    const std::string base = test::data_path(std::string("golden/") + kModel + "/" + utt);
    const auto tensors = test::read_golden(base + ".safetensors");
    std::ifstream in(base + ".json");
    const nlohmann::json golden = nlohmann::json::parse(in);
    for (auto it = golden["modes"].begin(); it != golden["modes"].end(); ++it) {
      const Tensor rows = rows_of(tensors.at("encoder_out." + it.key()));
      const test::GoldenTensor& ctc = tensors.at("ctc_logprobs." + it.key());
      const int64_t vocab = ctc.shape[1];
      for (const BeamWeights& w : kBeamWeights) {
        TransducerBeamOptions options;
        options.ctc_weight = w.ctc_weight;
        options.transducer_weight = w.transducer_weight;
        for (int64_t piece : {rows.dim(0), int64_t{7}}) {
          TransducerWorkspace ws;
          TransducerBeamSearch search(*model()->transducer(), options);
          for (int64_t t = 0; t < rows.dim(0); t += piece) {
            const int64_t n = std::min(piece, rows.dim(0) - t);
            search.advance(*backend, rows.slice_rows(t, n), ctc.data.data() + t * vocab, ws);
          }
          const nlohmann::json& beam = it.value()[w.golden_key];
          ASSERT_EQ(search.beam().size(), beam.size()) << utt << " " << it.key() << " " << w.golden_key;
          for (size_t i = 0; i < beam.size(); ++i) {
            EXPECT_EQ(search.beam()[i].tokens, beam[i]["tokens"].get<std::vector<int>>())
                << utt << " " << it.key() << " " << w.golden_key << " hypothesis " << i;
            EXPECT_NEAR(search.beam()[i].score, beam[i]["score"].get<double>(), 1e-3)
                << utt << " " << it.key() << " " << w.golden_key << " hypothesis " << i;
          }
        }
      }
    }
  }
}

// The predictors and joiners rnnt_lstm lacks, alone (tools/make_transducer_fixtures.py):
// the predictor's projected output after each token and the joiner's logits
// within 1e-5 of the reference, and the greedy search's tokens (limit 4 per frame).
TEST(TransducerGolden, PredictorsAndJoinersMatchReference) {
  auto backend = Backend::open(Device::cpu());
  for (const char* name : {"embedding_postjoin", "conv_no_prejoin", "conv_history0", "rnn_1layer_nobias"}) {
    const std::string base = test::data_path(std::string("golden/transducer_layers/") + name);
    std::ifstream in(base + ".json");
    const nlohmann::json j = nlohmann::json::parse(in);
    // train.yaml is YAML, and JSON is YAML.
    const std::string yaml = "output_dim: " + std::to_string(j["vocab"].get<int>()) +
                             "\nmodel: transducer\nencoder_conf: {output_size: " +
                             std::to_string(j["encoder_size"].get<int>()) + ", attention_heads: 2}\npredictor: " +
                             j["predictor"].dump() + "\npredictor_conf: " + j["predictor_conf"].dump() +
                             "\njoint_conf: " + j["joint_conf"].dump() + "\n";
    const ModelConfig config = parse_model_config(yaml, name, -1);
    const auto st = SafeTensors::open(base + ".safetensors");
    const Transducer t(config, WeightReader(*st, PrecisionPolicy(), *backend));
    const auto golden = test::read_golden(base + ".safetensors");
    const test::GoldenTensor& projected = golden.at("golden.projected");
    const test::GoldenTensor& logits = golden.at("golden.logits");
    const Tensor encoder = rows_of(golden.at("golden.encoder"));
    TransducerWorkspace ws;
    Tensor enc, proj, out;
    t.project_encoder(*backend, encoder, enc);
    PredictorState state = t.initial_state(*backend);
    const std::vector<int> tokens = j["tokens"].get<std::vector<int>>();
    const int64_t join = projected.shape[1], frames = encoder.dim(0), vocab = logits.shape[2];
    double proj_err = 0, logit_err = 0;
    for (size_t s = 0; s < tokens.size(); ++s) {
      t.step(*backend, tokens[s], state, state, proj, ws);
      ASSERT_EQ(proj.numel(), join) << name;
      for (int64_t i = 0; i < join; ++i) {
        proj_err = std::max(proj_err, double(std::abs(proj.data<float>()[i] - projected.data[s * join + i])));
      }
      t.joint(*backend, enc, proj, out, ws);
      ASSERT_EQ(out.numel(), frames * vocab) << name;
      for (int64_t i = 0; i < frames * vocab; ++i) {
        logit_err = std::max(logit_err,
                             double(std::abs(out.data<float>()[i] - logits.data[s * frames * vocab + i])));
      }
    }
    EXPECT_LT(proj_err, 1e-5) << name;
    EXPECT_LT(logit_err, 1e-5) << name;
    TransducerGreedySearch greedy(t, j["max_symbols_per_frame"].get<int>());
    greedy.advance(*backend, encoder, ws);
    EXPECT_EQ(greedy.tokens(), j["greedy_tokens"].get<std::vector<int>>()) << name;
  }
}

// The C API's search option: the same tokens as the C++ Stream; refusals.
TEST(TransducerGolden, CApiSearchOption) {
  const std::string dir = test::data_path(std::string("models/") + kModel);
  moeasr_model* m = nullptr;
  ASSERT_EQ(moeasr_model_load(dir.c_str(), nullptr, &m), MOEASR_OK) << moeasr_last_error();
  moeasr_stream_options o;
  moeasr_stream_default_options(&o);
  EXPECT_EQ(o.search, MOEASR_SEARCH_CTC);
  o.chunk_size = 4;
  o.search = 7;
  moeasr_stream* s = nullptr;
  EXPECT_EQ(moeasr_stream_create(m, &o, &s), MOEASR_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(moeasr_last_error()).find("MOEASR_SEARCH_TRANSDUCER_BEAM (2), got 7"), std::string::npos);
  o.search = MOEASR_SEARCH_TRANSDUCER_GREEDY;
  ASSERT_EQ(moeasr_stream_create(m, &o, &s), MOEASR_OK) << moeasr_last_error();
  std::vector<float> audio(16000);
  for (size_t i = 0; i < audio.size(); ++i) audio[i] = 0.3f * std::sin(0.05f * i) * std::sin(0.0007f * i);
  ASSERT_EQ(moeasr_stream_accept_waveform(s, audio.data(), audio.size(), 16000), MOEASR_OK);
  ASSERT_EQ(moeasr_stream_input_finished(s), MOEASR_OK);
  ASSERT_EQ(moeasr_stream_decode(s), MOEASR_OK) << moeasr_last_error();
  moeasr_result* r = nullptr;
  ASSERT_EQ(moeasr_stream_get_final_result(s, &r), MOEASR_OK) << moeasr_last_error();
  // The same audio through the C++ Stream.
  auto cpp_tokens = [&](const DecodeOptions& options) {
    Stream cpp(model(), options);
    cpp.accept_waveform(audio.data(), audio.size(), 16000);
    cpp.input_finished();
    cpp.decode();
    return cpp.final_result().tokens;
  };
  DecodeOptions d;
  d.chunk_size = 4;
  d.search = SearchMethod::kTransducerGreedy;
  EXPECT_EQ(std::vector<int>(r->tokens, r->tokens + r->num_tokens), cpp_tokens(d));
  EXPECT_EQ(r->num_nbest, 1u);
  moeasr_result_free(r);
  moeasr_stream_free(s);

  // The beam's weights: defaults, refusals, and a struct that ends at `search`
  // (before the weights) gets the defaults.
  EXPECT_FLOAT_EQ(o.transducer_ctc_weight, 0.3f);
  EXPECT_FLOAT_EQ(o.transducer_weight, 0.7f);
  o.search = MOEASR_SEARCH_TRANSDUCER_BEAM;
  o.transducer_ctc_weight = 0.f;
  o.transducer_weight = 0.f;
  EXPECT_EQ(moeasr_stream_create(m, &o, &s), MOEASR_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(moeasr_last_error()).find("not both 0, got 0 and 0"), std::string::npos)
      << moeasr_last_error();
  o.transducer_weight = -1.f;
  EXPECT_EQ(moeasr_stream_create(m, &o, &s), MOEASR_ERR_INVALID_ARGUMENT);
  auto beam_tokens = [&](const moeasr_stream_options& options) {
    moeasr_stream* bs = nullptr;
    EXPECT_EQ(moeasr_stream_create(m, &options, &bs), MOEASR_OK) << moeasr_last_error();
    moeasr_stream_accept_waveform(bs, audio.data(), audio.size(), 16000);
    moeasr_stream_input_finished(bs);
    EXPECT_EQ(moeasr_stream_decode(bs), MOEASR_OK) << moeasr_last_error();
    moeasr_result* br = nullptr;
    EXPECT_EQ(moeasr_stream_get_final_result(bs, &br), MOEASR_OK) << moeasr_last_error();
    std::vector<int> tokens(br->tokens, br->tokens + br->num_tokens);
    moeasr_result_free(br);
    moeasr_stream_free(bs);
    return tokens;
  };
  o.transducer_ctc_weight = 1.f;
  o.transducer_weight = 0.f;
  const std::vector<int> ctc_only = beam_tokens(o);
  d.search = SearchMethod::kTransducerBeam;
  d.transducer_ctc_weight = 1.f;
  d.transducer_weight = 0.f;
  EXPECT_EQ(ctc_only, cpp_tokens(d));
  o.struct_size = offsetof(moeasr_stream_options, search) + sizeof(int32_t);
  const std::vector<int> old_struct = beam_tokens(o);
  DecodeOptions defaults;
  defaults.chunk_size = 4;
  defaults.search = SearchMethod::kTransducerBeam;
  EXPECT_EQ(old_struct, cpp_tokens(defaults));
  EXPECT_NE(old_struct, ctc_only) << "the weights should change this beam; the test proves nothing otherwise";
  moeasr_model_free(m);
}

}  // namespace
}  // namespace moeasr
