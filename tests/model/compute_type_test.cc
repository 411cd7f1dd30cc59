// Weights in other compute types: bfloat16 keeps every fixture's n-best equal
// to float32's; int8 is either stored (I8 + .scale, used in place) or made at
// load, with the same numbers; the loader validates int8 files.
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <set>
#include <fstream>

#include <nlohmann/json.hpp>

#include "formats/model_dir.h"
#include "nn/weight_precision.h"
#include "formats/weight_spec.h"
#include "runtime/asr_model.h"
#include "runtime/stream.h"
#include "test_util.h"

namespace moeasr {
namespace {

struct Decoded {
  std::vector<std::vector<int>> nbest;  // sorted
  std::vector<int> best;
  std::vector<float> log_probs;
};

// Decodes a fixture's golden fbank.
Decoded decode(std::shared_ptr<const AsrModel> model,
                                                                    const std::string& model_name,
                                                                    const std::string& utt, int chunk, int left,
                                                                    float reverse_weight) {
  auto golden = test::read_golden(test::data_path("golden/" + model_name + "/" + utt + ".safetensors"));
  DecodeOptions o;
  o.chunk_size = chunk;
  o.num_left_chunks = left;
  o.reverse_weight = reverse_weight;
  Stream s(model, o);
  s.set_keep_debug_outputs(true);
  s.accept_features(golden.at("fbank").data.data(), golden.at("fbank").shape[0]);
  s.input_finished();
  s.decode();
  Decoded d;
  for (const Hypothesis& h : s.final_result().nbest) d.nbest.push_back(h.tokens);
  std::sort(d.nbest.begin(), d.nbest.end());
  d.best = s.final_result().tokens;
  d.log_probs = s.ctc_log_probs();
  return d;
}

// bfloat16 Linear weights keep every fixture's n-best and best hypothesis (the
// fixture generator rejects seeds whose decodes bfloat16 rounding would change).
TEST(ComputeType, Bfloat16KeepsTheFixtureNbest) {
  int cases = 0;
  for (const char* name : {"moe_ln", "dense_bn", "moe_k1", "odd_dims"}) {
    ModelOptions bf16;
    bf16.compute_type = "bfloat16";
    auto f32_model = AsrModel::load(test::data_path(std::string("models/") + name));
    auto bf16_model = AsrModel::load(test::data_path(std::string("models/") + name), bf16);
    for (const char* utt : {"hello", "numbers"}) {
      for (auto [chunk, left] : {std::pair<int, int>{-1, -1}, {16, -1}, {4, 2}, {1, -1}}) {
        const auto a = decode(f32_model, name, utt, chunk, left, 0.3f);
        const auto b = decode(bf16_model, name, utt, chunk, left, 0.3f);
        EXPECT_EQ(a.nbest, b.nbest) << name << "/" << utt << " chunk " << chunk;
        EXPECT_EQ(a.best, b.best) << name << "/" << utt << " chunk " << chunk;
        ++cases;
      }
    }
  }
  EXPECT_EQ(cases, 32);
}

// An I8 file, the quantization done as the converter does it.
std::string int8_weights(const SafeTensors& f32, const ModelConfig& config, bool experts_only) {
  std::map<std::string, test::RawTensor> out;
  std::set<std::string> quantizable;
  for (const ExpectedTensor& t : expected_tensors(config)) {
    if (t.quantizable && (!experts_only || t.name.find(".experts.") != std::string::npos)) quantizable.insert(t.name);
  }
  for (const SafeTensorInfo& info : f32.tensors()) {
    const Tensor t = f32.get(info.name);
    if (!quantizable.count(info.name)) {
      out[info.name] = {"F32", info.shape, std::string(static_cast<const char*>(t.raw()), t.nbytes())};
      continue;
    }
    const int64_t n = info.shape[0], k = t.numel() / n;
    std::vector<int8_t> q(n * k);
    std::vector<float> scale(n);
    quantize_rows_int8(t.data<float>(), n, k, q.data(), scale.data());
    out[info.name] = {"I8", info.shape, std::string(reinterpret_cast<const char*>(q.data()), q.size())};
    out[info.name + ".scale"] = {"F32", {n}, std::string(reinterpret_cast<const char*>(scale.data()), n * 4)};
  }
  return test::safetensors_bytes(out);
}

TEST(ComputeType, StoredInt8EqualsInt8MadeAtLoad) {
  const std::string src = test::data_path("models/moe_ln");
  ModelDir dir = load_model_dir(src);
  for (bool experts_only : {false, true}) {
    test::TempDir tmp;
    test::copy_file(src + "/train.yaml", tmp.file("train.yaml"));
    test::copy_file(src + "/units.txt", tmp.file("units.txt"));
    test::write_file(tmp.file("model.safetensors"), int8_weights(*dir.weights, dir.config, experts_only));
    auto stored = AsrModel::load(tmp.path());
    ModelOptions mo;
    mo.compute_type = "int8";
    mo.compute_experts_only = experts_only;
    auto converted = AsrModel::load(src, mo);
    const auto a = decode(stored, "moe_ln", "hello", 4, 2, 0.3f);
    const auto b = decode(converted, "moe_ln", "hello", 4, 2, 0.3f);
    EXPECT_EQ(a.log_probs, b.log_probs) << "experts_only " << experts_only;  // bit-identical
    EXPECT_EQ(a.nbest, b.nbest);
  }
}

TEST(ComputeType, Int8FilesAreValidated) {
  const std::string src = test::data_path("models/moe_ln");
  ModelDir dir = load_model_dir(src);
  auto check = [&](const std::function<void(std::map<std::string, test::RawTensor>&)>& edit, moeasr_status want,
                   const std::string& message) {
    std::map<std::string, test::RawTensor> tensors;
    for (const SafeTensorInfo& info : dir.weights->tensors()) {
      const Tensor t = dir.weights->get(info.name);
      tensors[info.name] = {"F32", info.shape, std::string(static_cast<const char*>(t.raw()), t.nbytes())};
    }
    edit(tensors);
    test::TempDir tmp;
    test::copy_file(src + "/train.yaml", tmp.file("train.yaml"));
    test::copy_file(src + "/units.txt", tmp.file("units.txt"));
    test::write_file(tmp.file("model.safetensors"), test::safetensors_bytes(tensors));
    std::string msg;
    EXPECT_EQ(test::status_of([&] { load_model_dir(tmp.path()); }, &msg), want) << message;
    EXPECT_NE(msg.find(message), std::string::npos) << msg;
  };
  const std::string w = "ctc.ctc_lo.weight";
  auto to_i8 = [&](std::map<std::string, test::RawTensor>& t, const std::string& name) {
    test::RawTensor& r = t[name];
    r.dtype = "I8";
    r.bytes.resize(r.bytes.size() / 4);
  };
  check([&](auto& t) { to_i8(t, w); }, MOEASR_ERR_FORMAT, "has no 'ctc.ctc_lo.weight.scale'");
  check(
      [&](auto& t) {
        to_i8(t, w);
        t[w + ".scale"] = test::f32_tensor({3}, 1.f);
      },
      MOEASR_ERR_FORMAT, "must be F32 of shape [40]");
  check([&](auto& t) { to_i8(t, "encoder.after_norm.weight"); }, MOEASR_ERR_UNSUPPORTED,
        "'encoder.after_norm.weight' has dtype I8");
  check([&](auto& t) { t["ctc.ctc_lo.bias.scale"] = test::f32_tensor({40}, 1.f); }, MOEASR_ERR_FORMAT,
        "does not account for");
}

TEST(ComputeType, UnknownNamesAreRejected) {
  ModelOptions mo;
  mo.compute_type = "int4";
  std::string msg;
  EXPECT_EQ(test::status_of([&] { AsrModel::load(test::data_path("models/moe_ln"), mo); }, &msg),
            MOEASR_ERR_INVALID_ARGUMENT);
  EXPECT_NE(msg.find("int4"), std::string::npos);
  EXPECT_EQ(parse_compute_type("bf16"), ComputeType::kBFloat16);
}

}  // namespace
}  // namespace moeasr
