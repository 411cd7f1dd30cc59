// Reading the YAML configs (train.yaml, adapters.yaml, classifier.yaml): one
// loader, one check for formats where unknown keys are errors, and typed
// getters that name "section.key" in every error.
#pragma once

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "core/activation.h"
#include "core/error.h"

namespace moeasr {

// `text` parsed as a YAML mapping; Error(MOEASR_ERR_FORMAT) naming `source` otherwise.
YAML::Node load_yaml_mapping(const std::string& text, const std::string& source);

// Error(MOEASR_ERR_FORMAT) "<source>: unknown key <prefix><key>" for the first
// key of the mapping `node` that is not in `known`.
void reject_unknown_keys(const YAML::Node& node, const std::string& prefix, const std::string& source,
                         std::initializer_list<const char*> known);

// One mapping (e.g. train.yaml's encoder_conf). Remembers which keys were
// looked at so the rest can be reported (collect_unknown).
class YamlSection {
 public:
  YamlSection(const YAML::Node& node, std::string name, std::string source)
      : node_(node), name_(std::move(name)), source_(std::move(source)) {
    if (node_ && !node_.IsNull() && !node_.IsMap()) {
      throw_error(MOEASR_ERR_FORMAT, source_, ": ", name_, " is not a mapping");
    }
  }

  bool has(const std::string& key) {
    seen_.insert(key);
    return node_ && node_.IsMap() && node_[key] && !node_[key].IsNull();
  }
  // Present with the value null (has() counts that as absent).
  bool is_null(const std::string& key) {
    seen_.insert(key);
    return node_ && node_.IsMap() && node_[key] && node_[key].IsNull();
  }

  template <typename T>
  T get(const std::string& key, T fallback) {
    if (!has(key)) return fallback;
    try {
      return node_[key].as<T>();
    } catch (const YAML::Exception&) {
      throw_error(MOEASR_ERR_FORMAT, source_, ": ", where(key), " has an invalid value '", scalar(key), "'");
    }
  }

  int get_positive(const std::string& key, int fallback) {
    int v = get<int>(key, fallback);
    MOEASR_CHECK(v > 0, MOEASR_ERR_FORMAT, source_, ": ", where(key), " must be positive, got ", v);
    return v;
  }

  float get_float(const std::string& key, float fallback) {
    double v = get<double>(key, fallback);
    MOEASR_CHECK(std::isfinite(v), MOEASR_ERR_FORMAT, source_, ": ", where(key), " is not a finite number");
    return static_cast<float>(v);
  }

  // An activation by WeNet's name (activation_name), `fallback` when absent;
  // the names in `none` are accepted too and give nullopt (e.g. "identity").
  std::optional<Activation> get_activation(const std::string& key, const std::string& fallback,
                                           const std::vector<std::string>& none = {});

  // A string key that must take one of `supported` values.
  std::string get_choice(const std::string& key, const std::string& fallback,
                         const std::vector<std::string>& supported) {
    std::string v = get<std::string>(key, fallback);
    if (std::find(supported.begin(), supported.end(), v) == supported.end()) {
      std::string list;
      for (const auto& s : supported) list += (list.empty() ? "" : ", ") + s;
      throw_error(MOEASR_ERR_UNSUPPORTED, source_, ": ", where(key), ": '", v,
                  "' is not supported by this runtime (supported: ", list, ")");
    }
    return v;
  }

  // A boolean key the runtime supports only at one value.
  void require_bool(const std::string& key, bool fallback, bool supported) {
    bool v = get<bool>(key, fallback);
    MOEASR_CHECK(v == supported, MOEASR_ERR_UNSUPPORTED, source_, ": ", where(key), ": ", v ? "true" : "false",
                 " is not supported by this runtime (only ", supported ? "true" : "false", ")");
  }

  // A key that must be absent or null (features the runtime does not implement).
  void require_null(const std::string& key) {
    if (has(key)) {
      throw_error(MOEASR_ERR_UNSUPPORTED, source_, ": ", where(key), ": '", scalar(key),
                  "' is not supported by this runtime (must be null)");
    }
  }

  void ignore(std::initializer_list<const char*> keys) {
    for (const char* k : keys) seen_.insert(k);
  }

  // Keys present in the mapping that nobody asked for.
  void collect_unknown(std::vector<std::string>* warnings) const {
    if (!node_ || !node_.IsMap()) return;
    for (auto it = node_.begin(); it != node_.end(); ++it) {
      std::string key = it->first.as<std::string>("?");
      if (!seen_.count(key)) {
        warnings->push_back(source_ + ": unknown key " + where(key) + " ignored");
      }
    }
  }

  // An integer in [lo, hi]; a missing key is an error unless `fallback` is given.
  int get_int_in(const std::string& key, int lo, int hi, const int* fallback = nullptr) {
    if (!has(key)) {
      MOEASR_CHECK(fallback, MOEASR_ERR_FORMAT, source_, ": ", where(key), " is missing");
      return *fallback;
    }
    long long v = 0;
    try {
      v = node_[key].as<long long>();
    } catch (const YAML::Exception&) {
      throw_error(MOEASR_ERR_FORMAT, source_, ": ", where(key), " is not an integer: '", scalar(key), "'");
    }
    MOEASR_CHECK(v >= lo && v <= hi, MOEASR_ERR_FORMAT, source_, ": ", where(key), " must be in [", lo, ", ", hi,
                 "], got ", v);
    return static_cast<int>(v);
  }
  int get_int_in(const std::string& key, int lo, int hi, int fallback) { return get_int_in(key, lo, hi, &fallback); }

  std::string where(const std::string& key) const { return name_.empty() ? key : name_ + "." + key; }

 private:
  std::string scalar(const std::string& key) const {
    const YAML::Node n = node_[key];
    if (n.IsScalar()) return n.Scalar();
    return n.IsSequence() ? "<list>" : n.IsMap() ? "<mapping>" : "<null>";
  }

  YAML::Node node_;
  std::string name_;
  std::string source_;
  std::set<std::string> seen_;
};

}  // namespace moeasr
