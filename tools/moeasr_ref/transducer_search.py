"""Transducer decoding as WeNet does it (wenet/models/transducer/search), one utterance.

greedy_search: frame by frame, the joiner's best token; a non-blank token is emitted,
fed to the predictor and the same frame is tried again (at most max_symbols_per_frame
times), blank moves to the next frame. The predictor runs only after an emission, so
its state and output carry across frames and across streaming chunks: a GreedyState
fed the chunks of an encoder output one after another gives the same tokens as one
call on the whole output.

prefix_beam_search: one token (or blank) per frame per hypothesis; the joiner's and
the CTC head's probabilities are mixed (transducer_weight * p_rnnt + ctc_weight * p_ctc),
each hypothesis keeps its beam_size best extensions, equal token sequences are merged
(log-add of their scores) and the beam_size best survive.
"""

import math

import torch


class GreedyState:
    """The search's state between encoder frames (and chunks)."""

    def __init__(self, model, max_symbols_per_frame=64):
        self.model = model
        self.max_symbols = max_symbols_per_frame
        self.blank = model.transducer_blank
        self.tokens = []
        self.last = self.blank                    # the predictor's next input
        self.state = model.predictor.init_state()  # its state before that input
        self.pending = None                       # (projected output, state after `last`)
        self.emitted_here = 0                     # symbols emitted on the current frame
        self.smallest_gap = float("inf")          # best - runner-up logit over all decisions

    def advance(self, encoder_out):
        """Consume encoder frames (T, d)."""
        predictor, joint = self.model.predictor, self.model.joint
        with torch.no_grad():
            enc = joint.project_encoder(encoder_out)
            t = 0
            while t < enc.shape[0]:
                if self.pending is None:
                    out, after = predictor.step(self.last, self.state)
                    self.pending = (joint.project_predictor(out), after)
                logits = joint(enc[t], self.pending[0])
                top = torch.topk(logits, 2)
                best = int(top.indices[0])
                self.smallest_gap = min(self.smallest_gap, float(top.values[0] - top.values[1]))
                if best != self.blank:
                    self.tokens.append(best)
                    self.last, self.state = best, self.pending[1]
                    self.pending = None
                    self.emitted_here += 1
                if best == self.blank or self.emitted_here >= self.max_symbols:
                    t += 1
                    self.emitted_here = 0
        return self.tokens


def greedy_search(model, encoder_out, max_symbols_per_frame=64):
    return GreedyState(model, max_symbols_per_frame).advance(encoder_out)


def log_add(values):
    top = max(values)
    if top == -math.inf:
        return top
    return top + math.log(sum(math.exp(v - top) for v in values))


class BeamHypothesis:
    def __init__(self, tokens, score, state):
        self.tokens = tokens  # emitted tokens (without the start blank)
        self.score = score
        self.state = state    # predictor state before the last token


def prefix_beam_search(model, encoder_out, ctc_logprobs, beam_size, ctc_weight=0.3,
                       transducer_weight=0.7):
    """The final beam, best first. Scores are accumulated in float32 per frame (as
    WeNet's score tensor is) and merged in float64."""
    blank = model.transducer_blank
    predictor, joint = model.predictor, model.joint
    beam = [BeamHypothesis([], 0.0, predictor.init_state())]
    with torch.no_grad():
        enc = joint.project_encoder(encoder_out)
        for t in range(enc.shape[0]):
            extended = []
            for hyp in beam:
                last = hyp.tokens[-1] if hyp.tokens else blank
                out, after = predictor.step(last, hyp.state)
                logp = torch.log_softmax(joint(enc[t], joint.project_predictor(out)), dim=-1)
                mixed = torch.log(transducer_weight * torch.exp(logp)
                                  + ctc_weight * torch.exp(ctc_logprobs[t]))
                top, index = mixed.topk(beam_size)
                scores = torch.tensor(hyp.score, dtype=torch.float32) + top
                for score, token in zip(scores.tolist(), index.tolist()):
                    if token == blank:
                        extended.append(BeamHypothesis(hyp.tokens, score, hyp.state))
                    else:
                        extended.append(BeamHypothesis(hyp.tokens + [token], score, after))
            merged = []
            for hyp in extended:
                same = next((m for m in merged if m.tokens == hyp.tokens), None)
                if same is None:
                    merged.append(hyp)
                else:
                    same.score = log_add([same.score, hyp.score])
            merged.sort(key=lambda h: h.score, reverse=True)
            beam = merged[:beam_size]
    return beam
