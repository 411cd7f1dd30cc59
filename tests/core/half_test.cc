#include "core/half.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

namespace moeasr {
namespace {

TEST(HalfTest, Fp16ToFloat) {
  EXPECT_EQ(fp16_to_float(0x3C00), 1.f);
  EXPECT_EQ(fp16_to_float(0xC000), -2.f);
  EXPECT_EQ(fp16_to_float(0x7BFF), 65504.f);
  EXPECT_EQ(fp16_to_float(0x0001), std::ldexp(1.f, -24));  // smallest subnormal
  EXPECT_EQ(fp16_to_float(0x03FF), std::ldexp(1023.f, -24));
  EXPECT_EQ(fp16_to_float(0x8000), -0.f);
  EXPECT_TRUE(std::signbit(fp16_to_float(0x8000)));
  EXPECT_EQ(fp16_to_float(0x7C00), std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(fp16_to_float(0x7E00)));
  // Every finite half equals the value its fields define, and rounds back to itself.
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const uint32_t e = (h >> 10) & 0x1F, m = h & 0x3FF;
    if (e == 0x1F) continue;
    const double magnitude = e == 0 ? std::ldexp(static_cast<double>(m), -24) : std::ldexp(1024.0 + m, static_cast<int>(e) - 25);
    const float want = static_cast<float>((h & 0x8000) ? -magnitude : magnitude);
    const uint16_t bits = static_cast<uint16_t>(h);
    ASSERT_EQ(fp16_to_float(bits), want) << h;
    ASSERT_TRUE(float_to_fp16(want) == bits || (want == 0.f && (float_to_fp16(want) & 0x7FFF) == 0)) << h;
  }
}

TEST(HalfTest, FloatToFp16RoundsToNearestEven) {
  EXPECT_EQ(float_to_fp16(1.f), 0x3C00);
  EXPECT_EQ(float_to_fp16(1.f + std::ldexp(1.f, -11)), 0x3C00);   // halfway to the next half: to even
  EXPECT_EQ(float_to_fp16(1.f + std::ldexp(3.f, -11)), 0x3C02);   // halfway from odd: up to even
  EXPECT_EQ(float_to_fp16(1.f + std::ldexp(1.1f, -11)), 0x3C01);  // past halfway: up
  EXPECT_EQ(float_to_fp16(65504.f), 0x7BFF);
  EXPECT_EQ(float_to_fp16(65519.f), 0x7BFF);
  EXPECT_EQ(float_to_fp16(65520.f), 0x7C00);  // rounds past the largest half: infinity
  EXPECT_EQ(float_to_fp16(-std::numeric_limits<float>::infinity()), 0xFC00);
  EXPECT_TRUE(std::isnan(fp16_to_float(float_to_fp16(std::nanf("")))));
  EXPECT_EQ(float_to_fp16(std::ldexp(1.f, -24)), 0x0001);          // smallest subnormal
  EXPECT_EQ(float_to_fp16(std::ldexp(1.f, -25)), 0x0000);          // half of it: to even (zero)
  EXPECT_EQ(float_to_fp16(std::ldexp(1.5f, -25)), 0x0001);
  EXPECT_EQ(float_to_fp16(std::ldexp(3.f, -25)), 0x0002);          // 1.5 units: to even
  EXPECT_EQ(float_to_fp16(-0.f), 0x8000);
}

TEST(HalfTest, Bf16ToFloat) {
  EXPECT_EQ(bf16_to_float(0x3F80), 1.f);
  EXPECT_EQ(bf16_to_float(0xC0A0), -5.f);
  EXPECT_EQ(bf16_to_float(0x7F80), std::numeric_limits<float>::infinity());
}

}  // namespace
}  // namespace moeasr
