#include "decode/ctc_prefix_beam_search.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <limits>

#include "core/error.h"

namespace moeasr {
namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();
constexpr int8_t kCopy = 0, kAppend = 1, kReplaceLast = 2;

// WeNet's log_add(a, b) (wenet/utils/common.py), written out the same way so
// the rounding is the same: max + log(exp(a - max) + exp(b - max)).
double log_add(double a, double b) {
  // With one side -inf WeNet computes b + log(0 + 1) = b exactly; skip the
  // transcendental calls (most entries of a frame get a single term).
  if (a == kNegInf) return b;
  if (b == kNegInf) return a;
  const double m = std::max(a, b);
  return m + std::log(std::exp(a - m) + std::exp(b - m));
}

}  // namespace

CtcPrefixBeamSearch::CtcPrefixBeamSearch(const CtcPrefixBeamSearchOptions& opts) : opts_(opts) {
  MOEASR_CHECK(opts.first_beam_size >= 1, MOEASR_ERR_INVALID_ARGUMENT, "ctc prefix beam search: first_beam_size is ",
               opts.first_beam_size, ", must be >= 1");
  MOEASR_CHECK(opts.second_beam_size >= 1, MOEASR_ERR_INVALID_ARGUMENT,
               "ctc prefix beam search: second_beam_size is ", opts.second_beam_size, ", must be >= 1");
  MOEASR_CHECK(opts.blank >= 0, MOEASR_ERR_INVALID_ARGUMENT, "ctc prefix beam search: blank id is ", opts.blank,
               ", must be >= 0");
  reset();
}

void CtcPrefixBeamSearch::reset() {
  frames_ = 0;
  vocab_ = -1;
  token_nodes_.clear();
  time_nodes_.clear();
  token_children_.clear();
  gc_threshold_ = 4096;
  // WeNet's start state: blank-ending score 0, and both Viterbi scores 0.
  hyps_.assign(1, Hyp());
  Hyp& h = hyps_[0];
  h.s = 0;
  h.ns = kNegInf;
  h.v_s = 0;
  h.v_ns = 0;
  nbest_dirty_ = true;
}

void CtcPrefixBeamSearch::search(const float* logp, int num_frames, int vocab) {
  MOEASR_CHECK(num_frames >= 0, MOEASR_ERR_INVALID_ARGUMENT, "ctc prefix beam search: num_frames is ", num_frames);
  if (num_frames == 0) return;
  MOEASR_CHECK(logp != nullptr, MOEASR_ERR_INVALID_ARGUMENT, "ctc prefix beam search: null log-probs for ",
               num_frames, " frames");
  MOEASR_CHECK(vocab > opts_.blank, MOEASR_ERR_INVALID_ARGUMENT, "ctc prefix beam search: vocab size ", vocab,
               " does not include the blank id ", opts_.blank);
  MOEASR_CHECK(vocab_ < 0 || vocab == vocab_, MOEASR_ERR_INVALID_ARGUMENT, "ctc prefix beam search: vocab size ",
               vocab, " differs from the earlier frames' ", vocab_);
  MOEASR_CHECK(num_frames <= INT_MAX - frames_, MOEASR_ERR_INVALID_ARGUMENT,
               "ctc prefix beam search: too many frames");
  // Check everything before touching the state, so a bad call changes nothing.
  // `x <= FLT_MAX` is false exactly for NaN and +inf; the branch-free scan
  // vectorizes, and only a failure looks for the culprit.
  const size_t n = static_cast<size_t>(num_frames) * static_cast<size_t>(vocab);
  int bad = 0;
  for (size_t i = 0; i < n; ++i) bad |= !(logp[i] <= std::numeric_limits<float>::max());
  if (bad) {
    for (size_t i = 0; i < n; ++i) {
      MOEASR_CHECK(logp[i] <= std::numeric_limits<float>::max(), MOEASR_ERR_INVALID_ARGUMENT,
                   "ctc prefix beam search: log-prob of token ", i % vocab, " at frame ", frames_ + i / vocab, " is ",
                   logp[i]);
    }
  }
  vocab_ = vocab;
  for (int f = 0; f < num_frames; ++f, ++frames_) {
    step(logp + static_cast<size_t>(f) * vocab, vocab, frames_);
    if (token_nodes_.size() + time_nodes_.size() >= gc_threshold_) collect_garbage();
  }
  nbest_dirty_ = true;
}

void CtcPrefixBeamSearch::select_topk(const float* row, int vocab) {
  // One pass keeping the k best sorted (high first, equal values by lower id):
  // for k << vocab almost every token costs a single comparison.
  const int k = std::min(opts_.first_beam_size, vocab);
  topk_ids_.resize(k);
  topk_logp_.resize(k);
  int count = 0;
  float threshold = 0;  // the k-th best value once k are held
  for (int v = 0; v < vocab; ++v) {
    const float x = row[v];
    int p;
    if (count < k) {
      p = count++;
    } else if (x > threshold) {
      p = k - 1;
    } else {
      continue;
    }
    // Strict '>' so an equal value never passes a lower id.
    for (; p > 0 && x > topk_logp_[p - 1]; --p) {
      topk_logp_[p] = topk_logp_[p - 1];
      topk_ids_[p] = topk_ids_[p - 1];
    }
    topk_logp_[p] = x;
    topk_ids_[p] = v;
    if (count == k) threshold = static_cast<float>(topk_logp_[k - 1]);
  }
}

