// The position-wise FFN of the encoder and decoder on the GPU: dense
// (w_1 -> activation -> w_2) or top-k MoE (kernels/cuda moe_ffn, which keeps
// routing, grouping and the expert GEMMs on the device). CUDA builds only.
#pragma once

#include "gpu/device_weights.h"

namespace moeasr::gpu {

// y[n, d] = FFN(x[n, d]); `hidden` is scratch for the dense path (grown as needed).
void ffn_forward(cuda::Context& ctx, const DeviceFfn& f, const float* x, int64_t n, float* y, cuda::Buffer& hidden,
                 cuda::Workspace& ws, cuda::MoeGemm gemm);

}  // namespace moeasr::gpu
