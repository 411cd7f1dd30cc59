// C API: the audio classifier (moeasr_classifier_*, moeasr_classify*).
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/handles.h"
#include "core/logging.h"
#include "classifier/classifier.h"

using moeasr::api::guarded;

namespace {

constexpr uint32_t kClassifierMagic = 0x4D4F4543;      // "MOEC"
constexpr uint32_t kClassificationMagic = 0x4D4F4552 ^ 0x00000011;

}  // namespace

struct moeasr_classifier {
  uint32_t magic = kClassifierMagic;
  std::shared_ptr<const moeasr::Classifier> classifier;
};

namespace {

// A moeasr_classification and the strings its entries point into; freed as one.
struct ClassificationHolder : moeasr_classification {
  uint32_t magic = kClassificationMagic;
  std::vector<std::string> names;
  std::vector<moeasr_label_score> entries;
};

const moeasr::Classifier& checked(const moeasr_classifier* c) {
  MOEASR_CHECK(c, MOEASR_ERR_INVALID_ARGUMENT, "classifier is NULL");
  MOEASR_CHECK(c->magic == kClassifierMagic, MOEASR_ERR_INVALID_ARGUMENT, "not a live moeasr_classifier handle");
  return *c->classifier;
}

moeasr_classification* to_c(const std::vector<moeasr::LabelScore>& top) {
  auto h = std::make_unique<ClassificationHolder>();
  for (const moeasr::LabelScore& t : top) h->names.push_back(t.label);
  for (size_t i = 0; i < top.size(); ++i) {
    h->entries.push_back({top[i].index, h->names[i].c_str(), top[i].score, top[i].logit});
  }
  h->labels = h->entries.data();
  h->num_labels = h->entries.size();
  return h.release();
}

std::vector<float> widen(const int16_t* samples, size_t n) {
  MOEASR_CHECK(samples || n == 0, MOEASR_ERR_INVALID_ARGUMENT, "samples is NULL");
  std::vector<float> f(n);
  for (size_t i = 0; i < n; ++i) f[i] = samples[i] / 32768.f;
  return f;
}

}  // namespace

