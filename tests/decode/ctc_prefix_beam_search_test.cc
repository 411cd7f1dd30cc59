#include "decode/ctc_prefix_beam_search.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <string>

#include "test_util.h"

namespace moeasr {
namespace {

using test::status_of;

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// Log-probs of a [T, V] table of probabilities, as float like the CTC head's.
std::vector<float> log_table(const std::vector<std::vector<double>>& probs) {
  std::vector<float> out;
  for (const auto& row : probs) {
    for (double p : row) out.push_back(static_cast<float>(std::log(p)));
  }
  return out;
}

// The probability of one alignment ("-" is blank, "a" token 1, "b" token 2),
// from the float log-probs the search sees, so expected scores can be held to
// 1e-9 while the alignments are written out by hand.
double path_prob(const std::vector<float>& logp, int vocab, const std::string& path) {
  double p = 1;
  for (size_t t = 0; t < path.size(); ++t) {
    const int tok = path[t] == '-' ? 0 : path[t] - 'a' + 1;
    p *= std::exp(static_cast<double>(logp[t * vocab + tok]));
  }
  return p;
}

double paths_log_prob(const std::vector<float>& logp, int vocab, const std::vector<std::string>& paths) {
  double sum = 0;
  for (const std::string& path : paths) sum += path_prob(logp, vocab, path);
  return std::log(sum);
}

std::vector<int> collapse(const std::vector<int>& path, int blank) {
  std::vector<int> out;
  int prev = -1;
  for (int tok : path) {
    if (tok != blank && tok != prev) out.push_back(tok);
    prev = tok;
  }
  return out;
}

CtcPrefixBeamSearch make_search(int first_beam, int second_beam, int blank = 0) {
  CtcPrefixBeamSearchOptions opts;
  opts.first_beam_size = first_beam;
  opts.second_beam_size = second_beam;
  opts.blank = blank;
  return CtcPrefixBeamSearch(opts);
}

void expect_same_nbest(const std::vector<CtcHypothesis>& a, const std::vector<CtcHypothesis>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].tokens, b[i].tokens) << i;
    EXPECT_EQ(a[i].score, b[i].score) << i;  // bit-identical, not just close
    EXPECT_EQ(a[i].viterbi_score, b[i].viterbi_score) << i;
    EXPECT_EQ(a[i].times, b[i].times) << i;
  }
}

// Three frames over {blank, a, b}; every probability is a multiple of 1/8, so
// each alignment's probability is a multiple of 1/128:
//        blank   a     b
//   t0:  1/2    1/4   1/4
//   t1:  1/4    1/2   1/4
//   t2:  1/2    1/8   3/8
const std::vector<std::vector<double>> kTable = {{0.5, 0.25, 0.25}, {0.25, 0.5, 0.25}, {0.5, 0.125, 0.375}};

TEST(CtcPrefixBeamSearchTest, StartsWithOneEmptyHypothesis) {
  CtcPrefixBeamSearch search = make_search(10, 10);
  ASSERT_EQ(search.nbest().size(), 1u);
  EXPECT_TRUE(search.nbest()[0].tokens.empty());
  EXPECT_EQ(search.nbest()[0].score, 0.0);
  EXPECT_EQ(search.nbest()[0].viterbi_score, 0.0);
  EXPECT_TRUE(search.nbest()[0].times.empty());
  EXPECT_EQ(search.frames(), 0);
  search.search(nullptr, 0, 3);  // no frames: nothing happens
  EXPECT_EQ(search.frames(), 0);
}

