// Word timing from a hypothesis: its tokens grouped into the words of its
// text, each with the time of its first token's CTC peak and the end of its
// last token's peak frame. Words follow the detokenizer (decode/detokenize.h):
//  - a token starting with "▁" (sentencepiece) starts a word; a bare "▁"
//    (a character model's space) only ends one;
//  - a token of non-ASCII characters without "▁" (a CJK character) is a
//    word of its own, as WeNet's runtime times them;
//  - other tokens continue the current word; tags like <unk> are skipped.
// Each word's text is detokenize() of its tokens, so for space-separated
// languages the words joined by spaces are the hypothesis's text.
#pragma once

#include <string>
#include <vector>

#include "formats/units.h"

namespace moeasr {

struct WordTiming {
  std::string text;
  int start_ms = 0;  // start of the first token's CTC peak frame
  int end_ms = 0;    // end of the last token's CTC peak frame
};

// `times_ms` holds one start time per token (or is empty: no words);
// `frame_ms` is the length of a CTC frame.
std::vector<WordTiming> word_timings(const std::vector<int>& tokens, const std::vector<int>& times_ms,
                                     const SymbolTable& units, int frame_ms);

}  // namespace moeasr
