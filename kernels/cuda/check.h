// Internal to kernels/cuda: the CUDA objects behind Context, and the checks
// that turn every failing CUDA or cuBLAS call into moeasr::Error
// (MOEASR_ERR_DEVICE) naming the call. Nothing here aborts.
#pragma once

#include <cstdint>
#include <string>

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "core/error.h"
#include "kernels/cuda/device.h"

namespace moeasr::cuda {

struct Context::Impl {
  int index = 0;
  std::string name;
  cudaStream_t stream = nullptr;
  cublasHandle_t cublas = nullptr;
};

// Makes the context's device current for the calling thread (a context may
// be used from another thread than the one that opened it, or after another
// context changed the current device). Cheap when it is current already.
void make_current(Context& ctx);

// The stream / handle for queuing work, with the context's device current.
inline cudaStream_t stream_of(Context& ctx) {
  make_current(ctx);
  return ctx.impl().stream;
}
inline cublasHandle_t cublas_of(Context& ctx) {
  make_current(ctx);
  return ctx.impl().cublas;
}

const char* cublas_status_name(cublasStatus_t s);

[[noreturn]] inline void throw_cuda(const char* call, cudaError_t e) {
  throw_error(MOEASR_ERR_DEVICE, "CUDA: ", call, " failed: ", cudaGetErrorName(e), " (", cudaGetErrorString(e), ")");
}
[[noreturn]] inline void throw_cublas(const char* call, cublasStatus_t s) {
  throw_error(MOEASR_ERR_DEVICE, "cuBLAS: ", call, " failed: ", cublas_status_name(s));
}

}  // namespace moeasr::cuda

// Throws unless the CUDA runtime call succeeds; the message names the call.
#define MOEASR_CUDA_CHECK(call)                                          \
  do {                                                                   \
    const cudaError_t moeasr_cuda_err_ = (call);                         \
    if (moeasr_cuda_err_ != cudaSuccess) ::moeasr::cuda::throw_cuda(#call, moeasr_cuda_err_); \
  } while (0)

#define MOEASR_CUBLAS_CHECK(call)                                        \
  do {                                                                   \
    const cublasStatus_t moeasr_cublas_st_ = (call);                     \
    if (moeasr_cublas_st_ != CUBLAS_STATUS_SUCCESS) ::moeasr::cuda::throw_cublas(#call, moeasr_cublas_st_); \
  } while (0)

// After a <<<...>>> launch: a bad configuration (too many threads, too much
// shared memory) is reported here, not by the launch itself.
#define MOEASR_CUDA_CHECK_LAUNCH(kernel_name)                            \
  do {                                                                   \
    const cudaError_t moeasr_cuda_err_ = cudaGetLastError();             \
    if (moeasr_cuda_err_ != cudaSuccess) ::moeasr::cuda::throw_cuda("launch of " kernel_name, moeasr_cuda_err_); \
  } while (0)
