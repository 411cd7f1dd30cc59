// The CUDA backend: every op of the Backend table through kernels/cuda, queued
// on this backend's own CUDA stream with its own cuBLAS handle and scratch,
// so workers on one GPU run side by side. CUDA builds only; host C++ (the
// CUDA headers stay inside kernels/cuda).
#include "core/error.h"
#include "kernels/cuda/device.h"
#include "kernels/cuda/ops.h"
#include "ops/backend.h"

namespace moeasr {

namespace {

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(int index) : Backend(Device::cuda(index)), ctx_(cuda::Context::open(index)) {}

  std::string description() const override { return ctx_->name(); }
  void synchronize() override { ctx_->synchronize(); }
  int64_t subsampling_block_rows() const override { return 4096; }

  void copy_from_host(void* dst, const void* src, size_t bytes) override { cuda::upload(*ctx_, dst, src, bytes); }
  void copy_to_host(void* dst, const void* src, size_t bytes) override { cuda::download(*ctx_, dst, src, bytes); }
  void copy(void* dst, const void* src, size_t bytes) override {
    if (dst != src) cuda::copy_on_device(*ctx_, dst, src, bytes);
  }
  void fill_zero(void* dst, size_t bytes) override { cuda::fill_zero(*ctx_, dst, bytes); }
  void copy_rows(const std::vector<RowCopy>& jobs, int64_t width) override {
    cuda::copy_rows(*ctx_, jobs, width, ws_);
  }
  void gather_rows(const float* src, int64_t width, const std::vector<int32_t>& rows, float fill,
                   float* dst) override {
    cuda::gather_rows(*ctx_, src, width, rows, fill, dst, ws_);
  }
  void scatter_rows(const float* src, int64_t width, const std::vector<int32_t>& rows, float* dst) override {
    cuda::scatter_rows(*ctx_, src, width, rows, dst, ws_);
  }
  void gather_elements(const float* x, int64_t ld, const std::vector<int64_t>& rows, const std::vector<int32_t>& cols,
                       float* out) override {
    cuda::gather_elements(*ctx_, x, ld, rows, cols, out, ws_);
  }
  void embedding(const float* table, int64_t d, const std::vector<int32_t>& ids, float s, float* out) override {
    cuda::embedding(*ctx_, table, d, ids, s, out, ws_);
  }

  void linear(const float* x, int64_t rows, const WeightMatrix& w, const float* bias, std::optional<Activation> act,
              float* y) override {
    cuda::linear(*ctx_, x, rows, w, bias, y, ws_);
    if (act) cuda::activation(*ctx_, y, rows * w.n, *act);
  }
  void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
            const float* b, int64_t ldb, float beta, float* c, int64_t ldc, int64_t batch, int64_t stride_a,
            int64_t stride_b, int64_t stride_c) override {
    cuda::gemm(*ctx_, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, batch, stride_a, stride_b,
               stride_c);
  }

  void mul(float* y, const float* x, int64_t n) override { cuda::mul(*ctx_, y, x, n); }
  void add_scaled(float* y, const float* x, float alpha, int64_t n) override {
    cuda::add_scaled(*ctx_, y, x, alpha, n);
  }
  void add_row_scaled(float* y, const float* x, int64_t rows, int64_t d, const float* s, int64_t stride) override {
    cuda::add_row_scaled(*ctx_, y, x, rows, d, s, stride);
  }
  void scale(float* x, float s, int64_t n) override { cuda::scale(*ctx_, x, s, n); }
  void activation(float* x, int64_t n, Activation act) override { cuda::activation(*ctx_, x, n, act); }
  void glu(const float* x, int64_t rows, int64_t c, float* y) override { cuda::glu(*ctx_, x, rows, c, y); }
  void layer_norm(const float* x, int64_t rows, int64_t d, const float* gamma, const float* beta, float eps,
                  float* y) override {
    cuda::layer_norm(*ctx_, x, rows, d, gamma, beta, eps, y);
  }
  void channel_affine(const float* x, int64_t rows, int64_t c, const float* scale, const float* shift,
                      float* y) override {
    cuda::channel_affine(*ctx_, x, rows, c, scale, shift, y);
  }
  void cmvn(float* x, int64_t rows, int64_t c, const float* mean, const float* istd) override {
    cuda::cmvn(*ctx_, x, rows, c, mean, istd);
  }
  void l2_normalize_rows(const float* x, int64_t rows, int64_t d, float* y) override {
    cuda::l2_normalize_rows(*ctx_, x, rows, d, y);
  }
  void softmax_rows(float* x, int64_t rows, int64_t cols) override { cuda::softmax_rows(*ctx_, x, rows, cols); }
  void log_softmax_rows(float* x, int64_t rows, int64_t cols) override {
    cuda::log_softmax_rows(*ctx_, x, rows, cols);
  }
  void softmax_segments(float* x, int64_t cols, const std::vector<int64_t>& offsets, float temperature) override {
    cuda::softmax_segments(*ctx_, x, cols, offsets, temperature, ws_);
  }

  void position_encoding(const float* div, int64_t d, const std::vector<PositionJob>& jobs) override {
    cuda::position_encoding(*ctx_, div, d, jobs, ws_);
  }
  void conv2d_3x3_s2_relu(const std::vector<Conv2dJob>& jobs, int64_t f_in, int64_t c_in, const float* weight,
                          const float* bias, int64_t c_out) override {
    cuda::conv2d_3x3_s2_relu(*ctx_, jobs, f_in, c_in, weight, bias, c_out, ws_);
  }
  void depthwise_conv(const std::vector<DepthwiseConvJob>& jobs, int64_t channels, const float* w_t,
                      const float* bias, int kernel) override {
    cuda::depthwise_conv(*ctx_, jobs, channels, w_t, bias, kernel, ws_);
  }
  void rel_pos_attention(const std::vector<AttentionJob>& jobs, int64_t d, const float* u, const float* v, int heads,
                         int d_k) override {
    cuda::rel_pos_attention(*ctx_, jobs, d, u, v, heads, d_k, ws_);
  }
  void dot_product_attention(const std::vector<AttentionJob>& jobs, int64_t d, int heads, int d_k,
                             bool causal) override {
    cuda::dot_product_attention(*ctx_, jobs, d, heads, d_k, causal, ws_);
  }
  void moe_ffn(const float* x, int64_t n, const MoeView& layer, float* y, MoeGemm gemm,
               int64_t* expert_load) override {
    cuda::moe_ffn(*ctx_, x, n, layer, y, ws_, gemm, expert_load);
  }

 private:
  std::unique_ptr<cuda::Context> ctx_;  // first in, last out: the workspace's buffers free on its device
  cuda::Workspace ws_;
};

}  // namespace

std::unique_ptr<Backend> open_cuda_backend(int index) { return std::make_unique<CudaBackend>(index); }

}  // namespace moeasr
