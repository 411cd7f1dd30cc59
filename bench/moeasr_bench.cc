// moeasr-bench: real-time factor, latency and where the time goes, for a
// model directory or a config with random weights, one or many streams
// decoded together through the batched step. `--compare A B` interleaves two
// configurations in one process (A B A B ...) and reports the ratio of their
// median RTFs, so machine noise cancels.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iomanip>
#include <iostream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/parallel.h"

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/mapped_file.h"
#include "frontend/wav_reader.h"
#include "kernels/cpu/linear.h"
#include "machine_probe.h"
#include "formats/random_model.h"
#include "model_cost.h"
#include "runtime/asr_model.h"
#include "runtime/stream.h"
#include "synthetic_audio.h"

namespace {

using moeasr::DecodeProfile;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

const char* kUsage = R"(usage: moeasr-bench (--model DIR | --config FILE.yaml --random-weights) [options]
       moeasr-bench --compare A B [options]      (A, B: model directories or config files)

Measures decoding speed on this machine: RTF (decode wall time / audio time, per
stream of audio), per-chunk latency, time by stage, encoder GFLOP/s against the
machine's sgemm peak, parameters, peak RSS and the MoE expert load.

options:
  --model DIR            model directory
  --config FILE          WeNet-style train.yaml; with --random-weights: seeded random weights in memory
  --random-weights       (required with --config)
  --compare A B          run A and B interleaved; "ratio" = median RTF(B) / median RTF(A)
  --wav FILE             audio (default: synthetic speech-like signal)
  --audio-seconds S      length of the synthetic signal (default 10)
  --chunk-size N         encoder frames per chunk; -1 = full attention (default 16)
  --left-chunks N        (default -1)
  --mode M               ctc | rescore (default) | transducer_greedy | transducer_beam (a model:
                         transducer; beam --nbest 10, WeNet's 0.3 / 0.7 weights). With random
                         weights the greedy search is near its worst case: a random joiner
                         rarely prefers blank, so most frames emit the 64-symbol limit
  --streams N            streams decoded together by the batched step (default 1)
  --threads N            intra-op threads (default 1); on a GPU: host threads for the streams'
                         fbank and CTC prefix beam search
  --device D             cpu (default), or cuda / cuda:N in a build with the CUDA backend; on a GPU
                         the step time includes the download of the log-probs (it synchronizes),
                         and the whole forward is reported as encoder_other
  --warmup N             untimed runs first (default 1)
  --repeat N             timed runs (default 3)
  --moe-gemm M           how MoE layers run their experts: grouped (default) | loop (per-expert, WeNet's
                         formulation) | cublas_grouped (GPU: cublasGemmGroupedBatchedEx)
  --compute-type T       Linear weights: default (as stored) | float32 | bfloat16 | int8
  --experts-only         apply --compute-type to the MoE experts only
  --seed N               random weights / synthetic audio seed (default 1)
  --no-probe             skip the sgemm-peak and bandwidth probes
  --json                 one JSON object on stdout instead of tables
)";

struct Options {
  std::vector<std::string> sources;  // 1, or 2 with --compare
  bool random_weights = false;
  std::string wav;
  double audio_seconds = 10;
  int chunk_size = 16, left_chunks = -1, streams = 1, threads = 1, warmup = 1, repeat = 3;
  bool rescore = true, json_out = false, probe = true;
  std::string mode = "rescore";
  std::string device = "cpu";
  std::string moe_gemm = "grouped";
  std::string compute_type = "default";
  bool experts_only = false;
  uint32_t seed = 1;
};

[[noreturn]] void usage_error(const std::string& m) {
  std::cerr << "moeasr-bench: " << m << "\n(run with --help for usage)\n";
  std::exit(2);
}

int to_int(const std::string& flag, const std::string& v) {
  try {
    size_t used = 0;
    int x = std::stoi(v, &used);
    if (used != v.size()) throw std::invalid_argument(v);
    return x;
  } catch (const std::exception&) {
    usage_error(flag + " expects an integer, got '" + v + "'");
  }
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string f = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage_error("missing value for " + f);
      return argv[++i];
    };
    if (f == "-h" || f == "--help") {
      std::cout << kUsage;
      std::exit(0);
    } else if (f == "--model" || f == "--config") {
      o.sources.push_back(value());
    } else if (f == "--compare") {
      o.sources.push_back(value());
      o.sources.push_back(value());
    } else if (f == "--random-weights") {
      o.random_weights = true;
    } else if (f == "--wav") {
      o.wav = value();
    } else if (f == "--audio-seconds") {
      o.audio_seconds = std::atof(value().c_str());
    } else if (f == "--chunk-size") {
      o.chunk_size = to_int(f, value());
    } else if (f == "--left-chunks") {
      o.left_chunks = to_int(f, value());
    } else if (f == "--streams") {
      o.streams = to_int(f, value());
    } else if (f == "--threads") {
      o.threads = to_int(f, value());
    } else if (f == "--warmup") {
      o.warmup = to_int(f, value());
    } else if (f == "--repeat") {
      o.repeat = to_int(f, value());
    } else if (f == "--seed") {
      o.seed = static_cast<uint32_t>(to_int(f, value()));
    } else if (f == "--device") {
      o.device = value();
    } else if (f == "--mode") {
      const std::string m = value();
      if (m != "ctc" && m != "rescore" && m != "transducer_greedy" && m != "transducer_beam") {
        usage_error("--mode must be ctc, rescore, transducer_greedy or transducer_beam");
      }
      o.rescore = m == "rescore";
      o.mode = m;
    } else if (f == "--moe-gemm") {
      o.moe_gemm = value();
      if (o.moe_gemm != "grouped" && o.moe_gemm != "cublas_grouped" && o.moe_gemm != "loop") {
        usage_error("--moe-gemm must be grouped, cublas_grouped or loop");
      }
    } else if (f == "--compute-type") {
      o.compute_type = value();
    } else if (f == "--experts-only") {
      o.experts_only = true;
    } else if (f == "--no-probe") {
      o.probe = false;
    } else if (f == "--json") {
      o.json_out = true;
    } else {
      usage_error("unknown option " + f);
    }
  }
  if (o.sources.empty() || o.sources.size() > 2) usage_error("give --model, --config or --compare A B");
  if (o.streams < 1 || o.repeat < 1 || o.warmup < 0 || o.threads < 1) usage_error("bad --streams/--repeat/--warmup/--threads");
  if (o.chunk_size == 0) usage_error("--chunk-size must be positive or -1");
  if (!(o.audio_seconds > 0)) usage_error("--audio-seconds must be positive");
  return o;
}

