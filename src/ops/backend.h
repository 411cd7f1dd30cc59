// The kernels of one device behind one table of functions (ggml's backend
// interface): the op layer (src/ops/*.h) checks shapes and devices and calls
// these, the CPU backend forwards them to kernels/cpu, the CUDA backend to
// kernels/cuda. A Backend is also where a sequence of ops runs: on a GPU its
// own CUDA stream and cuBLAS handle, on either device its kernels' scratch.
// So it belongs to one worker (one thread at a time): every worker of a model
// opens its own (runtime/worker.h), and two workers never share scratch.
//
// Every pointer argument is memory of the backend's device unless it says
// "host"; job tables and index lists are host vectors. Ops are queued in
// order and may return before they finish, except the copies to the host,
// which wait. Shapes are row-major float32 [rows, width] unless stated.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/activation.h"
#include "core/device.h"
#include "kernels/types.h"

namespace moeasr {

// "grouped" | "cublas_grouped" | "loop"; Error(MOEASR_ERR_INVALID_ARGUMENT) otherwise.
MoeGemm parse_moe_gemm(const std::string& name);

// Whether a device kind has Linear kernels for a weight type: the one place
// that says so (CUDA has no int8 kernels). Asked before a model loads.
bool device_reads(DeviceKind kind, WeightType type);

class Backend {
 public:
  // The CPU backend, or a CUDA stream and cuBLAS handle on GPU `device.index`.
  // Throws like check_device_available for a device this build or machine lacks.
  static std::unique_ptr<Backend> open(Device device);
  virtual ~Backend() = default;
  Device device() const { return device_; }
  // "AVX-512 ...", "NVIDIA H100 ..." (for logs and benchmark reports).
  virtual std::string description() const = 0;
  // Whether the Linear kernels read weights of this type here (device_reads).
  bool reads(WeightType type) const { return device_reads(device_.kind, type); }
  // Waits for every queued op; a failed op is reported here (Error(MOEASR_ERR_DEVICE)).
  virtual void synchronize() = 0;
  // The most output frames the subsampling convolutions run at once (their
  // activations are 80x larger than the output: a bound keeps long inputs small).
  virtual int64_t subsampling_block_rows() const = 0;

  // ---- memory -------------------------------------------------------------
  virtual void copy_from_host(void* dst, const void* host_src, size_t bytes) = 0;
  virtual void copy_to_host(void* host_dst, const void* src, size_t bytes) = 0;  // waits
  virtual void copy(void* dst, const void* src, size_t bytes) = 0;
  virtual void fill_zero(void* dst, size_t bytes) = 0;
  virtual void copy_rows(const std::vector<RowCopy>& jobs, int64_t width) = 0;
  // dst[i] = src[rows[i]] for rows[i] >= 0, else `fill` in every column.
  virtual void gather_rows(const float* src, int64_t width, const std::vector<int32_t>& rows, float fill,
                           float* dst) = 0;
  // dst[rows[i]] = src[i] for rows[i] >= 0 (other dst rows untouched).
  virtual void scatter_rows(const float* src, int64_t width, const std::vector<int32_t>& rows, float* dst) = 0;
  // out[i] = x[rows[i] * ld + cols[i]] (host index lists of equal length).
  virtual void gather_elements(const float* x, int64_t ld, const std::vector<int64_t>& rows,
                               const std::vector<int32_t>& cols, float* out) = 0;
  // out[i, :] = table[ids[i], :] * s.
  virtual void embedding(const float* table, int64_t d, const std::vector<int32_t>& ids, float s, float* out) = 0;

  // ---- dense algebra ------------------------------------------------------
  // y[rows, w.n] = act(x[rows, w.k] W^T + bias); bias may be null, no act for none.
  virtual void linear(const float* x, int64_t rows, const WeightMatrix& w, const float* bias,
                      std::optional<Activation> act, float* y) = 0;
  // C[m, n] = alpha op(A) op(B) + beta C, op(X) = X or X^T (row-major, float32),
  // `batch` times with A, B, C advanced by their strides.
  virtual void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                    int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc, int64_t batch = 1,
                    int64_t stride_a = 0, int64_t stride_b = 0, int64_t stride_c = 0) = 0;

