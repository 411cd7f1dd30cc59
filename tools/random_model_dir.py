#!/usr/bin/env python3
"""Write a model directory with random weights for a WeNet train.yaml, in any storage type.

    /usr/bin/python3 tools/random_model_dir.py --config configs/u2pp_conformer_moe_1b.yaml \
        --out /tmp/moe_1b_int8 --dtype int8 [--only experts|linear|all] [--seed 0]

moeasr-bench builds paper-sized models with random weights in memory, in float32,
and converts them at load; that measures speed but not what a stored int8 or bf16
model costs in memory. This writes the same kind of model to disk the way
tools/convert_wenet.py writes a real one (same tensor conversion, same metadata),
so `moeasr-bench --model DIR` mmaps the stored weights and its peak RSS is that of
a converted model. Weights are PyTorch's default initialization of the reference
model (tools/moeasr_ref); units are synthetic (<blank>, <unk>, t2 ... <sos/eos>).
Needs torch (Debian's python3-torch with /usr/bin/python3).
"""

import argparse
import sys
from pathlib import Path

import torch
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import convert_wenet  # noqa: E402
import safetensors_io  # noqa: E402
from moeasr_ref.model import ASRModel  # noqa: E402


def synthetic_units(vocab):
    names = ["<blank>", "<unk>"] + [f"t{i}" for i in range(2, vocab - 1)] + ["<sos/eos>"]
    return "".join(f"{name} {i}\n" for i, name in enumerate(names))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", required=True, type=Path, help="WeNet train.yaml (output_dim sets the vocabulary)")
    parser.add_argument("--out", required=True, type=Path, help="model directory to write")
    parser.add_argument("--dtype", choices=convert_wenet.DTYPES, default="fp32")
    parser.add_argument("--only", choices=convert_wenet.SCOPES, default="all")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--force", action="store_true", help="overwrite existing output files")
    args = parser.parse_args(argv)

    config = yaml.safe_load(args.config.read_text())
    torch.manual_seed(args.seed)
    with torch.no_grad():
        model = ASRModel(config)
    # One tensor at a time through numpy: a 1B-parameter model is 4.7 GB in float32.
    state = {name: value.detach().numpy() for name, value in model.state_dict().items()}
    del model
    tensors, dropped, dtypes = convert_wenet.convert_tensors(state, args.dtype, args.only)
    del state
    convert_wenet.prepare_out_dir(args.out, args.force)
    (args.out / "train.yaml").write_text(args.config.read_text())
    (args.out / "units.txt").write_text(synthetic_units(config["output_dim"]))
    metadata = {"format": "pt", "moeasr_format_version": convert_wenet.FORMAT_VERSION, "source": "random"}
    safetensors_io.save(args.out / "model.safetensors", tensors, metadata, dtypes=dtypes)
    values = sum(t.size for t in tensors.values())
    nbytes = sum(t.nbytes for t in tensors.values())
    print(f"wrote {args.out}: {len(tensors)} tensors, {values} values, {nbytes / 1e6:.0f} MB "
          f"({args.dtype}, {args.only}); dropped {len(dropped)} recomputed buffers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
