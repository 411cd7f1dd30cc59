"""CTC prefix beam search and attention rescoring, with WeNet's exact semantics.

The details below decide which hypotheses survive and which frame a token is stamped
with, so they follow WeNet's python `ctc_prefix_beam_search` / `attention_rescoring`
step by step (tie-breaking included):
  * per frame, only the top `beam` tokens by log-prob are expanded, in that order,
    and for each token the current prefixes are visited in their ranked order;
  * new prefixes are ranked by log-add(blank-ending, non-blank-ending) with a stable
    sort, so equal scores keep first-creation order;
  * times are the frames of each token's Viterbi peak, tracked with WeNet's
    `cur_token_prob` rule (a repeated token only moves its stamp to a frame whose
    token prob beats the best seen so far for that prefix).
Scores are python floats (float64) summed from the float32 log-probs.
"""

import math


def log_add(a, b):
    if a == -math.inf and b == -math.inf:
        return -math.inf
    m = max(a, b)
    return m + math.log(math.exp(a - m) + math.exp(b - m))


class _Prefix:
    """Scores of one prefix: total (s = ends in blank, ns = ends in token) and Viterbi."""

    __slots__ = ("s", "ns", "v_s", "v_ns", "cur_token_prob", "times_s", "times_ns")

    def __init__(self, s=-math.inf, ns=-math.inf, v_s=-math.inf, v_ns=-math.inf):
        self.s, self.ns, self.v_s, self.v_ns = s, ns, v_s, v_ns
        self.cur_token_prob = -math.inf
        self.times_s = []
        self.times_ns = []

    def score(self):
        return log_add(self.s, self.ns)

    def viterbi_score(self):
        return self.v_s if self.v_s > self.v_ns else self.v_ns

    def times(self):
        return self.times_s if self.v_s > self.v_ns else self.times_ns


class Hypothesis:
    def __init__(self, tokens, score, times):
        self.tokens = tokens  # list of token ids
        self.score = score    # CTC prefix log-prob
        self.times = times    # frame index of each token's peak


def ctc_prefix_beam_search(logprobs, beam_size, blank_id=0):
    """logprobs: torch tensor (T, vocab) of CTC log-probs -> n-best list of Hypothesis."""
    hyps = [((), _Prefix(s=0.0, ns=-math.inf, v_s=0.0, v_ns=0.0))]
    for t in range(logprobs.size(0)):
        row = logprobs[t]
        _, top_ids = row.topk(beam_size)
        nxt = {}

        def slot(prefix):
            if prefix not in nxt:
                nxt[prefix] = _Prefix()
            return nxt[prefix]

        for u in top_ids.tolist():
            p = row[u].item()
            for prefix, old in hyps:
                last = prefix[-1] if prefix else None
                if u == blank_id:
                    new = slot(prefix)
                    new.s = log_add(new.s, old.score() + p)
                    new.v_s = old.viterbi_score() + p
                    new.times_s = list(old.times())
                elif u == last:
                    # "aa" -> "a": the repeated token extends the same prefix
                    same = slot(prefix)
                    same.ns = log_add(same.ns, old.ns + p)
                    if same.v_ns < old.v_ns + p:
                        same.v_ns = old.v_ns + p
                        if same.cur_token_prob < p:
                            same.cur_token_prob = p
                            same.times_ns = list(old.times_ns)
                            same.times_ns[-1] = t
                    # "a-a" -> "aa": a blank in between starts a new token
                    grown = slot(prefix + (u,))
                    grown.ns = log_add(grown.ns, old.s + p)
                    if grown.v_ns < old.v_s + p:
                        grown.v_ns = old.v_s + p
                        grown.cur_token_prob = p
                        grown.times_ns = list(old.times_s) + [t]
                else:
                    grown = slot(prefix + (u,))
                    grown.ns = log_add(grown.ns, old.score() + p)
                    if grown.v_ns < old.viterbi_score() + p:
                        grown.v_ns = old.viterbi_score() + p
                        grown.cur_token_prob = p
                        grown.times_ns = list(old.times()) + [t]
        hyps = sorted(nxt.items(), key=lambda item: item[1].score(), reverse=True)[:beam_size]
    return [Hypothesis(list(prefix), state.score(), list(state.times())) for prefix, state in hyps]


def decoder_score(logprobs, tokens, eos):
    """sum_j logp[j, t_j] + logp[n, eos] over a (n+1, vocab) log-prob matrix."""
    score = sum(logprobs[j, w].item() for j, w in enumerate(tokens))
    return score + logprobs[len(tokens), eos].item()


def attention_rescoring(model, encoder_out, nbest, ctc_weight, reverse_weight):
    """Rescore an n-best with the attention decoder(s), as WeNet's attention_rescoring.

    Returns (per-hypothesis dicts with l2r_score, r2l_score, rescore, final_score;
    best index). rescore = l2r*(1-rw) + r2l*rw; final = rescore + ctc_weight * ctc_score;
    the first hypothesis with the highest final score wins. Like WeNet, the right
    decoder is used only when reverse_weight > 0 and the model has one (a plain
    transformer decoder silently ignores reverse_weight); otherwise r2l_score is None
    and rescore = l2r.
    """
    results = []
    best_index, best_score = 0, -math.inf
    for i, hyp in enumerate(nbest):
        l2r = decoder_score(model.decoder_logprobs(hyp.tokens, encoder_out, False),
                            hyp.tokens, model.eos)
        r2l = None
        rescore = l2r
        if reverse_weight > 0 and model.has_right_decoder:
            r2l = decoder_score(model.decoder_logprobs(hyp.tokens, encoder_out, True),
                                list(reversed(hyp.tokens)), model.eos)
            rescore = l2r * (1 - reverse_weight) + r2l * reverse_weight
        final = rescore + ctc_weight * hyp.score
        results.append({"l2r_score": l2r, "r2l_score": r2l, "rescore": rescore,
                        "final_score": final})
        if final > best_score:
            best_index, best_score = i, final
    return results, best_index
