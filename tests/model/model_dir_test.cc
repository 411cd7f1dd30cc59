#include "formats/model_dir.h"

#include <chrono>
#include <cmath>
#include <cstring>
#include <utility>

#include "runtime/asr_model.h"
#include "core/half.h"
#include "runtime/stream.h"

#include <gtest/gtest.h>

#include "model/test_configs.h"
#include "formats/weight_spec.h"
#include "test_util.h"

namespace moeasr {
namespace {

using test::status_of;

// Every tensor tiny_moe_yaml() implies, zero-filled.
std::map<std::string, test::RawTensor> complete_weights() {
  ModelConfig c = parse_model_config(test::tiny_moe_yaml(), "train.yaml", 10);
  std::map<std::string, test::RawTensor> t;
  for (const ExpectedTensor& e : expected_tensors(c)) t[e.name] = test::f32_tensor(e.shape);
  return t;
}

class ModelDirTest : public ::testing::Test {
 protected:
  void write(const std::map<std::string, test::RawTensor>& weights, const std::string& yaml = test::tiny_moe_yaml()) {
    test::write_file(dir.file("train.yaml"), yaml);
    test::write_file(dir.file("units.txt"), test::tiny_units());
    test::write_file(dir.file("model.safetensors"), test::safetensors_bytes(weights));
  }
  moeasr_status load_status(std::string* msg) {
    return status_of([&] { load_model_dir(dir.path()); }, msg);
  }
  test::TempDir dir;
};

TEST_F(ModelDirTest, LoadsCompleteDirectory) {
  write(complete_weights());
  ModelDir m = load_model_dir(dir.path());
  EXPECT_EQ(m.config.vocab_size, 10);
  EXPECT_EQ(m.units.size(), 10);
  EXPECT_NE(m.weights->find("encoder.encoders.1.feed_forward.experts.3.w_2.bias"), nullptr);
  EXPECT_NE(m.weights->find("decoder.right_decoder.decoders.0.feed_forward.gate.weight"), nullptr);
}

TEST_F(ModelDirTest, IgnorableBuffersAreAccepted) {
  auto w = complete_weights();
  w["encoder.embed.pos_enc.pe"] = test::f32_tensor({1, 50, 16});
  test::RawTensor counter;
  counter.dtype = "I64";
  counter.shape = {};
  counter.bytes = std::string(8, '\0');
  w["encoder.encoders.0.conv_module.norm.num_batches_tracked"] = counter;
  write(w);
  EXPECT_EQ(load_status(nullptr), MOEASR_OK);
}

TEST_F(ModelDirTest, MissingTensorIsNamed) {
  auto w = complete_weights();
  w.erase("encoder.encoders.0.feed_forward.experts.2.w_1.weight");
  write(w);
  std::string msg;
  EXPECT_EQ(load_status(&msg), MOEASR_ERR_FORMAT);
  EXPECT_NE(msg.find("missing tensors"), std::string::npos) << msg;
  EXPECT_NE(msg.find("encoder.encoders.0.feed_forward.experts.2.w_1.weight"), std::string::npos) << msg;
}

TEST_F(ModelDirTest, WrongShapeIsNamed) {
  auto w = complete_weights();
  w["ctc.ctc_lo.weight"] = test::f32_tensor({11, 16});
  write(w);
  std::string msg;
  EXPECT_EQ(load_status(&msg), MOEASR_ERR_FORMAT);
  EXPECT_NE(msg.find("ctc.ctc_lo.weight has shape [11, 16], train.yaml implies [10, 16]"), std::string::npos) << msg;
}

TEST_F(ModelDirTest, UnexpectedTensorsAreReported) {
  auto w = complete_weights();
  w["encoder.encoders.0.feed_forward.experts.4.w_1.weight"] = test::f32_tensor({24, 16});
  write(w);
  std::string msg;
  EXPECT_EQ(load_status(&msg), MOEASR_ERR_FORMAT);
  EXPECT_NE(msg.find("does not account for"), std::string::npos) << msg;
  EXPECT_NE(msg.find("experts.4.w_1.weight"), std::string::npos) << msg;
}

TEST_F(ModelDirTest, DenseConfigWithMoeWeightsFails) {
  std::string yaml = test::tiny_moe_yaml();
  yaml.replace(yaml.find("mlp_type: moe"), 13, "mlp_type: position_wise_feed_forward");
  write(complete_weights(), yaml);
  std::string msg;
  EXPECT_EQ(load_status(&msg), MOEASR_ERR_FORMAT);
  EXPECT_NE(msg.find("feed_forward.w_1.weight"), std::string::npos) << msg;
}

// Found with fuzz/config_fuzz.cc: a train.yaml implying hundreds of millions
// of tensors made validation build every name and exhaust memory. Now the
// list stops a little past what the file holds, in milliseconds.
TEST_F(ModelDirTest, AbsurdLayerAndExpertCountsFailWithoutExhaustingMemory) {
  for (const auto& [key, value] : {std::pair<std::string, std::string>{"  num_blocks: 2", "  num_blocks: 50000000"},
                                   {"  n_expert: 4", "  n_expert: 2000000000"},
                                   {"  r_num_blocks: 1", "  r_num_blocks: 2147483647"}}) {
    std::string yaml = test::tiny_moe_yaml();
    yaml.replace(yaml.find(key), key.size(), value);
    write(complete_weights(), yaml);
    std::string msg;
    const auto start = std::chrono::steady_clock::now();
    EXPECT_EQ(load_status(&msg), MOEASR_ERR_FORMAT) << value;
    EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 10.0) << value;
    EXPECT_NE(msg.find("far fewer than the config implies"), std::string::npos) << msg;
  }
  // The list itself is capped too.
  ModelConfig c = parse_model_config(test::tiny_moe_yaml(), "train.yaml", 10);
  c.encoder.num_blocks = 1 << 30;
  EXPECT_EQ(status_of([&] { expected_tensors(c); }), MOEASR_ERR_FORMAT);
  EXPECT_EQ(status_of([&] { expected_tensors(c, 100); }), MOEASR_ERR_FORMAT);
}

TEST_F(ModelDirTest, UnsupportedWeightDtype) {
  auto w = complete_weights();
  test::RawTensor i32;
  i32.dtype = "I32";
  i32.shape = {10};
  i32.bytes = std::string(40, '\0');
  w["ctc.ctc_lo.bias"] = i32;
  write(w);
  std::string msg;
  EXPECT_EQ(load_status(&msg), MOEASR_ERR_UNSUPPORTED);
  EXPECT_NE(msg.find("ctc.ctc_lo.bias"), std::string::npos) << msg;
}

TEST_F(ModelDirTest, MissingPiecesAreIoErrors) {
  std::string msg;
  EXPECT_EQ(status_of([] { load_model_dir("/nonexistent/model"); }, &msg), MOEASR_ERR_IO);
  EXPECT_NE(msg.find("does not exist"), std::string::npos);
  EXPECT_EQ(load_status(&msg), MOEASR_ERR_IO);  // empty directory
  EXPECT_NE(msg.find("units.txt"), std::string::npos) << msg;
  write(complete_weights());
  std::remove(dir.file("model.safetensors").c_str());
  EXPECT_EQ(load_status(&msg), MOEASR_ERR_IO);
  EXPECT_NE(msg.find("model.safetensors"), std::string::npos) << msg;
}

TEST_F(ModelDirTest, TruncatedWeightsAreFormatErrors) {
  write(complete_weights());
  std::string bytes = test::safetensors_bytes(complete_weights());
  test::write_file(dir.file("model.safetensors"), bytes.substr(0, bytes.size() / 2));
  std::string msg;
  EXPECT_EQ(load_status(&msg), MOEASR_ERR_FORMAT);
  EXPECT_NE(msg.find("out of range"), std::string::npos) << msg;
}

}  // namespace
}  // namespace moeasr

