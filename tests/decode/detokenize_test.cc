#include "decode/detokenize.h"

#include <gtest/gtest.h>

#include <random>

#include "test_util.h"

namespace moeasr {
namespace {

using test::status_of;

// A small mixed table: specials, CJK characters, upper-case BPE pieces (as in
// WeNet's LibriSpeech models), a bare word boundary, and two tokens with an
// ASCII space inside (units.txt allows them: the id is the last field).
const char kUnits[] =
    "<blank> 0\n"
    "<unk> 1\n"
    "\xe4\xbd\xa0 2\n"                 // 你
    "\xe5\xa5\xbd 3\n"                 // 好
    "\xe2\x96\x81HE 4\n"               // ▁HE
    "LLO 5\n"
    "\xe2\x96\x81WOR 6\n"              // ▁WOR
    "LD 7\n"
    "\xe2\x96\x81 8\n"                 // ▁
    "\xe2\x96\x81HI\xe2\x96\x81 9\n"   // ▁HI▁
    "<noise> 10\n"
    "\xe4\xb8\x96 \xe7\x95\x8c 11\n"   // "世 界"
    "A B 12\n"
    "'S 13\n"
    "< 14\n"
    "<sos/eos> 15\n";

class DetokenizeTest : public ::testing::Test {
 protected:
  SymbolTable units_ = SymbolTable::parse(kUnits, "units.txt");
};

TEST_F(DetokenizeTest, EmptySequenceGivesEmptyText) { EXPECT_EQ(detokenize({}, units_), ""); }

TEST_F(DetokenizeTest, JoinsCjkCharactersWithoutSpaces) {
  EXPECT_EQ(detokenize({2, 3}, units_), "\xe4\xbd\xa0\xe5\xa5\xbd");  // 你好
}

TEST_F(DetokenizeTest, BpeWordBoundariesBecomeSpacesAndTextIsLowercased) {
  EXPECT_EQ(detokenize({4, 5, 6, 7}, units_), "hello world");
  DetokenizeOptions keep_case;
  keep_case.lowercase = false;
  EXPECT_EQ(detokenize({4, 5, 6, 7}, units_, keep_case), "HELLO WORLD");
}

TEST_F(DetokenizeTest, BoundariesAreCollapsedAndTrimmed) {
  EXPECT_EQ(detokenize({8, 8, 4, 5, 8, 8, 6, 7, 8}, units_), "hello world");
  EXPECT_EQ(detokenize({9, 9}, units_), "hi hi");  // "▁HI▁▁HI▁"
  EXPECT_EQ(detokenize({8}, units_), "");
}

TEST_F(DetokenizeTest, MixedEnglishAndCjkFollowWenet) {
  // WeNet adds no space of its own between English and CJK; only a "▁" makes one.
  EXPECT_EQ(detokenize({2, 3, 4, 5, 2}, units_), "\xe4\xbd\xa0\xe5\xa5\xbd hello\xe4\xbd\xa0");
  EXPECT_EQ(detokenize({4, 5, 2, 3}, units_), "hello\xe4\xbd\xa0\xe5\xa5\xbd");
}

TEST_F(DetokenizeTest, AsciiSpacesSurviveOnlyBetweenEnglishWords) {
  EXPECT_EQ(detokenize({11}, units_), "\xe4\xb8\x96\xe7\x95\x8c");  // 世界
  EXPECT_EQ(detokenize({12}, units_), "a b");
  EXPECT_EQ(detokenize({12, 13}, units_), "a b's");
  // Whitespace splits "你A B好" into "你A" and "B好": not English words, so
  // WeNet joins them with no space.
  EXPECT_EQ(detokenize({2, 12, 3}, units_), "\xe4\xbd\xa0" "ab\xe5\xa5\xbd");
}

TEST_F(DetokenizeTest, SkipsSpecialTokens) {
  EXPECT_EQ(detokenize({0, 1, 2, 10, 3, 15}, units_), "\xe4\xbd\xa0\xe5\xa5\xbd");
  EXPECT_EQ(detokenize({4, 1, 5}, units_), "hello");
  EXPECT_EQ(detokenize({0, 1, 10, 15}, units_), "");
  EXPECT_EQ(detokenize({14, 2}, units_), "<\xe4\xbd\xa0");  // a lone "<" is text
  EXPECT_TRUE(is_special_token("<unk>"));
  EXPECT_TRUE(is_special_token("<sos/eos>"));
  EXPECT_FALSE(is_special_token("<"));
  EXPECT_FALSE(is_special_token("<>"));
  EXPECT_FALSE(is_special_token("a<b>"));
}

TEST_F(DetokenizeTest, RejectsOutOfRangeIds) {
  std::string msg;
  EXPECT_EQ(status_of([&] { detokenize({2, -1}, units_); }, &msg), MOEASR_ERR_INVALID_ARGUMENT);
  EXPECT_NE(msg.find("-1"), std::string::npos) << msg;
  EXPECT_EQ(status_of([&] { detokenize({units_.size()}, units_); }), MOEASR_ERR_INVALID_ARGUMENT);
}

TEST_F(DetokenizeTest, OutputIsAlwaysValidUtf8) {
  std::mt19937 rng(3);
  std::uniform_int_distribution<int> id(0, units_.size() - 1), len(0, 12);
  for (int trial = 0; trial < 500; ++trial) {
    std::vector<int> tokens(len(rng));
    for (int& t : tokens) t = id(rng);
    const std::string text = detokenize(tokens, units_);
    ASSERT_TRUE(is_valid_utf8(text)) << text;
    EXPECT_EQ(text.find("  "), std::string::npos) << text;
    if (!text.empty()) {
      EXPECT_NE(text.front(), ' ');
      EXPECT_NE(text.back(), ' ');
    }
  }
}

}  // namespace
}  // namespace moeasr
