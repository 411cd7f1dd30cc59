// The storage type of each Linear weight matrix at run time, resolved (as
// CTranslate2 does) from the type stored in the file and the `compute_type`
// the application asks for:
//   default   keep what is stored (F16 is widened to float32: no f16 kernels)
//   float32 / bfloat16 / int8   convert at load when the stored type differs
// int8 is symmetric per output row: w = q * scale[row], q in [-127, 127].
// Matrices already in the compute type are used in place (mmap'd, no copy).
// Only Linear layers change type (projections, FFNs and experts, pointwise
// convolutions, CTC head, decoder output; in int8 also the subsampling's
// convolutions over d channels, as im2col + Linear, and its output Linear);
// router gates, embeddings, the first subsampling convolution (one input
// channel), depthwise kernels and norms stay float32.
#pragma once

#include <string>
#include <vector>

#include "core/tensor.h"
#include "formats/safetensors.h"

namespace moeasr {

enum class ComputeType { kDefault, kFloat32, kBFloat16, kInt8 };

// "default", "float32" ("fp32"), "bfloat16" ("bf16"), "int8"; throws
// Error(MOEASR_ERR_INVALID_ARGUMENT) otherwise.
ComputeType parse_compute_type(const std::string& name);
const char* compute_type_name(ComputeType t);

struct PrecisionPolicy {
  ComputeType type = ComputeType::kDefault;
  bool experts_only = false;  // convert only MoE expert weights; the rest stays as stored
  // Whether float16 weights kept as stored (kDefault) stay float16: the
  // device has float16 kernels (the CPU); otherwise they are widened to float32.
  bool keep_float16 = true;
};

// A weight matrix on the host in its compute type: data [n, k] (F32, BF16,
// F16 or I8) and, for I8, the per-row scale (F32) and row sums (I32).
struct StoredMatrix {
  Tensor data, scale, row_sum;
};

// Loads `name` ([n, k], or [n, k, 1] for a 1x1 convolution) in the type the
// policy resolves to. `expert` tells whether it is an MoE expert weight.
// With `column_order` (k entries), `name` may have any rank [n, ...] (k = the
// rest): column c of the result is stored column column_order[c]. Every type
// is per row, so a stored int8 matrix permuted equals one quantized at load
// from the permuted float32 matrix, bit for bit.
StoredMatrix load_matrix(const SafeTensors& st, const std::string& name, const PrecisionPolicy& policy, bool expert,
                         const std::vector<int64_t>* column_order = nullptr);

// Row-wise symmetric int8 quantization (the converter does the same in numpy).
void quantize_rows_int8(const float* w, int64_t n, int64_t k, int8_t* q, float* scale);
uint16_t float_to_bf16(float f);  // round to nearest even

}  // namespace moeasr