void CtcPrefixBeamSearch::link_parents() {
  // parent_[j] = i when hyp j is hyp i plus one token; then "hyp i + that
  // token" in the next frame is the same prefix as hyp j and must share its
  // entry (WeNet's dict does this by keying on the token tuple). Token nodes
  // are unique per sequence, so this compares node ids.
  const int n = static_cast<int>(hyps_.size());
  parent_.assign(n, -1);
  has_child_.assign(n, 0);
  for (int j = 0; j < n; ++j) {
    if (hyps_[j].prefix < 0) continue;
    const int p = token_nodes_[hyps_[j].prefix].parent;
    for (int i = 0; i < n; ++i) {
      if (hyps_[i].prefix != p) continue;
      parent_[j] = i;
      has_child_[i] = 1;
      break;
    }
  }
}

int CtcPrefixBeamSearch::stay_entry(int hyp) {
  // The entry is created on first access, like Python's defaultdict, so that
  // creation order (the tie-break of the second prune) is WeNet's.
  if (stay_[hyp] < 0) {
    stay_[hyp] = static_cast<int>(entries_.size());
    entries_.push_back(Entry{hyp, -1, kNegInf, kNegInf, kNegInf, kNegInf, kNegInf, {}, {}, 0.0});
  }
  return stay_[hyp];
}

int CtcPrefixBeamSearch::extend_entry(int hyp, int token) {
  if (has_child_[hyp]) {
    const int n = static_cast<int>(hyps_.size());
    for (int j = 0; j < n; ++j) {
      if (parent_[j] == hyp && last_token(hyps_[j]) == token) return stay_entry(j);
    }
  }
  // (hyp, token) is visited once per frame, so this prefix is new.
  entries_.push_back(Entry{hyp, token, kNegInf, kNegInf, kNegInf, kNegInf, kNegInf, {}, {}, 0.0});
  return static_cast<int>(entries_.size()) - 1;
}

void CtcPrefixBeamSearch::step(const float* row, int vocab, int t) {
  select_topk(row, vocab);
  link_parents();
  const int n = static_cast<int>(hyps_.size());
  const int k = static_cast<int>(topk_ids_.size());
  entries_.clear();
  entries_.reserve(static_cast<size_t>(2) * k * n);
  stay_.assign(n, -1);

  for (Hyp& h : hyps_) h.score = log_add(h.s, h.ns);  // once, not once per token

  // Token passing, in WeNet's loop order: tokens outside, prefixes inside.
  for (int a = 0; a < k; ++a) {
    const int u = topk_ids_[a];
    const double prob = topk_logp_[a];
    for (int i = 0; i < n; ++i) {
      const Hyp& h = hyps_[i];
      const double score = h.score;
      const bool vit_s = h.v_s > h.v_ns;  // WeNet's viterbi_score() / times() choice
      const double vit = vit_s ? h.v_s : h.v_ns;
      if (u == opts_.blank) {
        // *a + blank -> *a
        Entry& e = entries_[stay_entry(i)];
        e.s = log_add(e.s, score + prob);
        e.v_s = vit + prob;
        e.times_s = {i, vit_s, kCopy};
      } else if (h.prefix >= 0 && u == last_token(h)) {
        // *a + a -> *a: the token's peak moves to t only while the entry has
        // not yet seen this frame's token (WeNet's cur_token_prob rule).
        Entry& e1 = entries_[stay_entry(i)];
        e1.ns = log_add(e1.ns, h.ns + prob);
        if (e1.v_ns < h.v_ns + prob) {
          e1.v_ns = h.v_ns + prob;
          if (e1.cur_token_prob < prob) {
            e1.cur_token_prob = prob;
            e1.times_ns = {i, false, kReplaceLast};
          }
        }
        // *a blank + a -> *aa
        Entry& e2 = entries_[extend_entry(i, u)];
        e2.ns = log_add(e2.ns, h.s + prob);
        if (e2.v_ns < h.v_s + prob) {
          e2.v_ns = h.v_s + prob;
          e2.cur_token_prob = prob;
          e2.times_ns = {i, true, kAppend};
        }
      } else {
        // *a + b -> *ab
        Entry& e = entries_[extend_entry(i, u)];
        e.ns = log_add(e.ns, score + prob);
        if (e.v_ns < vit + prob) {
          e.v_ns = vit + prob;
          e.cur_token_prob = prob;
          e.times_ns = {i, vit_s, kAppend};
        }
      }
    }
  }

  // Second prune: best scores first, ties in creation order (a stable sort).
  const int m = static_cast<int>(entries_.size());
  order_.resize(m);
  for (int e = 0; e < m; ++e) {
    order_[e] = e;
    entries_[e].score = log_add(entries_[e].s, entries_[e].ns);
  }
  const int keep = std::min(m, opts_.second_beam_size);
  std::partial_sort(order_.begin(), order_.begin() + keep, order_.end(), [this](int x, int y) {
    const double sx = entries_[x].score, sy = entries_[y].score;
    return sx > sy || (sx == sy && x < y);
  });

  next_hyps_.resize(keep);
  for (int r = 0; r < keep; ++r) {
    const Entry& e = entries_[order_[r]];
    const Hyp& base = hyps_[e.base];
    Hyp& h = next_hyps_[r];
    h.prefix = e.token >= 0 ? token_child(base.prefix, e.token) : base.prefix;
    h.s = e.s;
    h.ns = e.ns;
    h.v_s = e.v_s;
    h.v_ns = e.v_ns;
    h.times_s = build_times(e.times_s, t);
    h.times_ns = build_times(e.times_ns, t);
  }
  hyps_.swap(next_hyps_);
}

