#include "runtime/offline_batch.h"

#include "core/parallel.h"

#include "core/error.h"
#include "runtime/decode_step.h"

namespace moeasr {

std::vector<std::unique_ptr<Recognition>> decode_batch(const AsrModel& model,
                                                       const std::vector<UtteranceFeatures>& utterances,
                                                       const DecodeOptions& options, bool keep_debug,
                                                       DecodeProfile* profile) {
  std::vector<std::unique_ptr<Recognition>> out;
  if (utterances.empty()) return out;
  DecodeOptions full = options;
  full.chunk_size = -1;  // complete utterances, full attention
  // Every utterance keeps its place, even one too short for an encoder frame:
  // the cross-example groups are sets of G consecutive utterances.
  std::vector<EncoderChunk> chunks;
  std::vector<Recognition*> owners;
  for (size_t i = 0; i < utterances.size(); ++i) {
    const UtteranceFeatures& u = utterances[i];
    MOEASR_CHECK(u.num_frames >= 0 && (u.frames || u.num_frames == 0), MOEASR_ERR_INVALID_ARGUMENT, "utterance ",
                 i, ": bad feature frames");
    const double seconds = static_cast<double>(u.num_frames) * model.config().fbank.frame_shift_ms / 1000.0;
    MOEASR_CHECK(seconds <= kMaxFullAttentionSeconds, MOEASR_ERR_UNSUPPORTED, "utterance ", i, " has ", seconds,
                 " s of audio; the offline batch decodes with full attention, which takes at most ",
                 kMaxFullAttentionSeconds, " s per utterance: decode long audio with a stream, in chunks");
    out.push_back(std::make_unique<Recognition>(model, full));
    out.back()->set_keep_debug(keep_debug);
    EncoderChunk c;
    c.features = u.frames;
    c.num_frames = u.num_frames;
    c.state = &out.back()->encoder_state();
    chunks.push_back(c);
    owners.push_back(out.back().get());
  }
  set_intra_op_threads(model.options().threads);
  auto worker = model.workers().acquire();
  run_step(model, *worker, chunks, owners, profile, TokenMixing::kAcrossExamples);
  for (Recognition* r : owners) r->finalize(*worker, profile);
  return out;
}

}  // namespace moeasr
