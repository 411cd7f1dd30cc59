// moe_ffn: WeNet's top-k MoE FFN on the device, in stages
//   1. router logits = x gate^T                      (linear, cuBLAS)
//   2. top-k + softmax over the k, counts per expert  (moe_route.cu)
//   3. offsets, rows grouped by expert, x gathered   (moe_route.cu)
//   4. hidden = act(gathered W1_e^T + b1_e), out = hidden W2_e^T + b2_e per
//      expert, by one of three MoeGemm strategies (below)
//   5. y[t] = sum of weight * out over t's k rows     (moe_route.cu, a gather:
//      deterministic, no atomics)
// kGrouped never waits for the host; the cuBLAS strategies download the E
// counts once (they need host-side sizes).
#include <algorithm>

#include "kernels/cuda/launch.h"
#include "kernels/cuda/linear_impl.h"
#include "kernels/cuda/moe_impl.h"

namespace moeasr::cuda {

namespace {

constexpr size_t kAlign = 256;
size_t align_up(size_t v) { return (v + kAlign - 1) / kAlign * kAlign; }

// Host blobs packed into ws.host_jobs and uploaded together into ws.jobs (one
// copy for the expert table and the cuBLAS pointer arrays).
class HostPack {
 public:
  explicit HostPack(Workspace& ws) : ws_(ws) { ws_.host_jobs.clear(); }
  template <typename T>
  size_t add(const T* data, size_t count) {
    const size_t at = align_up(ws_.host_jobs.size());
    ws_.host_jobs.resize(at + sizeof(T) * count);
    std::memcpy(ws_.host_jobs.data() + at, data, sizeof(T) * count);
    return at;
  }
  uint8_t* upload(Context& ctx) {
    ws_.jobs.reserve(ctx, ws_.host_jobs.size());
    cuda::upload(ctx, ws_.jobs.data(), ws_.host_jobs.data(), ws_.host_jobs.size());
    return ws_.jobs.as<uint8_t>();
  }

