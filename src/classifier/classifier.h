// An audio classifier (the Audio Spectrogram Transformer): the immutable model
// loaded from a classifier directory (classifier.yaml, model.safetensors,
// labels.txt) and the whole path from a waveform to ranked labels. A clip is
// classified in one call with no state kept between calls, so one Classifier
// serves any number of threads at once.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "formats/classifier_config.h"
#include "classifier/ast_model.h"
#include "formats/safetensors.h"

namespace moeasr {

struct ClassifierOptions {
  int threads = 1;             // intra-op threads of one classify call
  std::string device = "cpu";  // "cpu" only in this version
};

struct LabelScore {
  int index = 0;
  std::string label;
  float score = 0.f;  // sigmoid or softmax of the logit (classifier.yaml head.score)
  float logit = 0.f;
};

class Classifier {
 public:
  // Throws Error(MOEASR_ERR_IO) for a missing directory or file,
  // MOEASR_ERR_FORMAT / MOEASR_ERR_UNSUPPORTED for anything invalid.
  static std::shared_ptr<const Classifier> load(const std::string& dir, const ClassifierOptions& options = {});

  const AstConfig& config() const { return config_; }
  const std::vector<std::string>& labels() const { return labels_; }
  const ClassifierOptions& options() const { return options_; }
  int64_t num_parameters() const { return num_parameters_; }

  // Raw fbank [frames, num_mel_bins] of samples in [-1, 1] at the model's rate.
  std::vector<float> fbank(const float* samples, size_t n) const;
  // The network's input [max_length, num_mel_bins]: fbank padded with zero
  // frames or truncated to max_length, then (x - mean) / (2 std).
  std::vector<float> input_values(const std::vector<float>& fbank) const;
  // Logits [num_labels] of a clip at any rate (resampled to the model's). Throws
  // Error(MOEASR_ERR_INVALID_ARGUMENT) for NULL samples, non-finite samples,
  // a rate <= 0 or outside the resampler's range, or a clip shorter than one
  // 25 ms frame.
  std::vector<float> logits(const float* samples, size_t n, int sample_rate) const;
  std::vector<float> scores(const std::vector<float>& logits) const;
  // The top_k best labels, best first (ties: lower index first); top_k larger
  // than the label count gives every label. top_k < 1: MOEASR_ERR_INVALID_ARGUMENT.
  std::vector<LabelScore> classify(const float* samples, size_t n, int sample_rate, int top_k) const;

 private:
  Classifier() = default;
  AstConfig config_;
  ClassifierOptions options_;
  std::vector<std::string> labels_;
  std::shared_ptr<const SafeTensors> weights_;
  std::unique_ptr<AstModel> model_;
  int64_t num_parameters_ = 0;
};

// labels.txt: one label per line in index order ('\r\n' accepted); empty
// labels are errors. `source` names the file in messages.
std::vector<std::string> parse_labels(const std::string& text, const std::string& source);

}  // namespace moeasr
