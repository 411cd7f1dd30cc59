// PETL_AST checkpoints (the Soft-MoA paper's own code) as tools/convert_petl_ast.py
// converts them (fixtures by tools/make_petl_fixtures.py in tests/data/petl; the
// goldens are checked against PETL's classes by tools/check_against_petl.py):
// Soft-MoA and Dense-MoA, Pfeiffer at MHSA (the mixture added twice) and at FFN,
// Houlsby, normalization on (PETL's variant) and off, CLS and mean-of-all pooling,
// the head without HF's LayerNorm. Logits within 1e-4 abs of the golden, from
// the WAV; then that each PETL option really changes the logits (so the options
// are read and used, not defaults that happen to agree), and their validation.
#include <gtest/gtest.h>

#include <cmath>

#include "classifier/classifier.h"
#include "core/mapped_file.h"
#include "formats/classifier_config.h"
#include "frontend/wav_reader.h"
#include "test_util.h"

namespace moeasr {
namespace {

using test::max_abs_diff;

constexpr double kLogitTolerance = 1e-4;  // issue B8

const char* const kCases[] = {"soft_pfeiffer_mhsa_norm", "soft_pfeiffer_ffn", "soft_houlsby_norm", "soft_houlsby",
                              "dense_pfeiffer_mhsa",     "dense_pfeiffer_ffn", "dense_houlsby"};

const Waveform& hello() {
  static const Waveform w = read_wav(test::data_path("audio/hello.wav"));
  return w;
}

std::string yaml_of(const std::string& name) { return read_file(test::data_path("petl/" + name + "/classifier.yaml")); }

// Logits of hello.wav by the fixture's weights under `yaml` (a possibly edited classifier.yaml).
std::vector<float> logits_with(const std::string& name, const std::string& yaml) {
  const AstConfig config = parse_ast_config(yaml, "classifier.yaml");
  auto weights = SafeTensors::open(test::data_path("petl/" + name + "/model.safetensors"));
  validate_tensors(*weights, expected_ast_tensors(config), "classifier.yaml");
  auto reference = Classifier::load(test::data_path("petl/" + name));
  const std::vector<float> fbank = reference->fbank(hello().samples.data(), hello().samples.size());
  AstModel model(config, weights);
  return model.forward(reference->input_values(fbank).data());
}

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

TEST(PetlAstTest, ConvertedCheckpointsMatchPetlLogitsFromWav) {
  for (const char* name : kCases) {
    auto c = Classifier::load(test::data_path(std::string("petl/") + name));
    const auto golden = test::read_golden(test::data_path(std::string("petl/") + name + ".golden.safetensors"));
    const std::vector<float> logits = c->logits(hello().samples.data(), hello().samples.size(), 16000);
    const double err = max_abs_diff(logits, golden.at("logits").data);
    EXPECT_LT(err, kLogitTolerance) << name;
    EXPECT_LT(max_abs_diff(c->scores(logits), golden.at("scores").data), kLogitTolerance) << name;
    RecordProperty(std::string("max_abs_err_") + name, test::sci(err));
  }
}

TEST(PetlAstTest, FixturesUseEveryPetlOption) {
  const AstConfig mhsa = parse_ast_config(yaml_of("soft_pfeiffer_mhsa_norm"), "x");
  EXPECT_TRUE(mhsa.adapter_self_attn_twice);
  EXPECT_EQ(mhsa.adapter.normalize_mode, SlotNormalization::kPetlAst);
  EXPECT_EQ(mhsa.pooling, AstPooling::kMeanAll);
  EXPECT_FALSE(mhsa.head_layernorm);
  const AstConfig dense = parse_ast_config(yaml_of("dense_pfeiffer_ffn"), "x");
  EXPECT_TRUE(dense.adapter.router_bias);
  EXPECT_FALSE(dense.adapter_self_attn_twice);
  EXPECT_EQ(dense.pooling, AstPooling::kCls);
}

// Each option turned back to moeasr's default moves the logits far past the
// tolerance: the fixtures would catch a runtime that ignored it.
TEST(PetlAstTest, EachOptionChangesTheLogits) {
  struct Case {
    const char* fixture;
    std::string from, to;
  } cases[] = {
      {"soft_pfeiffer_mhsa_norm", "adapter_self_attn_twice: true", "adapter_self_attn_twice: false"},
      {"soft_pfeiffer_mhsa_norm", "adapter_normalize_mode: petl_ast", "adapter_normalize_mode: soft_moe"},
      {"soft_pfeiffer_mhsa_norm", "pooling: mean_all", "pooling: mean"},
      {"soft_pfeiffer_ffn", "pooling: cls", "pooling: cls_dist"},
      {"dense_houlsby", "pooling: mean_all", "pooling: cls"},
  };
  for (const Case& c : cases) {
    const auto golden = test::read_golden(test::data_path(std::string("petl/") + c.fixture + ".golden.safetensors"));
    const std::string yaml = yaml_of(c.fixture);
    EXPECT_LT(max_abs_diff(logits_with(c.fixture, yaml), golden.at("logits").data), kLogitTolerance) << c.fixture;
    const double moved = max_abs_diff(logits_with(c.fixture, replaced(yaml, c.from, c.to)), golden.at("logits").data);
    EXPECT_GT(moved, 100 * kLogitTolerance) << c.fixture << ": " << c.to;
  }
}

TEST(PetlAstTest, RouterBiasAndHeadLayerNormAreTensorsOfTheConfig) {
  // Without adapter_router_bias the gate biases are unexpected tensors; with
  // head.layernorm the classifier.layernorm tensors are missing.
  const std::string yaml = yaml_of("dense_pfeiffer_ffn");
  std::string msg;
  EXPECT_EQ(test::status_of([&] { logits_with("dense_pfeiffer_ffn", replaced(yaml, "adapter_router_bias: true", "")); },
                            &msg),
            MOEASR_ERR_FORMAT);
  EXPECT_NE(msg.find("gate.bias"), std::string::npos) << msg;
  EXPECT_EQ(test::status_of([&] { logits_with("dense_pfeiffer_ffn", replaced(yaml, "layernorm: false", "")); }, &msg),
            MOEASR_ERR_FORMAT);
  EXPECT_NE(msg.find("classifier.layernorm"), std::string::npos) << msg;
}

TEST(PetlAstTest, OptionsAreValidated) {
  struct Case {
    const char* fixture;
    std::string from, to;
    moeasr_status status;
    std::string expect;
  } cases[] = {
      {"soft_pfeiffer_ffn", "adapter_normalize: false", "adapter_normalize: false\n  adapter_normalize_mode: petl_ast",
       MOEASR_ERR_FORMAT, "adapter_normalize_mode needs adapter_type soft_moa and adapter_normalize: true"},
      {"soft_pfeiffer_mhsa_norm", "adapter_normalize_mode: petl_ast", "adapter_normalize_mode: axis1",
       MOEASR_ERR_UNSUPPORTED, "adapter_normalize_mode: 'axis1'"},
      {"soft_pfeiffer_ffn", "adapter_normalize: false", "adapter_normalize: false\n  adapter_router_bias: true",
       MOEASR_ERR_FORMAT, "adapter_router_bias needs adapter_type dense_moa"},
      {"dense_pfeiffer_ffn", "adapter_router_bias: true", "adapter_router_bias: maybe", MOEASR_ERR_FORMAT,
       "adapter_router_bias has an invalid value"},
      {"dense_pfeiffer_ffn", "adapter_router_bias: true", "adapter_router_bias: true\n  adapter_self_attn_twice: true",
       MOEASR_ERR_FORMAT, "adapter_self_attn_twice needs self_attn"},
      {"soft_pfeiffer_mhsa_norm", "adapter_self_attn_twice: true", "adapter_self_attn_twice: 2", MOEASR_ERR_FORMAT,
       "adapter_self_attn_twice has an invalid value"},
      {"soft_pfeiffer_ffn", "layernorm: false", "layernorm: no_thanks", MOEASR_ERR_FORMAT,
       "head.layernorm has an invalid value"},
      {"soft_pfeiffer_ffn", "pooling: cls", "pooling: dist", MOEASR_ERR_UNSUPPORTED, "head.pooling: 'dist'"},
  };
  for (const Case& c : cases) {
    std::string msg;
    EXPECT_EQ(test::status_of([&] { parse_ast_config(replaced(yaml_of(c.fixture), c.from, c.to), "classifier.yaml"); },
                              &msg),
              c.status)
        << c.to << ": " << msg;
    EXPECT_NE(msg.find(c.expect), std::string::npos) << msg;
  }
}

}  // namespace
}  // namespace moeasr
