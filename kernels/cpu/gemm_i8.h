// An exact u8 x s8 -> s32 GEMM for every CPU: acc[i][j] = sum_c xq[i][c] * w[j][c]
// with xq the activations quantized to u8 (gemm_small_i8.h) and w the int8
// weights [n, k] as stored. Products are widened to 16 bits and summed in 32
// bits, so nothing saturates, whatever the ISA. (oneDNN's gemm_u8s8s32 adds
// pairs of u8 x s8 products in 16 bits on CPUs without VNNI and saturates
// there; linear.cc takes it only where its effective ISA has VNNI.)
//
// Portable C++ that the compiler vectorizes; on x86-64 it is built for AVX2
// and AVX-512BW as well and the best copy for the CPU runs.
// Weights are streamed once: each weight row meets every activation row while
// it is in L1.
#pragma once

#include <cstdint>

namespace moeasr::cpu {

void gemm_u8s8s32(const uint8_t* xq, int64_t ldq, int64_t m, const int8_t* w, int64_t n, int64_t k, int32_t* acc,
                  int64_t ldacc);

}  // namespace moeasr::cpu
