#include "cli/decode_args.h"
#include "cli/flags.h"

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

#include "core/error.h"
#include "frontend/wav_reader.h"
#include "moeasr/moeasr.h"

namespace moeasr::cli {

namespace {

const char* kUsage = R"(usage: moeasr-decode --model DIR (--wav FILE ... | --wav-scp FILE) [options]
       moeasr-decode --model DIR --check
       moeasr-decode --check-config TRAIN.yaml

Decodes 16-bit PCM or float WAV files (any sample rate; --channel picks or mixes
the channels of a multi-channel file) and prints one JSON line per input:
  {"key", "text", "tokens", "timestamps_ms", "words": [{"text", "start_ms",
   "end_ms"}], "nbest": [{"text", "tokens", "timestamps_ms", "ctc_score", "score",
   "attention_score"}], "audio_seconds", "decode_seconds"}
(attention_score only when rescored; the fields of the C API's result JSON).
With continuous decoding the input is cut at endpoints and the line has
  {"key", "text", "tokens", "timestamps_ms", "words", "segments": [{"start_ms",
   "end_ms", "text", "tokens", "timestamps_ms", "words", "nbest"}], "audio_seconds",
   "decode_seconds"}
with times from the start of the input; segments are written as they are
decoded. An input that fails gives
  {"key", "error", "status"}
(with the segments decoded before the failure) and a line on stderr; the exit
status is then 1. Progress goes to stderr when it is a terminal and stdout
is not.

options:
  --model DIR            model directory (train.yaml, model.safetensors, units.txt)
  --adapters DIR         an adapter set (adapters.yaml, adapters.safetensors) used instead of
                         the model's own adapters
  --wav FILE             a WAV file, or - for standard input; repeatable (key = file name
                         without extension; "stdin" for -)
  --wav-scp FILE         lines "key path"; lines starting with # are comments
  --chunk-size N         encoder frames per chunk, 40 ms each; -1 = full attention (at most
                         300 s per utterance). Default: the model's: 16, or -1 for a model
                         not trained for chunked decoding (train.yaml)
  --left-chunks N        attention history in chunks; -1 = all (default -1)
  --continuous on|off|auto
                         cut the input into segments at endpoints (trailing silence, or 20 s
                         of speech) and decode each as an utterance; auto (default): on for
                         inputs longer than 60 s in chunked mode
  --mode ctc|rescore|transducer_greedy|transducer_beam
                         CTC prefix beam search only, or with attention rescoring (default
                         rescore), or a transducer model's greedy or prefix beam search
                         (beam --nbest; per-frame mix by the two weights below)
  --nbest N              beam width / hypotheses rescored (default 10)
  --ctc-weight W         weight of the CTC score in rescoring (default 0.5)
  --reverse-weight W     weight of the right-to-left decoder (default 0.0)
  --transducer-ctc-weight W, --transducer-weight W
                         transducer_beam's per-frame mix, log(transducer weight * p_rnnt +
                         CTC weight * p_ctc) (default 0.3 and 0.7, WeNet's beam_search;
                         its recognize.py: --search_ctc_weight, --search_transducer_weight)
  --threads N            intra-op threads (default 1)
  --device D             cpu (default), or cuda / cuda:N in a build with the CUDA backend
  --compute-type T       Linear weights as default (stored) | float32 | bfloat16 | int8
  --experts-only         convert only the MoE experts to --compute-type
  --check-config FILE    check a WeNet train.yaml alone (no weights, no units.txt) with the
                         loader's own parser: prints what it describes, or why the runtime
                         cannot run it (exit status 1)
  --channel N|mix        channel N of multi-channel files, or the mean of all channels
  --dump-dir DIR         write <key>.fbank.npy, <key>.encoder_out.npy, <key>.ctc_logprobs.npy
                         (created if missing; not with continuous decoding)
  --check                load and validate the model completely, print a summary, decode
                         nothing; exit status 1 with the loader's message if it cannot run
  --version              the version
  -h, --help             this text
)";

constexpr const char* kProgram = "moeasr-decode";

[[noreturn]] void usage_error(const std::string& message) { cli::usage_error(kProgram, message); }
int parse_int(const std::string& flag, const std::string& v) { return cli::parse_int(kProgram, flag, v); }
float parse_float(const std::string& flag, const std::string& v) { return cli::parse_float(kProgram, flag, v); }

std::string key_of(const std::string& path) {
  if (path == "-") return "stdin";
  size_t slash = path.find_last_of('/');
  std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  size_t dot = name.find_last_of('.');
  return dot == std::string::npos || dot == 0 ? name : name.substr(0, dot);
}

void read_scp(const std::string& scp_path, std::vector<std::pair<std::string, std::string>>* inputs) {
  std::ifstream scp(scp_path);
  if (!scp) usage_error("cannot open --wav-scp " + scp_path);
  std::set<std::string> keys;
  std::string line;
  int line_no = 0;
  while (std::getline(scp, line)) {
    ++line_no;
    const std::string where = scp_path + ":" + std::to_string(line_no) + ": ";
    std::istringstream fields(line);
    std::string key, path;
    if (!(fields >> key) || key[0] == '#') continue;  // blank line or comment
    std::getline(fields >> std::ws, path);
    while (!path.empty() && (path.back() == '\r' || path.back() == ' ')) path.pop_back();
    if (path.empty()) usage_error(where + "expected 'key path'");
    if (!keys.insert(key).second) usage_error(where + "duplicate key '" + key + "'");
    inputs->emplace_back(key, path);
  }
}

}  // namespace