// With every token tried and room for every prefix the search is exact: each
// prefix scores the sum over its alignments (27 alignments, 9 label sequences).
TEST(CtcPrefixBeamSearchTest, WideBeamSumsEveryAlignment) {
  const std::vector<float> logp = log_table(kTable);
  CtcPrefixBeamSearch search = make_search(3, 9);
  search.search(logp.data(), 3, 3);
  struct Expected {
    std::vector<int> tokens;
    std::vector<std::string> paths;  // all alignments; the first is the Viterbi one
    int in_128ths;                   // sum of the alignments, times 128
    std::vector<int> times;          // last frame of each token in the Viterbi alignment
  };
  const std::vector<Expected> expected = {
      // a: a-- 4, -a- 16, --a 2, aa- 8, -aa 4, aaa 2
      {{1}, {"-a-", "a--", "--a", "aa-", "-aa", "aaa"}, 36, {1}},
      // b: -b- 8, b-- 4, --b 6, bb- 4, -bb 6, bbb 3
      {{2}, {"-b-", "b--", "--b", "bb-", "-bb", "bbb"}, 31, {1}},
      // ab: -ab 12, ab- 4, a-b 3, aab 6, abb 3
      {{1, 2}, {"-ab", "ab-", "a-b", "aab", "abb"}, 28, {1, 2}},
      // ba: ba- 8, b-a 1, -ba 2, bba 1, baa 2
      {{2, 1}, {"ba-", "b-a", "-ba", "bba", "baa"}, 14, {0, 1}},
      {{}, {"---"}, 8, {}},
      {{2, 1, 2}, {"bab"}, 6, {0, 1, 2}},
      {{2, 2}, {"b-b"}, 3, {0, 2}},
      // aa and aba tie exactly (both (log 1/4 + log 1/4) + log 1/8); like
      // WeNet's stable sort, the prefix created first this frame wins: aa was
      // already a prefix, so its entry was made in the blank pass.
      {{1, 1}, {"a-a"}, 1, {0, 2}},
      {{1, 2, 1}, {"aba"}, 1, {0, 1, 2}},
  };
  const std::vector<CtcHypothesis>& nbest = search.nbest();
  ASSERT_EQ(nbest.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(nbest[i].tokens, expected[i].tokens);
    EXPECT_NEAR(nbest[i].score, paths_log_prob(logp, 3, expected[i].paths), 1e-9);
    EXPECT_NEAR(nbest[i].score, std::log(expected[i].in_128ths / 128.0), 1e-6);  // float inputs
    EXPECT_NEAR(nbest[i].viterbi_score, std::log(path_prob(logp, 3, expected[i].paths[0])), 1e-9);
    EXPECT_EQ(nbest[i].times, expected[i].times);
  }
  EXPECT_EQ(search.frames(), 3);
}

// WeNet's own setting, one beam of 3 for both prunes. After t1 the prefixes
// are a 56/128, b 32/128, then ba and the empty prefix tie at 16/128 (ab is
// 8/128, aa and bb are impossible yet). ba was created first (token a comes
// before blank in t1's top-k), so ba stays and the empty prefix is dropped,
// taking with it the alignments that start "--":
//   a  = a-- 4 + -a- 16 + aa- 8 + -aa 4 + aaa 2 = 34/128   (lost --a)
//   b  = b-- 4 + -b- 8 + bb- 4 + -bb 6 + bbb 3  = 25/128   (lost --b)
//   ab = -ab 12 + a-b 3 + aab 6                  = 21/128   (ab at t1 was pruned)
// ba (8 + 4 + 2 = 14/128) comes fourth and is cut.
TEST(CtcPrefixBeamSearchTest, WenetBeamOfThreePrunesOnTies) {
  const std::vector<float> logp = log_table(kTable);
  CtcPrefixBeamSearch search = make_search(3, 3);
  search.search(logp.data(), 3, 3);
  const std::vector<CtcHypothesis>& nbest = search.nbest();
  ASSERT_EQ(nbest.size(), 3u);
  EXPECT_EQ(nbest[0].tokens, std::vector<int>({1}));
  EXPECT_NEAR(nbest[0].score, paths_log_prob(logp, 3, {"-a-", "a--", "aa-", "-aa", "aaa"}), 1e-9);
  EXPECT_EQ(nbest[0].times, std::vector<int>({1}));
  EXPECT_EQ(nbest[1].tokens, std::vector<int>({2}));
  EXPECT_NEAR(nbest[1].score, paths_log_prob(logp, 3, {"-b-", "b--", "bb-", "-bb", "bbb"}), 1e-9);
  EXPECT_EQ(nbest[1].times, std::vector<int>({1}));
  EXPECT_EQ(nbest[2].tokens, std::vector<int>({1, 2}));
  EXPECT_NEAR(nbest[2].score, paths_log_prob(logp, 3, {"-ab", "a-b", "aab"}), 1e-9);
  EXPECT_EQ(nbest[2].times, std::vector<int>({1, 2}));
  EXPECT_NEAR(nbest[0].score, std::log(34 / 128.0), 1e-6);
  EXPECT_NEAR(nbest[1].score, std::log(25 / 128.0), 1e-6);
  EXPECT_NEAR(nbest[2].score, std::log(21 / 128.0), 1e-6);
}

