#include "formats/yaml_section.h"

namespace moeasr {

YAML::Node load_yaml_mapping(const std::string& text, const std::string& source) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw_error(MOEASR_ERR_FORMAT, source, ": invalid YAML: ", e.what());
  }
  MOEASR_CHECK(root.IsMap(), MOEASR_ERR_FORMAT, source, ": not a YAML mapping");
  return root;
}

void reject_unknown_keys(const YAML::Node& node, const std::string& prefix, const std::string& source,
                         std::initializer_list<const char*> known) {
  for (auto it = node.begin(); it != node.end(); ++it) {
    const std::string key = it->first.as<std::string>("?");
    const bool ok = std::any_of(known.begin(), known.end(), [&](const char* k) { return key == k; });
    MOEASR_CHECK(ok, MOEASR_ERR_FORMAT, source, ": unknown key ", prefix, key);
  }
}

std::optional<Activation> YamlSection::get_activation(const std::string& key, const std::string& fallback,
                                                     const std::vector<std::string>& none) {
  static constexpr Activation kAll[] = {Activation::kRelu, Activation::kSwish, Activation::kGelu,
                                        Activation::kTanh, Activation::kSelu,  Activation::kHardtanh};
  std::vector<std::string> names = none;
  for (Activation a : kAll) names.push_back(activation_name(a));
  const std::string v = get_choice(key, fallback, names);
  for (Activation a : kAll) {
    if (v == activation_name(a)) return a;
  }
  return std::nullopt;
}

}  // namespace moeasr
