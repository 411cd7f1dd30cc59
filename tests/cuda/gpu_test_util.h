// Shared by the GPU tests: skip (or, with MOEASR_REQUIRE_GPU set, fail) when
// this machine has no CUDA device, so the suite passes on CPU-only machines
// and scripts/gpu_check.sh cannot mistake skipped tests for passed ones.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>

#include "kernels/cuda/device.h"

#define MOEASR_REQUIRE_CUDA_DEVICE()                                                              \
  do {                                                                                            \
    if (::moeasr::cuda::device_count() == 0) {                                                    \
      if (std::getenv("MOEASR_REQUIRE_GPU")) FAIL() << "no CUDA device, but MOEASR_REQUIRE_GPU is set"; \
      GTEST_SKIP() << "no CUDA device";                                                           \
    }                                                                                             \
  } while (0)