// WeNet's cur_token_prob rule, beam 2. In eighths:
//        blank   a     b
//   t0:  2/8    4/8   2/8
//   t1:  1/8    3/8   4/8
//   t2:  2/8    3/8   3/8
// t0 keeps a (4/8, time 0) and the empty prefix (2/8; blank beats b on the tie).
// t1 tries b, a: ab = 16/64 (times 0,1); a = aa 12/64 + -a 6/64 = 18/64, with
// Viterbi aa 12/64 (time 1); b 8/64 is cut. t2 tries a, b (a wins the tie):
//   - a + b reaches ab first: Viterbi 12/64 * 3/8 = 36/512, times (1, 2), and
//     the entry records that it has seen token b at t2;
//   - ab + b (repeat) then has the better Viterbi, 16/64 * 3/8 = 48/512 (the
//     alignment abb, times 0 and 2), but because the entry already saw b this
//     frame WeNet keeps times (1, 2). WeNet's Python gives [1, 2] here.
//   ab = abb 48 + aab 36 + -ab 18 = 102/512;  a = aaa 36 + -aa 18 = 54/512.
TEST(CtcPrefixBeamSearchTest, KeepsWenetTimesWhenARepeatWinsTheViterbi) {
  const std::vector<float> logp = log_table({{0.25, 0.5, 0.25}, {0.125, 0.375, 0.5}, {0.25, 0.375, 0.375}});
  CtcPrefixBeamSearch search = make_search(2, 2);
  search.search(logp.data(), 3, 3);
  const std::vector<CtcHypothesis>& nbest = search.nbest();
  ASSERT_EQ(nbest.size(), 2u);
  EXPECT_EQ(nbest[0].tokens, std::vector<int>({1, 2}));
  EXPECT_NEAR(nbest[0].score, paths_log_prob(logp, 3, {"abb", "aab", "-ab"}), 1e-9);
  EXPECT_NEAR(nbest[0].score, std::log(102 / 512.0), 1e-6);
  EXPECT_NEAR(nbest[0].viterbi_score, std::log(path_prob(logp, 3, "abb")), 1e-9);
  EXPECT_EQ(nbest[0].times, std::vector<int>({1, 2}));
  EXPECT_EQ(nbest[1].tokens, std::vector<int>({1}));
  EXPECT_NEAR(nbest[1].score, paths_log_prob(logp, 3, {"aaa", "-aa"}), 1e-9);
  EXPECT_NEAR(nbest[1].viterbi_score, std::log(path_prob(logp, 3, "aaa")), 1e-9);
  EXPECT_EQ(nbest[1].times, std::vector<int>({2}));
}

// A random [T, V] table of log-softmax rows; `peak` > 0 makes one token per
// frame dominate.
std::vector<float> random_table(std::mt19937& rng, int frames, int vocab, double peak = 0) {
  std::normal_distribution<double> normal(0, 2);
  std::uniform_int_distribution<int> pick(0, vocab - 1);
  std::vector<float> out;
  for (int t = 0; t < frames; ++t) {
    std::vector<double> logits(vocab);
    for (double& x : logits) x = normal(rng);
    logits[pick(rng)] += peak;
    double mx = *std::max_element(logits.begin(), logits.end()), sum = 0;
    for (double x : logits) sum += std::exp(x - mx);
    for (double x : logits) out.push_back(static_cast<float>(x - mx - std::log(sum)));
  }
  return out;
}

