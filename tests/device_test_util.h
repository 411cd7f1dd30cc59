// The devices the op, layer and model tests run on, and moving test data to
// and from them. A test parameterized by device runs on the CPU always, and on
// CUDA device 0 when this build has the CUDA backend and the machine has a
// GPU, or when the binary is linked with the host emulation of kernels/cuda
// (tests/cuda/host_device.cc, which reports one device). With
// MOEASR_REQUIRE_GPU set, a machine without one fails DevicesTest instead of
// silently running the CPU cases only (scripts/gpu_check.sh sets it).
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "core/device.h"
#include "core/tensor.h"
#include "ops/backend.h"

namespace moeasr::test {

std::vector<Device> devices();
// A test-name suffix: "cpu", "cuda0".
std::string device_label(const ::testing::TestParamInfo<Device>& info);

// A host tensor's contents on the backend's device.
Tensor to_device(Backend& be, const Tensor& host);
// A device tensor's contents as host floats (waits for the device).
std::vector<float> to_host(Backend& be, const Tensor& t);
// A float32 host tensor holding `values`.
Tensor host_tensor(Shape shape, const std::vector<float>& values);

}  // namespace moeasr::test
