// moeasr-classify: classify WAV files with an audio classifier directory
// (classifier.yaml, model.safetensors, labels.txt). Results on stdout, one
// error line per failed file on stderr; exit 1 if any file failed, 2 for usage.
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/flags.h"
#include "core/error.h"
#include "frontend/wav_reader.h"
#include "classifier/classifier.h"

namespace {

const char* kUsage = R"(usage: moeasr-classify MODEL_DIR WAV... [options]

Classifies 16-bit PCM or float WAV files (any sample rate; --channel picks or
mixes the channels of a multi-channel file) with an Audio
Spectrogram Transformer classifier directory (classifier.yaml, model.safetensors,
labels.txt). Prints, per file, the top-k labels best first:
  text:  "<file>\t<label>\t<score>" lines
  json:  one line {"file", "labels": [{"index", "label", "score", "logit"}]}

options:
  --top-k N     labels per file (default 5; more than the model has: all)
  --json        JSON lines instead of text
  --threads N   intra-op threads (default 1)
  --channel N|mix
                channel N of multi-channel files, or the mean of all channels
  --version     the version
  -h, --help    this text
)";

constexpr const char* kProgram = "moeasr-classify";

[[noreturn]] void usage_error(const std::string& message) { moeasr::cli::usage_error(kProgram, message); }
int parse_int(const std::string& flag, const std::string& v) { return moeasr::cli::parse_int(kProgram, flag, v); }

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> positional;
  int top_k = 5;
  bool json = false;
  int channel = -1;
  moeasr::ClassifierOptions options;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage_error(a + " needs a value");
      return argv[++i];
    };
    if (a == "-h" || a == "--help") {
      std::cout << kUsage;
      return 0;
    } else if (a == "--top-k") {
      top_k = parse_int(a, value());
      if (top_k < 1) usage_error("--top-k must be >= 1");
    } else if (a == "--version") {
      std::cout << "moeasr-classify " << moeasr_version() << "\n";
      return 0;
    } else if (a == "--channel") {
      const std::string v = value();
      channel = v == "mix" ? moeasr::kWavDownmix : parse_int(a, v);
      if (v != "mix" && channel < 0) usage_error("--channel must be a channel number (from 0) or mix");
    } else if (a == "--json") {
      json = true;
    } else if (a == "--threads") {
      options.threads = parse_int(a, value());
    } else if (a.size() > 1 && a[0] == '-') {
      usage_error("unknown option " + a);
    } else {
      positional.push_back(a);
    }
  }
  if (positional.size() < 2) usage_error("needs a model directory and at least one WAV file");

  std::shared_ptr<const moeasr::Classifier> classifier;
  try {
    classifier = moeasr::Classifier::load(positional[0], options);
  } catch (const std::exception& e) {
    std::cerr << "moeasr-classify: " << e.what() << "\n";
    return 1;
  }
  int failed = 0;
  for (size_t f = 1; f < positional.size(); ++f) {
    const std::string& path = positional[f];
    try {
      const moeasr::Waveform w = moeasr::read_wav(path, channel);
      const auto top = classifier->classify(w.samples.data(), w.samples.size(), w.sample_rate, top_k);
      if (json) {
        nlohmann::json labels = nlohmann::json::array();
        for (const moeasr::LabelScore& t : top) {
          labels.push_back({{"index", t.index}, {"label", t.label}, {"score", t.score}, {"logit", t.logit}});
        }
        std::cout << nlohmann::json{{"file", path}, {"labels", labels}}.dump(
                         -1, ' ', false, nlohmann::json::error_handler_t::replace)
                  << "\n";
      } else {
        for (const moeasr::LabelScore& t : top) {
          char score[32];
          std::snprintf(score, sizeof score, "%.6f", t.score);
          std::cout << path << "\t" << t.label << "\t" << score << "\n";
        }
      }
      std::cout.flush();
    } catch (const std::exception& e) {
      std::cerr << "moeasr-classify: " << path << ": " << e.what() << "\n";
      ++failed;
    }
  }
  if (failed) {
    std::cerr << "moeasr-classify: " << failed << " of " << positional.size() - 1 << " files failed\n";
    return 1;
  }
  return 0;
}
