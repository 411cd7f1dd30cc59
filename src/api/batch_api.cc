// C API: the offline batch (moeasr_decode_batch).
#include <algorithm>
#include <memory>
#include <vector>

#include "api/handles.h"
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

    std::vector<std::unique_ptr<moeasr::Stream>> owned;
    std::vector<moeasr::Stream*> batch;
    for (size_t i = 0; i < n; ++i) {
      const moeasr_audio& a = utterances[i];
      owned.push_back(moeasr::Stream::for_offline_batch(m.model, d));
      try {
        owned.back()->accept_waveform(a.samples, a.num_samples, a.sample_rate);
        owned.back()->input_finished();
      } catch (const moeasr::Error& e) {
        moeasr::throw_error(e.status(), "utterance ", i, ": ", e.what());
      }
      batch.push_back(owned.back().get());
    }
    moeasr::decode_batch(batch);
    // Convert everything first so a failure leaves no result behind.
    std::vector<std::unique_ptr<moeasr_result, moeasr_status (*)(moeasr_result*)>> results;
    for (moeasr::Stream* s : batch) results.emplace_back(moeasr::api::result_to_c(s->final_result()), moeasr_result_free);
    for (size_t i = 0; i < n; ++i) out_results[i] = results[i].release();
  });
}

}  // extern "C"
