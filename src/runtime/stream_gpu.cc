// Stream's steps on a GPU model: the batched encoder forward + CTC head on the
// device, the CTC prefix beam search and endpointing on the host (as on the
// CPU), and attention rescoring on the device. Compiled in every build; the
// bodies exist only with the CUDA backend (a CPU-only build never has a GPU
// model, AsrModel::load refuses "cuda" there).
#include <omp.h>

#include <chrono>
#include <exception>

#include "core/error.h"
#include "runtime/stream.h"

#if MOEASR_HAVE_CUDA
#include "gpu/model.h"
#endif

namespace moeasr {

#if MOEASR_HAVE_CUDA

void Stream::gpu_step(const std::vector<Stream*>& owners, std::vector<EncoderChunk>& chunks, DecodeProfile* profile) {
  const AsrModel& model = owners[0]->model();
  const gpu::GpuModel& g = *model.gpu();
  Stream& lead = *owners[0];
  std::vector<gpu::GpuEncoderState*> states;
  bool want_rows = false;
  for (Stream* s : owners) {
    if (!s->gpu_state_) s->gpu_state_ = g.new_state();
    states.push_back(s->gpu_state_.get());
    want_rows = want_rows || (s->options_.rescoring && model.decoder()) || s->keep_debug_;
  }
  const auto start = std::chrono::steady_clock::now();
  // Returns after the download, so the wall time below is the GPU's too.
  g.encode(chunks, states, want_rows, lead.gpu_download_, lead.encoder_rows_, lead.log_probs_);
  if (profile) {
    profile->encoder.other += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    profile->forwards += 1;
    profile->encoder_frames += lead.log_probs_.dim(0);
  }
  // The CTC prefix beam search of each stream, on the host: with threads > 1
  // (ModelOptions::threads) the streams search in parallel, since with the
  // encoder on the GPU this is most of a large batch's host time. Each stream
  // touches only its own state; an exception leaves the parallel region as a
  // value (one escaping it would terminate the process) and is rethrown.
  const auto search_start = std::chrono::steady_clock::now();
  const int n = static_cast<int>(chunks.size());
  std::vector<std::exception_ptr> errors(chunks.size());
#pragma omp parallel for schedule(dynamic, 1) if (model.options().threads > 1 && n > 1)
  for (int i = 0; i < n; ++i) {
    try {
      if (chunks[i].out_frames > 0) owners[i]->consume_chunk(chunks[i], lead.encoder_rows_, lead.log_probs_, nullptr);
    } catch (...) {
      errors[i] = std::current_exception();
    }
  }
  for (const std::exception_ptr& e : errors) {
    if (e) std::rethrow_exception(e);
  }
  if (profile) {
    profile->ctc_search += std::chrono::duration<double>(std::chrono::steady_clock::now() - search_start).count();
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (Stream* s : owners) s->stats_.chunk_seconds.push_back(seconds);
}

std::vector<HypothesisScores> Stream::gpu_rescore(const float* memory, int64_t frames,
                                                  const std::vector<std::vector<int>>& hyps, bool with_r2l) const {
  return model_->gpu()->score(memory, frames, hyps, with_r2l);
}

#else

void Stream::gpu_step(const std::vector<Stream*>&, std::vector<EncoderChunk>&, DecodeProfile*) {
  throw_error(MOEASR_ERR_INTERNAL, "GPU step in a build without the CUDA backend");
}

std::vector<HypothesisScores> Stream::gpu_rescore(const float*, int64_t, const std::vector<std::vector<int>>&,
                                                  bool) const {
  throw_error(MOEASR_ERR_INTERNAL, "GPU rescoring in a build without the CUDA backend");
}

#endif

}  // namespace moeasr
