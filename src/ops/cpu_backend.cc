// The CPU backend: every op of the Backend table through kernels/cpu. The
// kernels run on the calling thread (their GEMMs use the OpenMP threads the
// caller set); the scratch kept here is this backend's, so one worker's calls
// never touch another's.
#include <cstring>

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
#include "ops/backend.h"

namespace moeasr {

namespace {

class CpuBackend final : public Backend {
 public:
  CpuBackend() : Backend(Device::cpu()) {}

  std::string description() const override { return "CPU (" + cpu::linear_kernels_summary() + ")"; }
  void synchronize() override {}
  int64_t subsampling_block_rows() const override { return 64; }  // conv1's activations stay in L2

  void copy_from_host(void* dst, const void* src, size_t bytes) override { copy(dst, src, bytes); }
  void copy_to_host(void* dst, const void* src, size_t bytes) override { copy(dst, src, bytes); }
  void copy(void* dst, const void* src, size_t bytes) override {
    if (bytes && dst != src) std::memmove(dst, src, bytes);
  }
  void fill_zero(void* dst, size_t bytes) override {
    if (bytes) std::memset(dst, 0, bytes);
  }
  void copy_rows(const std::vector<RowCopy>& jobs, int64_t width) override {
    for (const RowCopy& j : jobs) {
      if (j.rows > 0) std::memcpy(j.dst, j.src, sizeof(float) * j.rows * width);
    }
  }
  void gather_rows(const float* src, int64_t width, const std::vector<int32_t>& rows, float fill,
                   float* dst) override {
    cpu::gather_rows(src, width, rows.data(), static_cast<int64_t>(rows.size()), fill, dst);
  }
  void scatter_rows(const float* src, int64_t width, const std::vector<int32_t>& rows, float* dst) override {
    cpu::scatter_rows(src, width, rows.data(), static_cast<int64_t>(rows.size()), dst);
  }
  void gather_elements(const float* x, int64_t ld, const std::vector<int64_t>& rows, const std::vector<int32_t>& cols,
                       float* out) override {
    for (size_t i = 0; i < rows.size(); ++i) out[i] = x[rows[i] * ld + cols[i]];
  }
  void embedding(const float* table, int64_t d, const std::vector<int32_t>& ids, float s, float* out) override {
    cpu::embedding(table, d, ids.data(), static_cast<int64_t>(ids.size()), s, out);
  }

  void linear(const float* x, int64_t rows, const WeightMatrix& w, const float* bias, std::optional<Activation> act,
              float* y) override {
    if (act) {
      cpu::linear_activation(x, rows, w, bias, *act, y, w.n);
    } else {
      cpu::linear(x, rows, w, bias, y, w.n);
    }
  }
  void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
            const float* b, int64_t ldb, float beta, float* c, int64_t ldc, int64_t batch, int64_t stride_a,
            int64_t stride_b, int64_t stride_c) override {
    for (int64_t i = 0; i < batch; ++i) {
      cpu::sgemm(trans_a, trans_b, m, n, k, alpha, a + i * stride_a, lda, b + i * stride_b, ldb, beta,
                 c + i * stride_c, ldc);
    }
  }

  void add_scaled(float* y, const float* x, float alpha, int64_t n) override { cpu::add_scaled(y, x, alpha, n); }
  void mul(float* y, const float* x, int64_t n) override { cpu::mul(y, x, n); }
  void add_row_scaled(float* y, const float* x, int64_t rows, int64_t d, const float* s, int64_t stride) override {
    for (int64_t r = 0; r < rows; ++r) cpu::add_scaled(y + r * d, x + r * d, s[r * stride], d);
  }
  void scale(float* x, float s, int64_t n) override { cpu::scale(x, x, s, n); }
  void activation(float* x, int64_t n, Activation act) override { cpu::activation(x, n, act); }
  void glu(const float* x, int64_t rows, int64_t c, float* y) override { cpu::glu(x, rows, c, y); }
  void layer_norm(const float* x, int64_t rows, int64_t d, const float* gamma, const float* beta, float eps,
                  float* y) override {
    cpu::layer_norm(x, rows, d, gamma, beta, eps, y);
  }
  void channel_affine(const float* x, int64_t rows, int64_t c, const float* scale, const float* shift,
                      float* y) override {
    cpu::channel_affine(x, rows, c, scale, shift, y);
  }
  void cmvn(float* x, int64_t rows, int64_t c, const float* mean, const float* istd) override {
    cpu::cmvn(x, rows, c, mean, istd);
  }
  void l2_normalize_rows(const float* x, int64_t rows, int64_t d, float* y) override {
    cpu::l2_normalize_rows(x, rows, d, y);
  }
  void softmax_rows(float* x, int64_t rows, int64_t cols) override { cpu::softmax_rows(x, rows, cols, cols); }
  void log_softmax_rows(float* x, int64_t rows, int64_t cols) override { cpu::log_softmax_rows(x, rows, cols, cols); }
  void softmax_segments(float* x, int64_t cols, const std::vector<int64_t>& offsets, float temperature) override {
    if (offsets.size() < 2) return;
    cpu::softmax_segments(x, cols, offsets.data(), static_cast<int64_t>(offsets.size()) - 1, temperature);
  }

  void position_encoding(const float* div, int64_t d, const std::vector<PositionJob>& jobs) override {
    for (const PositionJob& j : jobs) cpu::sinusoid_rows(div, d / 2, j.first, j.count, j.dst);
  }
  void conv2d_3x3_s2_relu(const std::vector<Conv2dJob>& jobs, int64_t f_in, int64_t c_in, const float* weight,
                          const float* bias, int64_t c_out) override {
    for (const Conv2dJob& j : jobs) cpu::conv2d_3x3_s2_relu(j.in, j.t_in, f_in, c_in, weight, bias, c_out, j.out, im2col_);
  }
  void depthwise_conv(const std::vector<DepthwiseConvJob>& jobs, int64_t channels, const float* w_t,
                      const float* bias, int kernel) override {
    for (const DepthwiseConvJob& j : jobs) cpu::depthwise_conv(j, channels, w_t, bias, kernel, conv_in_);
  }
  void rel_pos_attention(const std::vector<AttentionJob>& jobs, int64_t d, const float* u, const float* v, int heads,
                         int d_k) override {
    for (const AttentionJob& j : jobs) {
      if (j.t <= 0) continue;
      cpu::rel_pos_attention(j.q, j.t, d, j.keys, j.values, j.positions, j.len, d, u, v, heads, d_k, j.out, d,
                             attention_);
    }
  }
  void dot_product_attention(const std::vector<AttentionJob>& jobs, int64_t d, int heads, int d_k,
                             bool causal) override {
    for (const AttentionJob& j : jobs) {
      if (j.t <= 0) continue;
      cpu::dot_product_attention(j.q, j.t, d, j.keys, j.values, j.len, d, heads, d_k, causal, j.out, d, attention_,
                                 j.first);
    }
  }
  void moe_ffn(const float* x, int64_t n, const MoeView& layer, float* y, MoeGemm gemm,
               int64_t* expert_load) override {
    if (gemm == MoeGemm::kPerExpertLoop) {
      cpu::moe_ffn_per_expert_loop(x, n, layer, y, moe_, expert_load);
    } else {
      cpu::moe_ffn(x, n, layer, y, moe_, expert_load);
    }
  }

 private:
  std::vector<float> im2col_, conv_in_;
  cpu::AttentionScratch attention_;
  cpu::MoeWorkspace moe_;
};

}  // namespace

std::unique_ptr<Backend> open_cpu_backend() { return std::make_unique<CpuBackend>(); }

}  // namespace moeasr