TEST(CtcPrefixBeamSearchTest, PiecesGiveTheSameNbestAsOneCall) {
  std::mt19937 rng(11);
  const int frames = 300, vocab = 40;
  const std::vector<float> logp = random_table(rng, frames, vocab, 4);
  CtcPrefixBeamSearch whole = make_search(5, 8), single = make_search(5, 8), pieces = make_search(5, 8);
  whole.search(logp.data(), frames, vocab);
  for (int t = 0; t < frames; ++t) single.search(logp.data() + t * vocab, 1, vocab);
  std::uniform_int_distribution<int> piece(0, 17);
  for (int t = 0; t < frames;) {
    const int n = std::min(piece(rng), frames - t);
    pieces.search(logp.data() + t * vocab, n, vocab);
    t += n;
  }
  EXPECT_EQ(whole.frames(), frames);
  EXPECT_EQ(single.frames(), frames);
  EXPECT_EQ(pieces.frames(), frames);
  ASSERT_EQ(whole.nbest().size(), 8u);
  EXPECT_FALSE(whole.nbest()[0].tokens.empty());
  expect_same_nbest(whole.nbest(), single.nbest());
  expect_same_nbest(whole.nbest(), pieces.nbest());
}

// A long stream: the hypotheses' token and time lists are shared and their
// dead nodes reclaimed, so the search holds memory for what the hypotheses
// hold (the transcript), not for the frames seen (without reclaiming, this
// stream leaves 2 million nodes behind); and reclaiming at different moments
// (pieces of different sizes) changes nothing.
TEST(CtcPrefixBeamSearchTest, LongStreamKeepsListsBoundedByTheTranscript) {
  std::mt19937 rng(23);
  const int vocab = 6, frames = 200000, beam = 10;
  // Blank-dominated frames with a token now and then, like a trained model.
  std::normal_distribution<float> noise(0, 1);
  std::uniform_int_distribution<int> token(1, vocab - 1);
  std::vector<float> logp(static_cast<size_t>(frames) * vocab);
  for (int t = 0; t < frames; ++t) {
    float* row = logp.data() + static_cast<size_t>(t) * vocab;
    for (int v = 0; v < vocab; ++v) row[v] = noise(rng) - 8;
    row[t % 1000 == 0 ? token(rng) : 0] = std::log(0.9f);
  }
  CtcPrefixBeamSearch whole = make_search(beam, beam), pieces = make_search(beam, beam);
  std::uniform_int_distribution<int> piece(1, 64);
  for (int t = 0; t < frames;) {
    const int n = std::min(piece(rng), frames - t);
    pieces.search(logp.data() + static_cast<size_t>(t) * vocab, n, vocab);
    t += n;
    // Live nodes: at most one token node and two time nodes per token of each
    // hypothesis; the arenas grow to twice the live nodes between collections.
    size_t held = 0;
    for (const CtcHypothesis& h : pieces.nbest()) held += h.tokens.size();
    ASSERT_LE(pieces.list_nodes(), 4096 + 2 * 3 * held) << "frame " << t;
  }
  whole.search(logp.data(), frames, vocab);
  EXPECT_GE(whole.nbest()[0].tokens.size(), 200u);  // a token every 1000 frames, and now and then a stray one
  EXPECT_LE(whole.nbest()[0].tokens.size(), 220u);
  expect_same_nbest(whole.nbest(), pieces.nbest());
}

TEST(CtcPrefixBeamSearchTest, BeamOfOneIsGreedyDecoding) {
  std::mt19937 rng(5);
  for (int trial = 0; trial < 20; ++trial) {
    const int frames = 100, vocab = 20;
    const std::vector<float> logp = random_table(rng, frames, vocab, 6);
    std::vector<int> best_path;
    double best_sum = 0;
    for (int t = 0; t < frames; ++t) {
      const float* row = logp.data() + t * vocab;
      const int k = static_cast<int>(std::max_element(row, row + vocab) - row);
      best_path.push_back(k);
      best_sum += row[k];
    }
    // Times: the last frame of each token's run in the greedy path.
    std::vector<int> times;
    for (int t = 0; t < frames; ++t) {
      if (best_path[t] == 0) continue;
      if (t > 0 && best_path[t - 1] == best_path[t]) {
        times.back() = t;
      } else {
        times.push_back(t);
      }
    }
    CtcPrefixBeamSearch search = make_search(1, 1);
    search.search(logp.data(), frames, vocab);
    ASSERT_EQ(search.nbest().size(), 1u);
    const CtcHypothesis& h = search.nbest()[0];
    EXPECT_EQ(h.tokens, collapse(best_path, 0));
    EXPECT_NEAR(h.score, best_sum, 1e-9);
    EXPECT_NEAR(h.viterbi_score, best_sum, 1e-9);
    EXPECT_EQ(h.times, times);
  }
}

