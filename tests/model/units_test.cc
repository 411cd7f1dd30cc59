#include "formats/units.h"

#include <gtest/gtest.h>

#include "model/test_configs.h"
#include "test_util.h"

namespace moeasr {
namespace {

using test::status_of;

moeasr_status parse_status(const std::string& text, std::string* msg = nullptr) {
  return status_of([&] { SymbolTable::parse(text, "units.txt"); }, msg);
}

TEST(UnitsTest, ParsesWenetUnits) {
  SymbolTable t = SymbolTable::parse(test::tiny_units(), "units.txt");
  EXPECT_EQ(t.size(), 10);
  EXPECT_EQ(t.token(0), "<blank>");
  EXPECT_EQ(t.token(6), "\xe4\xbd\xa0");
  EXPECT_EQ(t.id("<sos/eos>"), 9);
  EXPECT_EQ(t.token(10), "");
  EXPECT_EQ(t.id("zzz"), -1);
}

TEST(UnitsTest, AcceptsCrlfAndBlankLinesAndOutOfOrderIds) {
  SymbolTable t = SymbolTable::parse("b 1\r\n\r\na 0\r\n", "units.txt");
  EXPECT_EQ(t.size(), 2);
  EXPECT_EQ(t.token(0), "a");
  EXPECT_EQ(t.token(1), "b");
}

TEST(UnitsTest, RejectsMalformedTables) {
  std::string msg;
  EXPECT_EQ(parse_status("", &msg), MOEASR_ERR_FORMAT);
  EXPECT_EQ(parse_status("lonely\n", &msg), MOEASR_ERR_FORMAT);
  EXPECT_NE(msg.find("units.txt:1"), std::string::npos) << msg;
  EXPECT_EQ(parse_status("a 0\nb x\n", &msg), MOEASR_ERR_FORMAT);
  EXPECT_NE(msg.find("units.txt:2"), std::string::npos) << msg;
  EXPECT_EQ(parse_status("a 0\nb 0\n", &msg), MOEASR_ERR_FORMAT);
  EXPECT_NE(msg.find("duplicate id 0"), std::string::npos) << msg;
  EXPECT_EQ(parse_status("a 0\nb 2\n", &msg), MOEASR_ERR_FORMAT);
  EXPECT_NE(msg.find("largest id is 2"), std::string::npos) << msg;
  EXPECT_EQ(parse_status("a -1\n", &msg), MOEASR_ERR_FORMAT);
  EXPECT_EQ(parse_status("a 99999999999999\n", &msg), MOEASR_ERR_FORMAT);
}

TEST(UnitsTest, RejectsInvalidUtf8) {
  std::string msg;
  EXPECT_EQ(parse_status("ok 0\n\xff\xfe 1\n", &msg), MOEASR_ERR_FORMAT);
  EXPECT_NE(msg.find("UTF-8"), std::string::npos) << msg;
  EXPECT_FALSE(is_valid_utf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(is_valid_utf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(is_valid_utf8("\xe4\xbd"));          // truncated
  EXPECT_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));  // > U+10FFFF
  EXPECT_TRUE(is_valid_utf8("\xe2\x96\x81th\xf0\x9f\x98\x80"));
}

}  // namespace
}  // namespace moeasr
