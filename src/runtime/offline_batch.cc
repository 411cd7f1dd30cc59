#include "runtime/offline_batch.h"

#include <omp.h>

#include <set>

#include "core/error.h"

namespace moeasr {

void decode_batch(const std::vector<Stream*>& streams, DecodeProfile* profile) {
  if (streams.empty()) return;
  const AsrModel& model = streams[0]->model();
  std::set<const Stream*> seen;
  for (size_t i = 0; i < streams.size(); ++i) {
    const Stream* s = streams[i];
    MOEASR_CHECK(s, MOEASR_ERR_INVALID_ARGUMENT, "utterance ", i, ": null stream");
    MOEASR_CHECK(seen.insert(s).second, MOEASR_ERR_INVALID_ARGUMENT, "utterance ", i, ": stream appears twice");
    MOEASR_CHECK(&s->model() == &model, MOEASR_ERR_INVALID_ARGUMENT, "utterance ", i, ": another model");
    MOEASR_CHECK(s->offline_batch_, MOEASR_ERR_INVALID_ARGUMENT, "utterance ", i,
                 ": not an offline batch stream (Stream::for_offline_batch)");
    MOEASR_CHECK(s->state_ == Stream::State::kFinishing, MOEASR_ERR_STATE, "utterance ", i,
                 s->state_ == Stream::State::kDone ? ": already decoded" : ": its input is not finished");
  }
  omp_set_num_threads(model.options().threads);
  // Every utterance keeps its place, even one too short for an encoder frame:
  // the cross-example groups are sets of G consecutive utterances.
  std::vector<EncoderChunk> chunks;
  std::vector<Stream*> owners(streams.begin(), streams.end());
  for (Stream* s : owners) chunks.push_back(s->next_chunk());
  Stream::step(owners, chunks, profile, TokenMixing::kAcrossExamples);
  for (Stream* s : owners) s->finalize(profile);
}

}  // namespace moeasr
