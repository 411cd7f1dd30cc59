#include "ops/ops.h"

#include "core/error.h"

namespace moeasr::ops {

void check_device(const Backend& be, const Tensor& t, const char* op) {
  MOEASR_CHECK(t.empty() || t.device() == be.device(), MOEASR_ERR_INTERNAL, op, ": a tensor on ",
               t.device().name(), " given to the ", be.device().name(), " backend");
}

Tensor to_device(Backend& be, const Tensor& host) {
  MOEASR_CHECK(host.device().is_cpu(), MOEASR_ERR_INTERNAL, "to_device: the source is on ", host.device().name());
  Tensor t(host.shape(), host.dtype(), be.device());
  be.copy_from_host(t.raw(), host.raw(), host.nbytes());
  return t;
}

const Tensor& on_host(Backend& be, const Tensor& t, Tensor& staging) {
  check_device(be, t, "on_host");
  if (t.device().is_cpu()) return t;
  MOEASR_CHECK(t.dtype() == DType::kF32, MOEASR_ERR_INTERNAL, "on_host: a ", dtype_name(t.dtype()), " tensor");
  staging.resize(t.shape(), Device::cpu());  // float32, reused across calls
  be.copy_to_host(staging.raw(), t.raw(), t.nbytes());
  return staging;
}

void fill_zero(Backend& be, Tensor& t) {
  check_device(be, t, "fill_zero");
  be.fill_zero(t.raw(), t.nbytes());
}

void linear(Backend& be, const Tensor& x, const WeightMatrix& w, const Tensor& bias, Tensor& y,
            std::optional<Activation> act) {
  check_device(be, x, "linear");
  MOEASR_CHECK(x.dim(-1) == w.k, MOEASR_ERR_INTERNAL, "linear: input width ", x.dim(-1), " != ", w.k);
  MOEASR_CHECK(bias.empty() || bias.numel() == w.n, MOEASR_ERR_INTERNAL, "linear: bias of ", bias.numel(), " for ",
               w.n, " outputs");
  const int64_t rows = x.rows();
  y.resize({rows, w.n}, be.device());
  if (rows == 0) return;
  be.linear(x.data<float>(), rows, w, bias.empty() ? nullptr : bias.data<float>(), act, y.data<float>());
}

void add_scaled(Backend& be, Tensor& y, const Tensor& x, float alpha) {
  check_device(be, y, "add_scaled");
  check_device(be, x, "add_scaled");
  MOEASR_CHECK(y.numel() == x.numel(), MOEASR_ERR_INTERNAL, "add_scaled: ", shape_string(y.shape()), " vs ",
               shape_string(x.shape()));
  if (x.numel()) be.add_scaled(y.data<float>(), x.data<float>(), alpha, x.numel());
}

void mul(Backend& be, Tensor& y, const Tensor& x) {
  check_device(be, y, "mul");
  check_device(be, x, "mul");
  MOEASR_CHECK(y.numel() == x.numel(), MOEASR_ERR_INTERNAL, "mul: ", shape_string(y.shape()), " vs ",
               shape_string(x.shape()));
  if (x.numel()) be.mul(y.data<float>(), x.data<float>(), x.numel());
}

void scale(Backend& be, Tensor& x, float s) {
  check_device(be, x, "scale");
  if (x.numel()) be.scale(x.data<float>(), s, x.numel());
}

void activation(Backend& be, Tensor& x, Activation act) {
  check_device(be, x, "activation");
  if (x.numel()) be.activation(x.data<float>(), x.numel(), act);
}

void glu(Backend& be, const Tensor& x, Tensor& y) {
  check_device(be, x, "glu");
  const int64_t cols = x.dim(-1);
  MOEASR_CHECK(cols % 2 == 0, MOEASR_ERR_INTERNAL, "glu: odd width ", cols);
  const int64_t rows = x.rows();
  y.resize({rows, cols / 2}, be.device());
  if (rows) be.glu(x.data<float>(), rows, cols / 2, y.data<float>());
}

void layer_norm(Backend& be, const Tensor& x, const Tensor& gamma, const Tensor& beta, float eps, Tensor& y) {
  check_device(be, x, "layer_norm");
  const int64_t cols = x.dim(-1);
  MOEASR_CHECK(gamma.numel() == cols && beta.numel() == cols, MOEASR_ERR_INTERNAL, "layer_norm: width ", cols,
               " != ", gamma.numel());
  if (&y != &x) y.resize(x.shape(), be.device());
  if (x.rows()) be.layer_norm(x.data<float>(), x.rows(), cols, gamma.data<float>(), beta.data<float>(), eps, y.data<float>());
}

void softmax(Backend& be, Tensor& x) {
  check_device(be, x, "softmax");
  if (x.numel()) be.softmax_rows(x.data<float>(), x.rows(), x.dim(-1));
}

void log_softmax(Backend& be, Tensor& x) {
  check_device(be, x, "log_softmax");
  if (x.numel()) be.log_softmax_rows(x.data<float>(), x.rows(), x.dim(-1));
}

}  // namespace moeasr::ops