namespace moeasr {
namespace {

// A model stored in F16 / BF16 and loaded with compute_type float32 (widened
// exactly) decodes bit-identically to a float32 model holding the same rounded
// values; BF16 kept as bfloat16 (the default) computes the same numbers up to
// summation order.
TEST(SixteenBitWeights, WidenExactlyToFloat32) {
  const std::string src = test::data_path("models/moe_ln");
  auto f32 = SafeTensors::open(src + "/model.safetensors");
  auto golden = test::read_golden(test::data_path("golden/moe_ln/hello.safetensors"));
  for (const std::string dtype : {"F16", "BF16"}) {
    std::map<std::string, test::RawTensor> narrow, rounded;
    for (const SafeTensorInfo& info : f32->tensors()) {
      Tensor t = f32->get(info.name);
      test::RawTensor n{dtype, info.shape, std::string(static_cast<size_t>(t.numel()) * 2, '\0')};
      test::RawTensor r{"F32", info.shape, std::string(static_cast<size_t>(t.numel()) * 4, '\0')};
      for (int64_t i = 0; i < t.numel(); ++i) {
        uint16_t bits;
        if (dtype == "F16") {
          bits = float_to_fp16(t.data<float>()[i]);
        } else {
          uint32_t u;
          std::memcpy(&u, &t.data<float>()[i], 4);
          bits = static_cast<uint16_t>((u + 0x7FFF + ((u >> 16) & 1)) >> 16);  // round to nearest even
        }
        std::memcpy(&n.bytes[2 * i], &bits, 2);
        const float wide = dtype == "F16" ? fp16_to_float(bits) : bf16_to_float(bits);
        std::memcpy(&r.bytes[4 * i], &wide, 4);
      }
      narrow[info.name] = n;
      rounded[info.name] = r;
    }
    std::vector<float> outputs[3];
    for (int k = 0; k < 3; ++k) {
      test::TempDir dir;
      test::copy_file(src + "/train.yaml", dir.file("train.yaml"));
      test::copy_file(src + "/units.txt", dir.file("units.txt"));
      test::write_file(dir.file("model.safetensors"), test::safetensors_bytes(k == 1 ? rounded : narrow));
      ModelOptions mo;
      mo.compute_type = k == 0 ? "float32" : "default";
      auto model = AsrModel::load(dir.path(), mo);
      if (k == 0) {
        EXPECT_EQ(dtype_name(load_model_dir(dir.path()).weights->find("ctc.ctc_lo.weight")->dtype), dtype);
      }
      DecodeOptions o;
      o.chunk_size = 4;
      Stream s(model, o);
      s.set_keep_debug_outputs(true);
      s.accept_features(golden.at("fbank").data.data(), golden.at("fbank").shape[0]);
      s.input_finished();
      s.decode();
      outputs[k] = s.ctc_log_probs();
    }
    ASSERT_FALSE(outputs[0].empty());
    EXPECT_EQ(outputs[0], outputs[1]) << dtype;
    ASSERT_EQ(outputs[2].size(), outputs[1].size());
    double err = 0;
    for (size_t i = 0; i < outputs[1].size(); ++i) err = std::max(err, std::fabs(double(outputs[2][i]) - outputs[1][i]));
    EXPECT_LT(err, 1e-3) << dtype << " in its own type";
  }
}

}  // namespace
}  // namespace moeasr
