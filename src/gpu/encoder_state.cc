#include "gpu/encoder_state.h"

namespace moeasr::gpu {

GpuEncoderState::~GpuEncoderState() {
  // Freed under the model's GPU lock, so a stream dying on one thread never
  // frees device memory in the middle of another thread's forward.
  std::lock_guard<std::mutex> guard(*lock_);
  att_[0] = cuda::Buffer();
  att_[1] = cuda::Buffer();
  conv_ = cuda::Buffer();
}

}  // namespace moeasr::gpu
