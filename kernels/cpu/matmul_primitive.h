// Many-row bf16 and int8 GEMMs through oneDNN's matmul primitive, the only
// oneDNN 2.6 entry to its brgemm kernels (AMX on Sapphire Rapids and later,
// avx512_core_bf16 / avx512_core_vnni elsewhere); dnnl_sgemm and
// dnnl_gemm_u8s8s32 never reach them. C = A B with B = W^T read in place:
// W [n, k] row-major is a k x n matrix with strides {1, k} (format "ba"),
// which brgemm copies block by block itself, so model weights are never
// repacked.
//
// What oneDNN 2.6.3's brgemm matmul accepts (src/cpu/x64/matmul/
// brgemm_matmul_utils.cpp): A and C dense (lda == k, ldc == n; a padded row
// stride is refused and the gemm-based "gemm:jit" impl is taken instead),
// and no runtime dimensions (DNNL_RUNTIME_DIM_VAL for M also falls back to
// "gemm:jit"), so there is one primitive per row count. Creating one JITs
// its kernels (~200-400 us on Zen 5); oneDNN's own primitive cache (1024
// entries, LRU, thread-safe) then returns it in ~0.5-1 us; describing the
// problem (the primitive_desc, which it does not cache) costs 7-11 us per
// call on a loaded Zen 5 (moeasr-kernel-bench BM_MatmulPrimitiveLookup).
// Together that is under 1% of the GEMM at the fewest rows kAuto sends
// here (32 bf16 rows: ~1.5 ms), so no cache of our own.
//
// AMX: on Linux a process must ask the kernel for the AMX tile state
// (arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA)) before executing tile
// instructions. oneDNN 2.6.3 does this itself: amx::is_available() in
// src/cpu/x64/cpu_isa_traits.cpp requests the permission once (and reads it
// back) the first time an AMX ISA is queried, and reports AMX unavailable if
// the request fails, so its impl list then skips the AMX kernels. We do not
// repeat the call.
#pragma once

#include <cstdint>
#include <string>

#include "kernels/types.h"

namespace moeasr::cpu {

#if MOEASR_HAVE_ONEDNN

// C[m, w.n] (dense) = A[m, w.k] (dense) W^T for
//   bf16 weights: A bf16, C float32;
//   int8 weights: A uint8, C int32 (exact integer products and sums).
// Runs only where oneDNN picks a brgemm implementation (its name starts with
// "brg:"), and with `amx_only` only an AMX one; returns false otherwise (and
// for other weight types), having written nothing, and the caller takes
// another path. An execution failure throws MOEASR_ERR_INTERNAL.
// Thread-safe; runs on the intra-op OpenMP threads.
bool matmul_primitive(const void* a, int64_t m, const WeightMatrix& w, void* c, bool amx_only);

// The name of the implementation oneDNN picks for m rows of w's type and
// shape, e.g. "brg:avx512_core_amx_bf16", "brg:avx512_core_vnni" or
// "gemm:jit"; "" for other weight types or where oneDNN offers none.
std::string matmul_primitive_impl(int64_t m, const WeightMatrix& w);

// Whether an implementation name is an AMX one.
bool matmul_impl_is_amx(const std::string& impl);

#endif  // MOEASR_HAVE_ONEDNN

}  // namespace moeasr::cpu
