// The offline batch API: complete utterances decoded together with full
// attention, for models trained with cross-example token mixing (and usable
// with any model).
#pragma once

#include <vector>

#include "runtime/stream.h"

namespace moeasr {

// The offline batch: complete utterances (streams from Stream::for_offline_batch
// whose input is finished, all of one model) decoded together in ONE batched
// full-attention forward, then searched and rescored; every stream is done
// afterwards. A Mixture-of-Tokens model with mot_grouping: cross_example groups
// the utterances as it was trained: streams jG .. jG+G-1, in the order given,
// form set j (the last set completed with masked, absent examples), and the
// tokens at position t of a set are mixed; so a stream's result depends on
// the others of its set. This is the only place where that happens, and only
// because the caller asked for a batch. With any other model each stream gets
// the result it gets alone with full attention.
void decode_batch(const std::vector<Stream*>& streams, DecodeProfile* profile = nullptr);

}  // namespace moeasr