 private:
  Workspace& ws_;
};

void check_layer(const MoeView& L) {
  MOEASR_CHECK(L.num_experts >= 1 && L.top_k >= 1 && L.top_k <= L.num_experts && L.top_k <= kMaxTopK,
               MOEASR_ERR_INVALID_ARGUMENT, "CUDA moe_ffn: top_k ", L.top_k, " of ", L.num_experts,
               " experts (1 <= top_k <= min(experts, ", kMaxTopK, "))");
  MOEASR_CHECK(L.d > 0 && L.hidden > 0 && L.gate && L.experts, MOEASR_ERR_INVALID_ARGUMENT,
               "CUDA moe_ffn: incomplete layer (d ", L.d, ", hidden ", L.hidden, ")");
  for (int e = 0; e < L.num_experts; ++e) {
    const WeightMatrix &w1 = L.experts[e].w1, &w2 = L.experts[e].w2;
    MOEASR_CHECK(w1.n == L.hidden && w1.k == L.d && w2.n == L.d && w2.k == L.hidden, MOEASR_ERR_INVALID_ARGUMENT,
                 "CUDA moe_ffn: expert ", e, " has w1 [", w1.n, ", ", w1.k, "] and w2 [", w2.n, ", ", w2.k,
                 "], expected [", L.hidden, ", ", L.d, "] and [", L.d, ", ", L.hidden, "]");
    for (const WeightMatrix* w : {&w1, &w2}) {
      MOEASR_CHECK(w->type == WeightType::kF32 || w->type == WeightType::kBF16, MOEASR_ERR_UNSUPPORTED,
                   "CUDA moe_ffn: ", weight_type_name(w->type), " expert weights have no CUDA kernel");
    }
  }
}

// Counts on the host (waits for the routing).
const int32_t* download_counts(Context& ctx, const MoeScratch& s, int num_experts, Workspace& ws) {
  ws.host_counts.resize(num_experts);
  download(ctx, ws.host_counts.data(), s.counts, sizeof(int32_t) * num_experts);
  return ws.host_counts.data();
}

// The non-empty experts' pointers for one of the two GEMMs: on the host
// (built here) and their device copies (offsets into the uploaded pack).
struct ExpertPtrs {
  std::vector<const void*> w, x;  // weights, inputs (float, or bf16: split_bf16's hi or lo)
  std::vector<void*> c;           // outputs (float)
  size_t o_w = 0, o_x = 0, o_c = 0;
};

// One cublasGemmGroupedBatchedEx for all non-empty experts' c = x W^T + beta c
// (one group of one problem per expert: the sizes differ); bias and
// activation come after. x is float, or one half of split_bf16's pair when
// the weights are bf16.
void cublas_grouped_gemm(Context& ctx, WeightType type, const int32_t* counts, int num_experts, int64_t k_dim,
                         int64_t n_dim, const ExpertPtrs& p, const uint8_t* dev, float beta_value) {
  std::vector<cublasOperation_t> ta, tb;
  std::vector<int> m, n, k, lda, ldb, ldc, group_size;
  std::vector<float> alpha, beta;
  for (int e = 0; e < num_experts; ++e) {
    if (counts[e] == 0) continue;
    ta.push_back(CUBLAS_OP_T);  // see linear.cu: C^T [n_dim, rows] = W (as W^T col-major, op T) * X^T
    tb.push_back(CUBLAS_OP_N);
    m.push_back(static_cast<int>(n_dim));
    n.push_back(counts[e]);
    k.push_back(static_cast<int>(k_dim));
    lda.push_back(static_cast<int>(k_dim));
    ldb.push_back(static_cast<int>(k_dim));
    ldc.push_back(static_cast<int>(n_dim));
    group_size.push_back(1);
    alpha.push_back(1.f);
    beta.push_back(beta_value);
  }
  if (m.empty()) return;
  const cudaDataType_t ab = type == WeightType::kBF16 ? CUDA_R_16BF : CUDA_R_32F;
  const cublasStatus_t st = cublasGemmGroupedBatchedEx(
      cublas_of(ctx), ta.data(), tb.data(), m.data(), n.data(), k.data(), alpha.data(),
      reinterpret_cast<const void* const*>(dev + p.o_w), ab, lda.data(),
      reinterpret_cast<const void* const*>(dev + p.o_x), ab, ldb.data(), beta.data(),
      reinterpret_cast<void* const*>(dev + p.o_c), CUDA_R_32F, ldc.data(), static_cast<int>(m.size()),
      group_size.data(), CUBLAS_COMPUTE_32F);
  if ((st == CUBLAS_STATUS_NOT_SUPPORTED || st == CUBLAS_STATUS_INVALID_VALUE) && ab == CUDA_R_16BF) {
    // A cuBLAS that rejects bf16 inputs with float outputs in the grouped
    // call (its documented type table is narrower than GemmEx's): the same
    // products, one GemmEx per expert (same arithmetic, more launches). The
    // float32 path has no fallback: any failure there is reported.
    for (size_t g = 0; g < m.size(); ++g) {
      gemm_xwt(ctx, p.x[g], type, n[g], p.w[g], n_dim, k_dim, static_cast<float*>(p.c[g]), beta_value);
    }
    return;
  }
  if (st != CUBLAS_STATUS_SUCCESS) throw_cublas("cublasGemmGroupedBatchedEx", st);
}

}  // namespace

void moe_ffn(Context& ctx, const float* x, int64_t n, const MoeView& L, float* y, Workspace& ws, MoeGemm gemm,
             int64_t* expert_load) {
  if (n <= 0) return;
  check_layer(L);
  const int E = L.num_experts, k = L.top_k;
  const int64_t d = L.d, H = L.hidden, rows = n * k;
  MOEASR_CHECK(rows <= INT32_MAX, MOEASR_ERR_UNSUPPORTED, "CUDA moe_ffn: ", n, " tokens x top ", k,
               " exceed 32-bit row indices");

  // Scratch: the small per-slot tables in ws.a, then the row matrices.
  size_t at = 0;
  auto carve = [&at](size_t bytes) {
    const size_t here = at;
    at = align_up(at + bytes);
    return here;
  };
  const size_t o_logits = carve(sizeof(float) * n * E), o_sexp = carve(sizeof(int32_t) * rows),
               o_swt = carve(sizeof(float) * rows), o_srow = carve(sizeof(int32_t) * rows),
               o_rslot = carve(sizeof(int32_t) * rows), o_counts = carve(sizeof(int32_t) * E),
               o_offsets = carve(sizeof(int32_t) * (E + 1)), o_cursor = carve(sizeof(int32_t) * E);
  ws.a.reserve(ctx, at);
  ws.b.reserve(ctx, sizeof(float) * rows * d);  // gathered x
  ws.c.reserve(ctx, sizeof(float) * rows * H);  // hidden
  ws.d.reserve(ctx, sizeof(float) * rows * d);  // expert outputs
  uint8_t* base = ws.a.as<uint8_t>();
  const MoeScratch s{reinterpret_cast<float*>(base + o_logits),   reinterpret_cast<int32_t*>(base + o_sexp),
                     reinterpret_cast<float*>(base + o_swt),      reinterpret_cast<int32_t*>(base + o_srow),
                     reinterpret_cast<int32_t*>(base + o_rslot),  reinterpret_cast<int32_t*>(base + o_counts),
                     reinterpret_cast<int32_t*>(base + o_offsets), reinterpret_cast<int32_t*>(base + o_cursor)};
  float* gathered = ws.b.as<float>();
  float* hidden = ws.c.as<float>();
  float* out = ws.d.as<float>();

  WeightMatrix router;
  router.n = E;
  router.k = d;
  router.data = L.gate;
  linear(ctx, x, n, router, nullptr, s.logits, ws);
  moe_route_and_group(ctx, x, n, d, E, k, s, gathered);

  const int32_t* counts = nullptr;  // host copy, when needed
  if (gemm != MoeGemm::kGrouped || expert_load) counts = download_counts(ctx, s, E, ws);
  if (expert_load) {
    for (int e = 0; e < E; ++e) expert_load[e] += counts[e];
  }

  std::vector<ExpertDev> table(E);
  for (int e = 0; e < E; ++e) {
    const ExpertWeights& x_e = L.experts[e];
    table[e] = {x_e.w1.data, x_e.b1, x_e.w2.data, x_e.b2, x_e.w1.type == WeightType::kBF16,
                x_e.w2.type == WeightType::kBF16};
  }

  switch (gemm) {
    case MoeGemm::kGrouped: {
      HostPack pack(ws);
      const size_t o_table = pack.add(table.data(), table.size());
      const ExpertDev* d_table = reinterpret_cast<const ExpertDev*>(pack.upload(ctx) + o_table);
      // A token picks an expert at most once: no expert gets more than n rows.
      grouped_gemm(ctx, gathered, n, E, s.offsets, d_table, 1, H, d, true, L.activation, hidden);
      grouped_gemm(ctx, hidden, n, E, s.offsets, d_table, 2, d, H, false, L.activation, out);
      break;
    }
    case MoeGemm::kPerExpertLoop: {
      int64_t begin = 0;
      for (int e = 0; e < E; ++e) {
        const int64_t m = counts[e];
        if (m > 0) {
          const ExpertWeights& x_e = L.experts[e];
          linear(ctx, gathered + begin * d, m, x_e.w1, x_e.b1, hidden + begin * H, ws);
          activation(ctx, hidden + begin * H, m * H, L.activation);
          linear(ctx, hidden + begin * H, m, x_e.w2, x_e.b2, out + begin * d, ws);
        }
        begin += m;
      }
      break;
    }
    case MoeGemm::kCublasGrouped: {
      // One call needs one input type for every expert.
      for (int e = 1; e < E; ++e) {
        MOEASR_CHECK(L.experts[e].w1.type == L.experts[0].w1.type && L.experts[e].w2.type == L.experts[0].w2.type,
                     MOEASR_ERR_UNSUPPORTED,
                     "CUDA moe_ffn (cublas_grouped): experts with different weight types");
      }
      const bool bf16_1 = L.experts[0].w1.type == WeightType::kBF16, bf16_2 = L.experts[0].w2.type == WeightType::kBF16;
      MOEASR_CHECK(d <= INT32_MAX && H <= INT32_MAX, MOEASR_ERR_UNSUPPORTED, "CUDA moe_ffn: dimensions too large");
      // bf16 weights meet a hi + lo pair of bf16 activations (split_bf16), two
      // grouped calls per GEMM; the pair lives in ws.e: the gathered rows
      // first, later the hidden rows.
      const int64_t pair = rows * std::max(d, H);
      if (bf16_1 || bf16_2) ws.e.reserve(ctx, 2 * sizeof(uint16_t) * pair);
      const uint8_t* hi = ws.e.as<uint8_t>();
      const uint8_t* lo = hi + sizeof(uint16_t) * pair;
      // Pointer arrays (device memory, one entry per non-empty expert): A =
      // weights, B = activations (float, or the hi and the lo halves), C = output.
      ExpertPtrs p1, p2, p1_lo, p2_lo;
      auto add = [](ExpertPtrs& p, const void* w, const void* x, float* c) {
        p.w.push_back(w);
        p.x.push_back(x);
        p.c.push_back(c);
      };
      int64_t begin = 0;
      for (int e = 0; e < E; ++e) {
        if (counts[e] > 0) {
          const int64_t r1 = begin * d, r2 = begin * H;  // first activation of the expert's rows
          const void *w1 = L.experts[e].w1.data, *w2 = L.experts[e].w2.data;
          add(p1, w1, bf16_1 ? hi + 2 * r1 : static_cast<const void*>(gathered + r1), hidden + r2);
          add(p1_lo, w1, lo + 2 * r1, hidden + r2);
          add(p2, w2, bf16_2 ? hi + 2 * r2 : static_cast<const void*>(hidden + r2), out + r1);
          add(p2_lo, w2, lo + 2 * r2, out + r1);
        }
        begin += counts[e];
      }
      HostPack pack(ws);
      const size_t o_table = pack.add(table.data(), table.size());
      for (ExpertPtrs* p : {&p1, &p2, &p1_lo, &p2_lo}) {
        p->o_w = pack.add(p->w.data(), p->w.size());
        p->o_x = pack.add(p->x.data(), p->x.size());
        p->o_c = pack.add(p->c.data(), p->c.size());
      }
      const uint8_t* dev = pack.upload(ctx);
      const ExpertDev* d_table = reinterpret_cast<const ExpertDev*>(dev + o_table);

      const WeightType t1 = L.experts[0].w1.type, t2 = L.experts[0].w2.type;
      if (bf16_1) split_bf16(ctx, gathered, rows * d, ws.e.data(), ws.e.as<uint8_t>() + sizeof(uint16_t) * pair);
      cublas_grouped_gemm(ctx, t1, counts, E, d, H, p1, dev, 0.f);
      if (bf16_1) cublas_grouped_gemm(ctx, t1, counts, E, d, H, p1_lo, dev, 1.f);
      expert_bias_act(ctx, hidden, rows, H, E, s.offsets, d_table, 1, true, L.activation);
      if (bf16_2) split_bf16(ctx, hidden, rows * H, ws.e.data(), ws.e.as<uint8_t>() + sizeof(uint16_t) * pair);
      cublas_grouped_gemm(ctx, t2, counts, E, H, d, p2, dev, 0.f);
      if (bf16_2) cublas_grouped_gemm(ctx, t2, counts, E, H, d, p2_lo, dev, 1.f);
      expert_bias_act(ctx, out, rows, d, E, s.offsets, d_table, 2, false, L.activation);
      break;
    }
  }
  moe_combine(ctx, n, d, k, s, out, y);
}

}  // namespace moeasr::cuda
