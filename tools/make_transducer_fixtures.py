#!/usr/bin/env python3
"""Regenerate tests/data/golden/transducer_layers (leaves the other fixtures alone).

    /usr/bin/python3 tools/make_transducer_fixtures.py

The predictors and joiners the rnnt_lstm model fixture does not have, alone, with
numpy-seeded random weights (deterministic): for each case <name>.safetensors holds
the predictor.* / joint.* weights under WeNet's names plus
  golden.encoder   (frames, d)          random encoder rows
  golden.projected (steps, join_dim)    the predictor's output after each input token,
                                        as the joiner adds it
  golden.logits    (steps, frames, V)   the joiner's logits of every row against it
and <name>.json the train.yaml keys (predictor, predictor_conf, joint_conf), the
input tokens and the greedy search's tokens over golden.encoder. A seed is bumped
until no greedy decision is within margins.MIN_GREEDY_GAP of a tie.
"""

import json
import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

TOOLS = Path(__file__).resolve().parent
sys.path.insert(0, str(TOOLS))
import safetensors_io  # noqa: E402
from fixtures import margins  # noqa: E402
from moeasr_ref.transducer import make_transducer  # noqa: E402
from moeasr_ref.transducer_search import GreedyState  # noqa: E402

OUT = TOOLS.parent / "tests" / "data" / "golden" / "transducer_layers"
VOCAB, D, FRAMES = 12, 8, 9
TOKENS = [0, 5, 7, 7, 3, 11, 1, 5]  # the start blank, then tokens

CASES = {
    "embedding_postjoin": {
        "predictor": "embedding",
        "predictor_conf": {"embed_size": 6, "output_size": 6, "embed_dropout": 0.1, "n_head": 3,
                           "history_size": 3, "bias": True},
        "joint_conf": {"enc_output_size": D, "pred_output_size": 6, "join_dim": 10,
                       "postjoin_linear": True, "activation": "relu"}},
    "conv_no_prejoin": {
        "predictor": "conv",
        "predictor_conf": {"embed_size": D, "output_size": D, "embed_dropout": 0.1,
                           "history_size": 2, "bias": True, "activation": "swish"},
        "joint_conf": {"enc_output_size": D, "pred_output_size": D, "join_dim": D,
                       "prejoin_linear": False}},
    "conv_history0": {
        "predictor": "conv",
        "predictor_conf": {"embed_size": 6, "output_size": 6, "embed_dropout": 0.1,
                           "history_size": 0},
        "joint_conf": {"enc_output_size": D, "pred_output_size": 6, "join_dim": 7}},
    "rnn_1layer_nobias": {
        "predictor": "rnn",
        "predictor_conf": {"embed_size": 5, "output_size": 6, "embed_dropout": 0.1,
                           "hidden_size": 7, "num_layers": 1, "bias": False},
        "joint_conf": {"enc_output_size": D, "pred_output_size": 6, "join_dim": 9,
                       "activation": "gelu"}},
}


class Model(nn.Module):
    """What GreedyState reads of an ASRModel."""

    def __init__(self, config):
        super().__init__()
        self.predictor, self.joint = make_transducer(config, VOCAB, D)
        self.transducer_blank = 0


def randomize(model, rng):
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                p.copy_(torch.from_numpy(rng.uniform(0.9 if name.endswith("weight") else -0.05,
                                                     1.1 if name.endswith("weight") else 0.05,
                                                     p.shape).astype(np.float32)))
            elif p.dim() >= 2 and "embed.weight" not in name:
                fan_in = p[0].numel()
                p.copy_(torch.from_numpy(rng.normal(0, 1 / np.sqrt(fan_in), p.shape).astype(np.float32)))
            elif "embed.weight" in name:
                p.copy_(torch.from_numpy(rng.normal(0, 1, p.shape).astype(np.float32)))
            else:
                p.copy_(torch.from_numpy(rng.uniform(-0.1, 0.1, p.shape).astype(np.float32)))
        model.joint.ffn_out.weight.mul_(4.0)


def make_case(name, config, first_seed):
    for seed in range(first_seed, first_seed + 100):
        rng = np.random.default_rng(seed)
        model = Model(config).eval()
        randomize(model, rng)
        encoder = torch.from_numpy(rng.normal(0, 1, (FRAMES, D)).astype(np.float32))
        with torch.no_grad():
            enc = model.joint.project_encoder(encoder)
            state = model.predictor.init_state()
            projected, logits = [], []
            for token in TOKENS:
                out, state = model.predictor.step(token, state)
                projected.append(model.joint.project_predictor(out))
                logits.append(model.joint(enc, projected[-1]))
        greedy = GreedyState(model, max_symbols_per_frame=4)
        greedy.advance(encoder)
        if greedy.smallest_gap > margins.MIN_GREEDY_GAP and greedy.tokens:
            break
    else:
        raise SystemExit(f"{name}: no usable seed")
    tensors = {k: v.numpy() for k, v in model.state_dict().items()}
    tensors.update({"golden.encoder": encoder.numpy(),
                    "golden.projected": torch.stack(projected).numpy(),
                    "golden.logits": torch.stack(logits).numpy()})
    safetensors_io.save(OUT / f"{name}.safetensors", tensors)
    record = dict(config, seed=seed, vocab=VOCAB, encoder_size=D, tokens=TOKENS,
                  max_symbols_per_frame=4, greedy_tokens=greedy.tokens)
    (OUT / f"{name}.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(f"{name}: seed {seed}, greedy {greedy.tokens}")


def main():
    torch.set_num_threads(1)
    OUT.mkdir(parents=True, exist_ok=True)
    for i, (name, config) in enumerate(CASES.items()):
        make_case(name, config, 100 * (i + 1))


if __name__ == "__main__":
    main()
