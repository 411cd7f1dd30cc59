#include "kernels/cpu/conv.h"

#include <cstring>

#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/gemm.h"

namespace moeasr::cpu {

void depthwise_conv_time(const float* in, int64_t t_in, int64_t channels, const float* w_t, const float* bias,
                         int kernel, float* out) {
  const int64_t t_out = t_in - kernel + 1;
  // Plain loops, so each output's rounding is the same at any address (see
  // lane_sum.h); they vectorize across channels.
  for (int64_t t = 0; t < t_out; ++t) {
    float* o = out + t * channels;
    for (int64_t c = 0; c < channels; ++c) o[c] = bias ? bias[c] : 0.f;
    for (int j = 0; j < kernel; ++j) {
      const float* w = w_t + j * channels;
      const float* x = in + (t + j) * channels;
      for (int64_t c = 0; c < channels; ++c) o[c] += w[c] * x[c];
    }
  }
}

void depthwise_conv(const DepthwiseConvJob& job, int64_t channels, const float* w_t, const float* bias, int kernel,
                    std::vector<float>& scratch) {
  const int64_t halo = kernel - 1, rows = halo + job.t + job.right_zeros;
  scratch.assign(static_cast<size_t>(rows * channels), 0.f);
  float* in = scratch.data();
  if (job.cache) std::memcpy(in, job.cache, sizeof(float) * halo * channels);
  std::memcpy(in + halo * channels, job.frames, sizeof(float) * job.t * channels);
  if (rows - job.skip >= kernel) {
    depthwise_conv_time(in + job.skip * channels, rows - job.skip, channels, w_t, bias, kernel, job.out);
  }
  // The cache keeps the last kernel - 1 rows of [cache; frames].
  if (job.cache) std::memcpy(job.cache, in + job.t * channels, sizeof(float) * halo * channels);
}

void conv2d_3x3_s2_relu(const float* in, int64_t t_in, int64_t f_in, int64_t c_in, const float* weight,
                        const float* bias, int64_t c_out, float* out, std::vector<float>& im2col) {
  const int64_t t_out = (t_in - 3) / 2 + 1, f_out = (f_in - 3) / 2 + 1;
  if (t_in < 3 || t_out <= 0 || f_out <= 0) return;
  const int64_t patch = 9 * c_in;
  im2col.resize(static_cast<size_t>(t_out * f_out * patch));
  for (int64_t t = 0; t < t_out; ++t) {
    for (int64_t f = 0; f < f_out; ++f) {
      float* row = im2col.data() + (t * f_out + f) * patch;
      for (int kt = 0; kt < 3; ++kt) {
        for (int kf = 0; kf < 3; ++kf) {
          const float* src = in + ((2 * t + kt) * f_in + (2 * f + kf)) * c_in;
          std::memcpy(row + (kt * 3 + kf) * c_in, src, sizeof(float) * c_in);
        }
      }
    }
  }
  const int64_t rows = t_out * f_out;
  for (int64_t r = 0; r < rows; ++r) std::memcpy(out + r * c_out, bias, sizeof(float) * c_out);
  sgemm(false, false, rows, c_out, patch, 1.f, im2col.data(), patch, weight, c_out, 1.f, out, c_out);
  activation(out, rows * c_out, Activation::kRelu);
}

}  // namespace moeasr::cpu