  // ---- element-wise and row-wise ------------------------------------------
  virtual void add_scaled(float* y, const float* x, float alpha, int64_t n) = 0;  // y += alpha x
  virtual void mul(float* y, const float* x, int64_t n) = 0;                      // y *= x element-wise
  // y[r, :] += s[r * stride] * x[r, :] for rows r < rows (width d).
  virtual void add_row_scaled(float* y, const float* x, int64_t rows, int64_t d, const float* s,
                              int64_t stride) = 0;
  virtual void scale(float* x, float s, int64_t n) = 0;
  virtual void activation(float* x, int64_t n, Activation act) = 0;
  // y[rows, c] = x[:, :c] * sigmoid(x[:, c:]) for x [rows, 2c].
  virtual void glu(const float* x, int64_t rows, int64_t c, float* y) = 0;
  // y = LayerNorm(x) over rows of width d (y may alias x).
  virtual void layer_norm(const float* x, int64_t rows, int64_t d, const float* gamma, const float* beta, float eps,
                          float* y) = 0;
  // y[r, c] = x[r, c] * scale[c] + shift[c] (an inference BatchNorm); may alias.
  virtual void channel_affine(const float* x, int64_t rows, int64_t c, const float* scale, const float* shift,
                              float* y) = 0;
  // x[r, c] = (x[r, c] - mean[c]) * istd[c] (WeNet's global CMVN).
  virtual void cmvn(float* x, int64_t rows, int64_t c, const float* mean, const float* istd) = 0;
  // y[r] = x[r] / max(||x[r]||, 1e-12) (torch.nn.functional.normalize); may alias.
  virtual void l2_normalize_rows(const float* x, int64_t rows, int64_t d, float* y) = 0;
  virtual void softmax_rows(float* x, int64_t rows, int64_t cols) = 0;
  virtual void log_softmax_rows(float* x, int64_t rows, int64_t cols) = 0;
  // For each segment [offsets[s], offsets[s + 1]) of rows and each column:
  // softmax over the segment's rows of (x - max) / temperature. A column whose
  // rows are all -inf becomes 0. offsets: host, non-decreasing, last = rows.
  virtual void softmax_segments(float* x, int64_t cols, const std::vector<int64_t>& offsets,
                                float temperature) = 0;

  // ---- the Conformer's batched ops ----------------------------------------
  // div: [d / 2] float32 (positional_encoding.h).
  virtual void position_encoding(const float* div, int64_t d, const std::vector<PositionJob>& jobs) = 0;
  // Conv2dSubsampling's 3x3 stride-2 "valid" convolution + ReLU; weight [3, 3, c_in, c_out].
  virtual void conv2d_3x3_s2_relu(const std::vector<Conv2dJob>& jobs, int64_t f_in, int64_t c_in,
                                  const float* weight, const float* bias, int64_t c_out) = 0;
  // w_t: [kernel, C]; bias may be null.
  virtual void depthwise_conv(const std::vector<DepthwiseConvJob>& jobs, int64_t channels, const float* w_t,
                              const float* bias, int kernel) = 0;
  // WeNet's rel-pos attention with rel_shift disabled:
  //   softmax(((q + u) k^T + (q + v) p^T) / sqrt(d_k)) v; u, v: [heads, d_k].
  virtual void rel_pos_attention(const std::vector<AttentionJob>& jobs, int64_t d, const float* pos_bias_u,
                                 const float* pos_bias_v, int heads, int d_k) = 0;
  // softmax(q k^T / sqrt(d_k)) v; with `causal`, see AttentionJob::first.
  virtual void dot_product_attention(const std::vector<AttentionJob>& jobs, int64_t d, int heads, int d_k,
                                     bool causal) = 0;
  // y[n, d] = MoE(x[n, d]) (WeNet's MoEFFNLayer); y never aliases x.
  // `expert_load` (host, optional, num_experts entries) is incremented by the
  // tokens each expert received; on a GPU asking for it waits for the routing.
  virtual void moe_ffn(const float* x, int64_t n, const MoeView& layer, float* y, MoeGemm gemm,
                       int64_t* expert_load) = 0;

 protected:
  explicit Backend(Device device) : device_(device) {}

 private:
  Device device_;
};

// The CPU backend (kernels/cpu) and, in CUDA builds, the CUDA one (kernels/cuda).
std::unique_ptr<Backend> open_cpu_backend();
std::unique_ptr<Backend> open_cuda_backend(int index);

}  // namespace moeasr