// With every token tried and no prefix pruned the search is exact: compare
// with the sum (and max) over all V^T alignments of each label sequence.
TEST(CtcPrefixBeamSearchTest, WideBeamMatchesBruteForceOverAlignments) {
  std::mt19937 rng(2024);
  std::uniform_int_distribution<int> num_frames(1, 5);
  std::uniform_real_distribution<double> coin(0, 1);
  const int vocab = 3;
  for (int trial = 0; trial < 200; ++trial) {
    const int frames = num_frames(rng);
    std::vector<float> logp = random_table(rng, frames, vocab);
    for (float& x : logp) {
      if (coin(rng) < 0.1) x = kNegInf;  // impossible tokens are legitimate
    }
    std::map<std::vector<int>, std::pair<double, double>> exact;  // label seq -> (sum, max)
    std::vector<int> path(frames, 0);
    for (int code = 0; code < static_cast<int>(std::pow(vocab, frames)); ++code) {
      double p = 1;
      for (int t = 0, c = code; t < frames; ++t, c /= vocab) {
        path[t] = c % vocab;
        p *= std::exp(static_cast<double>(logp[t * vocab + path[t]]));
      }
      auto& e = exact[collapse(path, 0)];
      e.first += p;
      e.second = std::max(e.second, p);
    }
    CtcPrefixBeamSearch search = make_search(vocab, 1000);
    search.search(logp.data(), frames, vocab);
    size_t possible = 0;
    for (const auto& kv : exact) possible += kv.second.first > 0;
    size_t finite = 0;
    for (const CtcHypothesis& h : search.nbest()) {
      ASSERT_FALSE(std::isnan(h.score));
      auto it = exact.find(h.tokens);
      if (it == exact.end() || it->second.first == 0) {  // e.g. "aa" in 2 frames
        EXPECT_EQ(h.score, -std::numeric_limits<double>::infinity());
        continue;
      }
      ++finite;
      EXPECT_NEAR(h.score, std::log(it->second.first), 1e-9) << "trial " << trial;
      EXPECT_NEAR(h.viterbi_score, std::log(it->second.second), 1e-9) << "trial " << trial;
      EXPECT_EQ(h.times.size(), h.tokens.size());
    }
    EXPECT_EQ(finite, possible) << "trial " << trial;
    for (size_t i = 1; i < search.nbest().size(); ++i) {
      EXPECT_GE(search.nbest()[i - 1].score, search.nbest()[i].score);
    }
  }
}

TEST(CtcPrefixBeamSearchTest, FirstBeamIsCappedAtTheVocabSize) {
  const std::vector<float> logp = log_table(kTable);
  CtcPrefixBeamSearch wide = make_search(10, 9), exact = make_search(3, 9);
  wide.search(logp.data(), 3, 3);
  exact.search(logp.data(), 3, 3);
  expect_same_nbest(wide.nbest(), exact.nbest());
}

TEST(CtcPrefixBeamSearchTest, BlankNeedNotBeTokenZero) {
  // kTable with the columns reordered so blank is id 2: a -> 0, b -> 1.
  std::vector<std::vector<double>> table;
  for (const auto& row : kTable) table.push_back({row[1], row[2], row[0]});
  const std::vector<float> logp = log_table(table);
  CtcPrefixBeamSearch search = make_search(3, 9, 2);
  search.search(logp.data(), 3, 3);
  std::map<std::vector<int>, double> scores;
  for (const CtcHypothesis& h : search.nbest()) scores[h.tokens] = h.score;
  ASSERT_EQ(scores.size(), 9u);
  EXPECT_NEAR(scores[{0}], std::log(36 / 128.0), 1e-6);
  EXPECT_NEAR(scores[{1}], std::log(31 / 128.0), 1e-6);
  EXPECT_NEAR((scores[{0, 1}]), std::log(28 / 128.0), 1e-6);
  EXPECT_NEAR(scores[{}], std::log(8 / 128.0), 1e-6);
  EXPECT_EQ(search.nbest()[0].tokens, std::vector<int>({0}));
}