DecodeArgs parse_decode_args(int argc, char** argv) {
  DecodeArgs a;
  bool rescore = true;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "-h" || flag == "--help") {
      std::cout << kUsage;
      std::exit(0);
    }
    if (flag == "--version") {
      std::cout << "moeasr-decode " << moeasr_version() << "\n";
      std::exit(0);
    }
    if (flag == "--experts-only" || flag == "--check") {
      (flag == "--check" ? a.check_only : a.experts_only) = true;
      continue;
    }
    if (i + 1 >= argc) usage_error("missing value for " + flag);
    const std::string v = argv[++i];
    if (flag == "--model") a.model = v;
    else if (flag == "--adapters") a.adapters = v;
    else if (flag == "--wav") a.inputs.emplace_back(key_of(v), v);
    else if (flag == "--wav-scp") a.wav_scp = v;
    else if (flag == "--check-config") a.check_config = v;
    else if (flag == "--chunk-size") {
      a.decode.chunk_size = parse_int(flag, v);
      a.chunk_size_given = true;
    } else if (flag == "--left-chunks") a.decode.num_left_chunks = parse_int(flag, v);
    else if (flag == "--nbest") a.decode.nbest = parse_int(flag, v);
    else if (flag == "--ctc-weight") a.decode.ctc_weight = parse_float(flag, v);
    else if (flag == "--reverse-weight") a.decode.reverse_weight = parse_float(flag, v);
    else if (flag == "--transducer-ctc-weight") a.decode.transducer_ctc_weight = parse_float(flag, v);
    else if (flag == "--transducer-weight") a.decode.transducer_weight = parse_float(flag, v);
    else if (flag == "--threads") a.threads = parse_int(flag, v);
    else if (flag == "--channel") {
      a.channel = v == "mix" ? kWavDownmix : parse_int(flag, v);
      if (v != "mix" && a.channel < 0) usage_error("--channel must be a channel number (from 0) or mix");
    }
    else if (flag == "--dump-dir") a.dump_dir = v;
    else if (flag == "--compute-type") a.compute_type = v;
    else if (flag == "--device") a.device = v;
    else if (flag == "--continuous") {
      if (v != "on" && v != "off" && v != "auto") usage_error("--continuous must be on, off or auto, got '" + v + "'");
      a.continuous = v == "on" ? Continuous::kOn : v == "off" ? Continuous::kOff : Continuous::kAuto;
    } else if (flag == "--mode") {
      if (v != "ctc" && v != "rescore" && v != "transducer_greedy" && v != "transducer_beam") {
        usage_error("--mode must be ctc, rescore, transducer_greedy or transducer_beam, got '" + v + "'");
      }
      rescore = v == "rescore";
      a.decode.search = v == "transducer_greedy" ? SearchMethod::kTransducerGreedy
                        : v == "transducer_beam" ? SearchMethod::kTransducerBeam
                                                 : SearchMethod::kCtc;
    } else {
      usage_error("unknown option " + flag);
    }
  }
  try {
    validated(a.decode);  // out-of-range weights etc.: a usage error before the model loads
  } catch (const Error& e) {
    usage_error(e.what());
  }
  if (a.chunk_size_given && a.decode.chunk_size == 0) {
    usage_error("--chunk-size must be positive or -1 (full attention)");
  }
  if (a.continuous == Continuous::kOn && !a.dump_dir.empty()) {
    usage_error("--dump-dir writes whole utterances: not with --continuous on");
  }
  a.decode.rescoring = rescore;
  if (!a.check_config.empty()) {
    if (!a.model.empty() || !a.inputs.empty() || !a.wav_scp.empty() || a.check_only) {
      usage_error("--check-config checks a train.yaml alone: not with --model, --check or inputs");
    }
    return a;
  }
  if (a.model.empty()) usage_error("--model is required");
  if (!a.wav_scp.empty()) read_scp(a.wav_scp, &a.inputs);
  if (a.inputs.empty() && !a.check_only) usage_error("no input: give --wav or --wav-scp");
  return a;
}

}  // namespace moeasr::cli
