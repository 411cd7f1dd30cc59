// Streaming CTC prefix beam search with the exact semantics of WeNet's Python
// `ctc_prefix_beam_search` (wenet/models/transformer/search.py): the same
// token passing, the same log-add, the same Viterbi scores and peak-frame
// times, and the same order of ties, so its n-best matches WeNet's bit for bit
// (up to ties inside torch.topk, see below; checked against WeNet's Python on
// thousands of random tables). WeNet's Python uses one beam for both prunes;
// here they are separate, as in WeNet's C++ runtime.
//
// Tie-breaking. Both prunes order candidates by score, high first:
//  - first prune (tokens of one frame): equal log-probs go to the lower token
//    id. torch.topk on CPU leaves the order of equal values unspecified (it is
//    neither stable nor reversed in practice), so no choice can match it in
//    general; lower-id-first is deterministic and what a stable sort gives.
//  - second prune (prefixes): equal scores keep the order in which WeNet's
//    Python dict first created the entries (tokens in top-k order, for each
//    token the current prefixes best first, the `*a` entry before `*aa`),
//    because Python's `sorted` is stable.
//
// Inputs. Log-probs are float; every sum is done in double, as Python does
// with `.item()` values. -inf is a legitimate log-prob (a token that cannot
// occur). NaN and +inf are rejected with Error(MOEASR_ERR_INVALID_ARGUMENT):
// they never come from a log-softmax, and letting them in would make the
// order of the second prune undefined.
#pragma once

#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

namespace moeasr {

struct CtcPrefixBeamSearchOptions {
  int first_beam_size = 10;   // tokens tried per frame (capped at the vocab size)
  int second_beam_size = 10;  // prefixes kept after each frame
  int blank = 0;
};

struct CtcHypothesis {
  std::vector<int> tokens;
  double score = 0;          // log-add of blank- and non-blank-ending prefix scores
  double viterbi_score = 0;  // log-prob of the single best alignment of `tokens`
  // Per token, WeNet's "peak" frame: the last frame of the token's run in the
  // Viterbi alignment, except that when that alignment wins through a repeat
  // after the same frame already extended the prefix (WeNet's cur_token_prob
  // rule) the times stay those of the path that reached the prefix first.
  std::vector<int> times;
};

class CtcPrefixBeamSearch {
 public:
  // Throws Error(MOEASR_ERR_INVALID_ARGUMENT) unless both beams are >= 1 and
  // blank >= 0.
  explicit CtcPrefixBeamSearch(const CtcPrefixBeamSearchOptions& opts);

  // Back to the empty prefix and frame 0 (next utterance).
  void reset();

  // Consumes `num_frames` rows of CTC log-probs, row-major [num_frames, vocab].
  // Frame indices (and so `times`) continue across calls: feeding the frames
  // in any pieces gives the same n-best as one call. Throws
  // Error(MOEASR_ERR_INVALID_ARGUMENT), leaving the search unchanged, for
  // num_frames < 0, a null `logp` with frames, vocab <= blank, a vocab that
  // differs from the previous call's since reset(), or a NaN / +inf value.
  void search(const float* logp, int num_frames, int vocab);

  // Best first, at most second_beam_size entries; like WeNet's, the list may
  // end in impossible prefixes (score -inf) when fewer possible ones exist.
  // Before any frame: one empty hypothesis with score 0.
  // Not safe to call from two threads at once (it fills a cache), like
  // every other member.
  const std::vector<CtcHypothesis>& nbest() const;
  int frames() const { return frames_; }
  // The best prefix has no token yet (cheap: no n-best vectors are built).
  bool best_is_empty() const { return hyps_.empty() || hyps_[0].prefix < 0; }
  // Nodes held by the token and time lists (for tests: bounded by what the
  // hypotheses hold, not by the number of frames).
  size_t list_nodes() const { return token_nodes_.size() + time_nodes_.size(); }

 private:
  // Token sequences and Viterbi time lists are persistent linked lists in two
  // arenas: a hypothesis holds the id of its last node, a copy is an id, and
  // extending one is one new node, so a frame costs O(beam * first_beam)
  // whatever the length of the transcript (copying vectors made it
  // O(beam * length) per frame, quadratic over a long stream). Token nodes are
  // unique per (parent, token), so equal sequences have equal ids. Nodes no
  // hypothesis reaches are reclaimed by a compaction once the arenas double
  // (amortized O(1) per node), so memory stays proportional to what the live
  // hypotheses hold: the transcript and the beam's differences.
  struct Node {
    int parent;  // -1: the list is empty before this node
    int value;   // a token id or a frame index
  };
  // Which of a previous prefix's Viterbi time lists an entry takes, and how.
  struct TimesSource {
    int hyp = -1;           // index into hyps_; -1: empty list
    bool from_s = false;    // times_s (blank-ending path) or times_ns
    int8_t op = 0;          // kCopy, kAppend (push t) or kReplaceLast (last = t)
  };
  struct Hyp {
    int prefix = -1;  // last node of the tokens in token_nodes_; -1: empty
    double s = 0, ns = 0, v_s = 0, v_ns = 0;
    double score = 0;  // log_add(s, ns), cached during a frame
    int times_s = -1, times_ns = -1;  // last nodes of the time lists in time_nodes_
  };
  // One prefix of the next frame: hyps_[base].tokens, plus `token` if >= 0.
  struct Entry {
    int base;
    int token;
    double s, ns, v_s, v_ns, cur_token_prob;
    TimesSource times_s, times_ns;
    double score;  // filled before the second prune
  };

  void step(const float* row, int vocab, int t);
  void select_topk(const float* row, int vocab);
  void link_parents();
  int stay_entry(int hyp);
  int extend_entry(int hyp, int token);
  int last_token(const Hyp& h) const { return token_nodes_[h.prefix].value; }
  int token_child(int prefix, int token);
  int build_times(const TimesSource& src, int t);
  void collect_garbage();
  void update_nbest() const;
  static void unroll(const std::vector<Node>& nodes, int last, std::vector<int>* out);

  CtcPrefixBeamSearchOptions opts_;
  int frames_ = 0;
  int vocab_ = -1;  // fixed by the first frame after reset()
  std::vector<Hyp> hyps_, next_hyps_;
  std::vector<Node> token_nodes_, time_nodes_;
  std::unordered_map<uint64_t, int> token_children_;  // (parent, token) -> node
  size_t gc_threshold_ = 0;
  // The n-best as vectors, built from the lists when asked for.
  mutable std::vector<CtcHypothesis> nbest_;
  mutable bool nbest_dirty_ = true;

  // Per-frame scratch, kept to avoid allocations.
  std::vector<int> topk_ids_;
  std::vector<double> topk_logp_;
  std::vector<Entry> entries_;
  std::vector<int> stay_;       // hyp -> the entry of its own prefix, or -1
  std::vector<int> parent_;     // hyp j -> hyp i with tokens(j) == tokens(i) + [last], or -1
  std::vector<char> has_child_;  // hyp i is some hyp's parent_
  std::vector<int> order_;
  std::vector<int> remap_;      // collect_garbage scratch
};

}  // namespace moeasr
