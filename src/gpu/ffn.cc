#include "gpu/ffn.h"

namespace moeasr::gpu {

void ffn_forward(cuda::Context& ctx, const DeviceFfn& f, const float* x, int64_t n, float* y, cuda::Buffer& hidden,
                 cuda::Workspace& ws, cuda::MoeGemm gemm) {
  if (n == 0) return;
  if (f.moe) {
    const cuda::DeviceMoe view = f.moe_view();
    // No expert_load: asking for it would wait for the counts in every layer.
    cuda::moe_ffn(ctx, x, n, view, y, ws, gemm);
    return;
  }
  // `hidden` is only grown here, before any op of this call reads it.
  hidden.reserve(ctx, sizeof(float) * static_cast<size_t>(n * f.hidden));
  float* h = hidden.as<float>();
  cuda::linear(ctx, x, n, f.w1, h, ws);
  cuda::activation(ctx, h, n * f.hidden, f.activation);
  cuda::linear(ctx, h, n, f.w2, y, ws);
}

}  // namespace moeasr::gpu
