// The device option of a CUDA build. These run on every machine: without a
// GPU, "cuda" is a device error with a message; malformed names are invalid
// arguments; int8 and features the GPU path lacks are refused as unsupported.
#include <gtest/gtest.h>

#include <string>

#include "gpu/model.h"
#include "kernels/cuda/device.h"
#include "formats/model_dir.h"
#include "moeasr/moeasr.h"
#include "runtime/asr_model.h"
#include "core/device.h"
#include "test_util.h"

namespace moeasr {
namespace {

std::string model_dir() { return test::data_path("models/moe_ln"); }

TEST(CudaOptions, DeviceNamesParse) {
  EXPECT_FALSE(parse_device("cpu").cuda);
  EXPECT_TRUE(parse_device("cuda").cuda);
  EXPECT_EQ(parse_device("cuda").index, 0);
  EXPECT_EQ(parse_device("cuda:3").index, 3);
  EXPECT_EQ(parse_device("cuda:12").index, 12);
  for (const char* bad : {"cuda:abc", "cuda:-1", "cuda:", "cuda:1x", "cuda:+1", "cuda:99999", "CUDA", "cuda0", "gpu"}) {
    std::string msg;
    EXPECT_EQ(test::status_of([&] { parse_device(bad); }, &msg), MOEASR_ERR_INVALID_ARGUMENT) << bad;
    EXPECT_NE(msg.find(bad), std::string::npos) << msg;
  }
}

TEST(CudaOptions, MalformedCudaNamesAreInvalidThroughTheCApi) {
  moeasr_model_options o;
  ASSERT_EQ(moeasr_model_default_options(&o), MOEASR_OK);
  for (const char* bad : {"cuda:abc", "cuda:-1", "cuda:"}) {
    o.device = bad;
    moeasr_model* m = reinterpret_cast<moeasr_model*>(0x1);
    EXPECT_EQ(moeasr_model_load(model_dir().c_str(), &o, &m), MOEASR_ERR_INVALID_ARGUMENT) << bad;
    EXPECT_EQ(m, nullptr);
    EXPECT_NE(std::string(moeasr_last_error()).find("unknown device"), std::string::npos) << moeasr_last_error();
  }
}

TEST(CudaOptions, MissingDeviceIsADeviceError) {
  const int count = cuda::device_count();
  moeasr_model_options o;
  ASSERT_EQ(moeasr_model_default_options(&o), MOEASR_OK);
  // An index past the last device, whatever this machine has.
  const std::string past = "cuda:" + std::to_string(count);
  o.device = past.c_str();
  moeasr_model* m = reinterpret_cast<moeasr_model*>(0x1);
  EXPECT_EQ(moeasr_model_load(model_dir().c_str(), &o, &m), MOEASR_ERR_DEVICE);
  EXPECT_EQ(m, nullptr);
  const std::string msg = moeasr_last_error();
  EXPECT_NE(msg.find(past), std::string::npos) << msg;
  if (count == 0) {
    EXPECT_NE(msg.find("no usable CUDA device"), std::string::npos) << msg;
    // Plain "cuda" as well, through the C++ API.
    ModelOptions mo;
    mo.device = "cuda";
    std::string cxx_msg;
    EXPECT_EQ(test::status_of([&] { AsrModel::load(model_dir(), mo); }, &cxx_msg), MOEASR_ERR_DEVICE);
    EXPECT_NE(cxx_msg.find("no usable CUDA device"), std::string::npos) << cxx_msg;
  } else {
    EXPECT_NE(msg.find("there is no CUDA device"), std::string::npos) << msg;
  }
}

TEST(CudaOptions, Int8AndUnknownMoeGemmAreRefusedBeforeTheDeviceIsOpened) {
  ModelOptions mo;
  mo.device = "cuda";
  mo.compute_type = "int8";
  std::string msg;
  EXPECT_EQ(test::status_of([&] { AsrModel::load(model_dir(), mo); }, &msg), MOEASR_ERR_UNSUPPORTED);
  EXPECT_NE(msg.find("int8"), std::string::npos) << msg;
  mo.compute_type = "bfloat16";
  mo.cuda_moe_gemm = "fastest";
  EXPECT_EQ(test::status_of([&] { AsrModel::load(model_dir(), mo); }), MOEASR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(gpu::parse_moe_gemm("grouped"), cuda::MoeGemm::kGrouped);
  EXPECT_EQ(gpu::parse_moe_gemm("cublas_grouped"), cuda::MoeGemm::kCublasGrouped);
  EXPECT_EQ(gpu::parse_moe_gemm("loop"), cuda::MoeGemm::kPerExpertLoop);
}

// Features without a CUDA path are named at load, never run wrongly.
TEST(CudaOptions, UnsupportedFeaturesAreNamed) {
  const ModelDir mot = load_model_dir(test::data_path("models/mot_seq"));
  std::string msg;
  EXPECT_EQ(test::status_of([&] { gpu::GpuModel::check_supported(mot.config); }, &msg), MOEASR_ERR_UNSUPPORTED);
  EXPECT_NE(msg.find("Mixture of Tokens"), std::string::npos) << msg;
  for (const char* dir : {"soft_moe/models/soft_moa", "soft_moe/models/dense_moa"}) {
    ModelConfig c = load_model_dir(test::data_path(dir)).config;
    c.encoder.ffn.soft = false;  // these have Soft MoE FFNs too: look at the adapters alone
    c.encoder.ffn.moe = false;
    EXPECT_EQ(test::status_of([&] { gpu::GpuModel::check_supported(c); }, &msg), MOEASR_ERR_UNSUPPORTED) << dir;
    EXPECT_NE(msg.find("adapters"), std::string::npos) << msg;
  }
  ModelConfig soft = load_model_dir(model_dir()).config;
  soft.encoder.ffn.moe = false;
  soft.encoder.ffn.soft = true;
  EXPECT_EQ(test::status_of([&] { gpu::GpuModel::check_supported(soft); }, &msg), MOEASR_ERR_UNSUPPORTED);
  EXPECT_NE(msg.find("Soft MoE"), std::string::npos) << msg;
  for (const char* ok : {"models/moe_ln", "models/dense_bn", "models/moe_k1", "models/odd_dims"}) {
    const ModelDir dir = load_model_dir(test::data_path(ok));
    EXPECT_EQ(test::status_of([&] { gpu::GpuModel::check_supported(dir.config); }), MOEASR_OK) << ok;
  }
}

}  // namespace
}  // namespace moeasr
