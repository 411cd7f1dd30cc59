// moeasr-decode: decode WAV files with a WeNet-format U2++ (MoE) model directory.
// One JSON line per input on stdout (cli/decode_args.cc has the format);
// errors on stderr. Audio is read and decoded piece by piece, and long inputs
// are cut at endpoints (continuous decoding), so memory does not grow with
// the length of a file.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/decode_args.h"
#include "cli/npy.h"
#include "core/error.h"
#include "core/logging.h"
#include "formats/model_config.h"
#include "frontend/wav_reader.h"
#include "runtime/asr_model.h"
#include "runtime/result_json.h"
#include "runtime/stream.h"

namespace {

using moeasr::Error;
using moeasr::cli::DecodeArgs;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Files done, audio seconds done and the real-time factor so far, on one
// line of stderr redrawn at most twice a second; only when stderr is a
// terminal and stdout is not (the JSON lines would be drawn over).
class Progress {
 public:
  explicit Progress(size_t inputs) : enabled_(isatty(2) != 0 && isatty(1) == 0), inputs_(inputs) {}
  void show(size_t index, const std::string& key, double input_audio_s, double input_decode_s) {
    if (!enabled_ || seconds_since(last_) < 0.5) return;
    last_ = Clock::now();
    const double audio = audio_s_ + input_audio_s, decode = decode_s_ + input_decode_s;
    std::fprintf(stderr, "\r[%zu/%zu] %s: %.1f s of audio done, RTF %.3f\033[K", index + 1, inputs_, key.c_str(),
                 audio, audio > 0 ? decode / audio : 0.0);
    std::fflush(stderr);
  }
  void input_done(double audio_s, double decode_s) {
    audio_s_ += audio_s;
    decode_s_ += decode_s;
  }
  void clear() {
    if (enabled_) std::fprintf(stderr, "\r\033[K");
  }

 private:
  bool enabled_;
  size_t inputs_;
  double audio_s_ = 0, decode_s_ = 0;
  Clock::time_point last_ = Clock::now() - std::chrono::seconds(1);
};

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

// One input's JSON line on stdout. Segments are written as they close, so
// the segments of hours of audio are never held in memory; the line's other
// fields follow them. A failure after the first segment ends the line with
// the error fields: stdout stays one valid JSON line per input.
class LineWriter {
 public:
  explicit LineWriter(std::string key) : key_(std::move(key)) {}
  bool has_segments() const { return open_; }
  void segment(const nlohmann::json& s) {
    std::cout << (open_ ? "," : "{\"key\":" + nlohmann::json(key_).dump() + ",\"segments\":[") << s.dump();
    open_ = true;
  }
  // The remaining fields (a non-empty object, without "key").
  void finish(nlohmann::json fields) {
    if (open_) {
      std::cout << "]," << fields.dump().substr(1) << "\n" << std::flush;
    } else {
      fields["key"] = key_;
      std::cout << fields.dump() << "\n" << std::flush;
    }
  }

