#!/usr/bin/env python3
"""Transition tuning's first step: a Mixture-of-Tokens model directory -> a top-k MoE one.

    python3 tools/mot_to_moe.py --model MOT_DIR --out MOE_DIR [--top-k K] [--force]

A MoT encoder FFN (mlp_type: mot) mixes tokens; the MoE it becomes routes them, so
the converted model streams on the expert-grouped GEMM path with no cross-example
mixing. Mapping, per MoT layer `P` (both the macaron and the second FFN):

    P.controller.weight [E, d]   ->  P.gate.weight = controller / mot_temperature
    P.experts.{e}.w_1/w_2(.bias) ->  P.experts.{e}.w_1/w_2(.bias), unchanged
    encoder_conf: mlp_type mot -> moe, n_expert kept, n_expert_activated = k,
                  mlp_bias written out (MoT's default is false, WeNet MoE's true),
                  mot_group_size / mot_temperature / mot_grouping dropped.

The router's logits are then exactly the MoT merge logits x . c_e / tau. k defaults to
max(1, round(E / G)): a MoT layer runs each of its E experts once per group of G
tokens, E / G expert evaluations per token, which top-k keeps.

What changes numerically (docs/model_format.md derives it): MoT at tau -> 0 is expert
choice (each expert takes the one token of its group with the largest logit, weight
1); the MoE is token choice (each token takes its k largest logits, weights a softmax
over those k). With k = 1 the two agree exactly for a token whose best expert also
picks it and no other expert picks it; at G = 1 MoT is a dense sum of all E experts
and no top-k MoE equals it. The converted model is the starting point of the
fine-tuning ("transition tuning") that closes the gap. Everything else (attention,
convolution, decoder, CTC, CMVN, units) is copied unchanged, in its stored dtype.

numpy and pyyaml only. Errors print one line on stderr and exit with status 1.
"""

import argparse
import shutil
import sys
from pathlib import Path

import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import safetensors_io  # noqa: E402

MOT_KEYS = ("mot_group_size", "mot_temperature", "mot_grouping")
OUTPUT_FILES = ("train.yaml", "units.txt", "model.safetensors")


class ConvertError(Exception):
    pass


def default_top_k(n_expert, group_size):
    """E / G expert evaluations per token, rounded half up, in [1, E]."""
    return min(n_expert, max(1, int(n_expert / group_size + 0.5)))


def moe_config(config, top_k):
    """(new train.yaml dict, temperature, k) for a config whose encoder FFN is MoT."""
    encoder_conf = dict(config.get("encoder_conf") or {})
    if encoder_conf.get("mlp_type") != "mot":
        raise ConvertError("encoder_conf.mlp_type is not 'mot': nothing to convert")
    n_expert = encoder_conf.get("n_expert", 8)
    group_size = encoder_conf.get("mot_group_size")
    temperature = float(encoder_conf.get("mot_temperature", 1.0))
    if not isinstance(group_size, int) or group_size < 1:
        raise ConvertError("encoder_conf.mot_group_size must be a positive integer")
    if not temperature > 0:
        raise ConvertError("encoder_conf.mot_temperature must be positive")
    k = default_top_k(n_expert, group_size) if top_k is None else top_k
    if not 1 <= k <= n_expert:
        raise ConvertError(f"--top-k {k} is outside [1, n_expert={n_expert}]")
    bias = bool(encoder_conf.get("mlp_bias", False))
    for key in MOT_KEYS:
        encoder_conf.pop(key, None)
    encoder_conf.update({"mlp_type": "moe", "n_expert": n_expert, "n_expert_activated": k,
                         "mlp_bias": bias})
    return dict(config, encoder_conf=encoder_conf), temperature, k


def as_float32(array, dtype_name):
    if dtype_name == "BF16":  # uint16 bits: the high half of a float32
        return (array.astype(np.uint32) << 16).view(np.float32)
    return array.astype(np.float32)


def moe_tensors(path, temperature):
    """(tensors, metadata, {name: "BF16"}) with every controller turned into a gate."""
    header, _, _ = safetensors_io.read_header(path)
    tensors, metadata = safetensors_io.load(path)
    out, bf16 = {}, {}
    controllers = 0
    for name, array in tensors.items():
        if name.endswith(".controller.weight"):
            if not name.startswith("encoder."):
                raise ConvertError(f"{name}: Mixture of Tokens outside the encoder")
            gate = as_float32(array, header[name]["dtype"]) / np.float32(temperature)
            out[name[:-len(".controller.weight")] + ".gate.weight"] = gate.astype(np.float32)
            controllers += 1
            continue
        out[name] = array
        if header[name]["dtype"] == "BF16":
            bf16[name] = "BF16"
    if not controllers:
        raise ConvertError(f"{path}: no *.controller.weight tensors: not a Mixture-of-Tokens model")
    metadata = dict(metadata, converted_from="mixture_of_tokens")
    return out, metadata, bf16


def convert(model_dir, out, top_k=None, force=False):
    for name in OUTPUT_FILES:
        if not (model_dir / name).is_file():
            raise ConvertError(f"{model_dir / name} not found")
    with open(model_dir / "train.yaml", encoding="utf-8") as f:
        config = yaml.safe_load(f)
    if not isinstance(config, dict):
        raise ConvertError(f"{model_dir / 'train.yaml'}: not a YAML mapping")
    new_config, temperature, k = moe_config(config, top_k)
    tensors, metadata, bf16 = moe_tensors(model_dir / "model.safetensors", temperature)
    if out.exists() and not out.is_dir():
        raise ConvertError(f"{out} exists and is not a directory")
    existing = [name for name in OUTPUT_FILES if (out / name).exists()]
    if existing and not force:
        raise ConvertError(f"{out} already has {', '.join(existing)}; use --force to overwrite")
    out.mkdir(parents=True, exist_ok=True)
    (out / "train.yaml").write_text(
        yaml.safe_dump(new_config, sort_keys=True, allow_unicode=True), encoding="utf-8")
    shutil.copyfile(model_dir / "units.txt", out / "units.txt")
    safetensors_io.save(out / "model.safetensors", tensors, metadata, dtypes=bf16)
    return (f"wrote {out}: top-{k} MoE of {new_config['encoder_conf']['n_expert']} experts, "
            f"gate = controller / {temperature:g}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, type=Path, help="MoT model directory")
    parser.add_argument("--out", required=True, type=Path, help="MoE model directory to write")
    parser.add_argument("--top-k", type=int, default=None,
                        help="experts per token (default: max(1, round(n_expert / mot_group_size)))")
    parser.add_argument("--force", action="store_true", help="overwrite existing output files")
    args = parser.parse_args(argv)
    try:
        print(convert(args.model, args.out, args.top_k, args.force))
    except (ConvertError, safetensors_io.SafetensorsError, OSError, yaml.YAMLError) as e:
        print(f"mot_to_moe.py: error: {' '.join(str(e).split())}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
