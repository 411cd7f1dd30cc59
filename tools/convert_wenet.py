#!/usr/bin/env python3
"""Turn a WeNet checkpoint into a moeasr model directory.

    convert_wenet.py --checkpoint final.pt --config train.yaml --units units.txt --out DIR
                     [--dtype fp32|fp16] [--force]

DIR gets:
    train.yaml          copied unchanged
    units.txt           copied unchanged (checked: "token id" lines, ids 0..V-1)
    model.safetensors   the state_dict, keys unchanged, floating tensors as F32
                        (--dtype fp16: as F16, half the size; the runtime widens
                        them to float32 at load),
                        metadata {"format": "pt", "moeasr_format_version": "1", "source": "wenet"}

The checkpoint may be a plain state_dict or a dict holding it under 'model' or
'state_dict'; a DataParallel 'module.' prefix is stripped. Buffers the runtime
recomputes or never uses (`*.pe` sinusoid tables, BatchNorm `*.num_batches_tracked`)
are dropped, and the output says which.

Needs only numpy and pyyaml: the checkpoint is read by ptfile.py, not torch.
Errors are reported as one line on stderr with exit status 1.
"""

import argparse
import shutil
import sys
from pathlib import Path

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ptfile  # noqa: E402
import safetensors_io  # noqa: E402

FORMAT_VERSION = "1"
DROPPED_SUFFIXES = (".pe", ".num_batches_tracked")
OUTPUT_FILES = ("train.yaml", "units.txt", "model.safetensors")


class ConvertError(Exception):
    pass


def read_units(path):
    """Check the symbol table; return its size."""
    ids = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 2 or not parts[1].lstrip("-").isdigit():
                raise ConvertError(f"{path}:{number}: expected 'token id', got {line.strip()!r}")
            ids.append(int(parts[1]))
    if sorted(ids) != list(range(len(ids))):
        raise ConvertError(f"{path}: ids must be 0..{len(ids) - 1}, each exactly once")
    return len(ids)


def read_config(path):
    try:
        with open(path, encoding="utf-8") as f:
            config = yaml.safe_load(f)
    except yaml.YAMLError as e:
        raise ConvertError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(config, dict):
        raise ConvertError(f"{path}: not a YAML mapping")
    return config


def find_state_dict(checkpoint, path):
    """The tensor mapping inside a checkpoint, with any 'module.' prefix removed."""
    state = checkpoint
    if isinstance(state, dict):
        for key in ("model", "state_dict"):
            if isinstance(state.get(key), dict):
                state = state[key]
                break
    if not isinstance(state, dict) or not state:
        raise ConvertError(f"{path}: no state_dict found in checkpoint")
    result = {}
    for key, value in state.items():
        if not isinstance(key, str):
            raise ConvertError(f"{path}: state_dict key {key!r} is not a string")
        if not isinstance(value, np.ndarray):
            raise ConvertError(f"{path}: entry {key!r} is not a tensor ({type(value).__name__})")
        result[key[len("module."):] if key.startswith("module.") else key] = value
    return result


FLOAT_DTYPES = {"fp32": np.float32, "fp16": np.float16}


def convert_tensors(state, dtype="fp32"):
    """(tensors to store, names dropped). Floating tensors become float32, or float16
    with dtype "fp16" (a value beyond float16's range is an error, not an inf)."""
    kept, dropped = {}, []
    target = FLOAT_DTYPES[dtype]
    for name, value in state.items():
        if name.endswith(DROPPED_SUFFIXES):
            dropped.append(name)
        elif np.issubdtype(value.dtype, np.floating):
            converted = value.astype(target)
            if not np.array_equal(np.isfinite(converted), np.isfinite(value)):
                raise ConvertError(f"tensor {name!r} has values outside the {dtype} range")
            kept[name] = converted
        elif value.dtype == np.bool_:
            kept[name] = value.astype(np.uint8)
        else:
            kept[name] = value
    return kept, sorted(dropped)


def check_against_config(tensors, config, vocab_size, config_path):
    output_dim = config.get("output_dim")
    if output_dim is not None and output_dim != vocab_size:
        raise ConvertError(
            f"{config_path}: output_dim {output_dim} but units.txt has {vocab_size} units")
    ctc = tensors.get("ctc.ctc_lo.weight")
    if ctc is None:
        raise ConvertError("checkpoint has no ctc.ctc_lo.weight: not a WeNet CTC model")
    if ctc.shape[0] != vocab_size:
        raise ConvertError(
            f"ctc.ctc_lo.weight has {ctc.shape[0]} rows but units.txt has {vocab_size} units")


def prepare_out_dir(out, force):
    if out.exists() and not out.is_dir():
        raise ConvertError(f"{out} exists and is not a directory")
    existing = [name for name in OUTPUT_FILES if (out / name).exists()]
    if existing and not force:
        raise ConvertError(f"{out} already has {', '.join(existing)}; use --force to overwrite")
    out.mkdir(parents=True, exist_ok=True)


def convert(checkpoint, config_path, units_path, out, force, dtype="fp32"):
    for label, path in (("checkpoint", checkpoint), ("config", config_path), ("units", units_path)):
        if not path.is_file():
            raise ConvertError(f"{label} file not found: {path}")
    config = read_config(config_path)
    vocab_size = read_units(units_path)
    try:
        loaded = ptfile.load(checkpoint)
    except ptfile.PtFileError as e:
        raise ConvertError(str(e)) from None
    tensors, dropped = convert_tensors(find_state_dict(loaded, checkpoint), dtype)
    check_against_config(tensors, config, vocab_size, config_path)
    prepare_out_dir(out, force)
    shutil.copyfile(config_path, out / "train.yaml")
    shutil.copyfile(units_path, out / "units.txt")
    metadata = {"format": "pt", "moeasr_format_version": FORMAT_VERSION, "source": "wenet"}
    safetensors_io.save(out / "model.safetensors", tensors, metadata)
    print(f"wrote {out / 'model.safetensors'}: {len(tensors)} tensors, "
          f"{sum(t.size for t in tensors.values())} values, floating point as {dtype}")
    if dropped:
        print(f"dropped {len(dropped)} recomputed/training-only buffers: {', '.join(dropped)}")
    print(f"copied train.yaml and units.txt ({vocab_size} units) to {out}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", required=True, type=Path, help="WeNet final.pt")
    parser.add_argument("--config", required=True, type=Path, help="WeNet train.yaml")
    parser.add_argument("--units", required=True, type=Path, help="symbol table units.txt")
    parser.add_argument("--out", required=True, type=Path, help="model directory to write")
    parser.add_argument("--dtype", choices=sorted(FLOAT_DTYPES), default="fp32",
                        help="storage type of floating tensors (default fp32)")
    parser.add_argument("--force", action="store_true", help="overwrite existing output files")
    args = parser.parse_args(argv)
    try:
        convert(args.checkpoint, args.config, args.units, args.out, args.force, args.dtype)
    except (ConvertError, safetensors_io.SafetensorsError, OSError, UnicodeDecodeError) as e:
        message = " ".join(str(e).split())  # always one line
        print(f"convert_wenet.py: error: {message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
