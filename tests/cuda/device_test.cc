// The device layer: opening contexts, buffers and copies. The no-GPU cases run
// on every CUDA build (CI machines have nvcc but no GPU); the rest skip there.
#include "kernels/cuda/device.h"

#include <gtest/gtest.h>

#include <numeric>
#include <vector>

#include "core/error.h"
#include "core/tensor.h"

namespace moeasr {
namespace {

TEST(CudaDevice, NoGpuMeansZeroDevicesAndOpenThrowsDeviceError) {
  if (cuda::device_count() > 0) GTEST_SKIP() << "a CUDA device exists: this test is for machines without one";
  EXPECT_EQ(cuda::device_count(), 0);
  EXPECT_EQ(cuda::device_count(), 0);  // asking twice is fine (no sticky error)
  try {
    cuda::Context::open(0);
    FAIL() << "Context::open(0) without a GPU did not throw";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), MOEASR_ERR_DEVICE);
    EXPECT_NE(std::string(e.what()).find("device 0"), std::string::npos) << e.what();
  }
}

TEST(CudaDevice, OpenRejectsAMissingIndex) {
  const int n = cuda::device_count();
  for (int index : {-1, n, n + 7}) {
    try {
      cuda::Context::open(index);
      FAIL() << "Context::open(" << index << ") did not throw";
    } catch (const Error& e) {
      EXPECT_EQ(e.status(), MOEASR_ERR_DEVICE);
    }
  }
}

TEST(CudaDevice, UploadDownloadCopyAndZeroRoundTrip) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device: nothing to copy to";
  auto ctx = cuda::Context::open(0);
  EXPECT_EQ(ctx->index(), 0);
  EXPECT_FALSE(ctx->name().empty());
  std::vector<float> host(1000);
  std::iota(host.begin(), host.end(), 1.f);
  cuda::Buffer a(*ctx, host.size() * sizeof(float)), b;
  b.reserve(*ctx, 10);
  b.reserve(*ctx, host.size() * sizeof(float));  // grows
  EXPECT_GE(b.bytes(), host.size() * sizeof(float));
  cuda::upload(*ctx, a.data(), host.data(), host.size() * sizeof(float));
  cuda::copy_on_device(*ctx, b.data(), a.data(), host.size() * sizeof(float));
  cuda::fill_zero(*ctx, a.data(), 100 * sizeof(float));
  std::vector<float> back_a(host.size()), back_b(host.size());
  cuda::download(*ctx, back_a.data(), a.data(), host.size() * sizeof(float));
  cuda::download(*ctx, back_b.data(), b.data(), host.size() * sizeof(float));
  EXPECT_EQ(back_b, host);
  for (size_t i = 0; i < host.size(); ++i) EXPECT_EQ(back_a[i], i < 100 ? 0.f : host[i]) << i;
  // Zero-byte copies are no-ops even with null pointers.
  cuda::upload(*ctx, nullptr, nullptr, 0);
  cuda::download(*ctx, nullptr, nullptr, 0);
  ctx->synchronize();
  // A move leaves the source empty.
  cuda::Buffer c = std::move(a);
  EXPECT_EQ(a.data(), nullptr);
  EXPECT_EQ(a.bytes(), 0u);
  EXPECT_NE(c.data(), nullptr);
}

TEST(CudaDevice, HugeAllocationThrowsDeviceError) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  auto ctx = cuda::Context::open(0);
  try {
    cuda::Buffer huge(*ctx, size_t{1} << 52);  // 4 PiB
    FAIL() << "a 4 PiB allocation succeeded";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), MOEASR_ERR_DEVICE);
  }
  cuda::Buffer ok(*ctx, 1024);  // the context still works afterwards
  ctx->synchronize();
}

// Tensors on a GPU (core/device.h allocate): device memory freed with the last owner.
TEST(CudaDevice, TensorsLiveOnTheGpu) {
  if (cuda::device_count() == 0) GTEST_SKIP() << "no CUDA device";
  Tensor t({1000}, DType::kF32, Device::cuda(0));
  EXPECT_TRUE(t.device().is_cuda());
  EXPECT_NE(t.raw(), nullptr);
  t.resize({100000});  // grows on the device
  EXPECT_TRUE(t.device().is_cuda());
  try {
    Tensor huge({int64_t{1} << 50}, DType::kF32, Device::cuda(0));  // 4 PiB
    FAIL() << "a 4 PiB tensor was allocated";
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), MOEASR_ERR_DEVICE);
  }
}

}  // namespace
}  // namespace moeasr
