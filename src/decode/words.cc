#include "decode/words.h"

#include "decode/detokenize.h"

namespace moeasr {

namespace {

const std::string kWordBoundary = "\xe2\x96\x81";  // U+2581

bool starts_with_boundary(const std::string& token) { return token.compare(0, 3, kWordBoundary) == 0; }

bool has_non_ascii(const std::string& token) {
  for (char c : token) {
    if (static_cast<unsigned char>(c) >= 0x80) return true;
  }
  return false;
}

}  // namespace

std::vector<WordTiming> word_timings(const std::vector<int>& tokens, const std::vector<int>& times_ms,
                                     const SymbolTable& units, int frame_ms) {
  std::vector<WordTiming> words;
  if (times_ms.size() != tokens.size()) return words;
  std::vector<int> current;
  int start = 0, end = 0;
  auto close = [&] {
    if (current.empty()) return;
    std::string text = detokenize(current, units);
    if (!text.empty()) words.push_back({std::move(text), start, end});
    current.clear();
  };
  for (size_t i = 0; i < tokens.size(); ++i) {
    const std::string& token = units.token(tokens[i]);
    if (is_special_token(token)) continue;
    if (token == kWordBoundary) {
      close();
      continue;
    }
    const bool own_word = !starts_with_boundary(token) && has_non_ascii(token);
    if (starts_with_boundary(token) || own_word) close();
    if (current.empty()) start = times_ms[i];
    current.push_back(tokens[i]);
    end = times_ms[i] + frame_ms;
    if (own_word) close();
  }
  close();
  return words;
}

}  // namespace moeasr
