#include "serving/triton/metrics.h"

namespace moeasr::triton {
namespace {

// Errors here only cost a metric: they are dropped.
bool ok(TRITONSERVER_Error* err) {
  if (err == nullptr) return true;
  TRITONSERVER_ErrorDelete(err);
  return false;
}

TRITONSERVER_MetricFamily* family(TRITONSERVER_MetricKind kind, const char* name, const char* description) {
  TRITONSERVER_MetricFamily* f = nullptr;
  return ok(TRITONSERVER_MetricFamilyNew(&f, kind, name, description)) ? f : nullptr;
}

TRITONSERVER_Metric* metric(TRITONSERVER_MetricFamily* f, const std::string& model) {
  if (f == nullptr) return nullptr;
  TRITONSERVER_Parameter* label = TRITONSERVER_ParameterNew("model", TRITONSERVER_PARAMETER_STRING, model.c_str());
  const TRITONSERVER_Parameter* labels[] = {label};
  TRITONSERVER_Metric* m = nullptr;
  const bool made = ok(TRITONSERVER_MetricNew(&m, f, labels, 1));
  TRITONSERVER_ParameterDelete(label);
  return made ? m : nullptr;
}

}  // namespace

MetricFamilies::MetricFamilies()
    : live_sequences(family(TRITONSERVER_METRIC_KIND_GAUGE, "moeasr_live_sequences",
                            "Sequences of a streaming moeasr model that hold a stream")),
      idle_released(family(TRITONSERVER_METRIC_KIND_COUNTER, "moeasr_idle_sequences_released_total",
                           "Streams freed because their sequence sent nothing past max_sequence_idle_microseconds")) {}

MetricFamilies::~MetricFamilies() {
  if (live_sequences != nullptr) ok(TRITONSERVER_MetricFamilyDelete(live_sequences));
  if (idle_released != nullptr) ok(TRITONSERVER_MetricFamilyDelete(idle_released));
}

ModelMetrics::ModelMetrics(MetricFamilies* families, const std::string& model)
    : live_sequences_(families ? metric(families->live_sequences, model) : nullptr),
      idle_released_(families ? metric(families->idle_released, model) : nullptr) {}

ModelMetrics::~ModelMetrics() {
  if (live_sequences_ != nullptr) ok(TRITONSERVER_MetricDelete(live_sequences_));
  if (idle_released_ != nullptr) ok(TRITONSERVER_MetricDelete(idle_released_));
}

void ModelMetrics::set_live_sequences(size_t n) {
  if (live_sequences_ != nullptr) ok(TRITONSERVER_MetricSet(live_sequences_, static_cast<double>(n)));
}

void ModelMetrics::add_idle_released(size_t n) {
  if (idle_released_ != nullptr && n > 0) ok(TRITONSERVER_MetricIncrement(idle_released_, static_cast<double>(n)));
}

}  // namespace moeasr::triton
