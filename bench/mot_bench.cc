// moeasr-mot-bench: Mixture of Tokens vs top-k MoE vs a dense FFN at equal
// parameter count, per-token cost on the CPU. For each shape (d, hidden per
// expert, E experts) every variant holds FFN weights of the same shapes -- E
// experts of `hidden` units (MoT, MoE; plus a [E, d] controller / router) or
// one FFN of E * hidden units (dense) -- and runs on the same n tokens:
//   dense      every token through the whole E * hidden FFN (E expert-equivalents)
//   moe k=K    top-K token choice, the runtime's grouped path (K experts per token)
//   mot G=G    groups of G tokens at the same position of G examples, as the
//              offline batch forms them; every expert once per group (E / G);
//              the runtime's layer (nn/mot_ffn.h) on random weights
// Variants are measured in one process, interleaved round by round
// (dense, moe, ..., mot, dense, moe, ...), and compared through the ratio of
// their median times, so machine noise that lasts longer than a round cancels.
// One thread by default (--threads).
//   moeasr-mot-bench [--shape d,hidden,E]... [--tokens N]... [--rounds R]
//                    [--moe-k 1,2] [--mot-g 4,8,32] [--threads T] [--json]
#include "core/parallel.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/gemm.h"
#include "formats/random_model.h"
#include "kernels/cpu/moe.h"
#include "nn/mot_ffn.h"

namespace {

using moeasr::Activation;
using moeasr::ExpertWeights;
using moeasr::MoeView;
using moeasr::WeightMatrix;
using moeasr::WeightType;
using nlohmann::json;
namespace cpu = moeasr::cpu;
using Clock = std::chrono::steady_clock;

constexpr char kUsage[] = R"(moeasr-mot-bench: MoT vs top-k MoE vs dense FFN at equal parameter count

  --shape d,hidden,E   layer shape: model width, units per expert, experts (repeatable;
                       default 256,2048,8 (WeNet aishell FFN) and 704,2816,8 (MoE-1B))
  --tokens N           tokens per call (repeatable; default 128 and 1024)
  --moe-k LIST         top-k values for the MoE (default 1,2)
  --mot-g LIST         MoT group sizes (default 4,8,32)
  --rounds R           interleaved rounds; each variant's median is taken (default 7)
  --min-ms MS          each timed sample repeats its call until it lasts MS (default 50)
  --threads T          OpenMP threads (default 1)
  --json               one JSON object on stdout instead of tables
)";

std::vector<float> uniform(size_t n, std::mt19937& rng, float scale) {
  std::uniform_real_distribution<float> u(-scale, scale);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng);
  return v;
}

struct Shape {
  int64_t d, hidden;
  int experts;
};

// E experts without biases (MoT's default; the MoE uses the same weights)
// and a router / controller, plus the dense FFN of E * hidden units.
struct Weights {
  explicit Weights(const Shape& s) {
    std::mt19937 rng(1);
    const float s1 = 1.f / std::sqrt(static_cast<float>(s.d)), s2 = 1.f / std::sqrt(static_cast<float>(s.hidden));
    router = uniform(s.experts * s.d, rng, s1);
    for (int e = 0; e < s.experts; ++e) {
      w1.push_back(uniform(s.hidden * s.d, rng, s1));
      w2.push_back(uniform(s.d * s.hidden, rng, s2));
    }
    for (int e = 0; e < s.experts; ++e) {
      experts.push_back({WeightMatrix{WeightType::kF32, s.hidden, s.d, w1[e].data(), nullptr, nullptr}, nullptr,
                         WeightMatrix{WeightType::kF32, s.d, s.hidden, w2[e].data(), nullptr, nullptr},
                         nullptr});
    }
    // The dense FFN: the experts' rows stacked (w1 [E * hidden, d]), and w2 [d, E * hidden].
    const int64_t H = s.hidden * s.experts;
    dense_w1.resize(H * s.d);
    dense_w2.resize(s.d * H);
    for (int e = 0; e < s.experts; ++e) {
      std::copy(w1[e].begin(), w1[e].end(), dense_w1.begin() + e * s.hidden * s.d);
      for (int64_t r = 0; r < s.d; ++r) {
        std::copy(w2[e].begin() + r * s.hidden, w2[e].begin() + (r + 1) * s.hidden,
                  dense_w2.begin() + r * H + e * s.hidden);
      }
    }
  }
  std::vector<float> router, dense_w1, dense_w2;
  std::vector<std::vector<float>> w1, w2;
  std::vector<ExpertWeights> experts;
};