bool is_config(const std::string& source) {
  const auto ends = [&](const char* s) {
    const std::string x(s);
    return source.size() >= x.size() && source.compare(source.size() - x.size(), x.size(), x) == 0;
  };
  return ends(".yaml") || ends(".yml");
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const double idx = p / 100.0 * (v.size() - 1);
  const size_t lo = static_cast<size_t>(idx), hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (idx - lo);
}

double peak_rss_mb() {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss / 1024.0;  // KiB on Linux
}

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// One configuration under test: its model, streams and accumulated measurements.
class Subject {
 public:
  Subject(const std::string& source, const Options& o) : source_(source), opts_(o) {
    moeasr::ModelOptions mo;
    mo.threads = o.threads;
    mo.device = o.device;
    mo.moe_gemm = o.moe_gemm;
    mo.compute_type = o.compute_type;
    mo.compute_experts_only = o.experts_only;
    if (is_config(source)) {
      if (!o.random_weights) usage_error(source + " is a config: add --random-weights");
      const auto start = Clock::now();
      model_ = moeasr::AsrModel::from_model_dir(
          moeasr::random_model_dir(moeasr::read_file(source), source, o.seed), mo);
      load_seconds_ = seconds_since(start);
    } else {
      const auto start = Clock::now();
      model_ = moeasr::AsrModel::load(source, mo);
      load_seconds_ = seconds_since(start);
    }
    moeasr::DecodeOptions d;
    d.chunk_size = o.chunk_size;
    d.num_left_chunks = o.left_chunks;
    d.rescoring = o.rescore && model_->decoder();
    d.search = o.mode == "transducer_greedy" ? moeasr::SearchMethod::kTransducerGreedy
               : o.mode == "transducer_beam" ? moeasr::SearchMethod::kTransducerBeam
                                             : moeasr::SearchMethod::kCtc;
    for (int i = 0; i < o.streams; ++i) streams_.push_back(std::make_unique<moeasr::Stream>(model_, d));
    for (auto& s : streams_) raw_.push_back(s.get());
  }

