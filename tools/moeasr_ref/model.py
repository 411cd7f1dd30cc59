"""The whole U2++ model (encoder + CTC head + attention decoder), built from train.yaml;
with `model: transducer` also WeNet's RNN-T predictor and joiner (transducer.py).

Module and attribute names follow WeNet's ASRModel so that state_dict() keys are
identical: a WeNet checkpoint loads with strict=True and vice versa.
"""

import torch
from torch import nn

from . import config as cfg
from .decoder import make_decoder
from .efficient_conformer import EfficientConformerEncoder
from .encoder import ConformerEncoder
from .squeezeformer import SqueezeformerEncoder
from .transducer import make_transducer


class CTC(nn.Module):
    """ctc_lo Linear(d -> vocab) followed by log_softmax; blank id 0 by default."""

    def __init__(self, vocab_size, d):
        super().__init__()
        self.ctc_lo = nn.Linear(d, vocab_size)

    def log_softmax(self, x):
        return torch.log_softmax(self.ctc_lo(x), dim=-1)


class ASRModel(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        enc = cfg.encoder_options(config)
        self.decoder_kind, dec = cfg.decoder_options(config)
        self.vocab_size = config["output_dim"]
        self.sos, self.eos = cfg.special_ids(config)
        self.blank_id = (config.get("ctc_conf") or {}).get("ctc_blank_id", 0)
        d = enc["output_size"]
        encoder_class = (SqueezeformerEncoder if enc["encoder"] == "squeezeformer"
                         else EfficientConformerEncoder if enc["encoder"] == "efficientConformer"
                         else ConformerEncoder)
        self.encoder = encoder_class(config["input_dim"], enc, config.get("cmvn") == "global_cmvn")
        self.decoder = make_decoder(self.decoder_kind, self.vocab_size, d, dec)
        self.ctc = CTC(self.vocab_size, d)
        kind = config.get("model", "asr_model")
        if kind not in ("asr_model", "transducer"):
            raise cfg.ConfigError(f"model {kind!r} is not supported (supported: asr_model, transducer)")
        self.is_transducer = kind == "transducer"
        if self.is_transducer:
            self.predictor, self.joint = make_transducer(config, self.vocab_size, d)
            self.transducer_blank = 0  # WeNet's init_model builds every Transducer with blank 0
        self.eval()

    @property
    def has_right_decoder(self):
        return self.decoder_kind == "bitransformer"

    def encode(self, feats, chunk_size=-1, num_left_chunks=-1):
        """fbank (T, input_dim) -> encoder output (T', d).

        chunk_size <= 0: full attention; otherwise WeNet's simulated streaming."""
        x = feats.unsqueeze(0)
        if chunk_size <= 0:
            return self.encoder(x)[0]
        return self.encoder.forward_chunk_by_chunk(x, chunk_size, num_left_chunks)[0]

    def ctc_logprobs(self, encoder_out):
        return self.ctc.log_softmax(encoder_out)

    def decoder_logprobs(self, tokens, encoder_out, reverse):
        """Log-probs (n+1, vocab) of one hypothesis (list of ids) given encoder_out (T, d).

        Left-to-right input is [sos] + tokens; right-to-left is [sos] + reversed(tokens)."""
        seq = list(reversed(tokens)) if reverse else list(tokens)
        ids = torch.tensor([[self.sos] + seq], dtype=torch.long)
        memory = encoder_out.unsqueeze(0)
        if self.decoder_kind == "bitransformer":
            decoder = self.decoder.right_decoder if reverse else self.decoder.left_decoder
        elif reverse:
            raise ValueError("a transformer decoder has no right-to-left half")
        else:
            decoder = self.decoder
        return decoder(ids, memory)[0]


def load_model(config, state_dict):
    """Build from a config dict and load a state_dict (missing `pe` tables are fine:
    they are deterministic and recomputed here)."""
    model = ASRModel(config)
    result = model.load_state_dict(state_dict, strict=False)
    missing = [k for k in result.missing_keys
               if not k.endswith(".pe") and not k.endswith(".num_batches_tracked")]
    if missing or result.unexpected_keys:
        raise ValueError(f"state_dict mismatch: missing {missing}, "
                         f"unexpected {result.unexpected_keys}")
    return model.eval()
