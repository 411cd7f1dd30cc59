"""Decode one utterance in one encoder mode, the way WeNet's recognize.py does.

A mode is (chunk_size, num_left_chunks): chunk_size -1 means full attention
(encoder.forward), otherwise simulated streaming (forward_chunk_by_chunk). CTC prefix
beam search and attention rescoring both use that mode's encoder output, and so do a
transducer's greedy and prefix beam searches.
"""

import torch

from .search import attention_rescoring, ctc_prefix_beam_search
from .transducer_search import GreedyState, prefix_beam_search

# golden-file mode name -> (chunk_size, num_left_chunks)
MODES = {
    "full": (-1, -1),
    "chunk16_left-1": (16, -1),
    "chunk4_left2": (4, 2),
    "chunk1_left-1": (1, -1),
}


def modes_for(model):
    """MODES for this model: an efficient conformer streams in chunks of whole
    output frames (the runtime takes multiples of its total stride), so its
    chunk1 mode becomes chunk<stride>."""
    encoder = model.encoder
    stride = encoder.rate_before(len(encoder.encoders)) if hasattr(encoder, "rate_before") else 1
    if stride == 1:
        return dict(MODES)
    modes = {}
    for name, (chunk, left) in MODES.items():
        if chunk == 1:
            chunk, name = stride, f"chunk{stride}_left{left}"
        if chunk <= 0 or chunk % stride == 0:
            modes[name] = (chunk, left)
    return modes


def mode_params(name):
    """(chunk_size, num_left_chunks) of a mode name: "full" or "chunk<N>_left<M>"."""
    if name == "full":
        return -1, -1
    chunk, left = name[len("chunk"):].split("_left")
    return int(chunk), int(left)


TRANSDUCER_BEAM_SIZE = 5  # WeNet's Transducer.beam_search default, with its 0.3 / 0.7 weights
# (ctc_weight, transducer_weight) of WeNet recognize.py's --search_ctc_weight /
# --search_transducer_weight defaults: a second beam, so the weights are tested.
RECOGNIZE_SEARCH_WEIGHTS = (1.0, 0.0)


class Decoded:
    def __init__(self, encoder_out, ctc_logprobs, nbest, rescoring, best_index):
        self.encoder_out = encoder_out    # (T', d) float32 tensor
        self.ctc_logprobs = ctc_logprobs  # (T', vocab) float32 tensor
        self.nbest = nbest                # list of search.Hypothesis
        self.rescoring = rescoring        # per hypothesis: l2r/r2l/rescore/final scores
        self.best_index = best_index
        self.greedy = None                # transducer: transducer_search.GreedyState
        self.beam = None                  # transducer: prefix_beam_search's final beam
        self.beam_recognize_weights = None  # the same at RECOGNIZE_SEARCH_WEIGHTS


def decode(model, feats, chunk_size, num_left_chunks, beam_size, ctc_weight, reverse_weight):
    with torch.no_grad():
        encoder_out = model.encode(feats, chunk_size, num_left_chunks)
        logprobs = model.ctc_logprobs(encoder_out)
        nbest = ctc_prefix_beam_search(logprobs, beam_size, model.blank_id)
        rescoring, best = attention_rescoring(model, encoder_out, nbest, ctc_weight,
                                              reverse_weight)
    decoded = Decoded(encoder_out, logprobs, nbest, rescoring, best)
    if getattr(model, "is_transducer", False):
        decoded.greedy = GreedyState(model)
        decoded.greedy.advance(encoder_out)
        decoded.beam = prefix_beam_search(model, encoder_out, logprobs, TRANSDUCER_BEAM_SIZE)
        decoded.beam_recognize_weights = prefix_beam_search(
            model, encoder_out, logprobs, TRANSDUCER_BEAM_SIZE, *RECOGNIZE_SEARCH_WEIGHTS)
    return decoded
