#include "runtime/result_json.h"

namespace moeasr {

namespace {

std::vector<int64_t> shifted(const std::vector<int>& times_ms, int64_t offset_ms) {
  std::vector<int64_t> out(times_ms.begin(), times_ms.end());
  for (int64_t& t : out) t += offset_ms;
  return out;
}

}  // namespace

nlohmann::json to_json(const Hypothesis& h, int64_t time_offset_ms) {
  nlohmann::json j = {{"text", h.text},
                      {"tokens", h.tokens},
                      {"timestamps_ms", shifted(h.timestamps_ms, time_offset_ms)},
                      {"ctc_score", h.ctc_score},
                      {"score", h.score}};
  if (h.rescored) j["attention_score"] = h.attention_score;
  return j;
}

nlohmann::json to_json(const RecognitionResult& r, int64_t time_offset_ms) {
  nlohmann::json nbest = nlohmann::json::array();
  for (const Hypothesis& h : r.nbest) nbest.push_back(to_json(h, time_offset_ms));
  return {{"text", r.text},
          {"tokens", r.tokens},
          {"timestamps_ms", shifted(r.timestamps_ms, time_offset_ms)},
          {"is_final", r.is_final},
          {"nbest", nbest}};
}

}  // namespace moeasr
