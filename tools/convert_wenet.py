#!/usr/bin/env python3
"""Turn a WeNet checkpoint into a moeasr model directory.

    convert_wenet.py --checkpoint final.pt --config train.yaml --units units.txt --out DIR
                     [--dtype fp32|fp16|bf16|int8] [--only experts|linear|all] [--force]
                     [--runtime PATH | --no-runtime-check]

DIR gets:
    train.yaml          copied unchanged
    units.txt           copied unchanged (checked: "token id" lines, ids 0..V-1)
    model.safetensors   the state_dict, keys unchanged, floating tensors as F32,
                        metadata {"format": "pt", "moeasr_format_version": "1", "source": "wenet"}
                        --dtype fp16: every floating tensor as F16 (the runtime widens them)
                        --dtype bf16: Linear weights as BF16 (computed in bfloat16)
                        --dtype int8: Linear weights as I8 with a per-row F32 `<name>.scale`
                          (symmetric: w = q * scale, q in [-127, 127]), computed in int8
                        --only experts: convert only MoE expert weights; linear: every Linear
                          weight; all (default): as above. "Linear weights" are exactly what the
                          runtime converts for its compute_type option: attention projections,
                          FFN / expert w_1 and w_2, 1x1 convolutions, the subsampling's
                          convolutions over d channels and its output Linear, CTC head,
                          decoder output layer; never router gates, embeddings, the first
                          subsampling convolution (one channel), depthwise kernels or norms.
                          --dtype bf16 leaves the input layer's float32, as the runtime runs it.

The checkpoint may be a plain state_dict or a dict holding it under 'model' or
'state_dict' (--weights KEY names another entry, e.g. 'ema' in tools/train's
checkpoint.pt); a DataParallel 'module.' prefix is stripped. Buffers the runtime
recomputes or never uses (`*.pe` sinusoid tables, BatchNorm `*.num_batches_tracked`)
are dropped, and the output says which.

The converter refuses what the runtime refuses. Before reading the checkpoint
it checks the model family train.yaml names (model, encoder, decoder,
input_layer, pos_enc_layer_type, selfattention_layer_type; a transducer's
predictor, joint, rnn_type, joint_mode, hat_joint) against what the
loader supports; after writing DIR it loads DIR with the runtime's own loader
(`moeasr-decode --model DIR --check`: every train.yaml setting, every tensor's
name, shape and type) and, if that fails, removes what it wrote and exits 1 with
the loader's message. The runtime is --runtime PATH, else build/src/cli/moeasr-decode
of this repository, else moeasr-decode on PATH; without one (or with
--no-runtime-check) only the family check runs, and the output says so.

Needs only numpy and pyyaml: the checkpoint is read by ptfile.py, not torch.
Errors are reported as one line on stderr with exit status 1.
"""

import argparse
import re
import shutil
import subprocess
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


def find_state_dict(checkpoint, path, weights=None):
    """The tensor mapping inside a checkpoint (its `weights` entry if given), with any
    'module.' prefix removed."""
    state = checkpoint
    if weights is not None:
        if not isinstance(state, dict) or not isinstance(state.get(weights), dict):
            found = sorted(str(k) for k, v in state.items() if isinstance(v, dict)) if isinstance(state, dict) else []
            raise ConvertError(f"{path}: no entry {weights!r} holding weights "
                               f"(entries that are mappings: {', '.join(found) or 'none'})")
        state = state[weights]
    elif isinstance(state, dict):
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


DTYPES = ("fp32", "fp16", "bf16", "int8")
SCOPES = ("experts", "linear", "all")

# The runtime's quantizable Linear weights (src/formats/weight_spec.cc: ExpectedTensor.quantizable).
# A transducer's predictor.* and joint.* Linears are not among them: they stay float32.
LINEAR_WEIGHT = re.compile(
    r"(\.linear_(q|k|v|out|pos)|\.w_[12]|\.pointwise_conv[12]|\.channel_proj2|\.csgu\.linear|^ctc\.ctc_lo"
    r"|\.output_layer|^encoder\.embed\.(conv\.[24]|out\.0|linear))\.weight$")


def is_linear_weight(name):
    return bool(LINEAR_WEIGHT.search(name))


def is_input_layer_weight(name):
    """The runtime runs the input layer (subsampling) in float32 unless in int8."""
    return name.startswith("encoder.embed.")