  const moeasr::ModelConfig& config() const { return model_->config(); }
  // The GPU's name, or "" on the CPU.
  std::string device_name() const { return model_->device().is_cpu() ? "" : model_->device_description(); }

  // Decodes one utterance per stream the way a live application would: audio
  // arrives in chunk-sized pieces, each followed by a batched decode call.
  void run(const std::vector<std::vector<float>>& audio, int rate, bool timed) {
    DecodeProfile profile;
    for (auto& s : streams_) s->reset();
    const size_t piece = opts_.chunk_size > 0 ? static_cast<size_t>(opts_.chunk_size) * 4 * rate / 100 : rate / 10;
    double wall = 0, fbank = 0, first_partial = -1;
    size_t longest = 0;
    for (const auto& a : audio) longest = std::max(longest, a.size());
    // On a GPU the front end is host work that grows with the streams: with
    // --threads > 1 the streams' fbank runs in parallel (a server would run
    // it on each connection's thread). The CPU path keeps it serial.
    const bool parallel_fbank = !model_->device().is_cpu() && opts_.threads > 1;
    moeasr::set_intra_op_threads(opts_.threads);
    for (size_t pos = 0; pos < longest; pos += piece) {
      const auto t0 = Clock::now();
      const int n = static_cast<int>(streams_.size());
      bool failed = false;
#pragma omp parallel for schedule(dynamic, 4) if (parallel_fbank)
      for (int i = 0; i < n; ++i) {
        const auto& a = audio[i];
        try {
          if (pos < a.size()) streams_[i]->accept_waveform(a.data() + pos, std::min(piece, a.size() - pos), rate);
        } catch (...) {
#pragma omp atomic write
          failed = true;
        }
      }
      if (failed) throw std::runtime_error("accept_waveform failed");
      const double fb = seconds_since(t0);
      moeasr::decode_streams(raw_, &profile);
      const double step = seconds_since(t0);
      fbank += fb;
      wall += step;
      if (first_partial < 0 && streams_[0]->stats().chunks > 0) first_partial = step;
    }
    const auto t0 = Clock::now();
    for (auto& s : streams_) s->input_finished();
    moeasr::decode_streams(raw_, &profile);
    wall += seconds_since(t0);
    if (first_partial < 0) first_partial = seconds_since(t0);
    if (!timed) return;

    double audio_seconds = 0;
    for (const auto& a : audio) audio_seconds += static_cast<double>(a.size()) / rate;
    rtf_.push_back(wall / audio_seconds);
    first_partial_.push_back(first_partial);
    for (double t : streams_[0]->stats().chunk_seconds) chunk_latency_.push_back(t);
    fbank_ += fbank;
    wall_ += wall;
    audio_seconds_ += audio_seconds;
    accumulate(profile);
    flops_ += encoder_flops();
  }

