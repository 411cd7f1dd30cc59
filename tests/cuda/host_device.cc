// A host emulation of the CUDA device and op interface (kernels/cuda/device.h,
// ops.h) for testing the GPU model's host logic (src/gpu: weight upload, cache
// buffers, batching, job tables, the non-causal and batch_norm mappings,
// rescoring) on machines without a GPU, e.g. CI. "Device" memory is host
// memory, each op calls its kernels/cpu counterpart, and every pointer range an
// op touches is checked against the live allocations, so an out-of-bounds job
// or a use of freed scratch aborts the test. It says nothing about the CUDA
// kernels themselves (their own tests compare them with the CPU on a GPU).
//
// Linked into moeasr_gpu_model_emulated_tests ahead of libmoeasr.a, whose real
// CUDA objects are then never pulled in.
#include <cstdlib>
#include <cstring>
#include <map>
#include <stdexcept>
#include <string>

#include "core/error.h"
#include "kernels/cpu/attention.h"
#include "kernels/cpu/conv.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/linear.h"
#include "kernels/cpu/moe.h"
#include "kernels/cpu/norm.h"
#include "kernels/cpu/softmax.h"
#include "kernels/cuda/ops.h"

namespace moeasr::cuda {

namespace {
std::map<const char*, size_t>& allocs() { static std::map<const char*, size_t> m; return m; }
void check(const void* p, size_t bytes, const char* what) {
  if (bytes == 0) return;
  const char* c = static_cast<const char*>(p);
  auto it = allocs().upper_bound(c);
  if (it == allocs().begin()) { fprintf(stderr, "host emulation: %s: %p not in any allocation\n", what, p); abort(); }
  --it;
  if (c + bytes > it->first + it->second) {
    fprintf(stderr, "host emulation: %s: [%p, +%zu) overruns allocation [%p, +%zu)\n", what, p, bytes, (const void*)it->first, it->second);
    abort();
  }
}
void checkf(const float* p, int64_t n, const char* what) { check(p, sizeof(float) * static_cast<size_t>(n), what); }
cpu::WeightMatrix matrix(const DeviceLinear& w) {
  cpu::WeightMatrix m;
  m.type = w.type == WeightType::kF32 ? cpu::WeightType::kF32 : cpu::WeightType::kBF16;
  m.n = w.n; m.k = w.k; m.data = w.weight;
  check(w.weight, static_cast<size_t>(m.bytes()), "weight");
  if (w.bias) checkf(w.bias, w.n, "bias");
  return m;
}
}  // namespace

int device_count() { return 1; }

struct Context::Impl { int index; std::string name = "host emulation"; };
Context::Context(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Context::~Context() = default;
std::unique_ptr<Context> Context::open(int index) {
  MOEASR_CHECK(index >= 0 && index < device_count(), MOEASR_ERR_DEVICE, "host emulation: no device ", index);
  auto impl = std::make_unique<Impl>();
  impl->index = index;
  return std::unique_ptr<Context>(new Context(std::move(impl)));
}
int Context::index() const { return impl_->index; }
const std::string& Context::name() const { return impl_->name; }
void Context::synchronize() {}

Buffer::Buffer(Context&, size_t bytes) {
  ptr_ = std::malloc(bytes ? bytes : 1);
  std::memset(ptr_, 0xff, bytes);  // NaN garbage: reading unwritten memory shows
  bytes_ = bytes;
  allocs()[static_cast<const char*>(ptr_)] = bytes;
}
Buffer::~Buffer() { release(); }
Buffer::Buffer(Buffer&& o) noexcept : ptr_(o.ptr_), bytes_(o.bytes_) { o.ptr_ = nullptr; o.bytes_ = 0; }
Buffer& Buffer::operator=(Buffer&& o) noexcept {
  if (this != &o) { release(); ptr_ = o.ptr_; bytes_ = o.bytes_; o.ptr_ = nullptr; o.bytes_ = 0; }
  return *this;
}
void Buffer::reserve(Context& ctx, size_t bytes) { if (bytes > bytes_ || !ptr_) *this = Buffer(ctx, bytes); }
void Buffer::release() noexcept {
  if (ptr_) { allocs().erase(static_cast<const char*>(ptr_)); std::free(ptr_); }
  ptr_ = nullptr; bytes_ = 0;
}

void upload(Context&, void* d, const void* h, size_t b) { check(d, b, "upload"); std::memcpy(d, h, b); }
void download(Context&, void* h, const void* d, size_t b) { check(d, b, "download"); std::memcpy(h, d, b); }
void copy_on_device(Context&, void* dst, const void* src, size_t b) { check(dst, b, "copy dst"); check(src, b, "copy src"); std::memcpy(dst, src, b); }
void fill_zero(Context&, void* d, size_t b) { check(d, b, "fill_zero"); std::memset(d, 0, b); }

void linear(Context&, const float* x, int64_t rows, const DeviceLinear& w, float* y, Workspace&) {
  if (rows == 0) return;
  checkf(x, rows * w.k, "linear x"); checkf(y, rows * w.n, "linear y");
  cpu::linear(x, rows, matrix(w), w.bias, y, w.n);
}
void layer_norm(Context&, const float* x, int64_t rows, int64_t d, const float* g, const float* b, float eps, float* y) {
  checkf(x, rows * d, "ln x"); checkf(y, rows * d, "ln y"); checkf(g, d, "ln g"); checkf(b, d, "ln b");
  cpu::layer_norm(x, rows, d, g, b, eps, y);
}
void add_scaled(Context&, float* y, const float* x, float a, int64_t n) { checkf(y, n, "add y"); checkf(x, n, "add x"); cpu::add_scaled(y, x, a, n); }
void scale(Context&, float* x, float s, int64_t n) { checkf(x, n, "scale"); cpu::scale(x, x, s, n); }
void activation(Context&, float* x, int64_t n, Activation act) { checkf(x, n, "act"); cpu::activation(x, n, act); }
void glu(Context&, const float* x, int64_t rows, int64_t c, float* y) { checkf(x, rows * 2 * c, "glu x"); checkf(y, rows * c, "glu y"); cpu::glu(x, rows, c, y); }
void log_softmax_rows(Context&, float* x, int64_t rows, int64_t cols) { checkf(x, rows * cols, "lsm"); cpu::log_softmax_rows(x, rows, cols, cols); }
void cmvn(Context&, float* x, int64_t rows, int64_t f, const float* mean, const float* istd) {
  checkf(x, rows * f, "cmvn"); checkf(mean, f, "mean"); checkf(istd, f, "istd");
  for (int64_t r = 0; r < rows; ++r) for (int64_t i = 0; i < f; ++i) x[r * f + i] = (x[r * f + i] - mean[i]) * istd[i];
}
void embedding(Context&, const float* table, const int32_t* ids, int64_t n, int64_t d, float s, float* out) {
  check(ids, 4 * n, "ids"); checkf(out, n * d, "emb out");
  for (int64_t i = 0; i < n; ++i) { checkf(table + ids[i] * d, d, "emb row"); for (int64_t c = 0; c < d; ++c) out[i * d + c] = table[ids[i] * d + c] * s; }
}
void gather_columns(Context&, const float* x, int64_t rows, int64_t ld, const int32_t* cols, float* out) {
  checkf(x, rows * ld, "gather x"); check(cols, 4 * rows, "cols"); checkf(out, rows, "gather out");
  for (int64_t i = 0; i < rows; ++i) out[i] = x[i * ld + cols[i]];
}
void copy_rows(Context&, const std::vector<RowCopy>& jobs, int64_t width, Workspace&) {
  for (const RowCopy& j : jobs) {
    const size_t b = sizeof(float) * j.rows * width;
    check(j.dst, b, "copy_rows dst"); check(j.src, b, "copy_rows src");
    const char* d = reinterpret_cast<const char*>(j.dst); const char* s = reinterpret_cast<const char*>(j.src);
    if (b && d < s + b && s < d + b) { fprintf(stderr, "host emulation: copy_rows overlap\n"); abort(); }
    std::memcpy(j.dst, j.src, b);
  }
}
void conv2d_3x3_s2_relu(Context&, const std::vector<Conv2dJob>& jobs, int64_t f_in, int64_t c_in, const float* w,
                        const float* bias, int64_t c_out, Workspace&) {
  std::vector<float> im2col;
  const int64_t f_out = (f_in - 3) / 2 + 1;
  for (const Conv2dJob& j : jobs) {
    const int64_t t_out = (j.t_in - 3) / 2 + 1;
    checkf(j.in, j.t_in * f_in * c_in, "conv in"); checkf(j.out, t_out * f_out * c_out, "conv out");
    cpu::conv2d_3x3_s2_relu(j.in, j.t_in, f_in, c_in, w, bias, c_out, j.out, im2col);
  }
}
void causal_depthwise_conv(Context&, const std::vector<CausalConvJob>& jobs, int64_t ch, const float* w_t,
                           const float* bias, int kernel, Workspace&) {
  for (const CausalConvJob& j : jobs) {
    const int64_t pad = kernel - 1;
    checkf(j.cache, pad * ch, "dw cache"); checkf(j.frames, j.t * ch, "dw frames"); checkf(j.out, j.t * ch, "dw out");
    std::vector<float> in((pad + j.t) * ch);
    std::memcpy(in.data(), j.cache, sizeof(float) * pad * ch);
    std::memcpy(in.data() + pad * ch, j.frames, sizeof(float) * j.t * ch);
    cpu::depthwise_conv_time(in.data(), pad + j.t, ch, w_t, bias, kernel, j.out);
    std::memcpy(j.cache, in.data() + j.t * ch, sizeof(float) * pad * ch);
  }
}
void rel_pos_attention(Context&, const std::vector<AttentionJob>& jobs, int64_t d, const float* u, const float* v,
                       int heads, int d_k, Workspace&) {
  cpu::AttentionScratch s;
  for (const AttentionJob& j : jobs) {
    checkf(j.q, j.t * d, "q"); checkf(j.out, j.t * d, "att out"); checkf(j.keys, j.len * d, "keys");
    checkf(j.values, j.len * d, "values"); checkf(j.positions, j.len * d, "positions");
    cpu::rel_pos_attention(j.q, j.t, d, j.keys, j.values, j.positions, j.len, d, u, v, heads, d_k, j.out, d, s);
  }
}
void dot_product_attention(Context&, const std::vector<AttentionJob>& jobs, int64_t d, int heads, int d_k, bool causal,
                           Workspace&) {
  cpu::AttentionScratch s;
  for (const AttentionJob& j : jobs) {
    checkf(j.q, j.t * d, "q"); checkf(j.out, j.t * d, "att out"); checkf(j.keys, j.len * d, "keys");
    checkf(j.values, j.len * d, "values");
    cpu::dot_product_attention(j.q, j.t, d, j.keys, j.values, j.len, d, heads, d_k, causal, j.out, d, s);
  }
}
const char* moe_gemm_name(MoeGemm g) { return g == MoeGemm::kGrouped ? "grouped" : g == MoeGemm::kCublasGrouped ? "cublas_grouped" : "loop"; }
void moe_ffn(Context&, const float* x, int64_t n, const DeviceMoe& l, float* y, Workspace&, MoeGemm gemm, int64_t* load) {
  checkf(x, n * l.d, "moe x"); checkf(y, n * l.d, "moe y"); checkf(l.gate, l.num_experts * l.d, "gate");
  std::vector<cpu::ExpertWeights> e;
  for (int i = 0; i < l.num_experts; ++i) e.push_back({matrix(l.w1[i]), l.w1[i].bias, matrix(l.w2[i]), l.w2[i].bias});
  cpu::MoeLayerView v;
  v.d = l.d; v.hidden = l.hidden; v.num_experts = l.num_experts; v.top_k = l.top_k; v.activation = l.activation;
  v.gate = l.gate; v.experts = e.data();
  static cpu::MoeWorkspace ws;
  if (gemm == MoeGemm::kPerExpertLoop) cpu::moe_ffn_per_expert_loop(x, n, v, y, ws);
  else cpu::moe_ffn(x, n, v, y, ws, load);
}

}  // namespace moeasr::cuda
