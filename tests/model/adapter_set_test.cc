// Adapter sets loaded on top of a base model (runtime/adapter_set.h) and
// chosen per stream. The files are made here from the soft_moe fixtures:
//   base/     soft_moa's model without its adapters (train.yaml keys and tensors)
//   houlsby/  soft_moa's own Soft-MoA adapters as a set (adapters.yaml + .safetensors)
//   dense/    dense_moa's dense MoA adapters as a set
// base + houlsby must give soft_moa's reference encoder output, base + dense
// the reference's adapter_swap output (tools/make_soft_moe_fixtures.py), both
// within 1e-4 max abs (1e-3 on a GPU, whose kernels sum in other orders),
// also when the streams are decoded together in one batch with a stream
// without adapters (which must equal base alone within 1e-5), on every test
// device.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <map>

#include <yaml-cpp/yaml.h>

#include "moeasr/moeasr.h"
#include "runtime/adapter_set.h"
#include "runtime/asr_model.h"
#include "runtime/stream.h"
#include "device_test_util.h"
#include "test_util.h"

namespace moeasr {
namespace {

using test::max_abs_diff;

constexpr double kModelTolerance = 1e-4;
constexpr double kBatchTolerance = 1e-5;

bool is_adapter_key(const std::string& name) { return name.rfind("adapter_", 0) == 0; }
bool is_adapter_tensor(const std::string& name) { return name.find(".adapter_") != std::string::npos; }

// Writes the tensors of a safetensors file whose names pass `keep` (all F32) to `out`.
void write_tensors(const std::string& from, const std::string& out, bool (*keep)(const std::string&), bool want) {
  std::map<std::string, test::RawTensor> kept;
  for (const auto& [name, t] : test::read_golden(from)) {
    if (keep(name) != want) continue;
    test::RawTensor r;
    r.shape = t.shape;
    r.bytes.assign(reinterpret_cast<const char*>(t.data.data()), t.data.size() * sizeof(float));
    kept[name] = r;
  }
  test::write_file(out, test::safetensors_bytes(kept));
}

std::string emit(const YAML::Node& n) {
  YAML::Emitter e;
  e << n;
  return e.c_str();
}

// Splits fixture model `name` into its adapters (dir/<set>) and, when `base`, the model without them.
void split_model(const std::string& name, const test::TempDir& dir, const std::string& set, bool base) {
  const std::string model = test::data_path("soft_moe/models/" + name);
  YAML::Node config = YAML::LoadFile(model + "/train.yaml");
  YAML::Node adapter_conf;
  std::vector<std::string> keys;
  for (auto it = config["encoder_conf"].begin(); it != config["encoder_conf"].end(); ++it) {
    keys.push_back(it->first.as<std::string>());
  }
  for (const std::string& k : keys) {
    if (!is_adapter_key(k)) continue;
    adapter_conf[k] = YAML::Clone(config["encoder_conf"][k]);
    config["encoder_conf"].remove(k);
  }
  std::filesystem::create_directories(dir.file(set));
  YAML::Node adapters;
  adapters["description"] = "adapters of " + name;
  adapters["adapter_conf"] = adapter_conf;
  test::write_file(dir.file(set + "/adapters.yaml"), emit(adapters));
  write_tensors(model + "/model.safetensors", dir.file(set + "/adapters.safetensors"), is_adapter_tensor, true);
  if (!base) return;
  std::filesystem::create_directories(dir.file("base"));
  test::write_file(dir.file("base/train.yaml"), emit(config));
  test::copy_file(model + "/units.txt", dir.file("base/units.txt"));
  write_tensors(model + "/model.safetensors", dir.file("base/model.safetensors"), is_adapter_tensor, false);
}

class AdapterSetTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir();
    split_model("soft_moa", *dir_, "houlsby", true);
    split_model("dense_moa", *dir_, "dense", false);
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }

  static std::vector<float> golden(const std::string& file, const std::string& mode) {
    return test::read_golden(test::data_path("soft_moe/" + file + ".safetensors")).at("encoder_out." + mode).data;
  }

  static const test::GoldenTensor& fbank() {
    static const auto tensors = test::read_golden(test::data_path("golden/moe_ln/hello.safetensors"));
    return tensors.at("fbank");
  }

  static std::unique_ptr<Stream> stream(std::shared_ptr<const AsrModel> model, int chunk, int left,
                                        std::shared_ptr<const AdapterSet> set) {
    DecodeOptions opts;
    opts.chunk_size = chunk;
    opts.num_left_chunks = left;
    opts.rescoring = false;
    auto s = std::make_unique<Stream>(model, opts);
    s->set_keep_debug_outputs(true);
    s->set_adapters(std::move(set));
    s->accept_features(fbank().data.data(), fbank().shape[0]);
    s->input_finished();
    return s;
  }

  static test::TempDir* dir_;
};

test::TempDir* AdapterSetTest::dir_ = nullptr;

