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

// Hash of a token sequence, extended one token at a time. Only used to find
// candidate prefix/extension pairs; every match is confirmed on the tokens.
constexpr uint64_t kEmptyHash = 0x9e3779b97f4a7c15ull;
uint64_t extend_hash(uint64_t h, int token) {
  h ^= static_cast<uint64_t>(static_cast<uint32_t>(token)) + 0x632be59bd9b4e019ull + (h << 6) + (h >> 2);
  return h * 0xff51afd7ed558ccdull;
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
  // WeNet's start state: blank-ending score 0, and both Viterbi scores 0.
  hyps_.resize(1);
  Hyp& h = hyps_[0];
  h.tokens.clear();
  h.hash = kEmptyHash;
  h.s = 0;
  h.ns = kNegInf;
  h.v_s = 0;
  h.v_ns = 0;
  h.times_s.clear();
  h.times_ns.clear();
  update_nbest();
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
  for (int f = 0; f < num_frames; ++f, ++frames_) step(logp + static_cast<size_t>(f) * vocab, vocab, frames_);
  update_nbest();
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
  // entry (WeNet's dict does this by keying on the token tuple).
  const int n = static_cast<int>(hyps_.size());
  parent_.assign(n, -1);
  has_child_.assign(n, 0);
  for (int j = 0; j < n; ++j) {
    const std::vector<int>& tj = hyps_[j].tokens;
    if (tj.empty()) continue;
    for (int i = 0; i < n; ++i) {
      const std::vector<int>& ti = hyps_[i].tokens;
      if (ti.size() + 1 != tj.size() || extend_hash(hyps_[i].hash, tj.back()) != hyps_[j].hash) continue;
      if (!std::equal(ti.begin(), ti.end(), tj.begin())) continue;
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
      if (parent_[j] == hyp && hyps_[j].tokens.back() == token) return stay_entry(j);
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
      } else if (!h.tokens.empty() && u == h.tokens.back()) {
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
    h.tokens.assign(base.tokens.begin(), base.tokens.end());
    h.hash = base.hash;
    if (e.token >= 0) {
      h.tokens.push_back(e.token);
      h.hash = extend_hash(base.hash, e.token);
    }
    h.s = e.s;
    h.ns = e.ns;
    h.v_s = e.v_s;
    h.v_ns = e.v_ns;
    build_times(e.times_s, t, &h.times_s);
    build_times(e.times_ns, t, &h.times_ns);
  }
  hyps_.swap(next_hyps_);
}

void CtcPrefixBeamSearch::build_times(const TimesSource& src, int t, std::vector<int>* out) const {
  if (src.hyp < 0) {
    out->clear();
    return;
  }
  const Hyp& h = hyps_[src.hyp];
  const std::vector<int>& from = src.from_s ? h.times_s : h.times_ns;
  out->assign(from.begin(), from.end());
  if (src.op == kAppend) {
    out->push_back(t);
  } else if (src.op == kReplaceLast) {
    // Unreachable: a prefix with a finite non-blank Viterbi score always has
    // its last token's time (WeNet asserts it). Never index an empty list.
    if (out->empty()) {
      out->push_back(t);
    } else {
      out->back() = t;
    }
  }
}

void CtcPrefixBeamSearch::update_nbest() {
  nbest_.resize(hyps_.size());
  for (size_t r = 0; r < hyps_.size(); ++r) {
    const Hyp& h = hyps_[r];
    CtcHypothesis& out = nbest_[r];
    const bool vit_s = h.v_s > h.v_ns;
    out.tokens = h.tokens;
    out.score = log_add(h.s, h.ns);
    out.viterbi_score = vit_s ? h.v_s : h.v_ns;
    out.times = vit_s ? h.times_s : h.times_ns;
  }
}

}  // namespace moeasr