def bf16_bits(array):
    """float32 -> bfloat16 bits (uint16), round to nearest even, as the runtime does."""
    u = np.ascontiguousarray(array, dtype=np.float32).view(np.uint32)
    rounded = ((u + np.uint32(0x7FFF) + ((u >> 16) & np.uint32(1))) >> 16).astype(np.uint16)
    special = (u & np.uint32(0x7F800000)) == np.uint32(0x7F800000)  # inf / NaN keep their class
    return np.where(special, ((u >> 16) | np.where(u & 0xFFFF, 0x40, 0)).astype(np.uint16), rounded)


def quantize_int8(array):
    """Row-wise symmetric int8 (rows = output features): (q int8, scale float32 [rows]),
    bit-for-bit what the runtime computes for compute_type int8."""
    w = np.ascontiguousarray(array, dtype=np.float32).reshape(array.shape[0], -1)
    amax = np.abs(w).max(axis=1)
    scale = np.where(amax > 0, amax / np.float32(127), np.float32(1)).astype(np.float32)
    q = np.rint(w / scale[:, None]).astype(np.int8)
    return q.reshape(array.shape), scale


def convert_tensors(state, dtype="fp32", only="all"):
    """(tensors to store, names dropped, {name: "BF16"} for bfloat16 bits).

    fp32 / fp16: every floating tensor in that type (a value beyond float16's range
    is an error, not an inf). bf16 / int8: the Linear weights `only` selects in that
    type (bf16: not the input layer's, which the runtime runs in float32 then), the
    rest float32."""
    kept, dropped, bf16_names = {}, [], {}

    def selected(name):
        if dtype == "fp32" or (dtype == "bf16" and is_input_layer_weight(name)):
            return False
        if only == "experts":
            return ".experts." in name and is_linear_weight(name)
        if only == "linear" or dtype != "fp16":
            return is_linear_weight(name)
        return True  # fp16, all: every floating tensor

    for name, value in state.items():
        if name.endswith(DROPPED_SUFFIXES):
            dropped.append(name)
        elif np.issubdtype(value.dtype, np.floating):
            chosen = selected(name)
            if dtype == "fp16" and chosen:
                converted = value.astype(np.float16)
                if not np.array_equal(np.isfinite(converted), np.isfinite(value)):
                    raise ConvertError(f"tensor {name!r} has values outside the fp16 range")
                kept[name] = converted
            elif dtype == "bf16" and chosen:
                kept[name] = bf16_bits(value)
                bf16_names[name] = "BF16"
            elif dtype == "int8" and chosen:
                kept[name], kept[name + ".scale"] = quantize_int8(value)
            else:
                kept[name] = value.astype(np.float32)
        elif value.dtype == np.bool_:
            kept[name] = value.astype(np.uint8)
        else:
            kept[name] = value
    return kept, sorted(dropped), bf16_names


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


# The model families the loader (src/formats/model_config.cc) accepts, by
# train.yaml key: (where, the supported values, the default when absent; every
# default is supported, whichever encoder class it belongs to).
SUPPORTED_FAMILIES = (
    ((), "model", ("asr_model", "transducer"), "asr_model"),
    ((), "encoder", ("conformer", "transformer", "branchformer", "e_branchformer", "squeezeformer",
                     "efficientConformer"),
     "conformer"),
    ((), "decoder", ("bitransformer", "transformer", None), "bitransformer"),
    (("encoder_conf",), "input_layer", ("conv2d", "conv2d6", "conv2d8", "linear", "conv2d2"), "conv2d"),
    (("encoder_conf",), "pos_enc_layer_type", ("rel_pos", "abs_pos", "no_pos"), "rel_pos"),
    (("encoder_conf",), "selfattention_layer_type", ("rel_selfattn", "selfattn"), "rel_selfattn"),
    (("encoder_conf",), "merge_method", ("concat", "fixed_ave"), "concat"),
)


# A transducer's predictor and joiner (src/formats/transducer_config.cc); an
# asr_model's train.yaml may carry these keys, unread.
TRANSDUCER_FAMILIES = (
    ((), "predictor", ("rnn", "embedding", "conv"), "rnn"),
    ((), "joint", ("transducer_joint",), "transducer_joint"),
    (("predictor_conf",), "rnn_type", ("lstm",), "lstm"),
    (("joint_conf",), "joint_mode", ("add",), "add"),
    (("joint_conf",), "hat_joint", (False,), False),
)


