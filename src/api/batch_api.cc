// C API: the offline batch (moeasr_decode_batch).
#include <algorithm>
#include <memory>
#include <vector>

#include "api/handles.h"
#include "frontend/feature_pipeline.h"
#include "runtime/offline_batch.h"

using moeasr::api::checked;
using moeasr::api::guarded;

extern "C" {

moeasr_status moeasr_batch_default_options(moeasr_batch_options* options) {
  return guarded("moeasr_batch_default_options", [&] {
    MOEASR_CHECK(options, MOEASR_ERR_INVALID_ARGUMENT, "options is NULL");
    const moeasr::DecodeOptions d;
    options->struct_size = sizeof(moeasr_batch_options);
    options->nbest = d.nbest;
    options->ctc_weight = d.ctc_weight;
    options->reverse_weight = d.reverse_weight;
    options->rescoring = d.rescoring ? 1 : 0;
    options->timestamps = d.timestamps ? 1 : 0;
  });
}

moeasr_status moeasr_decode_batch(const moeasr_model* model, const moeasr_audio* utterances, size_t n,
                                  const moeasr_batch_options* options, moeasr_result** out_results) {
  if (out_results) std::fill(out_results, out_results + n, nullptr);
  return guarded("moeasr_decode_batch", [&] {
    const moeasr_model& m = checked(model);
    MOEASR_CHECK(out_results || n == 0, MOEASR_ERR_INVALID_ARGUMENT, "out_results is NULL");
    MOEASR_CHECK(utterances || n == 0, MOEASR_ERR_INVALID_ARGUMENT, "utterances is NULL");
    moeasr_batch_options defaults;
    moeasr_batch_default_options(&defaults);
    const moeasr_batch_options o =
        moeasr::api::read_options(options, defaults, sizeof(moeasr_batch_options), "moeasr_batch_options");
    moeasr::DecodeOptions d;
    d.nbest = o.nbest;
    d.ctc_weight = o.ctc_weight;
    d.reverse_weight = o.reverse_weight;
    d.rescoring = o.rescoring != 0;
    d.timestamps = o.timestamps != 0;

    // The length limit before any work (decode_batch checks it again on frames).
    for (size_t i = 0; i < n; ++i) {
      const moeasr_audio& a = utterances[i];
      if (a.sample_rate <= 0) continue;  // the front end names the bad rate
      const double seconds = static_cast<double>(a.num_samples) / a.sample_rate;
      MOEASR_CHECK(seconds <= moeasr::kMaxFullAttentionSeconds, MOEASR_ERR_UNSUPPORTED, "utterance ", i, " has ",
                   seconds, " s of audio; the batch decodes with full attention, which takes at most ",
                   moeasr::kMaxFullAttentionSeconds, " s per utterance: decode long audio with a stream, in chunks");
    }
    // Each utterance through its own front end, then all of them in one batch.
    std::vector<std::vector<float>> features(n);
    std::vector<moeasr::UtteranceFeatures> batch;
    for (size_t i = 0; i < n; ++i) {
      const moeasr_audio& a = utterances[i];
      moeasr::FeaturePipeline front_end(m.model->config().fbank);
      front_end.set_keep_all(true);
      try {
        front_end.accept_waveform(a.samples, a.num_samples, a.sample_rate);
        front_end.input_finished();
      } catch (const moeasr::Error& e) {
        moeasr::throw_error(e.status(), "utterance ", i, ": ", e.what());
      }
      features[i] = front_end.all_frames();
      batch.push_back({features[i].data(), front_end.frames()});
    }
    const auto done = moeasr::decode_batch(*m.model, batch, d);
    // Convert everything first so a failure leaves no result behind.
    std::vector<std::unique_ptr<moeasr_result, moeasr_status (*)(moeasr_result*)>> results;
    for (const auto& r : done) results.emplace_back(moeasr::api::result_to_c(r->final_result()), moeasr_result_free);
    for (size_t i = 0; i < n; ++i) out_results[i] = results[i].release();
  });
}

}  // extern "C"
