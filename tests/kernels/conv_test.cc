#include "kernels/cpu/conv.h"

#include <gtest/gtest.h>

#include "kernels/naive.h"

namespace moeasr {
namespace {

TEST(ConvKernel, DepthwiseTimeMatchesNaive) {
  const int64_t t_in = 11, ch = 6;
  const int kernel = 4;
  std::mt19937 rng(3);
  auto in = test::random_vector(t_in * ch, rng), w_t = test::random_vector(kernel * ch, rng);
  auto bias = test::random_vector(ch, rng);
  std::vector<float> out((t_in - kernel + 1) * ch);
  cpu::depthwise_conv_time(in.data(), t_in, ch, w_t.data(), bias.data(), kernel, out.data());
  std::vector<double> ref(out.size());
  for (int64_t t = 0; t + kernel <= t_in; ++t) {
    for (int64_t c = 0; c < ch; ++c) {
      double s = bias[c];
      for (int j = 0; j < kernel; ++j) s += double(w_t[j * ch + c]) * in[(t + j) * ch + c];
      ref[t * ch + c] = s;
    }
  }
  EXPECT_LT(test::max_abs_diff(out.data(), ref), 1e-5);
}

TEST(ConvKernel, Conv2dStride2MatchesNaive) {
  const int64_t t_in = 9, f_in = 12, c_in = 3, c_out = 5;
  const int64_t t_out = (t_in - 3) / 2 + 1, f_out = (f_in - 3) / 2 + 1;
  std::mt19937 rng(4);
  auto in = test::random_vector(t_in * f_in * c_in, rng);
  auto w = test::random_vector(c_out * 9 * c_in, rng);  // [3, 3, c_in, c_out]
  auto b = test::random_vector(c_out, rng);
  std::vector<float> out(t_out * f_out * c_out), im2col;
  cpu::conv2d_3x3_s2_relu(in.data(), t_in, f_in, c_in, w.data(), b.data(), c_out, out.data(), im2col);
  std::vector<double> ref(out.size());
  for (int64_t t = 0; t < t_out; ++t) {
    for (int64_t f = 0; f < f_out; ++f) {
      for (int64_t o = 0; o < c_out; ++o) {
        double s = b[o];
        for (int kt = 0; kt < 3; ++kt) {
          for (int kf = 0; kf < 3; ++kf) {
            for (int64_t i = 0; i < c_in; ++i) {
              s += double(w[((kt * 3 + kf) * c_in + i) * c_out + o]) * in[((2 * t + kt) * f_in + 2 * f + kf) * c_in + i];
            }
          }
        }
        ref[(t * f_out + f) * c_out + o] = std::max(0.0, s);
      }
    }
  }
  EXPECT_LT(test::max_abs_diff(out.data(), ref), 1e-5);
}

}  // namespace
}  // namespace moeasr
