// What this machine can do: the sgemm rate oneDNN reaches on a large GEMM (the
// compute ceiling) and the memory read bandwidth (the ceiling when weights
// have to come from DRAM).
#pragma once

namespace moeasr::bench {

// GFLOP/s of a large single-precision GEMM with the calling thread's OpenMP
// thread count.
double measure_sgemm_peak_gflops();
// GB/s of streaming reads over a buffer far larger than the caches.
double measure_read_bandwidth_gbs();

}  // namespace moeasr::bench
