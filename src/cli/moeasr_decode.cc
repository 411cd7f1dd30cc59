// moeasr-decode: decode WAV files with a WeNet-format U2++ (MoE) model directory.
// One JSON line per utterance on stdout; errors as one line on stderr.
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/npy.h"
#include "core/error.h"
#include "frontend/wav_reader.h"
#include "runtime/asr_model.h"
#include "runtime/stream.h"

namespace {

using moeasr::Error;

const char* kUsage = R"(usage: moeasr-decode --model DIR (--wav FILE ... | --wav-scp FILE) [options]

Decodes 16-bit PCM or float WAV files (any sample rate, mono; --channel picks one
channel of a multi-channel file) and prints one JSON line per utterance:
  {"key", "text", "tokens", "timestamps_ms", "nbest": [{"text", "tokens",
   "ctc_score", "att_score", "score"}], "audio_seconds", "decode_seconds"}
(att_score/score are absent in ctc mode).

options:
  --model DIR            model directory (train.yaml, model.safetensors, units.txt)
  --adapters DIR         an adapter set (adapters.yaml, adapters.safetensors) used instead of
                         the model's own adapters
  --wav FILE             a WAV file; repeatable (key = file name without extension)
  --wav-scp FILE         lines "key path"
  --chunk-size N         encoder frames per chunk, 40 ms each; -1 = full attention (default 16)
  --left-chunks N        attention history in chunks; -1 = all (default -1)
  --mode ctc|rescore     CTC prefix beam search only, or with attention rescoring (default rescore)
  --nbest N              beam width / hypotheses rescored (default 10)
  --ctc-weight W         weight of the CTC score in rescoring (default 0.5)
  --reverse-weight W     weight of the right-to-left decoder (default 0.0)
  --threads N            intra-op threads (default 1)
  --device D             cpu (default), or cuda / cuda:N in a build with the CUDA backend
  --compute-type T       Linear weights as default (stored) | float32 | bfloat16 | int8
  --experts-only         convert only the MoE experts to --compute-type
  --channel N            channel to decode from multi-channel files
  --dump-dir DIR         write <key>.fbank.npy, <key>.encoder_out.npy, <key>.ctc_logprobs.npy
  -h, --help             this text
)";

struct Args {
  std::string model, adapters, wav_scp, dump_dir;
  std::vector<std::pair<std::string, std::string>> wavs;  // key, path
  moeasr::DecodeOptions decode;
  int threads = 1;
  int channel = -1;
  std::string compute_type = "default";
  std::string device = "cpu";
  bool experts_only = false;
};

[[noreturn]] void usage_error(const std::string& message) {
  std::cerr << "moeasr-decode: " << message << "\n(run with --help for usage)\n";
  std::exit(2);
}

int parse_int(const std::string& flag, const std::string& v) {
  try {
    size_t used = 0;
    long x = std::stol(v, &used);
    if (used != v.size() || x < -2147483647L || x > 2147483647L) throw std::invalid_argument(v);
    return static_cast<int>(x);
  } catch (const std::exception&) {
    usage_error(flag + " expects an integer, got '" + v + "'");
  }
}

float parse_float(const std::string& flag, const std::string& v) {
  try {
    size_t used = 0;
    float x = std::stof(v, &used);
    if (used != v.size()) throw std::invalid_argument(v);
    return x;
  } catch (const std::exception&) {
    usage_error(flag + " expects a number, got '" + v + "'");
  }
}

std::string key_of(const std::string& path) {
  size_t slash = path.find_last_of('/');
  std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  size_t dot = name.find_last_of('.');
  return dot == std::string::npos || dot == 0 ? name : name.substr(0, dot);
}

Args parse_args(int argc, char** argv) {
  Args a;
  bool rescore = true;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "-h" || flag == "--help") {
      std::cout << kUsage;
      std::exit(0);
    }
    if (flag == "--experts-only") {
      a.experts_only = true;
      continue;
    }
    if (i + 1 >= argc) usage_error("missing value for " + flag);
    const std::string v = argv[++i];
    if (flag == "--model") a.model = v;
    else if (flag == "--adapters") a.adapters = v;
    else if (flag == "--wav") a.wavs.emplace_back(key_of(v), v);
    else if (flag == "--wav-scp") a.wav_scp = v;
    else if (flag == "--chunk-size") a.decode.chunk_size = parse_int(flag, v);
    else if (flag == "--left-chunks") a.decode.num_left_chunks = parse_int(flag, v);
    else if (flag == "--nbest") a.decode.nbest = parse_int(flag, v);
    else if (flag == "--ctc-weight") a.decode.ctc_weight = parse_float(flag, v);
    else if (flag == "--reverse-weight") a.decode.reverse_weight = parse_float(flag, v);
    else if (flag == "--threads") a.threads = parse_int(flag, v);
    else if (flag == "--channel") a.channel = parse_int(flag, v);
    else if (flag == "--dump-dir") a.dump_dir = v;
    else if (flag == "--compute-type") a.compute_type = v;
    else if (flag == "--device") a.device = v;
    else if (flag == "--mode") {
      if (v != "ctc" && v != "rescore") usage_error("--mode must be ctc or rescore, got '" + v + "'");
      rescore = v == "rescore";
    } else {
      usage_error("unknown option " + flag);
    }
  }
  if (a.decode.chunk_size == 0) usage_error("--chunk-size must be positive or -1 (full attention)");
  a.decode.rescoring = rescore;
  if (a.model.empty()) usage_error("--model is required");
  if (!a.wav_scp.empty()) {
    std::ifstream scp(a.wav_scp);
    if (!scp) usage_error("cannot open --wav-scp " + a.wav_scp);
    std::string line;
    int line_no = 0;
    while (std::getline(scp, line)) {
      ++line_no;
      std::istringstream fields(line);
      std::string key, path;
      if (!(fields >> key)) continue;  // blank line
      std::getline(fields >> std::ws, path);
      while (!path.empty() && (path.back() == '\r' || path.back() == ' ')) path.pop_back();
      if (path.empty()) usage_error(a.wav_scp + ":" + std::to_string(line_no) + ": expected 'key path'");
      a.wavs.emplace_back(key, path);
    }
  }
  if (a.wavs.empty()) usage_error("no input: give --wav or --wav-scp");
  return a;
}

