// CUDA convolutions against kernels/cpu/conv (float32, tolerance 1e-4).
#include "kernels/cpu/conv.h"

#include "cuda/cuda_test_util.h"

namespace moeasr {
namespace {

using test::CudaTest;

class CudaConv : public CudaTest {};

TEST_F(CudaConv, Conv2dBatchesJobsOfDifferentLengths) {
  std::mt19937 rng(20);
  for (auto [f_in, c_in, c_out] : {std::tuple<int64_t, int64_t, int64_t>{80, 1, 16}, {19, 7, 5}}) {
    const int64_t f_out = (f_in - 3) / 2 + 1;
    const auto weight = test::randn(9 * c_in * c_out, rng, 0.3f), bias = test::randn(c_out, rng);
    cuda::Buffer dw = to_device(weight), db = to_device(bias);
    const std::vector<int> lengths = {7, 3, 2, 20, 0, 4};  // 2 and 0: too short for one output frame
    std::vector<std::vector<float>> inputs;
    std::vector<cuda::Buffer> din, dout;
    std::vector<cuda::Conv2dJob> jobs;
    for (int t_in : lengths) {
      inputs.push_back(test::randn(std::max(t_in, 1) * f_in * c_in, rng));
      din.push_back(to_device(inputs.back()));
      const int64_t t_out = t_in >= 3 ? (t_in - 3) / 2 + 1 : 0;
      dout.push_back(to_device(std::vector<float>(std::max<int64_t>(t_out, 1) * f_out * c_out, -7.f)));
      jobs.push_back({din.back().as<float>(), t_in, dout.back().as<float>()});
    }
    cuda::conv2d_3x3_s2_relu(ctx(), jobs, f_in, c_in, dw.as<float>(), db.as<float>(), c_out, ws_);
    for (size_t j = 0; j < lengths.size(); ++j) {
      const int t_in = lengths[j];
      const int64_t t_out = t_in >= 3 ? (t_in - 3) / 2 + 1 : 0;
      const auto got = to_host<float>(dout[j], std::max<int64_t>(t_out, 1) * f_out * c_out);
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
TEST_F(CudaConv, CausalDepthwiseConvCacheAcrossCallsEqualsOneCall) {
  std::mt19937 rng(21);
  const int64_t C = 24;
  const int kernel = 5, halo = kernel - 1;
  const auto w_t = test::randn(kernel * C, rng, 0.5f), bias = test::randn(C, rng);
  cuda::Buffer dw = to_device(w_t), db = to_device(bias);
  struct Stream {
    std::vector<float> cache0, f1, f2;
    int t1, t2;
    cuda::Buffer cache, d1, d2, o1, o2;
  };
  std::vector<Stream> streams(3);
  const int t1s[] = {3, 6, 0}, t2s[] = {7, 1, 2};
  for (size_t s = 0; s < streams.size(); ++s) {
    Stream& st = streams[s];
    st.t1 = t1s[s];
    st.t2 = t2s[s];
    st.cache0 = test::randn(halo * C, rng);
    st.f1 = test::randn(std::max(st.t1, 1) * C, rng);
    st.f2 = test::randn(std::max(st.t2, 1) * C, rng);
    st.cache = to_device(st.cache0);
    st.d1 = to_device(st.f1);
    st.d2 = to_device(st.f2);
    st.o1 = cuda::Buffer(ctx(), sizeof(float) * std::max(st.t1, 1) * C);
    st.o2 = cuda::Buffer(ctx(), sizeof(float) * std::max(st.t2, 1) * C);
  }
  for (int call = 0; call < 2; ++call) {
    std::vector<cuda::CausalConvJob> jobs;
    for (Stream& st : streams) {
      jobs.push_back({st.cache.as<float>(), (call == 0 ? st.d1 : st.d2).as<float>(), call == 0 ? st.t1 : st.t2,
                      (call == 0 ? st.o1 : st.o2).as<float>()});
    }
    cuda::causal_depthwise_conv(ctx(), jobs, C, dw.as<float>(), db.as<float>(), kernel, ws_);
  }
  for (Stream& st : streams) {
    std::vector<float> in = st.cache0;
    in.insert(in.end(), st.f1.begin(), st.f1.begin() + st.t1 * C);
    in.insert(in.end(), st.f2.begin(), st.f2.begin() + st.t2 * C);
    const int64_t t_total = st.t1 + st.t2;
    std::vector<float> want(std::max<int64_t>(t_total, 1) * C);
    cpu::depthwise_conv_time(in.data(), halo + t_total, C, w_t.data(), bias.data(), kernel, want.data());
    std::vector<float> got = to_host<float>(st.o1, st.t1 * C);
    const auto got2 = to_host<float>(st.o2, st.t2 * C);
    got.insert(got.end(), got2.begin(), got2.end());
    want.resize(t_total * C);
    test::expect_close(got, want, 1e-4, "causal conv output");
    const std::vector<float> cache_want(in.end() - halo * C, in.end());
    EXPECT_EQ(to_host<float>(st.cache, halo * C), cache_want) << "cache after two chunks";
  }
}

TEST_F(CudaConv, CausalDepthwiseConvWithoutBias) {
  std::mt19937 rng(22);
  const int64_t C = 8, t = 10;
  const int kernel = 3;
  const auto w_t = test::randn(kernel * C, rng), cache = test::randn((kernel - 1) * C, rng),
             frames = test::randn(t * C, rng);
  cuda::Buffer dw = to_device(w_t), dc = to_device(cache), df = to_device(frames), dout(ctx(), sizeof(float) * t * C);
  cuda::causal_depthwise_conv(ctx(), {{dc.as<float>(), df.as<float>(), static_cast<int32_t>(t), dout.as<float>()}},
                              C, dw.as<float>(), nullptr, kernel, ws_);
  std::vector<float> in = cache;
  in.insert(in.end(), frames.begin(), frames.end());
  std::vector<float> want(t * C);
  cpu::depthwise_conv_time(in.data(), t + kernel - 1, C, w_t.data(), nullptr, kernel, want.data());
  test::expect_close(to_host<float>(dout, t * C), want, 1e-4, "causal conv without bias");
}

}  // namespace
}  // namespace moeasr