def check_values(config, config_path, families):
    for where, key, supported, default in families:
        section = config
        for name in where:
            section = section.get(name) or {}
        value = section.get(key, default) if isinstance(section, dict) else default
        if value not in supported:
            names = ", ".join("null" if v is None else str(v).lower() if isinstance(v, bool) else v
                              for v in supported)
            shown = str(value).lower() if isinstance(value, bool) else value
            raise ConvertError(f"{config_path}: {'.'.join(where + (key,))}: '{shown}' is not supported by "
                               f"the moeasr runtime (supported: {names})")


def check_family(config, config_path):
    """Refuses, before any work, a model family the runtime cannot run."""
    check_values(config, config_path, SUPPORTED_FAMILIES)
    if config.get("model") == "transducer":
        check_values(config, config_path, TRANSDUCER_FAMILIES)
    # WeNet's TransformerEncoder itself asserts selfattn (or rope_abs_selfattn, not supported).
    attention = (config.get("encoder_conf") or {}).get("selfattention_layer_type", "selfattn")
    if config.get("encoder") == "transformer" and attention != "selfattn":
        raise ConvertError(f"{config_path}: encoder_conf.selfattention_layer_type: '{attention}' is not "
                           f"supported with encoder: transformer (supported: selfattn)")
    conf = config.get("encoder_conf") or {}
    if config.get("encoder") == "squeezeformer":
        check_squeezeformer(conf, config_path)
    # Efficient Conformer: strides of 2, rel_pos; conv2d2 is its input layer only.
    if config.get("encoder") == "efficientConformer":
        strides = dict(conf, **(conf.get("efficient_conf") or {})).get("stride", 2)
        if any(s != 2 for s in ([strides] if isinstance(strides, int) else strides)):
            raise ConvertError(f"{config_path}: efficient_conf.stride: {strides} is not supported by the "
                               f"moeasr runtime (supported: 2)")
        if conf.get("pos_enc_layer_type", "rel_pos") != "rel_pos":
            raise ConvertError(f"{config_path}: encoder_conf.pos_enc_layer_type: "
                               f"'{conf['pos_enc_layer_type']}' is not supported with encoder: "
                               f"efficientConformer (supported: rel_pos)")
    elif conf.get("input_layer") == "conv2d2":
        raise ConvertError(f"{config_path}: encoder_conf.input_layer: 'conv2d2' is not supported by the "
                           f"moeasr runtime with encoder: {config.get('encoder', 'conformer')} (supported: "
                           f"conv2d, conv2d6, conv2d8, linear; conv2d2 with efficientConformer)")
    # Branchformer: both branches (the runtime has no single-branch layers).
    if config.get("encoder") == "branchformer":
        for key in ("use_attn", "use_cgmlp"):
            if conf.get(key, True) is not True:
                raise ConvertError(f"{config_path}: encoder_conf.{key}: {conf[key]} is not supported by the "
                                   f"moeasr runtime (only true: both branches)")


# Squeezeformer keys with values the runtime refuses (src/formats/squeezeformer_config.cc):
# (key, WeNet's default, the supported values).
SQUEEZEFORMER_VALUES = (
    ("time_reduction_layer_type", "conv1d", ("conv1d", "stream")),
    ("pos_enc_layer_type", "rel_pos", ("rel_pos",)),
    ("dw_stride", False, (False,)),
    ("normalize_before", False, (False,)),
    ("concat_after", False, (False,)),
    ("static_chunk_size", 0, (0,)),
)


def check_squeezeformer(conf, config_path):
    for key, default, supported in SQUEEZEFORMER_VALUES:
        value = conf.get(key, default)
        if value not in supported or isinstance(value, bool) != isinstance(supported[0], bool):
            names = ", ".join(str(v).lower() if isinstance(v, bool) else str(v) for v in supported)
            shown = str(value).lower() if isinstance(value, bool) else value
            raise ConvertError(f"{config_path}: encoder_conf.{key}: '{shown}' is not supported by the "
                               f"moeasr runtime with encoder: squeezeformer (supported: {names})")
    if conf.get("output_size", 256) != conf.get("encoder_dim", 256):
        raise ConvertError(f"{config_path}: encoder_conf.output_size must equal encoder_dim with "
                           f"encoder: squeezeformer (the runtime has no final_proj)")


def find_runtime(given):
    if given:
        if not Path(given).is_file():
            raise ConvertError(f"--runtime {given} not found")
        return Path(given)
    built = Path(__file__).resolve().parent.parent / "build" / "src" / "cli" / "moeasr-decode"
    if built.is_file():
        return built
    on_path = shutil.which("moeasr-decode")
    return Path(on_path) if on_path else None


