"""moeasr_ref: a PyTorch reference of WeNet's U2++ (MoE) Conformer, for golden outputs.

Inference only (no dropout, batch of one utterance). state_dict() keys equal WeNet's,
so weights move between the two unchanged; tools/check_against_wenet.py proves the
outputs match.
"""

from .config import load_config, special_ids
from .frontend import fbank, read_wav_int16
from .model import ASRModel, load_model
from .search import Hypothesis, attention_rescoring, ctc_prefix_beam_search

__all__ = [
    "ASRModel", "Hypothesis", "attention_rescoring", "ctc_prefix_beam_search", "fbank",
    "load_config", "load_model", "read_wav_int16", "special_ids",
]