class AdapterSetOnDevice : public AdapterSetTest, public ::testing::WithParamInterface<Device> {
 protected:
  std::shared_ptr<const AsrModel> base() const {
    ModelOptions o;
    o.device = GetParam().name();
    return AsrModel::load(dir_->file("base"), o);
  }
  double tolerance() const { return GetParam().is_cpu() ? kModelTolerance : 1e-3; }
};

TEST_P(AdapterSetOnDevice, BaseWithSetEqualsTheModelWithThoseAdapters) {
  auto base = this->base();
  EXPECT_EQ(base->config().encoder.adapter.type, AdapterType::kNone);
  auto houlsby = AdapterSet::load(dir_->file("houlsby"), *base);
  auto dense = AdapterSet::load(dir_->file("dense"), *base);
  for (const auto& [chunk, left, mode] : {std::tuple{-1, -1, "full"}, std::tuple{4, 2, "chunk4_left2"}}) {
    auto a = stream(base, chunk, left, houlsby), b = stream(base, chunk, left, dense);
    a->decode();
    b->decode();
    EXPECT_LT(max_abs_diff(a->encoder_output(), golden("soft_moa", mode)), tolerance()) << mode;
    EXPECT_LT(max_abs_diff(b->encoder_output(), golden("adapter_swap", mode)), tolerance()) << mode;
  }
}

TEST_P(AdapterSetOnDevice, StreamsWithDifferentSetsInOneBatch) {
  auto base = this->base();
  auto houlsby = AdapterSet::load(dir_->file("houlsby"), *base);
  auto dense = AdapterSet::load(dir_->file("dense"), *base);
  auto plain_alone = stream(base, 4, 2, nullptr);
  plain_alone->decode();
  // Mixed order, so runs of equal sets and singletons both occur.
  std::vector<std::unique_ptr<Stream>> streams;
  streams.push_back(stream(base, 4, 2, houlsby));
  streams.push_back(stream(base, 4, 2, houlsby));
  streams.push_back(stream(base, 4, 2, nullptr));
  streams.push_back(stream(base, 4, 2, dense));
  std::vector<Stream*> batch;
  for (auto& s : streams) batch.push_back(s.get());
  decode_streams(batch);
  EXPECT_LT(max_abs_diff(streams[0]->encoder_output(), golden("soft_moa", "chunk4_left2")), tolerance());
  EXPECT_LT(max_abs_diff(streams[1]->encoder_output(), golden("soft_moa", "chunk4_left2")), tolerance());
  EXPECT_LT(max_abs_diff(streams[2]->encoder_output(), plain_alone->encoder_output()), kBatchTolerance);
  EXPECT_LT(max_abs_diff(streams[3]->encoder_output(), golden("adapter_swap", "chunk4_left2")), tolerance());
  // The adapters really change the output.
  EXPECT_GT(max_abs_diff(streams[2]->encoder_output(), streams[0]->encoder_output()), 1e-2);
}

INSTANTIATE_TEST_SUITE_P(Devices, AdapterSetOnDevice, ::testing::ValuesIn(test::devices()), test::device_label);

// A set is loaded onto its model's device; a stream of a model on another
// device refuses it.
TEST_P(AdapterSetOnDevice, ASetFitsOnlyItsModelsDevice) {
  if (GetParam().is_cpu()) GTEST_SKIP() << "needs a second device";
  auto houlsby = AdapterSet::load(dir_->file("houlsby"), *base());
  Stream on_cpu(AsrModel::load(dir_->file("base")), DecodeOptions());
  std::string msg;
  EXPECT_EQ(test::status_of([&] { on_cpu.set_adapters(houlsby); }, &msg), MOEASR_ERR_INVALID_ARGUMENT);
  EXPECT_NE(msg.find("another device"), std::string::npos) << msg;
}

TEST_F(AdapterSetTest, ChoosingIsOnlyAllowedBeforeInputAndSurvivesReset) {
  auto base = AsrModel::load(dir_->file("base"));
  auto houlsby = AdapterSet::load(dir_->file("houlsby"), *base);
  DecodeOptions opts;
  Stream s(base, opts);
  s.set_adapters(houlsby);
  s.accept_features(fbank().data.data(), 10);
  EXPECT_EQ(test::status_of([&] { s.set_adapters(nullptr); }), MOEASR_ERR_STATE);
  s.reset();
  EXPECT_EQ(s.adapters(), houlsby.get());
  EXPECT_EQ(test::status_of([&] { s.set_adapters(nullptr); }), MOEASR_OK);
  // A set for a model of another size.
  Stream other(AsrModel::load(test::data_path("models/moe_ln")), opts);
  std::string msg;
  EXPECT_EQ(test::status_of([&] { other.set_adapters(houlsby); }, &msg), MOEASR_ERR_INVALID_ARGUMENT);
  EXPECT_NE(msg.find("another size"), std::string::npos) << msg;
}

