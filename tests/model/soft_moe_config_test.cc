// train.yaml keys and weight names of the Soft MoE FFN and the mixtures of
// adapters (docs/model_format.md), and their error messages.
#include <gtest/gtest.h>

#include <map>

#include "formats/model_config.h"
#include "formats/random_model.h"
#include "formats/weight_spec.h"
#include "model/test_configs.h"
#include "test_util.h"

namespace moeasr {
namespace {

using test::status_of;

const char kEncoderMoe[] = "  mlp_type: moe\n  n_expert: 4\n  n_expert_activated: 2\ndecoder:";
const char kDecoderMoe[] = "  mlp_type: moe\n  n_expert: 4\n  n_expert_activated: 2\ntokenizer:";

std::string replaced(std::string s, const std::string& from, const std::string& to) {
  size_t pos = s.find(from);
  EXPECT_NE(pos, std::string::npos) << from;
  if (pos != std::string::npos) s.replace(pos, from.size(), to);
  return s;
}

// The tiny test model with Soft MoE FFNs and Soft-MoA adapters; `extra` adds or
// overrides encoder_conf lines.
std::string soft_yaml(const std::string& extra = "", const std::string& placement = "[self_attn, feed_forward]") {
  return replaced(test::tiny_moe_yaml(), kEncoderMoe,
                  "  mlp_type: soft_moe\n  n_expert: 4\n  slots_per_expert: 2\n  soft_moe_normalize: true\n"
                  "  adapter_type: soft_moa\n  adapter_placement: " + placement +
                      "\n  adapter_dim: 8\n  adapter_n_expert: 3\n" + extra + "decoder:");
}

moeasr_status parse_status(const std::string& yaml, std::string* msg) {
  return status_of([&] { parse_model_config(yaml, "train.yaml", 10); }, msg);
}

TEST(SoftMoeConfigTest, ParsesSoftMoeAndAdapterKeys) {
  const ModelConfig c = parse_model_config(soft_yaml(), "train.yaml", 10);
  EXPECT_EQ(c.encoder.ffn.kind, FfnKind::kSoftMoe);
  EXPECT_FALSE(c.encoder.ffn.moe());
  EXPECT_EQ(c.encoder.ffn.num_experts, 4);
  EXPECT_EQ(c.encoder.ffn.slots_per_expert, 2);
  EXPECT_TRUE(c.encoder.ffn.soft_normalize);
  const AdapterConfig& a = c.encoder.adapter;
  EXPECT_EQ(a.type, AdapterType::kSoftMoa);
  EXPECT_TRUE(a.self_attn);
  EXPECT_TRUE(a.feed_forward);
  EXPECT_FALSE(a.feed_forward_macaron);
  EXPECT_EQ(a.dim, 8);
  EXPECT_EQ(a.num_experts, 3);
  EXPECT_EQ(a.slots_per_expert, 1);
  EXPECT_FALSE(a.normalize);
  EXPECT_TRUE(c.warnings.empty()) << c.warnings.front();
}

TEST(SoftMoeConfigTest, ExpectedTensorsUseWenetStyleNames) {
  const ModelConfig c = parse_model_config(soft_yaml(), "train.yaml", 10);
  std::map<std::string, Shape> shapes;
  for (const ExpectedTensor& t : expected_tensors(c)) shapes[t.name] = t.shape;
  const std::string l = "encoder.encoders.1.";
  EXPECT_EQ(shapes[l + "feed_forward.phi"], (Shape{16, 4, 2}));
  EXPECT_EQ(shapes[l + "feed_forward_macaron.phi_scale"], (Shape{1}));
  EXPECT_EQ(shapes[l + "feed_forward.experts.3.w_2.weight"], (Shape{16, 24}));
  EXPECT_EQ(shapes[l + "adapter_self_attn.phi"], (Shape{16, 3, 1}));
  EXPECT_EQ(shapes[l + "adapter_feed_forward.experts.2.w_1.weight"], (Shape{8, 16}));
  EXPECT_EQ(shapes[l + "adapter_feed_forward.experts.2.w_1.bias"], (Shape{8}));
  EXPECT_EQ(shapes.count(l + "adapter_feed_forward.phi_scale"), 0u);  // adapter_normalize false
  EXPECT_EQ(shapes.count(l + "adapter_feed_forward_macaron.phi"), 0u);
  EXPECT_EQ(shapes.count(l + "feed_forward.gate.weight"), 0u);

  const ModelConfig dense = parse_model_config(
      replaced(soft_yaml(), "adapter_type: soft_moa", "adapter_type: dense_moa"), "train.yaml", 10);
  std::map<std::string, Shape> dense_shapes;
  for (const ExpectedTensor& t : expected_tensors(dense)) dense_shapes[t.name] = t.shape;
  EXPECT_EQ(dense_shapes[l + "adapter_self_attn.gate.weight"], (Shape{3, 16}));
  EXPECT_EQ(dense_shapes.count(l + "adapter_self_attn.phi"), 0u);
}

TEST(SoftMoeConfigTest, BadValuesNameTheKey) {
  struct Case {
    std::string yaml;
    moeasr_status status;
    std::string expect;
  } cases[] = {
      {replaced(soft_yaml(), kDecoderMoe, "  mlp_type: soft_moe\ntokenizer:"), MOEASR_ERR_UNSUPPORTED,
       "decoder_conf.mlp_type: 'soft_moe'"},
      {replaced(soft_yaml(), "adapter_type: soft_moa", "adapter_type: lora"), MOEASR_ERR_UNSUPPORTED,
       "encoder_conf.adapter_type: 'lora'"},
      {soft_yaml("", "[conv_module]"), MOEASR_ERR_UNSUPPORTED, "encoder_conf.adapter_placement: 'conv_module'"},
      {soft_yaml("", "[feed_forward, feed_forward]"), MOEASR_ERR_FORMAT, "lists 'feed_forward' twice"},
      {soft_yaml("", "feed_forward"), MOEASR_ERR_FORMAT, "encoder_conf.adapter_placement has an invalid value"},
      {soft_yaml("  macaron_style: false\n", "[feed_forward_macaron]"), MOEASR_ERR_FORMAT,
       "feed_forward_macaron needs macaron_style"},
      {replaced(soft_yaml(), "slots_per_expert: 2", "slots_per_expert: 0"), MOEASR_ERR_FORMAT,
       "encoder_conf.slots_per_expert must be >= 1"},
      {replaced(soft_yaml(), "adapter_dim: 8", "adapter_dim: 0"), MOEASR_ERR_FORMAT,
       "encoder_conf.adapter_dim must be >= 1"},
  };
  for (const Case& c : cases) {
    std::string msg;
    EXPECT_EQ(parse_status(c.yaml, &msg), c.status) << c.expect;
    EXPECT_NE(msg.find(c.expect), std::string::npos) << msg;
  }
}

TEST(SoftMoeConfigTest, WeightValidationNamesMissingAndMisshapenSlots) {
  const ModelDir m = random_model_dir(soft_yaml(), "soft.yaml", 1);  // validates a complete set
  std::map<std::string, test::RawTensor> tensors;
  for (const ExpectedTensor& t : expected_tensors(m.config)) tensors[t.name] = test::f32_tensor(t.shape);

  auto status = [&](const std::map<std::string, test::RawTensor>& ts, std::string* msg) {
    return status_of([&] { validate_weights(*SafeTensors::from_bytes(test::safetensors_bytes(ts), "w"), m.config); },
                     msg);
  };
  std::string msg;
  EXPECT_EQ(status(tensors, &msg), MOEASR_OK) << msg;
  auto missing = tensors;
  missing.erase("encoder.encoders.0.adapter_self_attn.phi");
  EXPECT_EQ(status(missing, &msg), MOEASR_ERR_FORMAT);
  EXPECT_NE(msg.find("missing tensors required by train.yaml: encoder.encoders.0.adapter_self_attn.phi"),
            std::string::npos)
      << msg;
  auto misshapen = tensors;
  misshapen["encoder.encoders.0.feed_forward.phi"] = test::f32_tensor({16, 2, 4});
  EXPECT_EQ(status(misshapen, &msg), MOEASR_ERR_FORMAT);
  EXPECT_NE(msg.find("encoder.encoders.0.feed_forward.phi has shape [16, 2, 4], train.yaml implies [16, 4, 2]"),
            std::string::npos)
      << msg;
}

}  // namespace
}  // namespace moeasr
