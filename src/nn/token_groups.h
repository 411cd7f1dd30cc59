// How a Mixture-of-Tokens layer's groups are cut from a stacked [rows, d]
// matrix whose rows belong to several examples (streams, utterances): a row
// table of num_groups x G row indices, -1 for a masked slot.
#pragma once

#include <cstdint>
#include <vector>

namespace moeasr {

// One example's rows: [row, row + length).
struct RowSegment {
  int64_t row = 0;
  int64_t length = 0;
};

// Row indices of every group, G per group; -1 marks a masked slot.
struct TokenGroups {
  int group_size = 0;
  std::vector<int32_t> rows;
  int64_t num_groups() const { return group_size ? static_cast<int64_t>(rows.size()) / group_size : 0; }
};

// Within-sequence: G consecutive rows of one example; an example whose length
// is not a multiple of G ends with a group whose missing slots are masked.
// No group ever spans two examples.
void within_sequence_groups(const std::vector<RowSegment>& examples, int group_size, TokenGroups* out);

// Cross-example (the paper's grouping): examples in the given order form sets
// of G (the last set completed with absent, masked examples); position t of
// the members of a set is one group, for every t below the set's longest
// member; a member shorter than t has that slot masked.
void cross_example_groups(const std::vector<RowSegment>& examples, int group_size, TokenGroups* out);

}  // namespace moeasr
