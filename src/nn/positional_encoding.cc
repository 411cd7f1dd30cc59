#include "nn/positional_encoding.h"

#include <algorithm>
#include <cmath>

#include "kernels/cpu/rows.h"
#include "ops/ops.h"

namespace moeasr {

PositionalEncoding::PositionalEncoding(int64_t d, Backend& be) : d_(d), host_div_(static_cast<size_t>(d / 2)) {
  const float step = static_cast<float>(-(std::log(10000.0) / static_cast<double>(d)));
  for (size_t i = 0; i < host_div_.size(); ++i) host_div_[i] = std::exp(static_cast<float>(2 * i) * step);
  Tensor host({static_cast<int64_t>(host_div_.size())});
  std::copy(host_div_.begin(), host_div_.end(), host.data<float>());
  div_ = be.device().is_cpu() ? host : ops::to_device(be, host);
}

void PositionalEncoding::rows(Backend& be, const std::vector<PositionJob>& jobs) const {
  ops::check_device(be, div_, "position_encoding");
  be.position_encoding(div_.data<float>(), d_, jobs);
}

void PositionalEncoding::host_rows(int64_t first, int64_t count, float* out) const {
  cpu::sinusoid_rows(host_div_.data(), d_ / 2, first, count, out);
}

}  // namespace moeasr
