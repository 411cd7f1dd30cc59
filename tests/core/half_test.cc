#include "core/half.h"

#include <gtest/gtest.h>

#include <cmath>
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
  // Every finite half round-trips through the compiler's own conversion.
  for (uint32_t h = 0; h < 0x10000; ++h) {
    if (((h >> 10) & 0x1F) == 0x1F) continue;
    _Float16 x;
    const uint16_t bits = static_cast<uint16_t>(h);
    std::memcpy(&x, &bits, 2);
    ASSERT_EQ(fp16_to_float(bits), static_cast<float>(x)) << h;
  }
}

TEST(HalfTest, Bf16ToFloat) {
  EXPECT_EQ(bf16_to_float(0x3F80), 1.f);
  EXPECT_EQ(bf16_to_float(0xC0A0), -5.f);
  EXPECT_EQ(bf16_to_float(0x7F80), std::numeric_limits<float>::infinity());
}

}  // namespace
}  // namespace moeasr
