// The AST classifier against its PyTorch reference (tools/moeasr_ref/ast.py,
// fixtures by tools/make_ast_fixtures.py in tests/data/ast): the hanning fbank
// of hello.wav within the fbank tolerance (1e-3 abs), and the logits of three
// tiny random models (Soft-MoA next to attention and MLP with CLS/DIST pooling
// and sigmoid; dense MoA next to the MLP with mean pooling; plain AST) within
// 1e-4 abs, both from the reference's own fbank (the network alone) and from
// the WAV (the whole path). Plus the loader's errors.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <limits>

#include "core/mapped_file.h"
#include "frontend/fbank.h"
#include "frontend/wav_reader.h"
#include "formats/classifier_config.h"
#include "classifier/classifier.h"
#include "test_util.h"

namespace moeasr {
namespace {

using test::max_abs_diff;

constexpr double kFbankTolerance = 1e-3;  // as FbankTest (issue A1)
constexpr double kLogitTolerance = 1e-4;  // issue A8

const char* const kCases[] = {"soft_moa", "dense_moa", "plain"};

std::shared_ptr<const Classifier> fixture(const std::string& name) {
  static std::map<std::string, std::shared_ptr<const Classifier>> cache;
  auto& c = cache[name];
  if (!c) c = Classifier::load(test::data_path("ast/" + name));
  return c;
}

const Waveform& hello() {
  static const Waveform w = read_wav(test::data_path("audio/hello.wav"));
  return w;
}

TEST(AstTest, HanningFbankMatchesTorchaudioWithHuggingFaceArguments) {
  const auto golden = test::read_golden(test::data_path("ast/hello_fbank.safetensors")).at("fbank");
  const std::vector<float> feats = fixture("plain")->fbank(hello().samples.data(), hello().samples.size());
  ASSERT_EQ(golden.shape, (std::vector<int64_t>{static_cast<int64_t>(feats.size() / 128), 128}));
  const double err = max_abs_diff(feats, golden.data);
  EXPECT_LT(err, kFbankTolerance);
  RecordProperty("max_abs_err", test::sci(err));
  // The povey window gives different features: the option is really used.
  FbankOptions povey;
  povey.num_mel_bins = 128;
  povey.input_scale = 1.f;
  const std::vector<float> other = compute_fbank(hello().samples.data(), hello().samples.size(), povey);
  EXPECT_GT(max_abs_diff(other, golden.data), 1e-2);
}

TEST(AstTest, LogitsMatchReferenceFromReferenceFbank) {
  const auto fbank = test::read_golden(test::data_path("ast/hello_fbank.safetensors")).at("fbank");
  for (const char* name : kCases) {
    auto c = fixture(name);
    const auto golden = test::read_golden(test::data_path(std::string("ast/") + name + ".golden.safetensors"));
    AstModel model(c->config(), SafeTensors::open(test::data_path(std::string("ast/") + name + "/model.safetensors")));
    const std::vector<float> logits = model.forward(c->input_values(fbank.data).data());
    const double err = max_abs_diff(logits, golden.at("logits").data);
    EXPECT_LT(err, kLogitTolerance) << name;
    RecordProperty(std::string("max_abs_err_") + name, test::sci(err));
  }
}

TEST(AstTest, LogitsAndScoresMatchReferenceFromWav) {
  for (const char* name : kCases) {
    auto c = fixture(name);
    const auto golden = test::read_golden(test::data_path(std::string("ast/") + name + ".golden.safetensors"));
    const std::vector<float> logits = c->logits(hello().samples.data(), hello().samples.size(), 16000);
    const double err = max_abs_diff(logits, golden.at("logits").data);
    EXPECT_LT(err, kLogitTolerance) << name;
    EXPECT_LT(max_abs_diff(c->scores(logits), golden.at("scores").data), kLogitTolerance) << name;
    RecordProperty(std::string("max_abs_err_") + name, test::sci(err));
  }
}

TEST(AstTest, ClassifyRanksByScore) {
  auto c = fixture("soft_moa");
  const auto golden = test::read_golden(test::data_path("ast/soft_moa.golden.safetensors")).at("scores").data;
  const auto top = c->classify(hello().samples.data(), hello().samples.size(), 16000, 3);
  ASSERT_EQ(top.size(), 3u);
  for (size_t i = 0; i < top.size(); ++i) {
    EXPECT_EQ(top[i].label, c->labels()[top[i].index]);
    EXPECT_NEAR(top[i].score, golden[top[i].index], kLogitTolerance);
    for (size_t j = 0; j < golden.size(); ++j) {
      // Nothing left out scores higher than what was kept.
      bool kept = false;
      for (const auto& t : top) kept = kept || t.index == static_cast<int>(j);
      if (!kept) {
        EXPECT_LE(golden[j], top.back().score + 1e-6);
      }
    }
    if (i) {
      EXPECT_GE(top[i - 1].score, top[i].score);
    }
  }
  EXPECT_EQ(c->classify(hello().samples.data(), hello().samples.size(), 16000, 1000).size(), c->labels().size());
}

TEST(AstTest, OtherRatesAreResampled) {
  auto c = fixture("plain");
  const Waveform w8 = read_wav(test::data_path("audio/hello_8k.wav"));
  ASSERT_EQ(w8.sample_rate, 8000);
  const std::vector<float> at16 = c->logits(hello().samples.data(), hello().samples.size(), 16000);
  const std::vector<float> at8 = c->logits(w8.samples.data(), w8.samples.size(), 8000);
  // Band-limited to 4 kHz, so not equal; but the same clip.
  const double err = max_abs_diff(at16, at8);
  EXPECT_LT(err, 0.5);
  RecordProperty("max_abs_diff_8k_vs_16k", test::sci(err));
}

TEST(AstTest, BadAudioIsRefused) {
  auto c = fixture("plain");
  std::vector<float> s(16000, 0.1f);
  std::string msg;
  EXPECT_EQ(test::status_of([&] { c->logits(nullptr, 10, 16000); }, &msg), MOEASR_ERR_INVALID_ARGUMENT);
  s[77] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(test::status_of([&] { c->logits(s.data(), s.size(), 16000); }, &msg), MOEASR_ERR_INVALID_ARGUMENT);
  EXPECT_NE(msg.find("sample 77"), std::string::npos) << msg;
  s[77] = std::numeric_limits<float>::infinity();
  EXPECT_EQ(test::status_of([&] { c->logits(s.data(), s.size(), 16000); }), MOEASR_ERR_INVALID_ARGUMENT);
  s[77] = 0.f;
  EXPECT_EQ(test::status_of([&] { c->logits(s.data(), 399, 16000); }, &msg), MOEASR_ERR_INVALID_ARGUMENT);
  EXPECT_NE(msg.find("shorter than one"), std::string::npos) << msg;
  EXPECT_EQ(test::status_of([&] { c->logits(s.data(), 0, 16000); }), MOEASR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(test::status_of([&] { c->logits(s.data(), s.size(), 0); }), MOEASR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(test::status_of([&] { c->logits(s.data(), s.size(), 16000 * 1000); }), MOEASR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(test::status_of([&] { c->classify(s.data(), s.size(), 16000, 0); }, &msg), MOEASR_ERR_INVALID_ARGUMENT);
  EXPECT_NE(msg.find("top_k"), std::string::npos) << msg;
  EXPECT_EQ(test::status_of([&] { c->logits(s.data(), 400, 16000); }), MOEASR_OK);  // one frame is enough
}

// ---- the loader ----

std::string fixture_yaml() { return read_file(test::data_path("ast/soft_moa/classifier.yaml")); }

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

moeasr_status parse_status(const std::string& yaml, std::string* msg) {
  return test::status_of([&] { parse_ast_config(yaml, "classifier.yaml"); }, msg);
}

TEST(AstConfigTest, FixtureParses) {
  const AstConfig c = parse_ast_config(fixture_yaml(), "x");
  EXPECT_EQ(c.hidden, 32);
  EXPECT_EQ(c.f_dim(), 12);
  EXPECT_EQ(c.t_dim(), 9);
  EXPECT_EQ(c.num_tokens(), 110);
  EXPECT_EQ(c.adapter.type, AdapterType::kSoftMoa);
  EXPECT_TRUE(c.adapter.self_attn && c.adapter.feed_forward);
  EXPECT_EQ(c.pooling, AstPooling::kClsDist);
  EXPECT_EQ(c.score, AstScore::kSigmoid);
}

TEST(AstConfigTest, ErrorsNameTheKey) {
  struct Case {
    std::string from, to;
    moeasr_status status;
    std::string expect;
  } cases[] = {
      {"model_type: ast", "model_type: whisper", MOEASR_ERR_UNSUPPORTED, "model_type 'whisper'"},
      {"model_type: ast", "modeltype: ast", MOEASR_ERR_FORMAT, "unknown key modeltype"},
      {"  hidden_size: 32", "  hidden_size: 31", MOEASR_ERR_FORMAT, "not divisible by num_attention_heads"},
      {"  hidden_size: 32", "  hidden_size: -32", MOEASR_ERR_FORMAT, "encoder.hidden_size must be in"},
      {"  hidden_size: 32", "  hidden_size: wide", MOEASR_ERR_FORMAT, "encoder.hidden_size is not an integer"},
      {"  hidden_size: 32", "  hidden: 32", MOEASR_ERR_FORMAT, "unknown key encoder.hidden"},
      {"  hidden_act: gelu", "  hidden_act: relu", MOEASR_ERR_UNSUPPORTED, "encoder.hidden_act: 'relu'"},
      {"  max_length: 100", "  max_length: 10", MOEASR_ERR_FORMAT, "patch_size 16 is larger"},
      {"  max_length: 100", "", MOEASR_ERR_FORMAT, "frontend.max_length is missing"},
      {"  std: 4.5689974", "  std: 0", MOEASR_ERR_FORMAT, "frontend.std must be positive"},
      {"  mean: -4.2677393", "  mean: .nan", MOEASR_ERR_FORMAT, "frontend.mean is not a finite number"},
      {"  pooling: cls_dist", "  pooling: max", MOEASR_ERR_UNSUPPORTED, "head.pooling: 'max'"},
      {"  score: sigmoid", "  score: relu", MOEASR_ERR_UNSUPPORTED, "head.score: 'relu'"},
      {"  - self_attn", "  - feed_forward_macaron", MOEASR_ERR_FORMAT, "no macaron FFN"},
      {"  adapter_dim: 8", "  adapter_dim: 0", MOEASR_ERR_FORMAT, "adapter_conf.adapter_dim"},
      {"  adapter_dim: 8", "  adapter_size: 8", MOEASR_ERR_FORMAT, "unknown key adapter_conf.adapter_size"},
      {"  adapter_n_expert: 3", "  adapter_n_expert: 1000000000", MOEASR_ERR_FORMAT, "too many tensors"},
  };
  for (const Case& c : cases) {
    std::string msg;
    EXPECT_EQ(parse_status(replaced(fixture_yaml(), c.from, c.to), &msg), c.status) << c.to << ": " << msg;
    EXPECT_NE(msg.find(c.expect), std::string::npos) << msg;
  }
  std::string msg;
  EXPECT_EQ(parse_status("[1, 2]", &msg), MOEASR_ERR_FORMAT);
  EXPECT_EQ(parse_status("a: [", &msg), MOEASR_ERR_FORMAT);
  EXPECT_EQ(parse_status("model_type: ast\n", &msg), MOEASR_ERR_FORMAT);
  EXPECT_NE(msg.find("'frontend' mapping"), std::string::npos) << msg;
}

TEST(AstConfigTest, LabelsFile) {
  EXPECT_EQ(parse_labels("a\nb c\r\nd", "l"), (std::vector<std::string>{"a", "b c", "d"}));
  EXPECT_EQ(parse_labels("", "l").size(), 0u);
  std::string msg;
  EXPECT_EQ(test::status_of([&] { parse_labels("a\n\nb\n", "labels.txt"); }, &msg), MOEASR_ERR_FORMAT);
  EXPECT_NE(msg.find("labels.txt: line 2 is empty"), std::string::npos) << msg;
}

// A copy of a fixture directory with one file changed.
class BrokenDir {
 public:
  explicit BrokenDir(const std::string& name) {
    for (const char* f : {"classifier.yaml", "labels.txt", "model.safetensors"}) {
      test::copy_file(test::data_path("ast/" + name + "/" + f), dir_.file(f));
    }
  }
  const test::TempDir& dir() const { return dir_; }
  moeasr_status load(std::string* msg) {
    return test::status_of([&] { Classifier::load(dir_.path()); }, msg);
  }

 private:
  test::TempDir dir_;
};

TEST(AstLoaderTest, RefusesBrokenDirectories) {
  std::string msg;
  EXPECT_EQ(test::status_of([&] { Classifier::load(test::data_path("ast/missing")); }, &msg), MOEASR_ERR_IO);
  {
    BrokenDir d("plain");
    test::write_file(d.dir().file("labels.txt"), "one\ntwo\n");
    EXPECT_EQ(d.load(&msg), MOEASR_ERR_FORMAT);
    EXPECT_NE(msg.find("has 2 labels but classifier.yaml head.num_labels is 11"), std::string::npos) << msg;
  }
  {
    BrokenDir d("plain");
    std::remove(d.dir().file("model.safetensors").c_str());
    EXPECT_EQ(d.load(&msg), MOEASR_ERR_IO) << msg;
  }
  {
    // The soft_moa weights under plain's config: every adapter tensor is unexpected.
    BrokenDir d("plain");
    test::copy_file(test::data_path("ast/soft_moa/model.safetensors"), d.dir().file("model.safetensors"));
    EXPECT_EQ(d.load(&msg), MOEASR_ERR_FORMAT);
    EXPECT_NE(msg.find("position_embeddings"), std::string::npos) << msg;  // 100 vs 120 frames: misshapen
  }
  {
    // Adapters configured but absent from the weights.
    BrokenDir d("plain");
    test::write_file(d.dir().file("classifier.yaml"),
                     read_file(test::data_path("ast/plain/classifier.yaml")) +
                         "adapter_conf:\n  adapter_type: dense_moa\n  adapter_dim: 8\n  adapter_n_expert: 2\n");
    EXPECT_EQ(d.load(&msg), MOEASR_ERR_FORMAT);
    EXPECT_NE(msg.find("adapter_feed_forward.gate.weight"), std::string::npos) << msg;
  }
  {
    BrokenDir d("plain");
    test::write_file(d.dir().file("model.safetensors"), "not a safetensors file");
    EXPECT_EQ(d.load(&msg), MOEASR_ERR_FORMAT) << msg;
  }
  ClassifierOptions o;
  o.device = "cuda";
  EXPECT_EQ(test::status_of([&] { Classifier::load(test::data_path("ast/plain"), o); }), MOEASR_ERR_UNSUPPORTED);
  o.device = "cpu";
  o.threads = 0;
  EXPECT_EQ(test::status_of([&] { Classifier::load(test::data_path("ast/plain"), o); }),
            MOEASR_ERR_INVALID_ARGUMENT);
}

}  // namespace
}  // namespace moeasr
