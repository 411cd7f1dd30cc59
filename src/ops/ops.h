// The op layer model code is written against: each op checks that its
// tensors live on the backend's device and have matching shapes, sizes its
// output (Tensor::resize on that device) and calls the backend's kernel
// (src/ops/backend.h). Model code never loops over elements itself and never
// knows which device it runs on. The batched ops with per-stream job tables
// (attention against caches, convolutions with caches) are called on the
// Backend directly by the layers that build the tables.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "core/tensor.h"
#include "ops/backend.h"

namespace moeasr::ops {

// Throws Error(MOEASR_ERR_INTERNAL) unless `t` lives on the backend's device.
void check_device(const Backend& be, const Tensor& t, const char* op);

// ---- memory ------------------------------------------------------------------

// A tensor on the backend's device with `host`'s contents (a CPU backend copies too).
Tensor to_device(Backend& be, const Tensor& host);
// `t`'s contents readable on the host: `t` itself on the CPU, else a copy into
// `staging` (resized; the returned reference is `staging`). Waits for the device.
const Tensor& on_host(Backend& be, const Tensor& t, Tensor& staging);
void fill_zero(Backend& be, Tensor& t);

// ---- dense algebra -------------------------------------------------------------

// y = act(x W^T + bias), y resized to [rows(x), w.n]; bias may be empty.
void linear(Backend& be, const Tensor& x, const WeightMatrix& w, const Tensor& bias, Tensor& y,
            std::optional<Activation> act = std::nullopt);

// ---- element-wise and row-wise -----------------------------------------------------

// y += alpha * x (same element count).
void add_scaled(Backend& be, Tensor& y, const Tensor& x, float alpha);
// y *= x element-wise (same element count).
void mul(Backend& be, Tensor& y, const Tensor& x);
void scale(Backend& be, Tensor& x, float s);
void activation(Backend& be, Tensor& x, Activation act);
// y = GLU(x) over the last dimension: [rows, 2C] -> [rows, C].
void glu(Backend& be, const Tensor& x, Tensor& y);
// y = LayerNorm(x) over the last dimension; y resized like x (may alias x).
void layer_norm(Backend& be, const Tensor& x, const Tensor& gamma, const Tensor& beta, float eps, Tensor& y);
void softmax(Backend& be, Tensor& x);      // over the last dimension
void log_softmax(Backend& be, Tensor& x);  // over the last dimension

}  // namespace moeasr::ops
