#!/usr/bin/env python3
"""Write the tiny torch checkpoints the converter/ptfile tests read (needs torch).

    /usr/bin/python3 tools/tests/make_tiny_checkpoints.py

tiny_wrapped.pt: {'model': state_dict, 'epoch': 3} with 'module.' prefixes and
tensors that exercise the reader: a transposed (non-contiguous) view, slices with a
storage offset sharing one storage, float16, bfloat16, int64, an empty tensor, and the
`pe` / `num_batches_tracked` buffers the converter drops. Values are small integers
or exact binary fractions so tests/test_convert.py can state them without torch.
non_tensor.pt: a state_dict with a plain int entry (the converter must refuse it).
tiny_train_checkpoint.pt: laid out as tools/train/train.py's checkpoint.pt: counters,
'model' (raw weights, 1.0), 'ema' (their moving average, 0.5) and an Adam state whose
keys are ints (the converter's --weights picks 'model' or 'ema').
"""

import collections
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent / "data"


def main():
    base = torch.arange(24, dtype=torch.float32).view(4, 6)  # one shared storage
    state = collections.OrderedDict([
        ("module.ctc.ctc_lo.weight", base.t()),                  # (6, 4), strides (1, 6)
        ("module.ctc.ctc_lo.bias", base.view(-1)[5:11]),         # offset 5
        ("module.encoder.view", base[1:, ::2]),                  # offset 6, strides (6, 2)
        ("module.encoder.half", (torch.arange(6).view(2, 3) / 4).half()),
        ("module.encoder.bf16", torch.tensor([1.5, -2.0, 0.15625]).bfloat16()),
        ("module.encoder.count", torch.tensor([1, 2, 3], dtype=torch.int64)),
        ("module.encoder.empty", torch.zeros(0, 3)),
        ("module.encoder.embed.pos_enc.pe", torch.ones(1, 4, 4)),
        ("module.encoder.norm.num_batches_tracked", torch.tensor(5)),
    ])
    HERE.mkdir(parents=True, exist_ok=True)
    torch.save({"model": state, "epoch": 3}, HERE / "tiny_wrapped.pt")
    torch.save({"ctc.ctc_lo.weight": torch.zeros(2, 2), "epoch": 3}, HERE / "non_tensor.pt")
    raw = collections.OrderedDict([("ctc.ctc_lo.weight", torch.ones(3, 2)), ("ctc.ctc_lo.bias", torch.ones(3))])
    ema = collections.OrderedDict((k, v * 0.5) for k, v in raw.items())
    adam = {"state": {0: {"step": torch.tensor(7.0), "exp_avg": torch.zeros(3, 2)}},
            "param_groups": [{"lr": 1e-3, "params": [0, 1]}]}
    torch.save({"step": 7, "epoch": 0, "model": raw, "ema": ema, "optimizer": adam},
               HERE / "tiny_train_checkpoint.pt")
    for name in ("tiny_wrapped.pt", "non_tensor.pt", "tiny_train_checkpoint.pt"):
        print(f"wrote {HERE / name}")


if __name__ == "__main__":
    main()
