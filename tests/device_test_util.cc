#include "device_test_util.h"

#include <cstdlib>
#include <cstring>

namespace moeasr::test {

std::vector<Device> devices() {
  std::vector<Device> d{Device::cpu()};
  if (cuda_device_count() > 0) d.push_back(Device::cuda(0));
  return d;
}

std::string device_label(const ::testing::TestParamInfo<Device>& info) {
  return info.param.is_cpu() ? "cpu" : "cuda" + std::to_string(info.param.index);
}

Tensor to_device(Backend& be, const Tensor& host) {
  Tensor t(host.shape(), host.dtype(), be.device());
  be.copy_from_host(t.raw(), host.raw(), host.nbytes());
  return t;
}

std::vector<float> to_host(Backend& be, const Tensor& t) {
  std::vector<float> out(static_cast<size_t>(t.numel()));
  be.copy_to_host(out.data(), t.raw(), sizeof(float) * out.size());
  return out;
}

Tensor host_tensor(Shape shape, const std::vector<float>& values) {
  Tensor t(std::move(shape));
  if (!values.empty()) std::memcpy(t.raw(), values.data(), sizeof(float) * values.size());
  return t;
}

TEST(DevicesTest, AGpuIsPresentWhenRequired) {
  if (!std::getenv("MOEASR_REQUIRE_GPU")) GTEST_SKIP() << "MOEASR_REQUIRE_GPU is not set";
  EXPECT_GT(cuda_device_count(), 0) << "MOEASR_REQUIRE_GPU is set but there is no usable CUDA device";
}

}  // namespace moeasr::test
