// One stream's encoder state, on the model's device: the attention caches
// (keys, values and linear_pos of the position encodings of every layer,
// time-major) and the causal convolution caches (the last kernel - 1 post-GLU
// frames of every layer), plus the output frame offset. Owned by the stream's
// recognition state; only the Encoder reads or writes it.
//
// The attention cache is a sliding window over a buffer of `capacity` rows
// per (layer, kind): live rows [start, start + len). Trimming to the left
// context moves `start`; rows are copied only when the window reaches the end
// of the buffer (to the front: the buffer holds at least twice the window, so
// source and destination never overlap) or the buffer grows.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/tensor.h"

namespace moeasr {

class EncoderState {
 public:
  // A fresh utterance; device memory is kept for the next one.
  void reset() {
    start_ = len_ = offset_ = 0;
    r_start_ = r_len_ = 0;
    conv_primed_ = false;
  }
  int64_t offset() const { return offset_; }     // output frames so far
  int64_t cache_len() const { return len_; }     // attention frames cached
  // Bytes held by the caches (bounded when the left context is bounded).
  size_t cache_bytes() const { return attention_.nbytes() + conv_.nbytes() + reduced_.nbytes(); }

 private:
  friend class Encoder;
  Tensor attention_;  // [layers * 3 * capacity, d]: (layer, kind) blocks of `capacity` rows
  Tensor conv_;       // [layers * (kernel - 1), channels]
  int64_t capacity_ = 0;
  int64_t start_ = 0, len_ = 0;
  int64_t offset_ = 0;
  bool conv_primed_ = false;
  // Squeezeformer's reduced blocks: their own window of keys and values
  // ([reduced blocks * 2 * r_capacity, d]), WeNet's every second cached row.
  Tensor reduced_;
  int64_t r_capacity_ = 0, r_start_ = 0, r_len_ = 0;
};

}  // namespace moeasr
