#include "kernels/cpu/dense_moa.h"

#include <cstring>

#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/linear.h"
#include "kernels/cpu/softmax.h"

namespace moeasr::cpu {

void dense_moa(const float* x, int64_t n, const DenseMoaView& L, float* y, DenseMoaWorkspace& ws) {
  const int64_t d = L.d, H = L.hidden, E = L.num_experts;
  if (n == 0) return;
  ws.weights.resize(static_cast<size_t>(n * E));
  linear(x, n, d, L.gate, nullptr, E, ws.weights.data(), E);
  softmax_rows(ws.weights.data(), n, E, E);
  ws.hidden.resize(static_cast<size_t>(n * H));
  ws.out.resize(static_cast<size_t>(n * d));
  std::memset(y, 0, sizeof(float) * n * d);
  for (int64_t e = 0; e < E; ++e) {
    const ExpertWeights& w = L.experts[e];
    linear_activation(x, n, w.w1, w.b1, L.activation, ws.hidden.data(), H);
    linear(ws.hidden.data(), n, w.w2, w.b2, ws.out.data(), d);
    for (int64_t t = 0; t < n; ++t) add_scaled(y + t * d, ws.out.data() + t * d, ws.weights[t * E + e], d);
  }
}

}  // namespace moeasr::cpu