  json report(double sgemm_peak, double bandwidth) const {
    const moeasr::ModelConfig& c = config();
    const moeasr::bench::ParamCounts p = moeasr::bench::count_params(c);
    const double rtf = percentile(rtf_, 50);
    const double encoder_seconds = profile_.encoder.subsampling + profile_.encoder.attention + profile_.encoder.conv +
                                   profile_.encoder.ffn + profile_.encoder.other;
    json j;
    j["source"] = source_;
    j["device_name"] = device_name();
    j["load_seconds"] = load_seconds_;
    j["model"] = {{"encoder_layers", c.encoder.num_blocks},
                  {"d_model", c.encoder.d_model},
                  {"linear_units", c.encoder.ffn.hidden},
                  {"experts", c.encoder.ffn.moe() ? c.encoder.ffn.num_experts : 0},
                  {"top_k", c.encoder.ffn.moe() ? c.encoder.ffn.top_k : 0},
                  {"vocab", c.vocab_size},
                  {"params_total", p.total},
                  {"params_encoder", p.encoder},
                  {"params_encoder_active_per_frame", p.encoder_active},
                  {"params_decoder", p.decoder},
                  {"params_decoder_active_per_token", p.decoder_active},
                  {"params_ctc", p.ctc},
                  {"encoder_flops_per_frame_chunk16", moeasr::bench::encoder_chunk_flops(c.encoder, 16, 16) / 16}};
    j["rtf"] = rtf;
    j["rtfx"] = rtf > 0 ? 1.0 / rtf : 0;
    j["rtf_runs"] = rtf_;
    j["audio_seconds_per_run"] = audio_seconds_ / std::max<size_t>(rtf_.size(), 1);
    j["chunk_latency_ms"] = {{"p50", 1e3 * percentile(chunk_latency_, 50)},
                             {"p95", 1e3 * percentile(chunk_latency_, 95)},
                             {"p99", 1e3 * percentile(chunk_latency_, 99)},
                             {"steps", chunk_latency_.size()}};
    j["first_partial_ms"] = 1e3 * percentile(first_partial_, 50);
    j["algorithmic_latency_ms"] =
        opts_.chunk_size > 0 ? (opts_.chunk_size * 4 + 6) * c.fbank.frame_shift_ms + c.fbank.frame_length_ms - c.fbank.frame_shift_ms
                             : -1;
    const double total = wall_;
    j["stages_seconds"] = {{"fbank", fbank_},
                           {"subsampling", profile_.encoder.subsampling},
                           {"attention", profile_.encoder.attention},
                           {"conv_module", profile_.encoder.conv},
                           {"ffn_moe", profile_.encoder.ffn},
                           {"encoder_other", profile_.encoder.other},
                           {"ctc_head", profile_.ctc_head},
                           {"ctc_search", profile_.ctc_search},
                           {"transducer_search", profile_.transducer_search},
                           {"rescoring", profile_.rescoring},
                           {"total", total}};
    const double gflops = encoder_seconds > 0 ? flops_ / encoder_seconds / 1e9 : 0;
    j["encoder_gflops"] = gflops;
    if (sgemm_peak > 0) {
      j["sgemm_peak_gflops"] = sgemm_peak;
      j["encoder_fraction_of_peak"] = gflops / sgemm_peak;
    }
    j["peak_rss_mb"] = peak_rss_mb();
    // A GPU model collects no expert load (it would stall every MoE layer).
    if (c.encoder.ffn.moe() && profile_.forwards > 0 && !profile_.expert_load.empty()) {
      const int E = c.encoder.ffn.num_experts;
      json layers = json::array();
      for (int l = 0; l < c.encoder.num_blocks; ++l) {
        for (int which = 0; which < 2; ++which) {
          std::vector<int64_t> counts(profile_.expert_load.begin() + (l * 2 + which) * E,
                                      profile_.expert_load.begin() + (l * 2 + which + 1) * E);
          layers.push_back({{"layer", l}, {"ffn", which == 0 ? "macaron" : "ffn"}, {"tokens", counts}});
        }
      }
      j["expert_load"] = layers;
      const double bytes_per_step = profile_.expert_bytes_touched / profile_.forwards;
      j["expert_bytes_per_step"] = bytes_per_step;
      j["expert_bytes_if_all_read"] = static_cast<double>(model_->encoder().expert_weight_bytes()) * E *
                                      c.encoder.num_blocks * (c.encoder.macaron ? 2 : 1);
      if (bandwidth > 0) {
        // Reading the touched experts once per step is a floor on the step time.
        const double audio_per_step = audio_seconds_ / profile_.forwards;
        j["read_bandwidth_gbs"] = bandwidth;
        j["expert_bandwidth_floor_rtf"] = bytes_per_step / (bandwidth * 1e9) / audio_per_step;
      }
    }
    j["encoder_steps"] = profile_.forwards;
    return j;
  }

 private:
  // Encoder FLOPs of one timed run, from the chunk sequence each stream went through.
  double encoder_flops() const {
    double f = 0;
    for (const auto& s : streams_) {
      const int64_t frames = s->stats().encoder_frames;
      if (opts_.chunk_size <= 0) {
        f += moeasr::bench::encoder_chunk_flops(config().encoder, frames, frames);
        continue;
      }
      const int64_t c = opts_.chunk_size;
      const int64_t keep = opts_.left_chunks >= 0 ? c * opts_.left_chunks : -1;
      int64_t cache = 0;
      for (int64_t done = 0; done < frames; done += c) {
        const int64_t t = std::min(c, frames - done);
        f += moeasr::bench::encoder_chunk_flops(config().encoder, t, cache + t);
        cache = keep >= 0 ? std::min(keep, cache + t) : cache + t;
      }
    }
    return f;
  }

