#!/usr/bin/env python3
"""Write the two tiny torch checkpoints the converter/ptfile tests read (needs torch).

    /usr/bin/python3 tools/tests/make_tiny_checkpoints.py

tiny_wrapped.pt: {'model': state_dict, 'epoch': 3} with 'module.' prefixes and
tensors that exercise the reader: a transposed (non-contiguous) view, slices with a
storage offset sharing one storage, float16, bfloat16, int64, an empty tensor, and the
`pe` / `num_batches_tracked` buffers the converter drops. Values are small integers
or exact binary fractions so tests/test_convert.py can state them without torch.
non_tensor.pt: a state_dict with a plain int entry (the converter must refuse it).
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
    for name in ("tiny_wrapped.pt", "non_tensor.pt"):
        print(f"wrote {HERE / name}")


if __name__ == "__main__":
    main()