TEST_F(AdapterSetTest, BadSetsGiveClearErrors) {
  auto base = AsrModel::load(dir_->file("base"));
  auto moe_ln = AsrModel::load(test::data_path("models/moe_ln"));
  std::string msg;
  EXPECT_EQ(test::status_of([&] { AdapterSet::load(dir_->file("houlsby"), *moe_ln); }, &msg), MOEASR_ERR_FORMAT);
  EXPECT_NE(msg.find("adapters.yaml implies [48, 3, 2]"), std::string::npos) << msg;
  EXPECT_EQ(test::status_of([&] { AdapterSet::load(dir_->file("nowhere"), *base); }, &msg), MOEASR_ERR_IO);

  auto weights = SafeTensors::open(dir_->file("houlsby/adapters.safetensors"));
  struct Case {
    std::string yaml;
    std::string expect;
  } cases[] = {
      {"adapter_conf: {adapter_type: soft_moa, adapter_dim: 8, adapter_n_expert: 3, adapter_slots_per_expert: 2,"
       " adapter_placement: [self_attn, feed_forward], adapter_colour: red}",
       "unknown key adapter_conf.adapter_colour"},
      {"adapter_conf: {adapter_dim: 8}", "adapter_conf.adapter_type is missing"},
      {"adapters: {}", "needs an adapter_conf mapping"},
      {"adapter_conf: {adapter_type: soft_moa, adapter_dim: 8, adapter_n_expert: 3, adapter_slots_per_expert: 2,"
       " adapter_placement: [self_attn]}",
       "tensors that adapters.yaml does not account for"},
      {"adapter_conf: {adapter_type: soft_moa, adapter_dim: 8, adapter_n_expert: 3, adapter_slots_per_expert: 2,"
       " adapter_placement: [self_attn, feed_forward, feed_forward_macaron]}",
       "missing tensors required by adapters.yaml: encoder.encoders.0.adapter_feed_forward_macaron.phi"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(test::status_of([&] { AdapterSet::from_parts(c.yaml, weights, *base, "adapters.yaml"); }, &msg),
              MOEASR_ERR_FORMAT)
        << c.yaml;
    EXPECT_NE(msg.find(c.expect), std::string::npos) << msg;
  }
}

TEST_F(AdapterSetTest, CApi) {
  moeasr_model* model = nullptr;
  ASSERT_EQ(moeasr_model_load(dir_->file("base").c_str(), nullptr, &model), MOEASR_OK) << moeasr_last_error();
  moeasr_model_info info;
  info.struct_size = sizeof(info);
  ASSERT_EQ(moeasr_model_get_info(model, &info), MOEASR_OK);
  EXPECT_EQ(info.num_experts, 4);  // the Soft MoE FFN's experts
  EXPECT_EQ(info.experts_per_token, 0);
  moeasr_adapter_set* set = reinterpret_cast<moeasr_adapter_set*>(1);
  EXPECT_EQ(moeasr_adapter_set_load(model, dir_->file("nowhere").c_str(), &set), MOEASR_ERR_IO);
  EXPECT_EQ(set, nullptr);
  EXPECT_EQ(moeasr_adapter_set_load(model, nullptr, &set), MOEASR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(moeasr_adapter_set_load(nullptr, dir_->file("houlsby").c_str(), &set), MOEASR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(moeasr_adapter_set_load(model, dir_->file("houlsby").c_str(), nullptr), MOEASR_ERR_INVALID_ARGUMENT);
  ASSERT_EQ(moeasr_adapter_set_load(model, dir_->file("houlsby").c_str(), &set), MOEASR_OK) << moeasr_last_error();

  moeasr_stream* stream = nullptr;
  ASSERT_EQ(moeasr_stream_create(model, nullptr, &stream), MOEASR_OK);
  EXPECT_EQ(moeasr_stream_set_adapters(stream, set), MOEASR_OK);
  EXPECT_EQ(moeasr_stream_set_adapters(stream, nullptr), MOEASR_OK);
  EXPECT_EQ(moeasr_stream_set_adapters(nullptr, set), MOEASR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(moeasr_stream_set_adapters(stream, reinterpret_cast<const moeasr_adapter_set*>(model)),
            MOEASR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(moeasr_stream_set_adapters(stream, set), MOEASR_OK);
  // The stream keeps the set alive after the caller frees it.
  EXPECT_EQ(moeasr_adapter_set_free(set), MOEASR_OK);
  EXPECT_EQ(moeasr_adapter_set_free(nullptr), MOEASR_OK);
  std::vector<float> silence(16000, 0.f);
  EXPECT_EQ(moeasr_stream_accept_waveform(stream, silence.data(), silence.size(), 16000), MOEASR_OK);
  EXPECT_EQ(moeasr_stream_input_finished(stream), MOEASR_OK);
  EXPECT_EQ(moeasr_stream_decode(stream), MOEASR_OK) << moeasr_last_error();
  moeasr_stream_free(stream);
  moeasr_model_free(model);
}

}  // namespace
}  // namespace moeasr
