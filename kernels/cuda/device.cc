// Context, Buffer and the copies of device.h: the only place that creates
// streams, cuBLAS handles and device allocations.
#include "kernels/cuda/device.h"

#include <utility>

#include "kernels/cuda/check.h"

namespace moeasr::cuda {

const char* cublas_status_name(cublasStatus_t s) {
  switch (s) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    case CUBLAS_STATUS_LICENSE_ERROR: return "CUBLAS_STATUS_LICENSE_ERROR";
  }
  return "unknown cuBLAS status";
}

int device_count() {
  int n = 0;
  // No driver, no GPU, or a driver older than the runtime all come back as
  // errors here; to the caller they all mean "no usable device".
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    (void)cudaGetLastError();  // clear the sticky-free error so later calls start clean
    return 0;
  }
  return n;
}

std::unique_ptr<Context> Context::open(int index) {
  const int count = device_count();
  MOEASR_CHECK(index >= 0 && index < count, MOEASR_ERR_DEVICE, "CUDA device ", index, " does not exist (",
               count, " usable device", count == 1 ? "" : "s", ")");
  auto impl = std::make_unique<Impl>();
  impl->index = index;
  MOEASR_CUDA_CHECK(cudaSetDevice(index));
  cudaDeviceProp prop{};
  MOEASR_CUDA_CHECK(cudaGetDeviceProperties(&prop, index));
  impl->name = prop.name;
  MOEASR_CUDA_CHECK(cudaStreamCreateWithFlags(&impl->stream, cudaStreamNonBlocking));
  const cublasStatus_t st = cublasCreate(&impl->cublas);
  if (st != CUBLAS_STATUS_SUCCESS) {
    cudaStreamDestroy(impl->stream);
    throw_cublas("cublasCreate", st);
  }
  // Context owns the handle from here: its destructor frees both on a throw below.
  std::unique_ptr<Context> ctx(new Context(std::move(impl)));
  MOEASR_CUBLAS_CHECK(cublasSetStream(ctx->impl_->cublas, ctx->impl_->stream));
  // Float32 GEMMs stay float32 (no TF32): the GPU must match the CPU kernels.
  MOEASR_CUBLAS_CHECK(cublasSetMathMode(ctx->impl_->cublas, CUBLAS_DEFAULT_MATH));
  return ctx;
}

Context::Context(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Context::~Context() {
  if (!impl_) return;
  // Errors here cannot be reported (destructor); the device is released anyway.
  cudaSetDevice(impl_->index);
  if (impl_->stream) cudaStreamSynchronize(impl_->stream);
  if (impl_->cublas) cublasDestroy(impl_->cublas);
  if (impl_->stream) cudaStreamDestroy(impl_->stream);
}

void make_current(Context& ctx) {
  int current = -1;
  MOEASR_CUDA_CHECK(cudaGetDevice(&current));
  if (current != ctx.index()) MOEASR_CUDA_CHECK(cudaSetDevice(ctx.index()));
}

int Context::index() const { return impl_->index; }
const std::string& Context::name() const { return impl_->name; }

void Context::synchronize() { MOEASR_CUDA_CHECK(cudaStreamSynchronize(stream_of(*this))); }

// ---------------------------------------------------------------------------

Buffer::Buffer(Context& ctx, size_t bytes) { reserve(ctx, bytes); }

Buffer::~Buffer() { release(); }

Buffer::Buffer(Buffer&& other) noexcept : ptr_(other.ptr_), bytes_(other.bytes_) {
  other.ptr_ = nullptr;
  other.bytes_ = 0;
}

Buffer& Buffer::operator=(Buffer&& other) noexcept {
  if (this != &other) {
    release();
    ptr_ = std::exchange(other.ptr_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
  }
  return *this;
}

void Buffer::reserve(Context& ctx, size_t bytes) {
  if (bytes <= bytes_) return;
  make_current(ctx);
  // cudaFree waits for the device to go idle, so a kernel still reading the
  // old allocation finishes first.
  release();
  void* p = nullptr;
  const cudaError_t e = cudaMalloc(&p, bytes);
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    throw_error(MOEASR_ERR_DEVICE, "CUDA: cudaMalloc of ", bytes, " bytes on device ", ctx.index(), " (",
                ctx.name(), ") failed: ", cudaGetErrorString(e));
  }
  ptr_ = p;
  bytes_ = bytes;
}

void Buffer::release() noexcept {
  if (ptr_) cudaFree(ptr_);
  ptr_ = nullptr;
  bytes_ = 0;
}

// ---------------------------------------------------------------------------

std::shared_ptr<void> allocate(int index, size_t bytes) {
  int current = -1;
  MOEASR_CUDA_CHECK(cudaGetDevice(&current));
  if (current != index) MOEASR_CUDA_CHECK(cudaSetDevice(index));
  void* p = nullptr;
  const cudaError_t e = cudaMalloc(&p, bytes ? bytes : 1);
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    throw_error(MOEASR_ERR_DEVICE, "CUDA: cudaMalloc of ", bytes, " bytes on device ", index,
                " failed: ", cudaGetErrorString(e));
  }
  return std::shared_ptr<void>(p, [index](void* q) {
    // A deleter cannot report errors; the memory is released either way.
    int dev = -1;
    if (cudaGetDevice(&dev) == cudaSuccess && dev != index) cudaSetDevice(index);
    cudaFree(q);
  });
}

// ---------------------------------------------------------------------------

void upload(Context& ctx, void* device, const void* host, size_t bytes) {
  if (bytes == 0) return;
  cudaStream_t s = stream_of(ctx);
  MOEASR_CUDA_CHECK(cudaMemcpyAsync(device, host, bytes, cudaMemcpyHostToDevice, s));
  // From pageable memory the runtime has staged the data before returning;
  // from pinned memory the copy may still be running, so wait for it to keep
  // the promise that `host` may be reused.
  cudaPointerAttributes attr{};
  if (cudaPointerGetAttributes(&attr, host) != cudaSuccess) {
    (void)cudaGetLastError();
    MOEASR_CUDA_CHECK(cudaStreamSynchronize(s));
  } else if (attr.type != cudaMemoryTypeUnregistered) {
    MOEASR_CUDA_CHECK(cudaStreamSynchronize(s));
  }
}

void download(Context& ctx, void* host, const void* device, size_t bytes) {
  if (bytes == 0) return;
  MOEASR_CUDA_CHECK(cudaMemcpyAsync(host, device, bytes, cudaMemcpyDeviceToHost, stream_of(ctx)));
  MOEASR_CUDA_CHECK(cudaStreamSynchronize(stream_of(ctx)));
}

void copy_on_device(Context& ctx, void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return;
  MOEASR_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream_of(ctx)));
}

void fill_zero(Context& ctx, void* device, size_t bytes) {
  if (bytes == 0) return;
  MOEASR_CUDA_CHECK(cudaMemsetAsync(device, 0, bytes, stream_of(ctx)));
}

}  // namespace moeasr::cuda
