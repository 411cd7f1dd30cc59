#include "decode/words.h"

#include <gtest/gtest.h>

#include "decode/detokenize.h"

namespace moeasr {
namespace {

const char kUnits[] =
    "<blank> 0\n"
    "<unk> 1\n"
    "\xe4\xbd\xa0 2\n"    // 你
    "\xe5\xa5\xbd 3\n"    // 好
    "\xe2\x96\x81HE 4\n"  // ▁HE
    "LLO 5\n"
    "\xe2\x96\x81WOR 6\n"  // ▁WOR
    "LD 7\n"
    "\xe2\x96\x81 8\n"  // ▁
    "a 9\n"
    "b 10\n";

std::string joined(const std::vector<WordTiming>& words) {
  std::string s;
  for (const WordTiming& w : words) s += (s.empty() ? "" : "|") + w.text;
  return s;
}

TEST(WordTimings, BpePiecesCharactersAndCjk) {
  const SymbolTable units = SymbolTable::parse(kUnits, "units.txt");
  // ▁HE LLO <unk> ▁WOR LD: two words; the tag is skipped.
  auto w = word_timings({4, 5, 1, 6, 7}, {0, 40, 80, 120, 200}, units, 40);
  ASSERT_EQ(joined(w), "hello|world");
  EXPECT_EQ(w[0].start_ms, 0);
  EXPECT_EQ(w[0].end_ms, 80);
  EXPECT_EQ(w[1].start_ms, 120);
  EXPECT_EQ(w[1].end_ms, 240);
  // A character model: "▁" ends a word and belongs to none.
  w = word_timings({9, 10, 8, 10, 9}, {0, 40, 80, 120, 160}, units, 40);
  ASSERT_EQ(joined(w), "ab|ba");
  EXPECT_EQ(w[1].start_ms, 120);
  EXPECT_EQ(w[1].end_ms, 200);
  // CJK characters are words of their own, also next to English.
  w = word_timings({2, 3, 4, 5}, {0, 40, 80, 120}, units, 40);
  ASSERT_EQ(joined(w), "\xe4\xbd\xa0|\xe5\xa5\xbd|hello");
  EXPECT_EQ(w[1].start_ms, 40);
  EXPECT_EQ(w[1].end_ms, 80);
  // Without timestamps there are no words; nothing for an empty hypothesis.
  EXPECT_TRUE(word_timings({4, 5}, {}, units, 40).empty());
  EXPECT_TRUE(word_timings({}, {}, units, 40).empty());
  EXPECT_TRUE(word_timings({8, 1}, {0, 40}, units, 40).empty());
}

// For space-separated text the words are the text's words.
TEST(WordTimings, WordsJoinToTheText) {
  const SymbolTable units = SymbolTable::parse(kUnits, "units.txt");
  const std::vector<int> tokens = {4, 5, 8, 9, 10, 6, 7, 8, 8, 10};
  std::vector<int> times;
  for (size_t i = 0; i < tokens.size(); ++i) times.push_back(static_cast<int>(i) * 40);
  std::string spaced;
  for (const WordTiming& w : word_timings(tokens, times, units, 40)) spaced += (spaced.empty() ? "" : " ") + w.text;
  EXPECT_EQ(spaced, detokenize(tokens, units));
}

}  // namespace
}  // namespace moeasr