def check_with_runtime(runtime, out):
    """Loads the written directory with the runtime's loader; raises with its message."""
    r = subprocess.run([str(runtime), "--model", str(out), "--check"], capture_output=True, text=True)
    if r.returncode != 0:
        message = r.stderr.strip().removeprefix("moeasr-decode: ")
        raise ConvertError(f"the moeasr runtime cannot load the converted model: {message}")


def prepare_out_dir(out, force):
    if out.exists() and not out.is_dir():
        raise ConvertError(f"{out} exists and is not a directory")
    existing = [name for name in OUTPUT_FILES if (out / name).exists()]
    if existing and not force:
        raise ConvertError(f"{out} already has {', '.join(existing)}; use --force to overwrite")
    out.mkdir(parents=True, exist_ok=True)


def convert(checkpoint, config_path, units_path, out, force, dtype="fp32", only="all", runtime=None,
            runtime_check=True, weights=None):
    for label, path in (("checkpoint", checkpoint), ("config", config_path), ("units", units_path)):
        if not path.is_file():
            raise ConvertError(f"{label} file not found: {path}")
    config = read_config(config_path)
    check_family(config, config_path)
    runtime = find_runtime(runtime) if runtime_check else None
    vocab_size = read_units(units_path)
    try:
        loaded = ptfile.load(checkpoint)
    except ptfile.PtFileError as e:
        raise ConvertError(str(e)) from None
    tensors, dropped, bf16_names = convert_tensors(find_state_dict(loaded, checkpoint, weights), dtype, only)
    check_against_config(tensors, config, vocab_size, config_path)
    prepare_out_dir(out, force)
    shutil.copyfile(config_path, out / "train.yaml")
    shutil.copyfile(units_path, out / "units.txt")
    metadata = {"format": "pt", "moeasr_format_version": FORMAT_VERSION, "source": "wenet"}
    safetensors_io.save(out / "model.safetensors", tensors, metadata, dtypes=bf16_names)
    if runtime:
        try:
            check_with_runtime(runtime, out)
        except ConvertError:
            for name in OUTPUT_FILES:
                (out / name).unlink(missing_ok=True)
            raise
    print(f"wrote {out / 'model.safetensors'}: {len(tensors)} tensors, "
          f"{sum(t.size for t in tensors.values())} values, {dtype} ({only})")
    if dropped:
        print(f"dropped {len(dropped)} recomputed/training-only buffers: {', '.join(dropped)}")
    print(f"copied train.yaml and units.txt ({vocab_size} units) to {out}")
    if runtime:
        print(f"the runtime's loader accepts {out} ({runtime})")
    else:
        print("not checked by the runtime's loader (no moeasr-decode found; see --runtime)")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", required=True, type=Path, help="WeNet final.pt")
    parser.add_argument("--config", required=True, type=Path, help="WeNet train.yaml")
    parser.add_argument("--units", required=True, type=Path, help="symbol table units.txt")
    parser.add_argument("--out", required=True, type=Path, help="model directory to write")
    parser.add_argument("--dtype", choices=DTYPES, default="fp32",
                        help="storage type (default fp32); see the module docstring")
    parser.add_argument("--only", choices=SCOPES, default="all",
                        help="which tensors --dtype applies to (default all)")
    parser.add_argument("--force", action="store_true", help="overwrite existing output files")
    parser.add_argument("--weights", metavar="KEY",
                        help="the checkpoint entry holding the weights (default: 'model', else "
                        "'state_dict', else the checkpoint itself); e.g. ema for tools/train's checkpoint.pt")
    parser.add_argument("--runtime", help="moeasr-decode that checks the result (default: this repository's "
                        "build/src/cli/moeasr-decode, else moeasr-decode on PATH)")
    parser.add_argument("--no-runtime-check", action="store_true",
                        help="skip the runtime's loader check (the model family is still checked)")
    args = parser.parse_args(argv)
    try:
        convert(args.checkpoint, args.config, args.units, args.out, args.force, args.dtype, args.only,
                args.runtime, not args.no_runtime_check, args.weights)
    except (ConvertError, safetensors_io.SafetensorsError, OSError, UnicodeDecodeError) as e:
        message = " ".join(str(e).split())  # always one line
        print(f"convert_wenet.py: error: {message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