  void accumulate(const DecodeProfile& p) {
    profile_.encoder.subsampling += p.encoder.subsampling;
    profile_.encoder.attention += p.encoder.attention;
    profile_.encoder.conv += p.encoder.conv;
    profile_.encoder.ffn += p.encoder.ffn;
    profile_.encoder.other += p.encoder.other;
    profile_.ctc_head += p.ctc_head;
    profile_.ctc_search += p.ctc_search;
    profile_.transducer_search += p.transducer_search;
    profile_.rescoring += p.rescoring;
    profile_.forwards += p.forwards;
    profile_.encoder_frames += p.encoder_frames;
    profile_.expert_bytes_touched += p.expert_bytes_touched;
    profile_.expert_load.resize(std::max(profile_.expert_load.size(), p.expert_load.size()), 0);
    for (size_t i = 0; i < p.expert_load.size(); ++i) profile_.expert_load[i] += p.expert_load[i];
  }

  std::string source_;
  const Options& opts_;
  double load_seconds_ = 0;
  std::shared_ptr<const moeasr::AsrModel> model_;
  std::vector<std::unique_ptr<moeasr::Stream>> streams_;
  std::vector<moeasr::Stream*> raw_;
  std::vector<double> rtf_, first_partial_, chunk_latency_;
  double fbank_ = 0, wall_ = 0, audio_seconds_ = 0, flops_ = 0;
  DecodeProfile profile_;
};

std::string fmt(double v, int precision = 3) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(precision) << v;
  return s.str();
}

