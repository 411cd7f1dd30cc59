#include "classifier/classifier.h"

#include <sys/stat.h>

#include "core/parallel.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/error.h"
#include "core/mapped_file.h"
#include "frontend/fbank.h"
#include "frontend/resampler.h"
#include "formats/weight_spec.h"

namespace moeasr {

namespace {

FbankOptions fbank_options(const AstConfig& c) {
  // Hugging Face's ASTFeatureExtractor: torchaudio's Kaldi fbank with a hanning
  // window on the samples as they are (no int16 scaling); the rest are Kaldi's defaults.
  FbankOptions o;
  o.sample_rate = c.sample_rate;
  o.num_mel_bins = c.num_mel_bins;
  o.input_scale = 1.f;
  o.window = FbankWindow::kHanning;
  return o;
}

}  // namespace

std::vector<std::string> parse_labels(const std::string& text, const std::string& source) {
  std::vector<std::string> labels;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    MOEASR_CHECK(!line.empty(), MOEASR_ERR_FORMAT, source, ": line ", labels.size() + 1, " is empty (one label per line)");
    MOEASR_CHECK(line.find('\0') == std::string::npos, MOEASR_ERR_FORMAT, source, ": line ", labels.size() + 1,
                 " holds a NUL byte");
    labels.push_back(std::move(line));
    pos = end + 1;
  }
  return labels;
}

std::shared_ptr<const Classifier> Classifier::load(const std::string& dir, const ClassifierOptions& options) {
  MOEASR_CHECK(options.threads >= 1 && options.threads <= 1024, MOEASR_ERR_INVALID_ARGUMENT,
               "threads must be in [1, 1024], got ", options.threads);
  MOEASR_CHECK(options.device == "cpu", MOEASR_ERR_UNSUPPORTED, "device '", options.device,
               "': the classifier runs on the CPU only in this version");
  struct stat st;
  MOEASR_CHECK(!dir.empty(), MOEASR_ERR_INVALID_ARGUMENT, "empty classifier directory path");
  MOEASR_CHECK(::stat(dir.c_str(), &st) == 0, MOEASR_ERR_IO, "classifier directory ", dir, " does not exist");
  MOEASR_CHECK(S_ISDIR(st.st_mode), MOEASR_ERR_IO, dir, " is not a directory");
  const std::string base = dir.back() == '/' ? dir : dir + "/";

  std::shared_ptr<Classifier> c(new Classifier());
  c->options_ = options;
  c->config_ = parse_ast_config(read_file(base + "classifier.yaml"), base + "classifier.yaml");
  c->labels_ = parse_labels(read_file(base + "labels.txt"), base + "labels.txt");
  MOEASR_CHECK(static_cast<int64_t>(c->labels_.size()) == c->config_.num_labels, MOEASR_ERR_FORMAT, base + "labels.txt",
               " has ", c->labels_.size(), " labels but classifier.yaml head.num_labels is ",
               c->config_.num_labels);
  c->weights_ = SafeTensors::open(base + "model.safetensors");
  validate_tensors(*c->weights_, expected_ast_tensors(c->config_), "classifier.yaml");
  for (const SafeTensorInfo& t : c->weights_->tensors()) c->num_parameters_ += shape_numel(t.shape);
  c->model_ = std::make_unique<AstModel>(c->config_, c->weights_);
  return c;
}

std::vector<float> Classifier::fbank(const float* samples, size_t n) const {
  return compute_fbank(samples, n, fbank_options(config_));
}

std::vector<float> Classifier::input_values(const std::vector<float>& fbank) const {
  const size_t bins = static_cast<size_t>(config_.num_mel_bins);
  const size_t total = static_cast<size_t>(config_.max_length) * bins;
  // Zero frames first, then the normalization (HF's order: padding becomes -mean / (2 std)).
  std::vector<float> v(total, 0.f);
  std::copy_n(fbank.begin(), std::min(total, fbank.size()), v.begin());
  const float inv = 1.f / (2.f * config_.std);
  for (float& x : v) x = (x - config_.mean) * inv;
  return v;
}

std::vector<float> Classifier::logits(const float* samples, size_t n, int sample_rate) const {
  MOEASR_CHECK(samples || n == 0, MOEASR_ERR_INVALID_ARGUMENT, "samples is NULL");
  MOEASR_CHECK(sample_rate > 0, MOEASR_ERR_INVALID_ARGUMENT, "sample rate must be positive, got ", sample_rate);
  for (size_t i = 0; i < n; ++i) {
    MOEASR_CHECK(std::isfinite(samples[i]), MOEASR_ERR_INVALID_ARGUMENT, "sample ", i,
                 " is not a finite number (NaN or Inf)");
  }
  std::vector<float> resampled;
  if (sample_rate != config_.sample_rate) {
    Resampler resampler(sample_rate, config_.sample_rate);
    resampler.process(samples, n, true, &resampled);
    samples = resampled.data();
    n = resampled.size();
  }
  const std::vector<float> feats = fbank(samples, n);
  MOEASR_CHECK(!feats.empty(), MOEASR_ERR_INVALID_ARGUMENT, "audio of ", n, " samples at ", config_.sample_rate,
               " Hz is shorter than one 25 ms fbank frame");
  set_intra_op_threads(options_.threads);
  return model_->forward(input_values(feats).data());
}

std::vector<float> Classifier::scores(const std::vector<float>& logits) const {
  std::vector<float> s(logits.size());
  if (config_.score == AstScore::kSigmoid) {
    for (size_t i = 0; i < s.size(); ++i) s[i] = 1.f / (1.f + std::exp(-logits[i]));
    return s;
  }
  const float top = *std::max_element(logits.begin(), logits.end());
  double sum = 0;
  for (size_t i = 0; i < s.size(); ++i) sum += s[i] = std::exp(logits[i] - top);
  for (float& x : s) x = static_cast<float>(x / sum);
  return s;
}

std::vector<LabelScore> Classifier::classify(const float* samples, size_t n, int sample_rate, int top_k) const {
  MOEASR_CHECK(top_k >= 1, MOEASR_ERR_INVALID_ARGUMENT, "top_k must be >= 1, got ", top_k);
  const std::vector<float> l = logits(samples, n, sample_rate);
  const std::vector<float> s = scores(l);
  std::vector<int> order(s.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return s[a] > s[b]; });
  order.resize(std::min(order.size(), static_cast<size_t>(top_k)));
  std::vector<LabelScore> out;
  for (int i : order) out.push_back({i, labels_[i], s[i], l[i]});
  return out;
}

}  // namespace moeasr
