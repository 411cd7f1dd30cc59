#include "decode/detokenize.h"

#include "core/error.h"

namespace moeasr {
namespace {

const char kWordBoundary[] = "\xe2\x96\x81";  // U+2581 LOWER ONE EIGHTH BLOCK

bool is_ascii_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; }
bool is_ascii_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// WeNet's CheckEnglishWord: every character an ASCII letter or apostrophe.
bool is_english_word(const std::string& word) {
  for (char c : word) {
    if (!is_ascii_alpha(c) && c != '\'') return false;
  }
  return true;
}

}  // namespace

bool is_special_token(const std::string& token) {
  return token.size() >= 3 && token.front() == '<' && token.back() == '>';
}

std::string detokenize(const std::vector<int>& tokens, const SymbolTable& units, const DetokenizeOptions& opts) {
  // 1. Join, dropping tags.
  std::string joined;
  for (int id : tokens) {
    MOEASR_CHECK(id >= 0 && id < units.size(), MOEASR_ERR_INVALID_ARGUMENT, "detokenize: token id ", id,
                 " is outside the symbol table (", units.size(), " units)");
    const std::string& token = units.token(id);
    if (!is_special_token(token)) joined += token;
  }

  // 2. Split on ASCII whitespace; keep a space only between English words.
  std::string spaced;
  bool prev_english = false;
  size_t pos = 0;
  while (pos < joined.size()) {
    while (pos < joined.size() && is_ascii_space(joined[pos])) ++pos;
    if (pos == joined.size()) break;
    size_t end = pos;
    while (end < joined.size() && !is_ascii_space(joined[end])) ++end;
    const std::string word = joined.substr(pos, end - pos);
    const bool english = is_english_word(word);
    if (prev_english && english) spaced += ' ';
    spaced += word;
    prev_english = english;
    pos = end;
  }

  // 3. Word boundaries become single spaces, none at the ends. The three bytes
  // of U+2581 cannot occur inside another character of valid UTF-8.
  std::string out;
  out.reserve(spaced.size());
  for (size_t i = 0; i < spaced.size();) {
    if (spaced.compare(i, 3, kWordBoundary) == 0) {
      if (!out.empty() && out.back() != ' ') out += ' ';
      i += 3;
    } else {
      out += spaced[i++];
    }
  }
  if (!out.empty() && out.back() == ' ') out.pop_back();

  // 4. Lowercase ASCII letters.
  if (opts.lowercase) {
    for (char& c : out) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return out;
}

}  // namespace moeasr