 private:
  std::string key_;
  bool open_ = false;
};

// One input, fed to the stream in half-second pieces as it is read. With
// continuous decoding an endpoint closes a segment (final result, reset) and
// the next piece starts the next one; segments with no text are left out.
// Times run on over the segments (the stream's clock, runtime/stream.h).
void decode_input(moeasr::Stream& stream, const DecodeArgs& args, size_t index, const std::string& key,
                  const std::string& path, Progress& progress, LineWriter& out) {
  auto reader = moeasr::WavReader::open(path, args.channel);
  const int rate = reader->sample_rate();
  const double declared_s = static_cast<double>(reader->declared_frames()) / rate;
  const bool chunked = stream.options().chunk_size > 0;
  const bool continuous =
      args.continuous == moeasr::cli::Continuous::kOn ||
      (args.continuous == moeasr::cli::Continuous::kAuto && chunked && args.dump_dir.empty() &&
       (reader->declared_frames() < 0 || declared_s > moeasr::cli::kContinuousAfterSeconds));
  const auto start = Clock::now();
  stream.reset();
  stream.set_time_offset_ms(0);  // times from the start of this input (they run on over its segments)

  nlohmann::json line = nlohmann::json::object();
  std::vector<int> tokens;
  std::vector<int64_t> times;
  nlohmann::json words = nlohmann::json::array();
  std::string text;
  int64_t segment_start = 0, segment_samples = 0, total = 0;
  auto close_segment = [&] {
    stream.input_finished();
    stream.decode();
    const moeasr::RecognitionResult r = stream.final_result();
    nlohmann::json result = moeasr::to_json(r);
    result.erase("is_final");
    if (!continuous) {
      line.update(result);
    } else if (!r.tokens.empty()) {
      result["start_ms"] = stream.time_offset_ms();
      result["end_ms"] = std::llround(static_cast<double>(segment_start + segment_samples) * 1000.0 / rate);
      if (!text.empty() && !r.text.empty()) text += " ";
      text += r.text;
      tokens.insert(tokens.end(), r.tokens.begin(), r.tokens.end());
      for (const auto& t : result["timestamps_ms"]) times.push_back(t.get<int64_t>());
      for (const auto& w : result["words"]) words.push_back(w);
      progress.clear();
      out.segment(result);
    }
    segment_start += segment_samples;
    segment_samples = 0;
  };

  std::vector<float> piece;
  const size_t piece_samples = std::max(rate / 2, 1024);
  for (;;) {
    piece.clear();
    const size_t n = reader->read(piece, piece_samples);
    if (n == 0) break;
    stream.accept_waveform(piece.data(), n, rate);
    segment_samples += static_cast<int64_t>(n);
    total += static_cast<int64_t>(n);
    stream.decode();
    if (continuous && stream.is_endpoint()) {
      close_segment();
      stream.reset();
    }
    progress.show(index, key, static_cast<double>(total) / rate, seconds_since(start));
  }
  if (!continuous || segment_samples > 0) close_segment();
  if (reader->truncated()) {
    progress.clear();
    std::cerr << "moeasr-decode: warning: " << key << ": " << path << " is truncated (its header promises "
              << declared_s << " s); decoded the " << static_cast<double>(total) / rate << " s that are there\n";
  }
  if (continuous) {
    line["text"] = text;
    line["tokens"] = tokens;
    line["timestamps_ms"] = times;
    line["words"] = std::move(words);
    if (!out.has_segments()) line["segments"] = nlohmann::json::array();
  }
  const double audio_s = static_cast<double>(total) / rate, decode_s = seconds_since(start);
  line["audio_seconds"] = audio_s;
  line["decode_seconds"] = decode_s;
  progress.input_done(audio_s, decode_s);
  if (!args.dump_dir.empty()) dump(args.dump_dir, key, stream);
  progress.clear();
  out.finish(std::move(line));
}

void print_warning(moeasr_log_level, const char* message, void*) {
  std::cerr << "moeasr-decode: warning: " << message << "\n";
}

// --check-config: the loader's own train.yaml parser on one file, with no
// weights and no units.txt (tools/count_wenet_configs.py runs it on WeNet's recipes).
int check_config(const std::string& path) {
  try {
    const moeasr::ModelConfig c = moeasr::load_model_config(path, moeasr::kVocabFromUnits);
    for (const std::string& w : c.warnings) std::cerr << "moeasr-decode: warning: " << w << "\n";
    std::cout << "moeasr-decode: " << path << ": accepted: " << c.encoder.num_blocks << " encoder layers of "
              << c.encoder.d_model << ", "
              << (c.decoder.type == moeasr::DecoderType::kNone ? "CTC only" : "attention decoder") << ", "
              << (c.encoder.trained_for_chunks() ? "trained for chunked decoding" : "full attention by default")
              << "\n";
    return 0;
  } catch (const Error& e) {
    std::cerr << "moeasr-decode: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace

int main(int argc, char** argv) {
  DecodeArgs args = moeasr::cli::parse_decode_args(argc, argv);
  moeasr::set_log_callback(print_warning, nullptr, MOEASR_LOG_WARNING);
  if (!args.check_config.empty()) return check_config(args.check_config);
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
    if (args.check_only) {
      const moeasr::EncoderConfig& e = model->config().encoder;
      std::cout << "moeasr-decode: " << args.model << ": ok: " << model->num_parameters() << " parameters, "
                << e.num_blocks << " encoder layers, " << (model->decoder() ? "attention decoder" : "CTC only")
                << (model->transducer() ? ", transducer predictor and joiner" : "")
                << ", " << (e.trained_for_chunks() ? "trained for chunked decoding" : "full attention by default")
                << "\n";
      return 0;
    }
    if (args.decode.search != moeasr::SearchMethod::kCtc && !model->transducer()) {
      std::cerr << "moeasr-decode: --mode transducer_greedy/transducer_beam needs a model: transducer (" << args.model
                << " has no predictor and joiner)\n";
      return 2;
    }
    if (args.decode.rescoring && !model->decoder()) {
      std::cerr << "moeasr-decode: warning: the model has no attention decoder; decoding in ctc mode\n";
      args.decode.rescoring = false;
    }
    if (!args.chunk_size_given) {
      args.decode.chunk_size = model->config().encoder.default_chunk_size();
      if (args.decode.chunk_size <= 0) {
        std::cerr << "moeasr-decode: the model was not trained for chunked decoding (train.yaml); decoding with "
                     "full attention (--chunk-size N to choose)\n";
      }
    }
    if (args.continuous == moeasr::cli::Continuous::kOn && args.decode.chunk_size <= 0) {
      std::cerr << "moeasr-decode: --continuous on needs chunked decoding (--chunk-size > 0): endpoints come from "
                   "the streaming CTC output\n";
      return 2;
    }
    if (!args.dump_dir.empty()) {
      std::error_code ec;
      std::filesystem::create_directories(args.dump_dir, ec);
      if (ec || !std::filesystem::is_directory(args.dump_dir)) {
        throw Error(MOEASR_ERR_IO, "--dump-dir " + args.dump_dir + " cannot be created: " + ec.message());
      }
    }
  } catch (const Error& e) {
    std::cerr << "moeasr-decode: " << e.what() << "\n";
    return 1;
  }

  // The decode options are checked against the model here (e.g. an
  // efficient conformer's chunk size): a refusal is a message, not an abort.
  std::unique_ptr<moeasr::Stream> owned;
  try {
    owned = std::make_unique<moeasr::Stream>(model, args.decode);
  } catch (const Error& e) {
    std::cerr << "moeasr-decode: " << e.what() << "\n";
    return 1;
  }
  moeasr::Stream& stream = *owned;
  stream.set_adapters(adapters);
  stream.set_keep_debug_outputs(!args.dump_dir.empty());
  Progress progress(args.inputs.size());
  std::vector<std::string> failed;
  for (size_t i = 0; i < args.inputs.size(); ++i) {
    const auto& [key, path] = args.inputs[i];
    LineWriter out(key);
    try {
      decode_input(stream, args, i, key, path, progress, out);
    } catch (const std::exception& e) {
      moeasr_status status = MOEASR_ERR_INTERNAL;
      std::string message = e.what();
      if (const auto* me = dynamic_cast<const Error*>(&e)) {
        status = me->status();
      } else if (dynamic_cast<const std::bad_alloc*>(&e)) {
        status = MOEASR_ERR_OUT_OF_MEMORY;
        message = "out of memory";
      }
      progress.clear();
      std::cerr << "moeasr-decode: " << key << ": " << message << "\n";
      out.finish({{"error", message}, {"status", moeasr_status_string(status)}});
      failed.push_back(key);
    }
  }
  if (!failed.empty()) {
    std::cerr << "moeasr-decode: " << failed.size() << " of " << args.inputs.size() << " failed:";
    for (const std::string& k : failed) std::cerr << " " << k;
    std::cerr << "\n";
    return 1;
  }
  return 0;
}
