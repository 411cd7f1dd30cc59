#include "nn/weight_precision.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "core/half.h"
#include "kernels/types.h"

namespace moeasr {

ComputeType parse_compute_type(const std::string& name) {
  if (name == "default" || name.empty()) return ComputeType::kDefault;
  if (name == "float32" || name == "fp32") return ComputeType::kFloat32;
  if (name == "bfloat16" || name == "bf16") return ComputeType::kBFloat16;
  if (name == "int8") return ComputeType::kInt8;
  throw_error(MOEASR_ERR_INVALID_ARGUMENT, "unknown compute_type '", name,
              "' (expected default, float32, bfloat16 or int8)");
}

const char* compute_type_name(ComputeType t) {
  switch (t) {
    case ComputeType::kDefault: return "default";
    case ComputeType::kFloat32: return "float32";
    case ComputeType::kBFloat16: return "bfloat16";
    case ComputeType::kInt8: return "int8";
  }
  return "?";
}

uint16_t float_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7F800000u) == 0x7F800000u) return static_cast<uint16_t>(u >> 16 | ((u & 0xFFFF) ? 0x40 : 0));  // inf/NaN
  return static_cast<uint16_t>((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

void quantize_rows_int8(const float* w, int64_t n, int64_t k, int8_t* q, float* scale) {
  for (int64_t r = 0; r < n; ++r) {
    const float* row = w + r * k;
    float amax = 0.f;
    for (int64_t c = 0; c < k; ++c) amax = std::max(amax, std::fabs(row[c]));
    const float s = amax > 0.f ? amax / 127.f : 1.f;
    scale[r] = s;
    for (int64_t c = 0; c < k; ++c) q[r * k + c] = static_cast<int8_t>(std::lrintf(row[c] / s));
  }
}

namespace {

// The matrix as float32, whatever it is stored as.
Tensor to_float(const SafeTensors& st, const std::string& name, const Tensor& t, int64_t n, int64_t k) {
  if (t.dtype() == DType::kF32) return t;
  Tensor out({n, k}, DType::kF32);
  float* o = out.data<float>();
  switch (t.dtype()) {
    case DType::kF16:
      for (int64_t i = 0; i < n * k; ++i) o[i] = fp16_to_float(t.data<uint16_t>()[i]);
      break;
    case DType::kBF16:
      for (int64_t i = 0; i < n * k; ++i) o[i] = bf16_to_float(t.data<uint16_t>()[i]);
      break;
    case DType::kI8: {
      const Tensor s = st.get(name + ".scale");
      for (int64_t r = 0; r < n; ++r) {
        for (int64_t c = 0; c < k; ++c) o[r * k + c] = t.data<int8_t>()[r * k + c] * s.data<float>()[r];
      }
      break;
    }
    default:
      throw_error(MOEASR_ERR_UNSUPPORTED, "tensor '", name, "' has dtype ", dtype_name(t.dtype()));
  }
  return out;
}

WeightType stored_kernel_type(DType d, bool keep_float16) {
  switch (d) {
    case DType::kBF16: return WeightType::kBF16;
    case DType::kI8: return WeightType::kI8;
    case DType::kF16: return keep_float16 ? WeightType::kF16 : WeightType::kF32;
    default: return WeightType::kF32;
  }
}

// `stored` ([n, ...], k values per row) with its columns in `order`, same dtype.
Tensor permute_columns(const Tensor& stored, int64_t n, int64_t k, const std::vector<int64_t>& order) {
  Tensor out({n, k}, stored.dtype());
  const size_t size = dtype_size(stored.dtype());
  const char* in = static_cast<const char*>(stored.raw());
  char* o = static_cast<char*>(out.raw());
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t c = 0; c < k; ++c) std::memcpy(o + (r * k + c) * size, in + (r * k + order[c]) * size, size);
  }
  return out;
}

}  // namespace

StoredMatrix load_matrix(const SafeTensors& st, const std::string& name, const PrecisionPolicy& policy, bool expert,
                         const std::vector<int64_t>* column_order) {
  Tensor stored = st.get(name);
  int64_t n = 0, k = 0;
  if (column_order) {
    n = stored.dim(0);
    k = stored.numel() / std::max<int64_t>(n, 1);
    MOEASR_CHECK(static_cast<int64_t>(column_order->size()) == k, MOEASR_ERR_INTERNAL, "'", name, "': ",
                 column_order->size(), " columns ordered for ", k);
    stored = permute_columns(stored, n, k, *column_order);  // a copy: never a view of the file
  } else {
    MOEASR_CHECK(stored.rank() == 2 || (stored.rank() == 3 && stored.dim(2) == 1), MOEASR_ERR_INTERNAL, "'", name,
                 "' is not a matrix");
    n = stored.dim(0);
    k = stored.dim(1);
  }

  WeightType target = stored_kernel_type(stored.dtype(), policy.keep_float16);
  if (policy.type != ComputeType::kDefault && (expert || !policy.experts_only)) {
    target = policy.type == ComputeType::kFloat32    ? WeightType::kF32
             : policy.type == ComputeType::kBFloat16 ? WeightType::kBF16
                                                     : WeightType::kI8;
  }

  StoredMatrix m;
  const bool in_place = (target == WeightType::kF32 && stored.dtype() == DType::kF32) ||
                        (target == WeightType::kBF16 && stored.dtype() == DType::kBF16) ||
                        (target == WeightType::kF16 && stored.dtype() == DType::kF16) ||
                        (target == WeightType::kI8 && stored.dtype() == DType::kI8);
  if (in_place) {
    m.data = stored;  // a view of the mapped file
    m.data.reshape({n, k});
    if (target == WeightType::kI8) m.scale = st.get(name + ".scale");
  } else {
    const Tensor f = to_float(st, name, stored, n, k);
    switch (target) {
      case WeightType::kF32:
        m.data = f;
        break;
      case WeightType::kBF16:
        m.data = Tensor({n, k}, DType::kBF16);
        for (int64_t i = 0; i < n * k; ++i) m.data.data<uint16_t>()[i] = float_to_bf16(f.data<float>()[i]);
        break;
      case WeightType::kF16:  // only ever kept as stored (in place above)
        throw_error(MOEASR_ERR_INTERNAL, "'", name, "' cannot be converted to float16");
      case WeightType::kI8:
        m.data = Tensor({n, k}, DType::kI8);
        m.scale = Tensor({n}, DType::kF32);
        quantize_rows_int8(f.data<float>(), n, k, m.data.data<int8_t>(), m.scale.data<float>());
        break;
    }
  }
  if (target == WeightType::kI8) {
    m.row_sum = Tensor({n}, DType::kI32);
    for (int64_t r = 0; r < n; ++r) {
      int32_t s = 0;
      for (int64_t c = 0; c < k; ++c) s += m.data.data<int8_t>()[r * k + c];
      m.row_sum.data<int32_t>()[r] = s;
    }
  }
  return m;
}

}  // namespace moeasr