int CtcPrefixBeamSearch::token_child(int prefix, int token) {
  const uint64_t key = (static_cast<uint64_t>(static_cast<uint32_t>(prefix + 1)) << 32) | static_cast<uint32_t>(token);
  auto [it, inserted] = token_children_.try_emplace(key, static_cast<int>(token_nodes_.size()));
  if (inserted) token_nodes_.push_back({prefix, token});
  return it->second;
}

int CtcPrefixBeamSearch::build_times(const TimesSource& src, int t) {
  if (src.hyp < 0) return -1;
  const Hyp& h = hyps_[src.hyp];
  const int from = src.from_s ? h.times_s : h.times_ns;
  if (src.op == kCopy) return from;
  // kAppend: t after the list. kReplaceLast: the list with its last time
  // replaced by t. A prefix with a finite non-blank Viterbi score always has
  // its last token's time (WeNet asserts it), so an empty list is
  // unreachable there; never index one: it becomes [t].
  const int parent = src.op == kAppend || from < 0 ? from : time_nodes_[from].parent;
  time_nodes_.push_back({parent, t});
  return static_cast<int>(time_nodes_.size()) - 1;
}

void CtcPrefixBeamSearch::collect_garbage() {
  // Mark the nodes the hypotheses reach, then compact each arena in id order.
  // A node's parent is always older (smaller id) than the node, in both
  // arenas, so parents are renumbered before their children.
  auto compact = [this](std::vector<Node>& nodes, auto&& roots) {
    remap_.assign(nodes.size(), -1);
    roots([&](int last) {
      for (int i = last; i >= 0 && remap_[i] < 0; i = nodes[i].parent) remap_[i] = 0;
    });
    int next = 0;
    for (size_t i = 0; i < nodes.size(); ++i) {
      if (remap_[i] < 0) continue;
      remap_[i] = next;
      const int parent = nodes[i].parent;
      nodes[next] = {parent < 0 ? -1 : remap_[parent], nodes[i].value};
      ++next;
    }
    nodes.resize(next);
  };
  compact(token_nodes_, [this](auto&& mark) {
    for (const Hyp& h : hyps_) mark(h.prefix);
  });
  for (Hyp& h : hyps_) h.prefix = h.prefix < 0 ? -1 : remap_[h.prefix];
  token_children_.clear();
  for (size_t i = 0; i < token_nodes_.size(); ++i) {
    const Node& n = token_nodes_[i];
    token_children_.emplace((static_cast<uint64_t>(static_cast<uint32_t>(n.parent + 1)) << 32) |
                                static_cast<uint32_t>(n.value),
                            static_cast<int>(i));
  }
  compact(time_nodes_, [this](auto&& mark) {
    for (const Hyp& h : hyps_) {
      mark(h.times_s);
      mark(h.times_ns);
    }
  });
  for (Hyp& h : hyps_) {
    h.times_s = h.times_s < 0 ? -1 : remap_[h.times_s];
    h.times_ns = h.times_ns < 0 ? -1 : remap_[h.times_ns];
  }
  // Next collection when the arenas have doubled over what is live now.
  gc_threshold_ = std::max<size_t>(4096, 2 * (token_nodes_.size() + time_nodes_.size()));
}

void CtcPrefixBeamSearch::unroll(const std::vector<Node>& nodes, int last, std::vector<int>* out) {
  out->clear();
  for (int i = last; i >= 0; i = nodes[i].parent) out->push_back(nodes[i].value);
  std::reverse(out->begin(), out->end());
}

const std::vector<CtcHypothesis>& CtcPrefixBeamSearch::nbest() const {
  if (nbest_dirty_) update_nbest();
  return nbest_;
}

void CtcPrefixBeamSearch::update_nbest() const {
  nbest_.resize(hyps_.size());
  for (size_t r = 0; r < hyps_.size(); ++r) {
    const Hyp& h = hyps_[r];
    CtcHypothesis& out = nbest_[r];
    const bool vit_s = h.v_s > h.v_ns;
    unroll(token_nodes_, h.prefix, &out.tokens);
    out.score = log_add(h.s, h.ns);
    out.viterbi_score = vit_s ? h.v_s : h.v_ns;
    unroll(time_nodes_, vit_s ? h.times_s : h.times_ns, &out.times);
  }
  nbest_dirty_ = false;
}

}  // namespace moeasr
