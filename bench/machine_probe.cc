#include "machine_probe.h"

#include <chrono>
#include <cstring>
#include <vector>

#include <Eigen/Core>

#include "kernels/cpu/gemm.h"

namespace moeasr::bench {

namespace {
double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}
}  // namespace

double measure_sgemm_peak_gflops() {
  const int64_t n = 2048;
  std::vector<float> a(n * n, 0.5f), b(n * n, 0.25f), c(n * n, 0.f);
  cpu::sgemm(false, true, n, n, n, 1.f, a.data(), n, b.data(), n, 0.f, c.data(), n);  // warm up (JIT)
  double best = 0;
  for (int rep = 0; rep < 3; ++rep) {
    const auto t = std::chrono::steady_clock::now();
    cpu::sgemm(false, true, n, n, n, 1.f, a.data(), n, b.data(), n, 0.f, c.data(), n);
    best = std::max(best, 2.0 * n * n * n / seconds_since(t) / 1e9);
  }
  return best;
}

double measure_read_bandwidth_gbs() {
  const size_t n = size_t{256} << 20;  // 1 GiB of floats
  std::vector<float> buf(n);
  for (size_t i = 0; i < n; i += 1024) buf[i] = 1.f;  // touch every page
  std::memset(buf.data(), 0, n * sizeof(float));
  double best = 0;
  volatile float sink = 0;
  for (int rep = 0; rep < 3; ++rep) {
    const auto t = std::chrono::steady_clock::now();
    sink = sink + Eigen::Map<const Eigen::ArrayXf>(buf.data(), static_cast<Eigen::Index>(n)).sum();
    best = std::max(best, n * sizeof(float) / seconds_since(t) / 1e9);
  }
  return best;
}

}  // namespace moeasr::bench
