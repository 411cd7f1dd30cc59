// Convolutions of the Conformer on time-major [time, channels] data.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/types.h"

namespace moeasr::cpu {

// Depthwise 1-D convolution over time, "valid" (no padding):
//   out[t, c] = bias[c] + sum_j w_t[j, c] * in[t + j, c],  t < t_in - kernel + 1.
// w_t is the kernel transposed to [kernel, channels] so the inner loop runs
// over contiguous channels.
void depthwise_conv_time(const float* in, int64_t t_in, int64_t channels, const float* w_t, const float* bias,
                         int kernel, float* out);

// One DepthwiseConvJob (kernels/types.h): the convolution over
// [cache or zeros; frames; zeros], then the cache update. `scratch` holds the
// assembled input.
void depthwise_conv(const DepthwiseConvJob& job, int64_t channels, const float* w_t, const float* bias, int kernel,
                    std::vector<float>& scratch);

// 3x3 stride-2 "valid" convolution of Conv2dSubsampling4, by im2col + GEMM.
//   in: [t_in, f_in, c_in] (c_in = 1 for the first conv), out: [t_out, f_out, c_out]
//   weight: [3, 3, c_in, c_out] (PyTorch's [c_out, c_in, 3, 3] transposed at load:
//   with the long 9 * c_in reduction, oneDNN's sgemm runs 1.5x faster on a
//   [K, N] weight than on [N, K])
// with t_out = (t_in - 3) / 2 + 1 (same for f). ReLU is applied.
void conv2d_3x3_s2_relu(const float* in, int64_t t_in, int64_t f_in, int64_t c_in, const float* weight,
                        const float* bias, int64_t c_out, float* out, std::vector<float>& im2col);

}  // namespace moeasr::cpu
