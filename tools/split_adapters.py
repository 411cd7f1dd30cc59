#!/usr/bin/env python3
"""Split a model directory with adapters into a base model and an adapter set.

    split_adapters.py --model DIR --base OUT_BASE --adapters OUT_SET [--force]

A model trained with adapters (encoder_conf.adapter_type, see docs/model_format.md)
becomes
  OUT_BASE/  train.yaml without the adapter_* keys, units.txt, model.safetensors
             without the .adapter_ tensors;
  OUT_SET/   adapters.yaml (adapter_conf: those keys) and adapters.safetensors
             (those tensors, names and dtypes unchanged).
moeasr loads the set on top of the base (moeasr_adapter_set_load, moeasr-decode
--adapters) and computes exactly what the original model computes. Several sets
fine-tuned from the same base share one base in memory. Needs numpy and PyYAML only.
"""

import argparse
import shutil
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import safetensors_io  # noqa: E402


class SplitError(Exception):
    pass


def is_adapter_tensor(name):
    # int8 weights' `<name>.scale` tensors contain ".adapter_" too and move along.
    return ".adapter_" in name


def split(model, base, adapters, force=False):
    config = yaml.safe_load((model / "train.yaml").read_text(encoding="utf-8"))
    encoder_conf = config.get("encoder_conf") or {}
    adapter_conf = {k: v for k, v in encoder_conf.items() if k.startswith("adapter_")}
    if adapter_conf.get("adapter_type") is None:
        raise SplitError(f"{model / 'train.yaml'}: encoder_conf.adapter_type is not set: no adapters to split")
    for out in (base, adapters):
        if out.exists() and any(out.iterdir()) and not force:
            raise SplitError(f"{out} is not empty (use --force)")
        out.mkdir(parents=True, exist_ok=True)
    header, metadata, _ = safetensors_io.read_header(model / "model.safetensors")
    tensors, _ = safetensors_io.load(model / "model.safetensors")
    dtypes = {name: info["dtype"] for name, info in header.items() if info["dtype"] == "BF16"}
    keep = {k: v for k, v in tensors.items() if not is_adapter_tensor(k)}
    moved = {k: v for k, v in tensors.items() if is_adapter_tensor(k)}
    if not moved:
        raise SplitError(f"{model / 'model.safetensors'} has no .adapter_ tensors")

    config["encoder_conf"] = {k: v for k, v in encoder_conf.items() if not k.startswith("adapter_")}
    (base / "train.yaml").write_text(yaml.safe_dump(config, sort_keys=True, allow_unicode=True), encoding="utf-8")
    shutil.copyfile(model / "units.txt", base / "units.txt")
    safetensors_io.save(base / "model.safetensors", keep, metadata,
                        {k: v for k, v in dtypes.items() if k in keep})
    (adapters / "adapters.yaml").write_text(
        yaml.safe_dump({"description": f"adapters split from {model.name}", "adapter_conf": adapter_conf},
                       sort_keys=True, allow_unicode=True), encoding="utf-8")
    safetensors_io.save(adapters / "adapters.safetensors", moved, metadata,
                        {k: v for k, v in dtypes.items() if k in moved})
    return len(keep), len(moved)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--base", type=Path, required=True)
    parser.add_argument("--adapters", type=Path, required=True)
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args(argv)
    try:
        kept, moved = split(args.model, args.base, args.adapters, args.force)
    except (SplitError, OSError) as e:
        print(f"split_adapters.py: {e}", file=sys.stderr)
        return 1
    print(f"{args.base}: {kept} tensors; {args.adapters}: {moved} adapter tensors")
    return 0


if __name__ == "__main__":
    sys.exit(main())