extern "C" {

moeasr_status moeasr_classifier_default_options(moeasr_classifier_options* options) {
  return guarded("moeasr_classifier_default_options", [&] {
    MOEASR_CHECK(options, MOEASR_ERR_INVALID_ARGUMENT, "options is NULL");
    options->struct_size = sizeof(moeasr_classifier_options);
    options->threads = 1;
    options->device = "cpu";
  });
}

moeasr_status moeasr_classifier_load(const char* model_dir, const moeasr_classifier_options* options,
                                     moeasr_classifier** out_classifier) {
  if (out_classifier) *out_classifier = nullptr;
  return guarded("moeasr_classifier_load", [&] {
    MOEASR_CHECK(out_classifier, MOEASR_ERR_INVALID_ARGUMENT, "out_classifier is NULL");
    MOEASR_CHECK(model_dir, MOEASR_ERR_INVALID_ARGUMENT, "model_dir is NULL");
    moeasr_classifier_options defaults;
    moeasr_classifier_default_options(&defaults);
    const moeasr_classifier_options o = moeasr::api::read_options(
        options, defaults, sizeof(moeasr_classifier_options), "moeasr_classifier_options");
    moeasr::ClassifierOptions co;
    co.threads = o.threads;
    co.device = o.device ? o.device : "cpu";
    auto handle = std::make_unique<moeasr_classifier>();
    handle->classifier = moeasr::Classifier::load(model_dir, co);
    const moeasr::AstConfig& c = handle->classifier->config();
    moeasr::log_info("loaded classifier ", model_dir, ": AST ", c.layers, " x ", c.hidden, ", ", c.num_tokens(),
                     " tokens",
                     c.adapter.type == moeasr::AdapterType::kNone      ? ""
                     : c.adapter.type == moeasr::AdapterType::kSoftMoa ? ", Soft-MoA adapters"
                                                                       : ", dense MoA adapters",
                     ", ", c.num_labels, " labels, ", handle->classifier->num_parameters(), " parameters");
    *out_classifier = handle.release();
  });
}

moeasr_status moeasr_classifier_free(moeasr_classifier* classifier) {
  if (!classifier) return MOEASR_OK;
  return guarded("moeasr_classifier_free", [&] {
    checked(classifier);
    classifier->magic = kDeadMagic;
    delete classifier;
  });
}

moeasr_status moeasr_classifier_get_info(const moeasr_classifier* classifier, moeasr_classifier_info* info) {
  return guarded("moeasr_classifier_get_info", [&] {
    const moeasr::Classifier& c = checked(classifier);
    MOEASR_CHECK(info, MOEASR_ERR_INVALID_ARGUMENT, "info is NULL");
    MOEASR_CHECK(info->struct_size >= sizeof(size_t) + sizeof(int32_t), MOEASR_ERR_INVALID_ARGUMENT,
                 "info->struct_size is ", info->struct_size, "; set it to sizeof(moeasr_classifier_info)");
    const moeasr::AstConfig& a = c.config();
    moeasr_classifier_info full;
    std::memset(&full, 0, sizeof(full));
    full.struct_size = sizeof(full);
    full.sample_rate = a.sample_rate;
    full.num_labels = a.num_labels;
    full.multi_label = a.score == moeasr::AstScore::kSigmoid ? 1 : 0;
    full.max_frames = a.max_length;
    full.hidden_size = a.hidden;
    full.num_layers = a.layers;
    full.adapter_experts = a.adapter.type == moeasr::AdapterType::kNone ? 0 : a.adapter.num_experts;
    full.num_parameters = c.num_parameters();
    const size_t n = std::min(info->struct_size, sizeof(full));
    std::memcpy(static_cast<void*>(info), &full, n);
    info->struct_size = n;
  });
}

moeasr_status moeasr_classifier_get_label(const moeasr_classifier* classifier, int32_t index,
                                          const char** out_label) {
  if (out_label) *out_label = nullptr;
  return guarded("moeasr_classifier_get_label", [&] {
    const moeasr::Classifier& c = checked(classifier);
    MOEASR_CHECK(out_label, MOEASR_ERR_INVALID_ARGUMENT, "out_label is NULL");
    const int32_t n = static_cast<int32_t>(c.labels().size());
    MOEASR_CHECK(index >= 0 && index < n, MOEASR_ERR_INVALID_ARGUMENT, "label index ", index, " is outside [0, ", n,
                 ")");
    *out_label = c.labels()[index].c_str();
  });
}

moeasr_status moeasr_classify(const moeasr_classifier* classifier, const float* samples, size_t n,
                              int32_t sample_rate, int32_t top_k, moeasr_classification** out_result) {
  if (out_result) *out_result = nullptr;
  return guarded("moeasr_classify", [&] {
    const moeasr::Classifier& c = checked(classifier);
    MOEASR_CHECK(out_result, MOEASR_ERR_INVALID_ARGUMENT, "out_result is NULL");
    *out_result = to_c(c.classify(samples, n, sample_rate, top_k));
  });
}

moeasr_status moeasr_classify_int16(const moeasr_classifier* classifier, const int16_t* samples, size_t n,
                                    int32_t sample_rate, int32_t top_k, moeasr_classification** out_result) {
  if (out_result) *out_result = nullptr;
  return guarded("moeasr_classify_int16", [&] {
    const moeasr::Classifier& c = checked(classifier);
    MOEASR_CHECK(out_result, MOEASR_ERR_INVALID_ARGUMENT, "out_result is NULL");
    const std::vector<float> f = widen(samples, n);
    *out_result = to_c(c.classify(f.data(), n, sample_rate, top_k));
  });
}

moeasr_status moeasr_classification_free(moeasr_classification* result) {
  if (!result) return MOEASR_OK;
  return guarded("moeasr_classification_free", [&] {
    auto* holder = static_cast<ClassificationHolder*>(result);
    MOEASR_CHECK(holder->magic == kClassificationMagic, MOEASR_ERR_INVALID_ARGUMENT,
                 "not a live moeasr_classification");
    holder->magic = kDeadMagic;
    delete holder;
  });
}

moeasr_status moeasr_classify_json(const moeasr_classifier* classifier, const float* samples, size_t n,
                                   int32_t sample_rate, int32_t top_k, char** out_json) {
  if (out_json) *out_json = nullptr;
  return guarded("moeasr_classify_json", [&] {
    const moeasr::Classifier& c = checked(classifier);
    MOEASR_CHECK(out_json, MOEASR_ERR_INVALID_ARGUMENT, "out_json is NULL");
    nlohmann::json labels = nlohmann::json::array();
    for (const moeasr::LabelScore& t : c.classify(samples, n, sample_rate, top_k)) {
      labels.push_back({{"index", t.index}, {"label", t.label}, {"score", t.score}, {"logit", t.logit}});
    }
    // Labels come from a file: invalid UTF-8 is replaced rather than thrown.
    const std::string text =
        nlohmann::json{{"labels", labels}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    char* out = static_cast<char*>(std::malloc(text.size() + 1));
    if (!out) throw std::bad_alloc();
    std::memcpy(out, text.c_str(), text.size() + 1);
    *out_json = out;
  });
}

}  // extern "C"
