// The convolutions of the Backend table on every test device against
// kernels/cpu/conv's "valid" convolutions (themselves checked against naive
// loops in tests/kernels/conv_test.cc): float32, tolerance 1e-4.
#include "kernels/cpu/conv.h"
#include "ops/op_test_util.h"

namespace moeasr {
namespace {

using test::randn;

class ConvOp : public test::OpTest {};

TEST_P(ConvOp, Conv2dBatchesJobsOfDifferentLengths) {
  std::mt19937 rng(20);
  for (auto [f_in, c_in, c_out] : {std::tuple<int64_t, int64_t, int64_t>{80, 1, 16}, {19, 7, 5}}) {
    const int64_t f_out = (f_in - 3) / 2 + 1;
    const auto weight = randn(9 * c_in * c_out, rng, 0.3f), bias = randn(c_out, rng);
    Tensor dw = dev(weight), db = dev(bias);
    const std::vector<int> lengths = {7, 3, 2, 20, 0, 4};  // 2 and 0: too short for one output frame
    std::vector<std::vector<float>> inputs;
    std::vector<Tensor> din, dout;
    std::vector<Conv2dJob> jobs;
    for (int t_in : lengths) {
      inputs.push_back(randn(std::max(t_in, 1) * f_in * c_in, rng));
      din.push_back(dev(inputs.back()));
      const int64_t t_out = t_in >= 3 ? (t_in - 3) / 2 + 1 : 0;
      dout.push_back(dev(std::vector<float>(std::max<int64_t>(t_out, 1) * f_out * c_out, -7.f)));
      jobs.push_back({f(din.back()), t_in, f(dout.back())});
    }
    be().conv2d_3x3_s2_relu(jobs, f_in, c_in, f(dw), f(db), c_out);
    for (size_t j = 0; j < lengths.size(); ++j) {
      const int t_in = lengths[j];
      const int64_t t_out = t_in >= 3 ? (t_in - 3) / 2 + 1 : 0;
      const auto got = host(dout[j], std::max<int64_t>(t_out, 1) * f_out * c_out);
      if (t_out == 0) {
        EXPECT_EQ(got, std::vector<float>(f_out * c_out, -7.f)) << "job " << j << " (t_in " << t_in << ") was written";
        continue;
      }
      std::vector<float> want(t_out * f_out * c_out), im2col;
      cpu::conv2d_3x3_s2_relu(inputs[j].data(), t_in, f_in, c_in, weight.data(), bias.data(), c_out, want.data(),
                              im2col);
      test::expect_close(got, want, 1e-4, "conv2d");
    }
  }
}

// [cache; frames] for two chunks in two calls equals one convolution over the
// concatenation, and the cache ends as its last kernel - 1 rows. The first
// chunk is shorter than the cache (new cache rows come from the old cache).
TEST_P(ConvOp, CausalDepthwiseConvCacheAcrossCallsEqualsOneCall) {
  std::mt19937 rng(21);
  const int64_t C = 24;
  const int kernel = 5, halo = kernel - 1;
  const auto w_t = randn(kernel * C, rng, 0.5f), bias = randn(C, rng);
  Tensor dw = dev(w_t), db = dev(bias);
  struct Stream {
    std::vector<float> cache0, f1, f2;
    int t1, t2;
    Tensor cache, d1, d2, o1, o2;
  };
  std::vector<Stream> streams(3);
  const int t1s[] = {3, 6, 0}, t2s[] = {7, 1, 2};
  for (size_t s = 0; s < streams.size(); ++s) {
    Stream& st = streams[s];
    st.t1 = t1s[s];
    st.t2 = t2s[s];
    st.cache0 = randn(halo * C, rng);
    st.f1 = randn(std::max(st.t1, 1) * C, rng);
    st.f2 = randn(std::max(st.t2, 1) * C, rng);
    st.cache = dev(st.cache0);
    st.d1 = dev(st.f1);
    st.d2 = dev(st.f2);
    st.o1 = dev_zeros(std::max(st.t1, 1) * C);
    st.o2 = dev_zeros(std::max(st.t2, 1) * C);
  }
  for (int call = 0; call < 2; ++call) {
    std::vector<DepthwiseConvJob> jobs;
    for (Stream& st : streams) {
      jobs.push_back({f(st.cache), f(call == 0 ? st.d1 : st.d2), call == 0 ? st.t1 : st.t2, 0, 0,
                      f(call == 0 ? st.o1 : st.o2)});
    }
    be().depthwise_conv(jobs, C, f(dw), f(db), kernel);
  }
  for (Stream& st : streams) {
    std::vector<float> in = st.cache0;
    in.insert(in.end(), st.f1.begin(), st.f1.begin() + st.t1 * C);
    in.insert(in.end(), st.f2.begin(), st.f2.begin() + st.t2 * C);
    const int64_t t_total = st.t1 + st.t2;
    std::vector<float> want(std::max<int64_t>(t_total, 1) * C);
    cpu::depthwise_conv_time(in.data(), halo + t_total, C, w_t.data(), bias.data(), kernel, want.data());
    std::vector<float> got = host(st.o1, st.t1 * C);
    const auto got2 = host(st.o2, st.t2 * C);
    got.insert(got.end(), got2.begin(), got2.end());
    want.resize(t_total * C);
    test::expect_close(got, want, 1e-4, "causal conv output");
    const std::vector<float> cache_want(in.end() - halo * C, in.end());
    EXPECT_EQ(host(st.cache, halo * C), cache_want) << "cache after two chunks";
  }
}

// The centred (non-causal) convolution: zero padding of (kernel - 1) / 2 on
// both sides, no cache, equals the "valid" convolution of the padded frames.
TEST_P(ConvOp, CentredDepthwiseConvPadsBothSidesWithZeros) {
  std::mt19937 rng(23);
  const int64_t C = 10;
  for (int kernel : {1, 3, 15}) {
    const int pad = (kernel - 1) / 2;
    const auto w_t = randn(kernel * C, rng), bias = randn(C, rng);
    Tensor dw = dev(w_t), db = dev(bias);
    std::vector<std::vector<float>> frames;
    std::vector<Tensor> din, dout;
    std::vector<DepthwiseConvJob> jobs;
    for (int t : {1, 9, 20}) {
      frames.push_back(randn(t * C, rng));
      din.push_back(dev(frames.back()));
      dout.push_back(dev_zeros(t * C));
      jobs.push_back({nullptr, f(din.back()), t, pad, pad, f(dout.back())});
    }
    be().depthwise_conv(jobs, C, f(dw), f(db), kernel);
    for (size_t j = 0; j < frames.size(); ++j) {
      const int64_t t = static_cast<int64_t>(frames[j].size()) / C;
      std::vector<float> in(pad * C, 0.f);
      in.insert(in.end(), frames[j].begin(), frames[j].end());
      in.insert(in.end(), pad * C, 0.f);
      std::vector<float> want(t * C);
      cpu::depthwise_conv_time(in.data(), t + 2 * pad, C, w_t.data(), bias.data(), kernel, want.data());
      test::expect_close(host(dout[j], t * C), want, 1e-4, "centred conv");
    }
  }
}

TEST_P(ConvOp, CausalDepthwiseConvWithoutBias) {
  std::mt19937 rng(22);
  const int64_t C = 8, t = 10;
  const int kernel = 3;
  const auto w_t = randn(kernel * C, rng), cache = randn((kernel - 1) * C, rng), frames = randn(t * C, rng);
  Tensor dw = dev(w_t), dc = dev(cache), df = dev(frames), dout = dev_zeros(t * C);
  be().depthwise_conv({{f(dc), f(df), static_cast<int32_t>(t), 0, 0, f(dout)}}, C, f(dw), nullptr, kernel);
  std::vector<float> in = cache;
  in.insert(in.end(), frames.begin(), frames.end());
  std::vector<float> want(t * C);
  cpu::depthwise_conv_time(in.data(), t + kernel - 1, C, w_t.data(), nullptr, kernel, want.data());
  test::expect_close(host(dout, t * C), want, 1e-4, "causal conv without bias");
}

MOEASR_OP_TEST_DEVICES(ConvOp);

}  // namespace
}  // namespace moeasr
