// A host emulation of the CUDA device and op interface (kernels/cuda/device.h,
// ops.h) for testing everything above it -- the CUDA backend
// (src/ops/cuda_backend.cc), the layers and the model on a "cuda" device,
// weight upload, device caches, job tables, the worker's device scratch -- on
// machines without a GPU, e.g. CI. "Device" memory is host memory, each op
// calls its kernels/cpu counterpart (or a plain loop), and every pointer
// range an op touches is checked against the live allocations, so an
// out-of-bounds job, a host pointer given as device memory, or a use of
// freed memory aborts the test. It says nothing about the CUDA kernels
// themselves (the op tests compare those with the CPU on a GPU).
//
// Linked into moeasr_device_emulated_tests ahead of libmoeasr.a, whose real
// CUDA objects are then never pulled in: this file defines every function of
// the interface the library uses.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>

#include "core/error.h"
#include "kernels/cpu/attention.h"
#include "kernels/cpu/conv.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/linear.h"
#include "kernels/cpu/moe.h"
#include "kernels/cpu/norm.h"
#include "kernels/cpu/rows.h"
#include "kernels/cpu/softmax.h"
#include "kernels/cuda/ops.h"

namespace moeasr::cuda {

namespace {

// Live "device" allocations: start -> bytes. Workers on several threads
// allocate at once, so the table has a lock.
std::mutex& allocs_mutex() {
  static std::mutex m;
  return m;
}
std::map<const char*, size_t>& allocs() {
  static std::map<const char*, size_t> m;
  return m;
}

[[noreturn]] void die(const char* what, const void* p, size_t bytes) {
  fprintf(stderr, "host emulation: %s: [%p, +%zu) is not inside one live device allocation\n", what, p, bytes);
  abort();
}

void check(const void* p, size_t bytes, const char* what) {
  if (bytes == 0) return;
  const char* c = static_cast<const char*>(p);
  std::lock_guard<std::mutex> lock(allocs_mutex());
  auto it = allocs().upper_bound(c);
  if (it == allocs().begin()) die(what, p, bytes);
  --it;
  if (c + bytes > it->first + it->second) die(what, p, bytes);
}
void checkf(const float* p, int64_t n, const char* what) { check(p, sizeof(float) * static_cast<size_t>(n), what); }

void* device_malloc(size_t bytes) {
  void* p = std::malloc(bytes ? bytes : 1);
  if (!p) throw_error(MOEASR_ERR_DEVICE, "host emulation: out of memory for ", bytes, " bytes");
  std::memset(p, 0xff, bytes);  // NaN garbage: reading unwritten memory shows
  std::lock_guard<std::mutex> lock(allocs_mutex());
  allocs()[static_cast<const char*>(p)] = bytes ? bytes : 1;
  return p;
}
void device_free(void* p) {
  if (!p) return;
  {
    std::lock_guard<std::mutex> lock(allocs_mutex());
    allocs().erase(static_cast<const char*>(p));
  }
  std::free(p);
}

void check_matrix(const WeightMatrix& w, const float* bias) {
  check(w.data, static_cast<size_t>(w.bytes()), "weight");
  if (bias) checkf(bias, w.n, "bias");
}

}  // namespace

int device_count() { return 1; }

std::shared_ptr<void> allocate(int index, size_t bytes) {
  MOEASR_CHECK(index == 0, MOEASR_ERR_DEVICE, "host emulation: no device ", index);
  // The emulated device has 1 TiB: a larger request fails like cudaMalloc.
  MOEASR_CHECK(bytes < (size_t{1} << 40), MOEASR_ERR_DEVICE, "host emulation: cudaMalloc of ", bytes, " bytes failed");
  return std::shared_ptr<void>(device_malloc(bytes), device_free);
}

struct Context::Impl {
  int index;
  std::string name = "host emulation";
};
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

Buffer::Buffer(Context& ctx, size_t bytes) { reserve(ctx, bytes); }
Buffer::~Buffer() { release(); }
Buffer::Buffer(Buffer&& o) noexcept : ptr_(o.ptr_), bytes_(o.bytes_) {
  o.ptr_ = nullptr;
  o.bytes_ = 0;
}
Buffer& Buffer::operator=(Buffer&& o) noexcept {
  if (this != &o) {
    release();
    ptr_ = o.ptr_;
    bytes_ = o.bytes_;
    o.ptr_ = nullptr;
    o.bytes_ = 0;
  }
  return *this;
}
void Buffer::reserve(Context&, size_t bytes) {
  if (bytes <= bytes_ && ptr_) return;
  release();
  ptr_ = device_malloc(bytes);
  bytes_ = bytes;
}
void Buffer::release() noexcept {
  device_free(ptr_);
  ptr_ = nullptr;
  bytes_ = 0;
}

void upload(Context&, void* d, const void* h, size_t b) {
  check(d, b, "upload");
  if (b) std::memcpy(d, h, b);
}
void download(Context&, void* h, const void* d, size_t b) {
  check(d, b, "download");
  if (b) std::memcpy(h, d, b);
}
void copy_on_device(Context&, void* dst, const void* src, size_t b) {
  check(dst, b, "copy dst");
  check(src, b, "copy src");
  if (b) std::memmove(dst, src, b);
}
void fill_zero(Context&, void* d, size_t b) {
  check(d, b, "fill_zero");
  if (b) std::memset(d, 0, b);
}

// ---- dense ------------------------------------------------------------------

void linear(Context&, const float* x, int64_t rows, const WeightMatrix& w, const float* bias, float* y, Workspace&) {
  MOEASR_CHECK(w.type != WeightType::kI8, MOEASR_ERR_UNSUPPORTED,
               "CUDA linear: int8 weights have no CUDA kernel (use float32 or bfloat16)");
  if (rows <= 0) return;
  checkf(x, rows * w.k, "linear x");
  checkf(y, rows * w.n, "linear y");
  check_matrix(w, bias);
  // bf16 weights: the CUDA linear's hi + lo activation pair and the CPU's
  // are the same arithmetic.
  cpu::linear(x, rows, w, bias, y, w.n);
}

void gemm(Context&, bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
          const float* b, int64_t ldb, float beta, float* c, int64_t ldc, int64_t batch, int64_t sa, int64_t sb,
          int64_t sc) {
  if (m <= 0 || n <= 0 || batch <= 0) return;
  MOEASR_CHECK(k > 0, MOEASR_ERR_INTERNAL, "CUDA gemm: empty reduction (k = 0)");
  for (int64_t i = 0; i < batch; ++i) {
    checkf(a + i * sa, ((ta ? k : m) - 1) * lda + (ta ? m : k), "gemm a");
    checkf(b + i * sb, ((tb ? n : k) - 1) * ldb + (tb ? k : n), "gemm b");
    checkf(c + i * sc, (m - 1) * ldc + n, "gemm c");
    cpu::sgemm(ta, tb, m, n, k, alpha, a + i * sa, lda, b + i * sb, ldb, beta, c + i * sc, ldc);
  }
}

// ---- element-wise and row-wise --------------------------------------------------

void layer_norm(Context&, const float* x, int64_t rows, int64_t d, const float* g, const float* b, float eps,
                float* y) {
  checkf(x, rows * d, "layer_norm x");
  checkf(y, rows * d, "layer_norm y");
  checkf(g, d, "layer_norm gamma");
  checkf(b, d, "layer_norm beta");
  cpu::layer_norm(x, rows, d, g, b, eps, y);
}
void add_scaled(Context&, float* y, const float* x, float a, int64_t n) {
  if (n <= 0) return;
  checkf(y, n, "add_scaled y");
  checkf(x, n, "add_scaled x");
  cpu::add_scaled(y, x, a, n);
}
void mul(Context&, float* y, const float* x, int64_t n) {
  if (n <= 0) return;
  checkf(y, n, "mul y");
  checkf(x, n, "mul x");
  cpu::mul(y, x, n);
}
void add_row_scaled(Context&, float* y, const float* x, int64_t rows, int64_t d, const float* s, int64_t stride) {
  if (rows <= 0) return;
  checkf(y, rows * d, "add_row_scaled y");
  checkf(x, rows * d, "add_row_scaled x");
  checkf(s, (rows - 1) * stride + 1, "add_row_scaled s");
  for (int64_t r = 0; r < rows; ++r) cpu::add_scaled(y + r * d, x + r * d, s[r * stride], d);
}
void scale(Context&, float* x, float s, int64_t n) {
  if (n <= 0) return;
  checkf(x, n, "scale");
  cpu::scale(x, x, s, n);
}
void activation(Context&, float* x, int64_t n, Activation act) {
  if (n <= 0) return;
  checkf(x, n, "activation");
  cpu::activation(x, n, act);
}
void glu(Context&, const float* x, int64_t rows, int64_t c, float* y) {
  checkf(x, rows * 2 * c, "glu x");
  checkf(y, rows * c, "glu y");
  cpu::glu(x, rows, c, y);
}
void channel_affine(Context&, const float* x, int64_t rows, int64_t c, const float* s, const float* t, float* y) {
  checkf(x, rows * c, "channel_affine x");
  checkf(y, rows * c, "channel_affine y");
  checkf(s, c, "channel_affine scale");
  checkf(t, c, "channel_affine shift");
  cpu::channel_affine(x, rows, c, s, t, y);
}
void cmvn(Context&, float* x, int64_t rows, int64_t c, const float* mean, const float* istd) {
  checkf(x, rows * c, "cmvn x");
  checkf(mean, c, "cmvn mean");
  checkf(istd, c, "cmvn istd");
  cpu::cmvn(x, rows, c, mean, istd);
}
void l2_normalize_rows(Context&, const float* x, int64_t rows, int64_t d, float* y) {
  checkf(x, rows * d, "l2 x");
  checkf(y, rows * d, "l2 y");
  cpu::l2_normalize_rows(x, rows, d, y);
}
void softmax_rows(Context&, float* x, int64_t rows, int64_t cols) {
  checkf(x, rows * cols, "softmax");
  cpu::softmax_rows(x, rows, cols, cols);
}
void log_softmax_rows(Context&, float* x, int64_t rows, int64_t cols) {
  checkf(x, rows * cols, "log_softmax");
  cpu::log_softmax_rows(x, rows, cols, cols);
}
void softmax_segments(Context&, float* x, int64_t cols, const std::vector<int64_t>& offsets, float temperature,
                      Workspace&) {
  if (offsets.size() < 2) return;
  checkf(x, offsets.back() * cols, "softmax_segments");
  cpu::softmax_segments(x, cols, offsets.data(), static_cast<int64_t>(offsets.size()) - 1, temperature);
}

// ---- index-driven copies ------------------------------------------------------

void copy_rows(Context&, const std::vector<RowCopy>& jobs, int64_t width, Workspace&) {
  for (const RowCopy& j : jobs) {
    const size_t b = sizeof(float) * static_cast<size_t>(j.rows) * width;
    if (!b) continue;
    check(j.dst, b, "copy_rows dst");
    check(j.src, b, "copy_rows src");
    const char* d = reinterpret_cast<const char*>(j.dst);
    const char* s = reinterpret_cast<const char*>(j.src);
    if (d < s + b && s < d + b) {
      fprintf(stderr, "host emulation: copy_rows: source and destination overlap\n");
      abort();
    }
    std::memcpy(j.dst, j.src, b);
  }
}
void gather_rows(Context&, const float* src, int64_t width, const std::vector<int32_t>& rows, float fill, float* dst,
                 Workspace&) {
  checkf(dst, static_cast<int64_t>(rows.size()) * width, "gather_rows dst");
  for (int32_t r : rows) {
    if (r >= 0) checkf(src + int64_t{r} * width, width, "gather_rows src");
  }
  cpu::gather_rows(src, width, rows.data(), static_cast<int64_t>(rows.size()), fill, dst);
}
void scatter_rows(Context&, const float* src, int64_t width, const std::vector<int32_t>& rows, float* dst,
                  Workspace&) {
  checkf(src, static_cast<int64_t>(rows.size()) * width, "scatter_rows src");
  for (int32_t r : rows) {
    if (r >= 0) checkf(dst + int64_t{r} * width, width, "scatter_rows dst");
  }
  cpu::scatter_rows(src, width, rows.data(), static_cast<int64_t>(rows.size()), dst);
}
void gather_elements(Context&, const float* x, int64_t ld, const std::vector<int64_t>& rows,
                     const std::vector<int32_t>& cols, float* out, Workspace&) {
  MOEASR_CHECK(rows.size() == cols.size(), MOEASR_ERR_INTERNAL, "gather_elements: lists of different lengths");
  checkf(out, static_cast<int64_t>(rows.size()), "gather_elements out");
  for (size_t i = 0; i < rows.size(); ++i) {
    checkf(x + rows[i] * ld + cols[i], 1, "gather_elements x");
    out[i] = x[rows[i] * ld + cols[i]];
  }
}
void embedding(Context&, const float* table, int64_t d, const std::vector<int32_t>& ids, float s, float* out,
               Workspace&) {
  checkf(out, static_cast<int64_t>(ids.size()) * d, "embedding out");
  for (int32_t id : ids) checkf(table + int64_t{id} * d, d, "embedding row");
  cpu::embedding(table, d, ids.data(), static_cast<int64_t>(ids.size()), s, out);
}

// ---- the Conformer's batched ops ------------------------------------------------

void position_encoding(Context&, const float* div, int64_t d, const std::vector<PositionJob>& jobs, Workspace&) {
  checkf(div, d / 2, "position div");
  for (const PositionJob& j : jobs) {
    checkf(j.dst, int64_t{j.count} * d, "position dst");
    cpu::sinusoid_rows(div, d / 2, j.first, j.count, j.dst);
  }
}
void conv2d_3x3_s2_relu(Context&, const std::vector<Conv2dJob>& jobs, int64_t f_in, int64_t c_in, const float* w,
                        const float* bias, int64_t c_out, Workspace&) {
  std::vector<float> im2col;
  const int64_t f_out = (f_in - 3) / 2 + 1;
  checkf(w, 9 * c_in * c_out, "conv2d weight");
  checkf(bias, c_out, "conv2d bias");
  for (const Conv2dJob& j : jobs) {
    if (j.t_in < 3) continue;
    const int64_t t_out = (j.t_in - 3) / 2 + 1;
    checkf(j.in, j.t_in * f_in * c_in, "conv2d in");
    checkf(j.out, t_out * f_out * c_out, "conv2d out");
    cpu::conv2d_3x3_s2_relu(j.in, j.t_in, f_in, c_in, w, bias, c_out, j.out, im2col);
  }
}
void depthwise_conv(Context&, const std::vector<DepthwiseConvJob>& jobs, int64_t ch, const float* w_t,
                    const float* bias, int kernel, Workspace&) {
  std::vector<float> scratch;
  checkf(w_t, kernel * ch, "depthwise weight");
  if (bias) checkf(bias, ch, "depthwise bias");
  for (const DepthwiseConvJob& j : jobs) {
    if (j.cache) checkf(j.cache, int64_t{kernel - 1} * ch, "depthwise cache");
    checkf(j.frames, int64_t{j.t} * ch, "depthwise frames");
    checkf(j.out, (int64_t{j.t} + j.right_zeros - j.skip) * ch, "depthwise out");
    cpu::depthwise_conv(j, ch, w_t, bias, kernel, scratch);
  }
}
void rel_pos_attention(Context&, const std::vector<AttentionJob>& jobs, int64_t d, const float* u, const float* v,
                       int heads, int d_k, Workspace&) {
  cpu::AttentionScratch scratch;
  checkf(u, heads * d_k, "pos_bias_u");
  checkf(v, heads * d_k, "pos_bias_v");
  for (const AttentionJob& j : jobs) {
    if (j.t <= 0) continue;
    checkf(j.q, int64_t{j.t} * d, "attention q");
    checkf(j.out, int64_t{j.t} * d, "attention out");
    checkf(j.keys, int64_t{j.len} * d, "attention keys");
    checkf(j.values, int64_t{j.len} * d, "attention values");
    checkf(j.positions, int64_t{j.len} * d, "attention positions");
    cpu::rel_pos_attention(j.q, j.t, d, j.keys, j.values, j.positions, j.len, d, u, v, heads, d_k, j.out, d, scratch);
  }
}
void dot_product_attention(Context&, const std::vector<AttentionJob>& jobs, int64_t d, int heads, int d_k, bool causal,
                           Workspace&) {
  cpu::AttentionScratch scratch;
  for (const AttentionJob& j : jobs) {
    if (j.t <= 0) continue;
    checkf(j.q, int64_t{j.t} * d, "attention q");
    checkf(j.out, int64_t{j.t} * d, "attention out");
    checkf(j.keys, int64_t{j.len} * d, "attention keys");
    checkf(j.values, int64_t{j.len} * d, "attention values");
    cpu::dot_product_attention(j.q, j.t, d, j.keys, j.values, j.len, d, heads, d_k, causal, j.out, d, scratch, j.first);
  }
}

// ---- MoE ----------------------------------------------------------------------


void moe_ffn(Context&, const float* x, int64_t n, const MoeView& L, float* y, Workspace&, MoeGemm gemm,
             int64_t* expert_load) {
  if (n <= 0) return;
  checkf(x, n * L.d, "moe x");
  checkf(y, n * L.d, "moe y");
  checkf(L.gate, L.num_experts * L.d, "moe gate");
  for (int e = 0; e < L.num_experts; ++e) {
    MOEASR_CHECK(L.experts[e].w1.type != WeightType::kI8 && L.experts[e].w2.type != WeightType::kI8,
                 MOEASR_ERR_UNSUPPORTED, "CUDA moe_ffn: int8 expert weights have no CUDA kernel");
    check_matrix(L.experts[e].w1, L.experts[e].b1);
    check_matrix(L.experts[e].w2, L.experts[e].b2);
  }
  cpu::MoeWorkspace ws;
  if (gemm == MoeGemm::kPerExpertLoop) {
    cpu::moe_ffn_per_expert_loop(x, n, L, y, ws, expert_load);
  } else {
    cpu::moe_ffn(x, n, L, y, ws, expert_load);
  }
}

}  // namespace moeasr::cuda