// One measured variant: a call over the n tokens and what it costs on paper.
struct Variant {
  Variant(std::string name, double experts_per_token, double flops_per_token, std::function<void()> run)
      : name(std::move(name)),
        experts_per_token(experts_per_token),
        flops_per_token(flops_per_token),
        run(std::move(run)) {}
  std::string name;
  double experts_per_token = 0;  // expert-sized FFN evaluations per token
  double flops_per_token = 0;    // multiply-adds x 2, router / mixing included
  std::function<void()> run;
  std::vector<double> samples_ms;  // per call
  double median_ms() const {
    std::vector<double> s = samples_ms;
    std::sort(s.begin(), s.end());
    return s[s.size() / 2];
  }
};

// Milliseconds per call: repeats `run` until `min_ms` has passed.
double time_call(const std::function<void()>& run, double min_ms) {
  int calls = 0;
  const auto start = Clock::now();
  double elapsed = 0;
  do {
    run();
    ++calls;
    elapsed = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  } while (elapsed < min_ms);
  return elapsed / calls;
}

std::vector<int64_t> parse_list(const std::string& s) {
  std::vector<int64_t> v;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) v.push_back(std::stoll(item));
  return v;
}

[[noreturn]] void usage_error(const std::string& msg) {
  std::cerr << "moeasr-mot-bench: " << msg << "\n\n" << kUsage;
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<Shape> shapes;
  std::vector<int64_t> tokens, moe_k{1, 2}, mot_g{4, 8, 32};
  int rounds = 7, threads = 1;
  double min_ms = 50;
  bool json_out = false;
  for (int i = 1; i < argc; ++i) {
    const std::string f = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage_error(f + " needs a value");
      return argv[++i];
    };
    try {
      if (f == "--shape") {
        const std::vector<int64_t> v = parse_list(value());
        if (v.size() != 3 || v[0] <= 0 || v[1] <= 0 || v[2] <= 0) usage_error("--shape wants d,hidden,E");
        shapes.push_back({v[0], v[1], static_cast<int>(v[2])});
      } else if (f == "--tokens") {
        tokens.push_back(std::stoll(value()));
      } else if (f == "--moe-k") {
        moe_k = parse_list(value());
      } else if (f == "--mot-g") {
        mot_g = parse_list(value());
      } else if (f == "--rounds") {
        rounds = std::stoi(value());
      } else if (f == "--min-ms") {
        min_ms = std::stod(value());
      } else if (f == "--threads") {
        threads = std::stoi(value());
      } else if (f == "--json") {
        json_out = true;
      } else if (f == "--help" || f == "-h") {
        std::cout << kUsage;
        return 0;
      } else {
        usage_error("unknown option " + f);
      }
    } catch (const std::logic_error&) {
      usage_error("bad value for " + f);
    }
  }
  if (shapes.empty()) shapes = {{256, 2048, 8}, {704, 2816, 8}};
  if (tokens.empty()) tokens = {128, 1024};
  if (rounds < 1 || threads < 1) usage_error("--rounds and --threads must be positive");
  moeasr::set_intra_op_threads(threads);

  json report = {{"threads", threads}, {"rounds", rounds}, {"cases", json::array()}};
  for (const Shape& s : shapes) {
    const Weights w(s);
    const int E = s.experts;
    const int64_t d = s.d, H = s.hidden, dense_hidden = H * E;
    for (const int64_t n : tokens) {
      std::mt19937 rng(2);
      std::normal_distribution<float> dist(0.f, 1.f);
      std::vector<float> x(n * d);
      for (float& v : x) v = dist(rng);
      std::vector<float> y(n * d), h(n * dense_hidden);
      cpu::MoeWorkspace moe_ws;
      const auto be = moeasr::Backend::open(moeasr::Device::cpu());
      moeasr::FfnScratch scratch;
      std::vector<std::unique_ptr<moeasr::MotFfn>> mot_layers;
      std::vector<moeasr::FfnBatch> mot_batches;
      std::vector<std::shared_ptr<const moeasr::SafeTensors>> mot_weights;
      const moeasr::Tensor x_tensor = moeasr::Tensor::view(x.data(), {n, d}, moeasr::DType::kF32, nullptr);
      moeasr::Tensor y_tensor;

      std::vector<Variant> variants;
      // Per-token expert FFN: 2 GEMMs of d x hidden, 2 flops per multiply-add.
      const double expert_flops = 4.0 * d * H;
      variants.push_back({"dense", static_cast<double>(E), expert_flops * E, [&] {
                            cpu::linear(x.data(), n, d, w.dense_w1.data(), nullptr, dense_hidden, h.data(),
                                        dense_hidden);
                            cpu::activation(h.data(), n * dense_hidden, Activation::kSwish);
                            cpu::linear(h.data(), n, dense_hidden, w.dense_w2.data(), nullptr, d, y.data(), d);
                          }});
      for (const int64_t k : moe_k) {
        if (k < 1 || k > E) usage_error("--moe-k values must be in 1..E");
        const MoeView view{d, H, E, static_cast<int>(k), Activation::kSwish, w.router.data(), w.experts.data()};
        variants.push_back({"moe k=" + std::to_string(k), static_cast<double>(k),
                            2.0 * d * E + expert_flops * k,
                            [&, view] { cpu::moe_ffn(x.data(), n, view, y.data(), moe_ws); }});
      }
      for (size_t gi = 0; gi < mot_g.size(); ++gi) {
        const int G = static_cast<int>(mot_g[gi]);
        if (G < 1 || n % G != 0) usage_error("--mot-g values must divide --tokens");
        // G examples of n / G frames, grouped across examples: every group is full.
        moeasr::FfnConfig f;
        f.kind = moeasr::FfnKind::kMot;
        f.hidden = static_cast<int>(H);
        f.bias = false;
        f.num_experts = E;
        f.group_size = G;
        f.grouping = moeasr::MotGrouping::kCrossExample;
        f.activation = Activation::kSwish;
        std::vector<moeasr::ExpectedTensor> tensors;
        moeasr::append_ffn_tensors("mot", d, f, tensors);
        mot_weights.push_back(moeasr::random_weights(tensors, "mot bench", 1));
        mot_layers.push_back(std::make_unique<moeasr::MotFfn>(
            moeasr::WeightReader(*mot_weights.back(), moeasr::PrecisionPolicy{}, *be), "mot", f, d));
        moeasr::FfnBatch batch{{0}, moeasr::TokenMixing::kAcrossExamples};
        for (int b = 0; b < G; ++b) batch.segments.push_back((b + 1) * (n / G));
        mot_batches.push_back(batch);
        const double per_token = static_cast<double>(mot_layers.back()->groups(batch).num_groups()) * E / n;
        // Controller (2dE), mixing in and emitting out (2dE each), E / G experts.
        variants.push_back({"mot G=" + std::to_string(G), per_token, 6.0 * d * E + expert_flops * per_token,
                            [&, gi] {
                              const moeasr::FeedForward& layer = *mot_layers[gi];
                              layer.forward(*be, x_tensor, y_tensor, mot_batches[gi], scratch);
                            }});
      }

      for (Variant& v : variants) v.run();  // warm-up: workspaces, page faults, oneDNN kernels
      for (int r = 0; r < rounds; ++r) {
        for (Variant& v : variants) v.samples_ms.push_back(time_call(v.run, min_ms));
      }

      const double dense_ms = variants[0].median_ms();
      json c = {{"d", d}, {"hidden", H}, {"experts", E}, {"tokens", n}, {"variants", json::array()}};
      if (!json_out) {
        std::printf("\nd=%lld hidden/expert=%lld E=%d (dense hidden %lld, %.1fM FFN parameters), %lld tokens, "
                    "%d thread(s), median of %d interleaved rounds\n",
                    static_cast<long long>(d), static_cast<long long>(H), E, static_cast<long long>(dense_hidden),
                    2.0 * d * dense_hidden / 1e6, static_cast<long long>(n), threads, rounds);
        std::printf("  %-10s %13s %12s %12s %12s %12s %12s\n", "variant", "experts/tok", "MFLOP/tok", "us/token",
                    "tokens/s", "time/dense", "GFLOP/s");
      }
      for (const Variant& v : variants) {
        const double ms = v.median_ms();
        const double us_per_token = 1e3 * ms / n;
        const double gflops = v.flops_per_token * n / (ms * 1e6);
        c["variants"].push_back({{"name", v.name},
                                 {"experts_per_token", v.experts_per_token},
                                 {"flops_per_token", v.flops_per_token},
                                 {"median_ms", ms},
                                 {"samples_ms", v.samples_ms},
                                 {"us_per_token", us_per_token},
                                 {"time_vs_dense", ms / dense_ms}});
        if (!json_out) {
          std::printf("  %-10s %13.3g %12.2f %12.3f %12.0f %12.3f %12.1f\n", v.name.c_str(), v.experts_per_token,
                      v.flops_per_token / 1e6, us_per_token, 1e6 / us_per_token, ms / dense_ms, gflops);
        }
      }
      report["cases"].push_back(c);
    }
  }
  if (json_out) std::cout << report.dump(2) << "\n";
  return 0;
}
