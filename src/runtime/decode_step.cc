#include "runtime/decode_step.h"

#include <chrono>
#include <exception>

#include "core/error.h"
#include "ops/ops.h"

namespace moeasr {

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Bytes of encoder expert weights a step read: every expert that got at least
// one token in a layer is read once. `load` is [layer][2][experts] for the step.
double expert_bytes(const std::vector<int64_t>& load, int64_t per_expert) {
  double bytes = 0;
  for (int64_t tokens : load) bytes += tokens > 0 ? static_cast<double>(per_expert) : 0;
  return bytes;
}

}  // namespace

void run_step(const AsrModel& model, Worker& w, std::vector<EncoderChunk>& chunks,
              const std::vector<Recognition*>& owners, DecodeProfile* profile, TokenMixing mixing) {
  MOEASR_CHECK(chunks.size() == owners.size(), MOEASR_ERR_INTERNAL, "step: ", chunks.size(), " chunks for ",
               owners.size(), " recognitions");
  w.end_step();  // the previous step is over on the device: its retired buffers go
  Backend& be = *w.backend;
  const bool on_cpu = be.device().is_cpu();
  const bool count_load = profile && on_cpu && model.encoder().routed_experts() > 0;
  std::vector<int64_t> step_load;
  const auto start = std::chrono::steady_clock::now();
  model.encoder().forward(be, chunks, w.encoder, w.rows, profile ? &profile->encoder : nullptr,
                          count_load ? &step_load : nullptr, mixing);
  const auto head_start = std::chrono::steady_clock::now();
  model.ctc_log_probs(be, w.rows, w.log_probs);
  // Rows kept for rescoring: device ops on this worker's backend, queued
  // before the download below, which waits for them too. A too-short
  // utterance of the offline batch holds its place in the batch with no
  // frames; there is nothing for it to consume.
  for (size_t i = 0; i < chunks.size(); ++i) {
    if (chunks[i].out_frames > 0) owners[i]->keep_rows(w, w.rows, chunks[i].out_row, chunks[i].out_frames);
  }
  const Tensor& log_probs = ops::on_host(be, w.log_probs, w.host_log_probs);  // waits for the device
  if (profile) {
    // On a GPU the forward's ops ran asynchronously until the download above.
    (on_cpu ? profile->ctc_head : profile->encoder.other) += seconds_since(on_cpu ? head_start : start);
  }
  // A transducer search reads its rows on the device (waiting for each of its
  // joiner outputs) and, for the beam search, the CTC log-probs on the host.
  const auto transducer_start = std::chrono::steady_clock::now();
  bool transduced = false;
  for (size_t i = 0; i < chunks.size(); ++i) {
    const EncoderChunk& c = chunks[i];
    if (c.out_frames > 0) {
      transduced |= owners[i]->transduce(w, w.rows, c.out_row, c.out_frames,
                                         log_probs.data<float>() + c.out_row * log_probs.dim(1));
    }
  }
  if (profile) {
    if (transduced) profile->transducer_search += seconds_since(transducer_start);
    profile->forwards += 1;
    profile->encoder_frames += w.rows.dim(0);
    if (count_load) {
      profile->expert_load.resize(step_load.size(), 0);
      for (size_t i = 0; i < step_load.size(); ++i) profile->expert_load[i] += step_load[i];
      profile->expert_bytes_touched += expert_bytes(step_load, model.encoder().expert_weight_bytes());
    }
  }
  // The CTC prefix beam search of each recognition, on the host: with
  // threads > 1 (ModelOptions::threads) they search in parallel, since with
  // a large batch (and with the encoder on a GPU) this is much of the step's
  // host time. Each touches only its own state; an exception leaves the
  // parallel region as a value (one escaping it would terminate the process)
  // and is rethrown.
  const auto search_start = std::chrono::steady_clock::now();
  const int n = static_cast<int>(chunks.size());
  const int64_t vocab = log_probs.dim(1);
  std::vector<std::exception_ptr> errors(chunks.size());
#pragma omp parallel for schedule(dynamic, 1) if (model.options().threads > 1 && n > 1)
  for (int i = 0; i < n; ++i) {
    try {
      const EncoderChunk& c = chunks[i];
      if (c.out_frames > 0) owners[i]->search(log_probs.data<float>() + c.out_row * vocab, c.out_frames, vocab);
    } catch (...) {
      errors[i] = std::current_exception();
    }
  }
  for (const std::exception_ptr& e : errors) {
    if (e) std::rethrow_exception(e);
  }
  if (profile) profile->ctc_search += seconds_since(search_start);
  const double seconds = seconds_since(start);
  for (Recognition* r : owners) r->stats().chunk_seconds.push_back(seconds);
}

}  // namespace moeasr
