#!/usr/bin/env python3
"""Decode WAV files with the PyTorch reference and a moeasr model directory, printing
what moeasr-decode should print: the best text and its CTC and attention scores.

    /usr/bin/python3 tools/train/score_sample.py --model models/en_moe_small samples/*.wav \
        [--chunk-size 16] [--left-chunks -1] [--nbest 10] [--ctc-weight 0.5] [--reverse-weight 0]

The defaults are moeasr-decode's. Weights stored as F16 are widened to float32 exactly
as the runtime does, and the fbank is the exact (float64) one the C++ front end
matches. tests/model/shipped_model_test.cc holds numbers printed by this script.
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
import moeasr_ref  # noqa: E402
import safetensors_io  # noqa: E402
from moeasr_ref.decode import decode  # noqa: E402


def load(model_dir):
    model_dir = Path(model_dir)
    config = moeasr_ref.load_config(model_dir / "train.yaml")
    tensors, _ = safetensors_io.load(model_dir / "model.safetensors")
    state = {k: torch.from_numpy(v.astype(np.float32) if v.dtype == np.float16 else v)
             for k, v in tensors.items()}
    units = {}
    for line in open(model_dir / "units.txt", encoding="utf-8"):
        tok, i = line.split()
        units[int(i)] = tok
    return moeasr_ref.load_model(config, state), units


def text_of(tokens, units):
    return "".join(units[t] for t in tokens if not units[t].startswith("<")) \
        .replace("\u2581", " ").strip()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("wavs", nargs="+")
    ap.add_argument("--chunk-size", type=int, default=16)
    ap.add_argument("--left-chunks", type=int, default=-1)
    ap.add_argument("--nbest", type=int, default=10)
    ap.add_argument("--ctc-weight", type=float, default=0.5)
    ap.add_argument("--reverse-weight", type=float, default=0.0)
    args = ap.parse_args()
    torch.set_num_threads(1)
    model, units = load(args.model)
    for wav in args.wavs:
        feats = moeasr_ref.fbank(*moeasr_ref.read_wav_int16(wav), exact=True)
        d = decode(model, feats, args.chunk_size, args.left_chunks, args.nbest,
                   args.ctc_weight, args.reverse_weight)
        best = d.nbest[d.best_index]
        print(json.dumps({"wav": str(wav), "text": text_of(best.tokens, units),
                          "ctc_score": best.score,
                          "att_score": d.rescoring[d.best_index]["rescore"],
                          "score": d.rescoring[d.best_index]["final_score"]}))


if __name__ == "__main__":
    main()
