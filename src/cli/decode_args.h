// moeasr-decode's command line: the options, their parsing and the list of
// inputs (--wav, --wav-scp). Usage errors print a message and exit with 2.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "runtime/recognition.h"

namespace moeasr::cli {

// Continuous decoding (WeNet's --continuous_decoding): the input is cut into
// segments at endpoints and each segment is decoded as an utterance, so time
// and memory per second of audio stay flat however long the input is.
enum class Continuous { kAuto, kOn, kOff };

// kAuto turns continuous decoding on for inputs longer than this (and for
// standard input, whose length is unknown).
constexpr double kContinuousAfterSeconds = 60;

struct DecodeArgs {
  std::string model, adapters, wav_scp, dump_dir;
  std::vector<std::pair<std::string, std::string>> inputs;  // key, path ("-": standard input)
  DecodeOptions decode;
  bool chunk_size_given = false;  // else the model's default (ModelConfig: default_chunk_size)
  Continuous continuous = Continuous::kAuto;
  int threads = 1;
  int channel = -1;  // kWavDownmix: the mean of all channels
  std::string compute_type = "default";
  std::string device = "cpu";
  bool experts_only = false;
  bool check_only = false;  // --check: load the model, report, decode nothing
  std::string check_config;  // --check-config FILE: does the loader accept this train.yaml?
};

DecodeArgs parse_decode_args(int argc, char** argv);

}  // namespace moeasr::cli
