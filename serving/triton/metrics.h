// The backend's own metrics on Triton's /metrics endpoint (Prometheus), per
// model: how many sequences hold a stream now, and how many streams were
// freed because their sequence went idle. A server that cannot make metrics
// (started with --allow-metrics=false) gets none, and serving goes on.
#ifndef MOEASR_SERVING_TRITON_METRICS_H_
#define MOEASR_SERVING_TRITON_METRICS_H_

#include <cstddef>
#include <string>

#include "triton/core/tritonbackend.h"

namespace moeasr::triton {

// The metric families, one set per loaded backend.
class MetricFamilies {
 public:
  MetricFamilies();  // families that cannot be made stay NULL
  ~MetricFamilies();
  MetricFamilies(const MetricFamilies&) = delete;
  MetricFamilies& operator=(const MetricFamilies&) = delete;
  TRITONSERVER_MetricFamily* live_sequences = nullptr;  // gauge
  TRITONSERVER_MetricFamily* idle_released = nullptr;   // counter
};

// One model's metrics (label model="name").
class ModelMetrics {
 public:
  ModelMetrics(MetricFamilies* families, const std::string& model);
  ~ModelMetrics();
  ModelMetrics(const ModelMetrics&) = delete;
  ModelMetrics& operator=(const ModelMetrics&) = delete;
  void set_live_sequences(size_t n);
  void add_idle_released(size_t n);

 private:
  TRITONSERVER_Metric* live_sequences_ = nullptr;
  TRITONSERVER_Metric* idle_released_ = nullptr;
};

}  // namespace moeasr::triton

#endif  // MOEASR_SERVING_TRITON_METRICS_H_
