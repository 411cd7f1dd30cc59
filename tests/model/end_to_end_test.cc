// WAV in, text out: the whole pipeline (WAV reader, streaming fbank fed in
// random-sized pieces, chunked encoder, CTC search, rescoring) reproduces the
// reference's n-best and best hypothesis for every fixture model and mode.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include <nlohmann/json.hpp>

#include "frontend/wav_reader.h"
#include "runtime/asr_model.h"
#include "runtime/stream.h"
#include "model/golden_options.h"
#include "test_util.h"

namespace moeasr {
namespace {

TEST(EndToEnd, WavToNbestMatchesReferenceInEveryMode) {
  int cases = 0;
  std::mt19937 rng(99);
  for (const char* model_name : {"moe_ln", "dense_bn", "moe_k1", "odd_dims"}) {
    auto model = AsrModel::load(test::data_path(std::string("models/") + model_name));
    for (const char* utt : {"hello", "numbers"}) {
      std::ifstream in(test::data_path(std::string("golden/") + model_name + "/" + utt + ".json"));
      const nlohmann::json golden = nlohmann::json::parse(in);
      const Waveform wav = read_wav(test::data_path(std::string("audio/") + utt + ".wav"));
      for (auto it = golden["modes"].begin(); it != golden["modes"].end(); ++it) {
        const DecodeOptions o = test::golden_decode_options(golden, it.value());
        Stream s(model, o);
        std::uniform_int_distribution<size_t> piece(1, 4000);
        for (size_t pos = 0; pos < wav.samples.size();) {
          const size_t n = std::min(piece(rng), wav.samples.size() - pos);
          s.accept_waveform(wav.samples.data() + pos, n, wav.sample_rate);
          s.decode();
          pos += n;
        }
        s.input_finished();
        s.decode();
        const RecognitionResult r = s.final_result();
        std::vector<std::vector<int>> got, want;
        for (const Hypothesis& h : r.nbest) got.push_back(h.tokens);
        for (const auto& h : it.value()["nbest"]) want.push_back(h["tokens"].get<std::vector<int>>());
        std::sort(got.begin(), got.end());
        std::sort(want.begin(), want.end());
        EXPECT_EQ(got, want) << model_name << "/" << utt << "/" << it.key();
        EXPECT_EQ(r.tokens, it.value()["best_tokens"].get<std::vector<int>>()) << model_name << "/" << utt << "/" << it.key();
        ++cases;
      }
    }
  }
  EXPECT_EQ(cases, 32);
}

// A model-level check of the MoE grouped path against the per-expert loop
// (WeNet's formulation, ModelOptions::moe_gemm "loop"): the same encoder
// output on a real model.
TEST(EndToEnd, GroupedMoeEqualsPerExpertLoopInTheEncoder) {
  auto golden = test::read_golden(test::data_path("golden/moe_ln/hello.safetensors"));
  const test::GoldenTensor& fbank = golden.at("fbank");
  std::vector<float> out[2];
  for (int path = 0; path < 2; ++path) {
    ModelOptions mo;
    mo.moe_gemm = path == 0 ? "grouped" : "loop";
    DecodeOptions o;
    o.chunk_size = -1;
    Stream s(AsrModel::load(test::data_path("models/moe_ln"), mo), o);
    s.set_keep_debug_outputs(true);
    s.accept_features(fbank.data.data(), fbank.shape[0]);
    s.input_finished();
    s.decode();
    out[path] = s.encoder_output();
  }
  ASSERT_EQ(out[0].size(), out[1].size());
  ASSERT_FALSE(out[0].empty());
  double err = 0;
  for (size_t i = 0; i < out[0].size(); ++i) err = std::max(err, std::fabs(double(out[0][i]) - out[1][i]));
  EXPECT_LT(err, 1e-5);
}

}  // namespace
}  // namespace moeasr
