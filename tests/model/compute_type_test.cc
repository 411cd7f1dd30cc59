// Weights in other compute types: bfloat16 keeps every fixture's n-best equal
// to float32's; int8 is either stored (I8 + .scale, used in place) or made at
// load, with the same numbers; the loader validates int8 files.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <map>
#include <functional>
#include <set>
#include <fstream>

#include <nlohmann/json.hpp>

#include "formats/model_dir.h"
#include "formats/safetensors.h"
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

// A convolution kernel read as a Linear on im2col rows (the subsampling's):
// its columns are re-ordered at load, and since every type is per row, a
// kernel the converter quantized in the file's order equals one quantized at
// load after the re-ordering, bit for bit; bfloat16 the same.
TEST(ComputeType, ReorderedKernelsQuantizeAsTheConverterDoes) {
  const int64_t n = 6, c_in = 4, kk = 9, k = c_in * kk;
  std::vector<float> w(n * k);
  for (int64_t i = 0; i < n * k; ++i) w[i] = std::sin(0.37f * static_cast<float>(i)) * (1.f + (i % 7));
  std::vector<int64_t> order(k);  // im2col columns (kt, kf, c_in) of [out, in, kt, kf]
  for (int64_t j = 0; j < kk; ++j) {
    for (int64_t ci = 0; ci < c_in; ++ci) order[j * c_in + ci] = ci * kk + j;
  }
  std::vector<float> permuted(n * k);
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t c = 0; c < k; ++c) permuted[r * k + c] = w[r * k + order[c]];
  }
  std::vector<int8_t> q(n * k), q_permuted(n * k);
  std::vector<float> scale(n), scale_permuted(n);
  quantize_rows_int8(w.data(), n, k, q.data(), scale.data());
  quantize_rows_int8(permuted.data(), n, k, q_permuted.data(), scale_permuted.data());
  const std::vector<int64_t> shape = {n, c_in, 3, 3};
  std::map<std::string, test::RawTensor> file;
  file["f32"] = {"F32", shape, std::string(reinterpret_cast<const char*>(w.data()), w.size() * 4)};
  file["i8"] = {"I8", shape, std::string(reinterpret_cast<const char*>(q.data()), q.size())};
  file["i8.scale"] = {"F32", {n}, std::string(reinterpret_cast<const char*>(scale.data()), n * 4)};
  test::TempDir tmp;
  test::write_file(tmp.file("w.safetensors"), test::safetensors_bytes(file));
  auto st = SafeTensors::open(tmp.file("w.safetensors"));

  PrecisionPolicy int8;
  int8.type = ComputeType::kInt8;
  for (const char* name : {"f32", "i8"}) {
    const StoredMatrix m = load_matrix(*st, name, int8, false, &order);
    ASSERT_EQ(m.data.dtype(), DType::kI8) << name;
    ASSERT_EQ(m.data.shape(), (Shape{n, k})) << name;
    EXPECT_EQ(0, std::memcmp(m.data.raw(), q_permuted.data(), q_permuted.size())) << name;
    EXPECT_EQ(0, std::memcmp(m.scale.data<float>(), scale_permuted.data(), n * 4)) << name;
  }
  PrecisionPolicy bf16;
  bf16.type = ComputeType::kBFloat16;
  const StoredMatrix b = load_matrix(*st, "f32", bf16, false, &order);
  ASSERT_EQ(b.data.dtype(), DType::kBF16);
  for (int64_t i = 0; i < n * k; ++i) ASSERT_EQ(b.data.data<uint16_t>()[i], float_to_bf16(permuted[i])) << i;
  PrecisionPolicy f32;
  const StoredMatrix f = load_matrix(*st, "f32", f32, false, &order);
  EXPECT_EQ(0, std::memcmp(f.data.raw(), permuted.data(), permuted.size() * 4));
  // A wrong column count is refused, not read out of bounds.
  const std::vector<int64_t> short_order(k - 1, 0);
  EXPECT_EQ(test::status_of([&] { load_matrix(*st, "f32", f32, false, &short_order); }), MOEASR_ERR_INTERNAL);
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
