#include "nn/token_groups.h"

#include <algorithm>

#include "core/error.h"

namespace moeasr {

void within_sequence_groups(const std::vector<RowSegment>& examples, int group_size, TokenGroups* out) {
  MOEASR_CHECK(group_size >= 1, MOEASR_ERR_INTERNAL, "MoT group size ", group_size);
  const int64_t G = group_size;
  out->group_size = group_size;
  out->rows.clear();
  for (const RowSegment& s : examples) {
    for (int64_t t0 = 0; t0 < s.length; t0 += G) {
      for (int64_t g = 0; g < G; ++g) {
        out->rows.push_back(t0 + g < s.length ? static_cast<int32_t>(s.row + t0 + g) : -1);
      }
    }
  }
}

void cross_example_groups(const std::vector<RowSegment>& examples, int group_size, TokenGroups* out) {
  MOEASR_CHECK(group_size >= 1, MOEASR_ERR_INTERNAL, "MoT group size ", group_size);
  const size_t G = static_cast<size_t>(group_size);
  out->group_size = group_size;
  out->rows.clear();
  for (size_t first = 0; first < examples.size(); first += G) {
    const size_t members = std::min(G, examples.size() - first);
    int64_t longest = 0;
    for (size_t m = 0; m < members; ++m) longest = std::max(longest, examples[first + m].length);
    for (int64_t t = 0; t < longest; ++t) {
      for (size_t m = 0; m < G; ++m) {
        const bool present = m < members && t < examples[first + m].length;
        out->rows.push_back(present ? static_cast<int32_t>(examples[first + m].row + t) : -1);
      }
    }
  }
}

}  // namespace moeasr
