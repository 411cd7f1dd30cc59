// A CUDA device behind a plain C++ interface: its stream, cuBLAS handle and
// device memory. Nothing here includes a CUDA header, so the model code in
// src/ compiles with the host compiler; only kernels/cuda/*.cu and
// kernels/cuda/*.cc see the CUDA runtime. Built only when CUDA is enabled
// (MOEASR_HAVE_CUDA).
//
// Errors: every failing CUDA or cuBLAS call throws moeasr::Error with
// MOEASR_ERR_DEVICE and names the call and the device; nothing aborts.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace moeasr::cuda {

// Usable CUDA devices: 0 when there is no driver, no GPU, or the driver is
// older than the runtime. Never throws.
int device_count();

// One GPU with one CUDA stream and one cuBLAS handle. Every op given this
// context runs in order on its stream, so a sequence of ops needs no
// synchronization until its result is downloaded. Not thread-safe: one
// thread at a time (the GPU model serializes its forwards).
class Context {
 public:
  // Throws Error(MOEASR_ERR_DEVICE) when device `index` does not exist or
  // cannot be initialized.
  static std::unique_ptr<Context> open(int index);
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  int index() const;
  const std::string& name() const;  // e.g. "NVIDIA H100 80GB HBM3"
  // Waits for every queued op; throws Error(MOEASR_ERR_DEVICE) when one failed.
  void synchronize();

  // The CUDA objects, for kernels/cuda only (cudaStream_t, cublasHandle_t).
  struct Impl;
  Impl& impl() { return *impl_; }

 private:
  explicit Context(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Device memory owned by one object, freed on destruction (move-only).
class Buffer {
 public:
  Buffer() = default;
  // Throws Error(MOEASR_ERR_DEVICE) when the device is out of memory.
  Buffer(Context& ctx, size_t bytes);
  ~Buffer();
  Buffer(Buffer&& other) noexcept;
  Buffer& operator=(Buffer&& other) noexcept;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  // At least `bytes` bytes; reallocates (contents lost) only when smaller.
  void reserve(Context& ctx, size_t bytes);
  size_t bytes() const { return bytes_; }
  void* data() { return ptr_; }
  const void* data() const { return ptr_; }
  template <typename T>
  T* as() { return static_cast<T*>(ptr_); }
  template <typename T>
  const T* as() const { return static_cast<const T*>(ptr_); }

 private:
  void release() noexcept;
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

// `bytes` of device memory on device `index` for a Tensor (core/device.h),
// freed (cudaFree, which waits for the device to go idle, so no queued op
// can still read it) when the last owner lets go. Error(MOEASR_ERR_DEVICE)
// when the device has no room.
std::shared_ptr<void> allocate(int index, size_t bytes);

// Copies on the context's stream. upload returns when `host` may be reused;
// download returns when `host` holds the data (it waits for earlier ops).
void upload(Context& ctx, void* device, const void* host, size_t bytes);
void download(Context& ctx, void* host, const void* device, size_t bytes);
void copy_on_device(Context& ctx, void* dst, const void* src, size_t bytes);
void fill_zero(Context& ctx, void* device, size_t bytes);

}  // namespace moeasr::cuda
