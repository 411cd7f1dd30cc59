// The batched step every decode call is made of: one encoder forward over one
// chunk of each of several recognitions (on the model's device, by one
// worker), the CTC head, the log-probs brought to the host once, and each
// recognition consuming its rows (rows kept for rescoring on the device, the
// CTC prefix beam search on the host, in parallel with threads > 1).
#pragma once

#include <vector>

#include "runtime/recognition.h"

namespace moeasr {

// chunks[i] belongs to owners[i] (its state is owners[i]'s encoder state). A
// recognition's result never depends on the others in the step, except with
// `mixing` = kAcrossExamples for a model that mixes examples (the offline batch).
void run_step(const AsrModel& model, Worker& worker, std::vector<EncoderChunk>& chunks,
              const std::vector<Recognition*>& owners, DecodeProfile* profile, TokenMixing mixing);

}  // namespace moeasr
