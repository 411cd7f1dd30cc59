// Element-wise ops of ops.h: add_scaled, mul, add_row_scaled, scale, activation,
// glu, channel_affine, cmvn. Each is
// a grid-stride loop over int64 indices (no overflow for any tensor size).
#include "kernels/cuda/activation.cuh"
#include "kernels/cuda/launch.h"

namespace moeasr::cuda {

namespace {

__global__ void mul_kernel(float* y, const float* x, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x) {
    y[i] *= x[i];
  }
}

__global__ void add_scaled_kernel(float* y, const float* x, float alpha, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x) {
    y[i] += alpha * x[i];
  }
}

__global__ void scale_kernel(float* x, float s, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x) {
    x[i] *= s;
  }
}

__global__ void activation_kernel(float* x, int64_t n, Activation act) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x) {
    x[i] = apply_activation(x[i], act);
  }
}

__global__ void glu_kernel(const float* x, int64_t rows, int64_t c, float* y) {
  const int64_t n = rows * c;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t r = i / c, col = i - r * c;
    const float* row = x + r * 2 * c;
    y[i] = sigmoid_times(row[col], row[c + col]);
  }
}

__global__ void cmvn_kernel(float* x, int64_t rows, int64_t f, const float* mean, const float* istd) {
  const int64_t n = rows * f;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t col = i % f;
    x[i] = (x[i] - mean[col]) * istd[col];
  }
}

__global__ void add_row_scaled_kernel(float* y, const float* x, int64_t rows, int64_t d, const float* s,
                                      int64_t stride) {
  const int64_t n = rows * d;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x) {
    y[i] += s[(i / d) * stride] * x[i];
  }
}

__global__ void channel_affine_kernel(const float* x, int64_t rows, int64_t c, const float* scale, const float* shift,
                                      float* y) {
  const int64_t n = rows * c;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n; i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t col = i % c;
    y[i] = x[i] * scale[col] + shift[col];
  }
}

}  // namespace

void add_row_scaled(Context& ctx, float* y, const float* x, int64_t rows, int64_t d, const float* s, int64_t stride) {
  if (rows <= 0 || d <= 0) return;
  add_row_scaled_kernel<<<grid_for(rows * d), kThreads, 0, stream_of(ctx)>>>(y, x, rows, d, s, stride);
  MOEASR_CUDA_CHECK_LAUNCH("add_row_scaled_kernel");
}

void channel_affine(Context& ctx, const float* x, int64_t rows, int64_t c, const float* scale, const float* shift,
                    float* y) {
  if (rows <= 0 || c <= 0) return;
  channel_affine_kernel<<<grid_for(rows * c), kThreads, 0, stream_of(ctx)>>>(x, rows, c, scale, shift, y);
  MOEASR_CUDA_CHECK_LAUNCH("channel_affine_kernel");
}

void add_scaled(Context& ctx, float* y, const float* x, float alpha, int64_t n) {
  if (n <= 0) return;
  add_scaled_kernel<<<grid_for(n), kThreads, 0, stream_of(ctx)>>>(y, x, alpha, n);
  MOEASR_CUDA_CHECK_LAUNCH("add_scaled_kernel");
}

void mul(Context& ctx, float* y, const float* x, int64_t n) {
  if (n <= 0) return;
  mul_kernel<<<grid_for(n), kThreads, 0, stream_of(ctx)>>>(y, x, n);
  MOEASR_CUDA_CHECK_LAUNCH("mul_kernel");
}

void scale(Context& ctx, float* x, float s, int64_t n) {
  if (n <= 0) return;
  scale_kernel<<<grid_for(n), kThreads, 0, stream_of(ctx)>>>(x, s, n);
  MOEASR_CUDA_CHECK_LAUNCH("scale_kernel");
}

void activation(Context& ctx, float* x, int64_t n, Activation act) {
  if (n <= 0) return;
  activation_kernel<<<grid_for(n), kThreads, 0, stream_of(ctx)>>>(x, n, act);
  MOEASR_CUDA_CHECK_LAUNCH("activation_kernel");
}

void glu(Context& ctx, const float* x, int64_t rows, int64_t c, float* y) {
  if (rows <= 0 || c <= 0) return;
  glu_kernel<<<grid_for(rows * c), kThreads, 0, stream_of(ctx)>>>(x, rows, c, y);
  MOEASR_CUDA_CHECK_LAUNCH("glu_kernel");
}

void cmvn(Context& ctx, float* x, int64_t rows, int64_t f, const float* mean, const float* istd) {
  if (rows <= 0 || f <= 0) return;
  cmvn_kernel<<<grid_for(rows * f), kThreads, 0, stream_of(ctx)>>>(x, rows, f, mean, istd);
  MOEASR_CUDA_CHECK_LAUNCH("cmvn_kernel");
}

}  // namespace moeasr::cuda