nlohmann::json hypothesis_json(const moeasr::Hypothesis& h, bool rescored) {
  nlohmann::json j = {{"text", h.text}, {"tokens", h.tokens}, {"ctc_score", h.ctc_score}};
  if (rescored) {
    j["att_score"] = h.attention_score;
    j["score"] = h.score;
  }
  return j;
}

void dump(const std::string& dir, const std::string& key, const moeasr::Stream& stream) {
  const int64_t bins = stream.model().config().fbank.num_mel_bins;
  const int64_t d = stream.model().encoder().d_model(), vocab = stream.model().config().vocab_size;
  auto write = [&](const std::string& name, const std::vector<float>& v, int64_t width) {
    const std::string path = dir + "/" + key + "." + name + ".npy";
    if (!moeasr::cli::write_npy(path, v.data(), {static_cast<int64_t>(v.size()) / width, width})) {
      throw Error(MOEASR_ERR_IO, "cannot write " + path);
    }
  };
  write("fbank", stream.features(), bins);
  write("encoder_out", stream.encoder_output(), d);
  write("ctc_logprobs", stream.ctc_log_probs(), vocab);
}

}  // namespace

int main(int argc, char** argv) {
  Args args = parse_args(argc, argv);
  std::shared_ptr<const moeasr::AsrModel> model;
  std::shared_ptr<const moeasr::AdapterSet> adapters;
  try {
    moeasr::ModelOptions options;
    options.threads = args.threads;
    options.compute_type = args.compute_type;
    options.device = args.device;
    options.compute_experts_only = args.experts_only;
    model = moeasr::AsrModel::load(args.model, options);
    for (const std::string& w : model->config().warnings) std::cerr << "moeasr-decode: warning: " << w << "\n";
    if (!args.adapters.empty()) adapters = moeasr::AdapterSet::load(args.adapters, *model);
    if (args.decode.rescoring && !model->decoder()) {
      std::cerr << "moeasr-decode: warning: the model has no attention decoder; decoding in ctc mode\n";
      args.decode.rescoring = false;
    }
    if (!args.dump_dir.empty()) {
      struct stat st;
      if (stat(args.dump_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
        throw Error(MOEASR_ERR_IO, "--dump-dir " + args.dump_dir + " is not a directory");
      }
    }
  } catch (const Error& e) {
    std::cerr << "moeasr-decode: " << e.what() << "\n";
    return 1;
  }

  moeasr::Stream stream(model, args.decode);
  stream.set_adapters(adapters);
  stream.set_keep_debug_outputs(!args.dump_dir.empty());
  const bool progress = isatty(2) && args.wavs.size() > 1;
  std::vector<std::string> failed;
  for (size_t i = 0; i < args.wavs.size(); ++i) {
    const auto& [key, path] = args.wavs[i];
    if (progress) std::cerr << "\r[" << i + 1 << "/" << args.wavs.size() << "] " << key << "\033[K" << std::flush;
    try {
      moeasr::Waveform wav = moeasr::read_wav(path, args.channel);
      const auto start = std::chrono::steady_clock::now();
      stream.reset();
      stream.accept_waveform(wav.samples.data(), wav.samples.size(), wav.sample_rate);
      stream.input_finished();
      stream.decode();
      const moeasr::RecognitionResult r = stream.final_result();
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      nlohmann::json line = {{"key", key}, {"text", r.text}, {"tokens", r.tokens}, {"timestamps_ms", r.timestamps_ms}};
      nlohmann::json nbest = nlohmann::json::array();
      for (const moeasr::Hypothesis& h : r.nbest) nbest.push_back(hypothesis_json(h, args.decode.rescoring));
      line["nbest"] = nbest;
      line["audio_seconds"] = static_cast<double>(wav.samples.size()) / wav.sample_rate;
      line["decode_seconds"] = seconds;
      if (!args.dump_dir.empty()) dump(args.dump_dir, key, stream);
      if (progress) std::cerr << "\r\033[K";
      std::cout << line.dump() << "\n" << std::flush;
    } catch (const std::exception& e) {  // moeasr::Error, or bad_alloc on absurd input
      if (progress) std::cerr << "\r\033[K";
      std::cerr << "moeasr-decode: " << key << ": " << e.what() << "\n";
      failed.push_back(key);
    }
  }
  if (progress) std::cerr << "\r\033[K";
  if (!failed.empty()) {
    std::cerr << "moeasr-decode: " << failed.size() << " of " << args.wavs.size() << " failed:";
    for (const std::string& k : failed) std::cerr << " " << k;
    std::cerr << "\n";
    return 1;
  }
  return 0;
}
