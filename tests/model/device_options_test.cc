// The device option. These run on every machine and build: without a GPU,
// "cuda" is a device error with a message (or, without the CUDA backend, an
// unsupported one); malformed names are invalid arguments; a compute type
// the device has no kernels for is refused before the device is opened.
#include <gtest/gtest.h>

#include <string>

#include "core/device.h"
#include "moeasr/moeasr.h"
#include "ops/backend.h"
#include "runtime/asr_model.h"
#include "test_util.h"

namespace moeasr {
namespace {

std::string model_dir() { return test::data_path("models/moe_ln"); }

TEST(DeviceOptions, DeviceNamesParse) {
  EXPECT_TRUE(parse_device("cpu").is_cpu());
  EXPECT_TRUE(parse_device("cuda").is_cuda());
  EXPECT_EQ(parse_device("cuda").index, 0);
  EXPECT_EQ(parse_device("cuda:3").index, 3);
  EXPECT_EQ(parse_device("cuda:12").index, 12);
  EXPECT_EQ(parse_device("cuda:12").name(), "cuda:12");
  for (const char* bad : {"cuda:abc", "cuda:-1", "cuda:", "cuda:1x", "cuda:+1", "cuda:99999", "CUDA", "cuda0", "gpu"}) {
    std::string msg;
    EXPECT_EQ(test::status_of([&] { parse_device(bad); }, &msg), MOEASR_ERR_INVALID_ARGUMENT) << bad;
    EXPECT_NE(msg.find(bad), std::string::npos) << msg;
  }
}

TEST(DeviceOptions, MalformedCudaNamesAreInvalidThroughTheCApi) {
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

TEST(DeviceOptions, AMissingDeviceIsADeviceErrorOrUnsupported) {
  const int count = cuda_device_count();
  moeasr_model_options o;
  ASSERT_EQ(moeasr_model_default_options(&o), MOEASR_OK);
  // An index past the last device, whatever this machine has.
  const std::string past = "cuda:" + std::to_string(count);
  o.device = past.c_str();
  moeasr_model* m = reinterpret_cast<moeasr_model*>(0x1);
  const moeasr_status st = moeasr_model_load(model_dir().c_str(), &o, &m);
  EXPECT_EQ(m, nullptr);
  const std::string msg = moeasr_last_error();
  EXPECT_NE(msg.find(past), std::string::npos) << msg;
  if (!have_cuda_backend()) {
    EXPECT_EQ(st, MOEASR_ERR_UNSUPPORTED);
    EXPECT_NE(msg.find("no CUDA backend"), std::string::npos) << msg;
    return;
  }
  EXPECT_EQ(st, MOEASR_ERR_DEVICE);
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

TEST(DeviceOptions, Int8OnCudaAndAnUnknownMoeGemmAreRefusedBeforeTheDeviceIsOpened) {
  ModelOptions mo;
  mo.device = "cuda";
  mo.compute_type = "int8";
  std::string msg;
  EXPECT_EQ(test::status_of([&] { AsrModel::load(model_dir(), mo); }, &msg), MOEASR_ERR_UNSUPPORTED);
  EXPECT_NE(msg.find("int8"), std::string::npos) << msg;
  EXPECT_FALSE(device_reads(DeviceKind::kCuda, WeightType::kI8));
  EXPECT_TRUE(device_reads(DeviceKind::kCpu, WeightType::kI8));
  mo.compute_type = "bfloat16";
  mo.moe_gemm = "fastest";
  EXPECT_EQ(test::status_of([&] { AsrModel::load(model_dir(), mo); }), MOEASR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(parse_moe_gemm("grouped"), MoeGemm::kGrouped);
  EXPECT_EQ(parse_moe_gemm("cublas_grouped"), MoeGemm::kCublasGrouped);
  EXPECT_EQ(parse_moe_gemm("loop"), MoeGemm::kPerExpertLoop);
}

}  // namespace
}  // namespace moeasr