TEST(CtcPrefixBeamSearchTest, AcceptsMinusInfinity) {
  // b can never occur; a row may even be impossible altogether.
  const std::vector<float> logp = log_table({{0.5, 0.5, 0}, {0.5, 0.5, 0}});
  CtcPrefixBeamSearch search = make_search(3, 10);
  search.search(logp.data(), 2, 3);
  const std::vector<CtcHypothesis>& nbest = search.nbest();
  ASSERT_GE(nbest.size(), 3u);
  EXPECT_EQ(nbest[0].tokens, std::vector<int>({1}));
  EXPECT_NEAR(nbest[0].score, paths_log_prob(logp, 3, {"a-", "-a", "aa"}), 1e-9);
  EXPECT_EQ(nbest[1].tokens, std::vector<int>());
  EXPECT_NEAR(nbest[1].score, paths_log_prob(logp, 3, {"--"}), 1e-9);
  for (size_t i = 2; i < nbest.size(); ++i) {  // b, ab, ba, aa (needs a-a: 3 frames), ...
    EXPECT_EQ(nbest[i].score, -std::numeric_limits<double>::infinity()) << i;
  }

  const std::vector<float> dead(3, kNegInf);
  search.search(dead.data(), 1, 3);
  for (const CtcHypothesis& h : search.nbest()) {
    EXPECT_EQ(h.score, -std::numeric_limits<double>::infinity());
    EXPECT_FALSE(std::isnan(h.viterbi_score));
  }
}

TEST(CtcPrefixBeamSearchTest, ResetStartsOver) {
  std::mt19937 rng(9);
  const std::vector<float> logp = random_table(rng, 50, 12, 3);
  CtcPrefixBeamSearch search = make_search(4, 4);
  search.search(logp.data(), 50, 12);
  const std::vector<CtcHypothesis> first = search.nbest();
  search.reset();
  EXPECT_EQ(search.frames(), 0);
  ASSERT_EQ(search.nbest().size(), 1u);
  EXPECT_TRUE(search.nbest()[0].tokens.empty());
  search.search(logp.data(), 50, 12);
  expect_same_nbest(first, search.nbest());
  search.reset();
  const std::vector<float> other = random_table(rng, 5, 7);
  search.search(other.data(), 5, 7);  // a new utterance may use another vocab
  EXPECT_EQ(search.frames(), 5);
}

TEST(CtcPrefixBeamSearchTest, RejectsBadOptions) {
  EXPECT_EQ(status_of([] { make_search(0, 10); }), MOEASR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(status_of([] { make_search(10, 0); }), MOEASR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(status_of([] { make_search(10, 10, -1); }), MOEASR_ERR_INVALID_ARGUMENT);
}

TEST(CtcPrefixBeamSearchTest, RejectsBadInputAndKeepsItsState) {
  const std::vector<float> logp = log_table(kTable);
  CtcPrefixBeamSearch search = make_search(3, 3);
  search.search(logp.data(), 2, 3);
  const std::vector<CtcHypothesis> before = search.nbest();
  std::string msg;
  auto bad = [&](const float* p, int n, int v) { return status_of([&] { search.search(p, n, v); }, &msg); };
  EXPECT_EQ(bad(logp.data(), -1, 3), MOEASR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(bad(nullptr, 1, 3), MOEASR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(bad(logp.data(), 1, 0), MOEASR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(bad(logp.data(), 1, 2), MOEASR_ERR_INVALID_ARGUMENT);  // vocab changed mid-utterance
  EXPECT_NE(msg.find("differs"), std::string::npos) << msg;
  std::vector<float> nan = logp;
  nan[4] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(bad(nan.data(), 3, 3), MOEASR_ERR_INVALID_ARGUMENT);
  EXPECT_NE(msg.find("token 1 at frame 3"), std::string::npos) << msg;  // frames continue from 2
  std::vector<float> inf = logp;
  inf[8] = std::numeric_limits<float>::infinity();
  EXPECT_EQ(bad(inf.data(), 3, 3), MOEASR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(search.frames(), 2);
  expect_same_nbest(before, search.nbest());

  CtcPrefixBeamSearch last_blank = make_search(3, 3, 3);
  EXPECT_EQ(status_of([&] { last_blank.search(logp.data(), 1, 3); }), MOEASR_ERR_INVALID_ARGUMENT);
}

}  // namespace
}  // namespace moeasr
