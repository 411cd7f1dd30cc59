// Token ids -> result text, the way WeNet's C++ runtime post-processes a CTC
// prefix beam search result (runtime/core/decoder/asr_decoder.cc joins the
// tokens with no separator; post_processor/post_processor.cc with its default
// options, language_type kMandarinEnglish and lowercase on, cleans it up):
//
//  1. Tokens of the form "<...>" are dropped: <blank>, <unk>, <sos/eos>,
//     <context>, non-language symbols such as <noise>. WeNet deletes only
//     "<unk>", "<context>" and "</context>" (it would print a stray
//     "<sos/eos>" or "<noise>"); no such tag belongs in a transcript, so we
//     drop them all. Only whole tokens are dropped, never parts of one.
//  2. ASCII whitespace inside the joined tokens is removed, except that two
//     English words (ASCII letters and apostrophes only) keep one space
//     between them. So CJK characters are never separated.
//  3. Every "▁" (U+2581, the sentencepiece word boundary) becomes a space;
//     leading, trailing and repeated spaces are dropped. WeNet inserts no
//     space between an English word and a CJK character by itself: "▁HI",
//     "你" gives "hi你", while "你", "▁HI" gives "你 hi".
//  4. Lowercase (WeNet's default; DetokenizeOptions::lowercase = false keeps
//     case). Only A-Z: WeNet lowercases through the process's C++ locale, so
//     what it does to other letters depends on the environment; we stay
//     locale-independent.
//
// The output is valid UTF-8: SymbolTable only holds valid UTF-8 tokens and
// the steps above only remove whole characters or change ASCII bytes.
#pragma once

#include <string>
#include <vector>

#include "formats/units.h"

namespace moeasr {

struct DetokenizeOptions {
  bool lowercase = true;
};

// Throws Error(MOEASR_ERR_INVALID_ARGUMENT) for an id outside the table.
std::string detokenize(const std::vector<int>& tokens, const SymbolTable& units,
                       const DetokenizeOptions& opts = DetokenizeOptions());

// True for tokens of the form "<...>" (skipped by detokenize).
bool is_special_token(const std::string& token);

}  // namespace moeasr