void print_table(const json& r) {
  const json& m = r["model"];
  std::cout << r["source"].get<std::string>() << "\n";
  std::cout << "  model      " << m["encoder_layers"] << " x " << m["d_model"] << ", ffn " << m["linear_units"];
  if (m["experts"].get<int>() > 0) std::cout << ", MoE " << m["experts"] << " experts top-" << m["top_k"];
  std::cout << ", vocab " << m["vocab"] << "\n";
  std::cout << "  params     " << fmt(m["params_total"].get<double>() / 1e6, 1) << " M total, encoder "
            << fmt(m["params_encoder"].get<double>() / 1e6, 1) << " M ("
            << fmt(m["params_encoder_active_per_frame"].get<double>() / 1e6, 1) << " M active per frame)\n";
  std::cout << "  RTF        " << fmt(r["rtf"].get<double>(), 4) << "  (RTFx " << fmt(r["rtfx"].get<double>(), 1)
            << ", median of " << r["rtf_runs"].size() << " runs)\n";
  const json& l = r["chunk_latency_ms"];
  std::cout << "  step ms    p50 " << fmt(l["p50"].get<double>(), 2) << "  p95 " << fmt(l["p95"].get<double>(), 2)
            << "  p99 " << fmt(l["p99"].get<double>(), 2) << "   first partial " << fmt(r["first_partial_ms"].get<double>(), 2)
            << " ms compute (+" << fmt(r["algorithmic_latency_ms"].get<double>(), 0) << " ms algorithmic)\n";
  std::cout << "  stages     ";
  const json& s = r["stages_seconds"];
  const double total = s["total"].get<double>();
  for (const char* k : {"fbank", "subsampling", "attention", "conv_module", "ffn_moe", "encoder_other", "ctc_head",
                        "ctc_search", "transducer_search", "rescoring"}) {
    std::cout << k << " " << fmt(100 * s[k].get<double>() / std::max(total, 1e-12), 1) << "%  ";
  }
  std::cout << "\n  encoder    " << fmt(r["encoder_gflops"].get<double>(), 1) << " GFLOP/s";
  if (r.contains("sgemm_peak_gflops")) {
    std::cout << " = " << fmt(100 * r["encoder_fraction_of_peak"].get<double>(), 1) << "% of the sgemm peak ("
              << fmt(r["sgemm_peak_gflops"].get<double>(), 1) << " GFLOP/s)";
  }
  std::cout << "\n  peak RSS   " << fmt(r["peak_rss_mb"].get<double>(), 0) << " MB\n";
  if (r.contains("expert_bytes_per_step")) {
    std::cout << "  experts    " << fmt(r["expert_bytes_per_step"].get<double>() / 1e6, 1)
              << " MB of expert weights read per step (of " << fmt(r["expert_bytes_if_all_read"].get<double>() / 1e6, 1)
              << " MB)";
    if (r.contains("expert_bandwidth_floor_rtf")) {
      std::cout << "; at " << fmt(r["read_bandwidth_gbs"].get<double>(), 1) << " GB/s that alone is RTF "
                << fmt(r["expert_bandwidth_floor_rtf"].get<double>(), 4);
    }
    std::cout << "\n  load       ";
    // Balance per layer: max expert / mean expert.
    double worst = 0;
    for (const json& layer : r["expert_load"]) {
      const std::vector<int64_t> t = layer["tokens"].get<std::vector<int64_t>>();
      double sum = 0, mx = 0;
      for (int64_t x : t) {
        sum += x;
        mx = std::max(mx, static_cast<double>(x));
      }
      if (sum > 0) worst = std::max(worst, mx / (sum / t.size()));
    }
    std::cout << "busiest expert gets " << fmt(worst, 2) << "x the mean (full histogram with --json)\n";
  }
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  try {
    std::vector<std::unique_ptr<Subject>> subjects;
    for (const std::string& s : o.sources) subjects.push_back(std::make_unique<Subject>(s, o));
    const int rate = subjects[0]->config().fbank.sample_rate;
    std::vector<std::vector<float>> audio;
    for (int i = 0; i < o.streams; ++i) {
      if (!o.wav.empty()) {
        moeasr::Waveform w = moeasr::read_wav(o.wav);
        if (w.sample_rate != rate) usage_error("--wav must be at the model rate (" + std::to_string(rate) + " Hz)");
        audio.push_back(std::move(w.samples));
      } else {
        audio.push_back(moeasr::bench::synthetic_speech(o.audio_seconds, rate, o.seed * 1000 + i));
      }
    }
    for (int w = 0; w < o.warmup; ++w) {
      for (auto& s : subjects) s->run(audio, rate, false);
    }
    for (int r = 0; r < o.repeat; ++r) {
      for (auto& s : subjects) s->run(audio, rate, true);  // A B A B ...
    }
    double peak = 0, bandwidth = 0;
    if (o.probe) {
      moeasr::set_intra_op_threads(o.threads);
      peak = moeasr::bench::measure_sgemm_peak_gflops();
      bandwidth = moeasr::bench::measure_read_bandwidth_gbs();
    }
    json out;
    out["settings"] = {{"chunk_size", o.chunk_size}, {"left_chunks", o.left_chunks}, {"streams", o.streams},
                       {"threads", o.threads},       {"mode", o.mode},
                       {"repeat", o.repeat},         {"moe_gemm", o.moe_gemm},
                       {"device", o.device},         {"compute_type", o.compute_type},
                       {"experts_only", o.experts_only},
                       {"device_name", subjects[0]->device_name()},
                       {"cpu_linear_kernels", moeasr::cpu::linear_kernels_summary()}};
    std::vector<json> reports;
    for (auto& s : subjects) reports.push_back(s->report(peak, bandwidth));
    if (reports.size() == 1) {
      out["result"] = reports[0];
    } else {
      out["a"] = reports[0];
      out["b"] = reports[1];
      out["ratio"] = reports[1]["rtf"].get<double>() / reports[0]["rtf"].get<double>();
      // Counted FLOPs: the floor of the RTF ratio when both are compute-bound.
      out["flop_ratio_per_frame_chunk16"] = reports[1]["model"]["encoder_flops_per_frame_chunk16"].get<double>() /
                                            reports[0]["model"]["encoder_flops_per_frame_chunk16"].get<double>();
    }
    if (o.json_out) {
      std::cout << out.dump(2) << "\n";
    } else {
      std::cout << "chunk " << o.chunk_size << ", left " << o.left_chunks << ", " << o.streams << " stream(s), "
                << o.threads << " thread(s), " << o.mode << ", "
                << (o.device.rfind("cuda", 0) == 0 ? o.device + " (" + subjects[0]->device_name() + ")" : std::string("cpu"))
                << ", MoE GEMM " << o.moe_gemm
                << ", weights " << o.compute_type << (o.experts_only ? " (experts)" : "") << "\n";
      if (o.device == "cpu") std::cout << "linear kernels: " << moeasr::cpu::linear_kernels_summary() << "\n";
      for (const json& r : reports) print_table(r);
      if (out.contains("ratio")) {
        std::cout << "ratio RTF(B)/RTF(A) = " << fmt(out["ratio"].get<double>(), 3) << "  (FLOP ratio per frame "
                  << fmt(out["flop_ratio_per_frame_chunk16"].get<double>(), 3) << ")\n";
      }
    }
  } catch (const std::exception& e) {
    std::cerr << "moeasr-bench: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
