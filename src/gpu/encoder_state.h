// One stream's encoder state on the GPU: the attention caches (keys, values
// and linear_pos of the position encodings of every layer) and the causal
// convolution caches, in device memory, plus the frame offset. The device
// twin of EncoderState (model/encoder.h), with the same semantics: caches
// hold cache_len rows, trimmed to keep_cache rows after each chunk.
//
// Owned by the Stream (made lazily by its first GPU step); its memory is
// freed with it. CUDA builds only.
#pragma once

#include <cstdint>
#include <mutex>

#include "kernels/cuda/device.h"

namespace moeasr::gpu {

class GpuEncoderState {
 public:
  // `device_lock` is the model's GPU mutex, taken while the buffers are freed.
  explicit GpuEncoderState(std::mutex* device_lock) : lock_(device_lock) {}
  ~GpuEncoderState();
  GpuEncoderState(const GpuEncoderState&) = delete;
  GpuEncoderState& operator=(const GpuEncoderState&) = delete;

  // A fresh utterance; device memory is kept for the next one.
  void reset() {
    offset_ = cache_len_ = 0;
    conv_primed_ = false;
  }
  int64_t offset() const { return offset_; }
  int64_t cache_len() const { return cache_len_; }
  size_t device_bytes() const { return att_[0].bytes() + att_[1].bytes() + conv_.bytes(); }

 private:
  friend class GpuEncoder;
  std::mutex* lock_;
  // Attention caches, two buffers of [layers][3 (keys, values, positions)][capacity][d]:
  // att_[cur_] holds the live rows; trimming copies the kept rows into the
  // other buffer and flips cur_ (the copy op forbids overlapping rows).
  cuda::Buffer att_[2];
  int cur_ = 0;
  int64_t capacity_ = 0;  // rows per (layer, kind) in both buffers
  cuda::Buffer conv_;     // [layers][kernel - 1][channels], causal models only
  int64_t offset_ = 0;
  int64_t cache_len_ = 0;
  bool conv_primed_ = false;
};

}  // namespace moeasr::gpu
