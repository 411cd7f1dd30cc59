#!/usr/bin/env python3
"""Convert a PETL_AST Soft-MoA / Dense-MoA checkpoint into a moeasr classifier
directory (classifier.yaml, model.safetensors, labels.txt).

    python3 tools/convert_petl_ast.py --ckpt bestmodel_fold0 --out OUT_DIR \\
        --method Soft-MoA --adapter_type_moa Pfeiffer --location_moa MHSA \\
        --final_output ALL --max_len_AST 400 [--reduction_rate_moa 128] \\
        [--num_adapters 7] [--num_slots 1] [--normalize true|false] \\
        [--ast-config config.json] [--labels labels.txt] [--score softmax]

PETL_AST (github.com/umbertocappellazzo/PETL_AST, the Soft-MoA paper's code) saves
`model.state_dict()` of its AST_SoftMoA / AST_MoA (main.py --save_best_ckpt). The
options are main.py's names for the run's command line (final_output and max_len_AST
come from its hparams/train.yaml for the dataset). The state_dict itself fixes the
rest, and each option given is checked against it: Soft vs Dense (slot_params vs
router), Pfeiffer vs Houlsby (moa vs moa_mhsa / moa_ffn), the number of adapters,
the bottleneck (reduction rate), slots per expert, and normalization (a `scale`
tensor). Note that main.py declares --normalize with type=bool, so any value given
there, "False" included, turned normalization on: trust the checkpoint.

The base AST's configuration is that of the checkpoint PETL loaded (--model_ckpt_AST,
MIT/ast-finetuned-audioset-10-10-0.4593 by default: 12 heads, 16x16 patches, strides
10, 128 mel bins, layer_norm_eps 1e-12); --ast-config reads another config.json.
Width, depth and MLP size are read from the tensors.

What PETL's forward does that a plain AST does not becomes classifier.yaml options
(docs/model_format.md): adapter_normalize_mode: petl_ast, adapter_router_bias,
adapter_self_attn_twice (Pfeiffer at MHSA), pooling cls / mean_all and
head.layernorm: false. Reads the checkpoint without torch (tools/ptfile.py); needs
numpy and pyyaml. Errors are one line on stderr, exit 1.
"""

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np
import yaml

TOOLS = Path(__file__).resolve().parent
sys.path.insert(0, str(TOOLS))
import ptfile  # noqa: E402
import safetensors_io  # noqa: E402
from convert_hf_ast import DEFAULT_FRONTEND  # noqa: E402

# MIT/ast-finetuned-audioset-10-10-0.4593's config.json (PETL's default base model).
MIT_AST = {"num_attention_heads": 12, "layer_norm_eps": 1e-12, "patch_size": 16, "frequency_stride": 10,
           "time_stride": 10, "num_mel_bins": 128, "hidden_act": "gelu", "qkv_bias": True}
BODY = "audio_spectrogram_transformer."
PLACE = {"MHSA": "self_attn", "FFN": "feed_forward"}


class ConvertError(Exception):
    pass


def parse_bool(text):
    v = text.strip().lower()
    if v in ("1", "true", "yes", "on"):
        return True
    if v in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"not a boolean: {text!r}")


def read_state(path):
    obj = ptfile.load(path)
    state = obj.get("state_dict", obj) if isinstance(obj, dict) else None
    if not isinstance(state, dict) or not state:
        raise ConvertError(f"{path}: not a state_dict")
    return {k: np.asarray(v) for k, v in state.items()}


def model_view(state):
    """AST_SoftMoA / AST_MoA hold the AST under `model.` and again (the same modules)
    as `embeddings.`, `encoder.`, `layernorm.`: one name per tensor, `model.` first,
    and the copies must agree."""
    out = {}
    for k, v in state.items():
        if k.startswith("model."):
            out[k[len("model."):]] = v
    for k, v in state.items():
        if k.startswith(("embeddings.", "encoder.", "layernorm.")):
            if k in out and not np.array_equal(out[k], v):
                raise ConvertError(f"model.{k} and {k} differ (not one AST_SoftMoA / AST_MoA state_dict?)")
            out.setdefault(k, v)
        elif not k.startswith(("model.", "classification_head.")):
            raise ConvertError(f"unexpected tensor {k} (not a PETL_AST Soft-MoA / Dense-MoA checkpoint?)")
    for k in ("classification_head.weight", "classification_head.bias"):
        if k not in state:
            raise ConvertError(f"the state_dict has no {k}")
        out[k] = state[k]
    return out


def need(state, name):
    if name not in state:
        raise ConvertError(f"the state_dict has no {name}")
    return state[name]


def mixture_names(state, layer):
    """PETL module name -> moeasr placement for one layer, and whether it is Houlsby."""
    p = f"encoder.layer.{layer}."
    if any(k.startswith(p + "moa_mhsa.") for k in state):
        return {"moa_mhsa": "self_attn", "moa_ffn": "feed_forward"}, True
    if any(k.startswith(p + "moa.") for k in state):
        return {"moa": None}, False
    raise ConvertError(f"layer {layer} has no mixture of adapters (moa / moa_mhsa): not a MoA checkpoint")


def read_mixture(state, src, dst, soft, out):
    """Copies one PETL mixture (SoftMoA or MoA + Router) to moeasr names; returns
    (adapters, bottleneck, slots, normalize)."""
    ids = sorted({int(m.group(1)) for k in state for m in [re.match(re.escape(src) + r"\.moa\.(\d+)\.", k)] if m})
    if not ids or ids != list(range(len(ids))):
        raise ConvertError(f"{src}.moa.N: adapters missing or not numbered 0..N-1")
    for k in state:
        if k.startswith(src + ".moa.") and not re.match(
                re.escape(src) + r"\.moa\.\d+\.linear_(down|up)sample\.(weight|bias)$", k):
            raise ConvertError(f"{k}: only PETL's bottleneck adapters are supported (adapter_module_moa bottleneck)")
    bottleneck = need(state, f"{src}.moa.0.linear_downsample.weight").shape[0]
    for e in ids:
        for a, b in (("linear_downsample", "w_1"), ("linear_upsample", "w_2")):
            for t in ("weight", "bias"):
                out[f"{dst}.experts.{e}.{b}.{t}"] = need(state, f"{src}.moa.{e}.{a}.{t}")
    slots, normalize = 1, False
    if soft:
        phi = need(state, f"{src}.slot_params")
        if phi.ndim != 3 or phi.shape[1] != len(ids):
            raise ConvertError(f"{src}.slot_params has shape {list(phi.shape)}, expected [d, {len(ids)}, slots]")
        out[f"{dst}.phi"] = phi
        slots = phi.shape[2]
        if f"{src}.scale" in state:
            normalize = True
            out[f"{dst}.phi_scale"] = state[f"{src}.scale"].reshape(1)
    return len(ids), bottleneck, slots, normalize


def convert_state(state, args):
    """(classifier.yaml dict, moeasr tensors) for a model_view()ed state_dict."""
    ast = dict(MIT_AST)
    if args.ast_config:
        try:
            ast.update(json.loads(Path(args.ast_config).read_text(encoding="utf-8")))
        except (OSError, ValueError) as e:
            raise ConvertError(f"{args.ast_config}: {e}") from e
    if ast.get("hidden_act", "gelu") != "gelu" or not ast.get("qkv_bias", True):
        raise ConvertError("the base AST must have hidden_act gelu and qkv_bias (as every released AST)")
    layers = sorted({int(m.group(1)) for k in state for m in [re.match(r"encoder\.layer\.(\d+)\.", k)] if m})
    if not layers or layers != list(range(len(layers))):
        raise ConvertError("encoder.layer.N: layers missing or not numbered 0..N-1")
    hidden = need(state, "embeddings.cls_token").shape[-1]
    intermediate = need(state, "encoder.layer.0.intermediate.dense.weight").shape[0]
    soft = any(k.endswith(".slot_params") for k in state)
    dense = any(".router" in k for k in state)
    if soft == dense:
        raise ConvertError("the state_dict has " + ("both slot_params and routers" if soft else
                                                     "neither slot_params (Soft-MoA) nor routers (Dense-MoA)"))
    method = "Soft-MoA" if soft else "Dense-MoA"
    if args.method and args.method != method:
        raise ConvertError(f"--method {args.method}, but the state_dict is a {method} model")

    out, seen = {}, set()
    for k, v in state.items():
        m = re.match(r"encoder\.layer\.(\d+)\.(attention\.|intermediate\.|output\.|layernorm_)", k)
        if k.startswith(("embeddings.", "layernorm.")) or m:
            out[BODY + k] = v
    found = None
    for i in layers:
        names, houlsby = mixture_names(state, i)
        kind = "Houlsby" if houlsby else "Pfeiffer"
        if args.adapter_type_moa and args.adapter_type_moa != kind:
            raise ConvertError(f"--adapter_type_moa {args.adapter_type_moa}, but layer {i} is {kind}")
        for src, place in names.items():
            if place is None:
                if not args.location_moa:
                    raise ConvertError("a Pfeiffer checkpoint needs --location_moa MHSA or FFN (the state_dict "
                                       "does not say where its mixture sits)")
                place = PLACE[args.location_moa]
            prefix = f"encoder.layer.{i}.{src}"
            dst = f"{BODY}encoder.layer.{i}.adapter_{place}"
            shape = read_mixture(state, prefix, dst, soft, out)
            if dense:
                router = prefix.replace(src, {"moa": "router", "moa_mhsa": "router_mhsa", "moa_ffn": "router_ffn"}[src])
                out[dst + ".gate.weight"] = need(state, router + ".ff.weight")
                out[dst + ".gate.bias"] = need(state, router + ".ff.bias")
                seen.add(router)
            if found not in (None, (kind, shape)):
                raise ConvertError(f"{prefix}: {shape} differs from the other layers' {found[1]}")
            found = (kind, shape)
            seen.add(prefix)
    kind, (adapters, bottleneck, slots, normalize) = found
    for k in state:
        if not (k.startswith(("embeddings.", "layernorm.", "classification_head.")) or BODY + k in out
                or any(k.startswith(s + ".") for s in seen)):
            raise ConvertError(f"unexpected tensor {k}")
    checks = [("num_adapters", adapters), ("num_slots", slots if soft else None),
              ("normalize", normalize if soft else None)]
    if args.reduction_rate_moa:
        if round(hidden / args.reduction_rate_moa) != bottleneck:
            raise ConvertError(f"--reduction_rate_moa {args.reduction_rate_moa} implies a bottleneck of "
                               f"{round(hidden / args.reduction_rate_moa)}, the adapters have {bottleneck}")
    for name, have in checks:
        given = getattr(args, name)
        if given is not None and have is not None and given != have:
            raise ConvertError(f"--{name} {given}, but the state_dict has {have}"
                               + (" (PETL's --normalize is type=bool: 'False' turns it on)" if name == "normalize"
                                  else ""))

    out["classifier.dense.weight"] = state["classification_head.weight"]
    out["classifier.dense.bias"] = state["classification_head.bias"]
    num_labels = out["classifier.dense.weight"].shape[0]
    adapter_conf = {"adapter_type": "soft_moa" if soft else "dense_moa",
                    "adapter_placement": ["self_attn", "feed_forward"] if kind == "Houlsby"
                    else [PLACE[args.location_moa]],
                    "adapter_dim": int(bottleneck), "adapter_n_expert": int(adapters)}
    if soft:
        adapter_conf.update({"adapter_slots_per_expert": int(slots), "adapter_normalize": normalize})
        if normalize:
            adapter_conf["adapter_normalize_mode"] = "petl_ast"
    else:
        adapter_conf["adapter_router_bias"] = True
    if kind == "Pfeiffer" and args.location_moa == "MHSA":
        adapter_conf["adapter_self_attn_twice"] = True
    fe = DEFAULT_FRONTEND
    config = {
        "model_type": "ast",
        "frontend": {"sample_rate": fe["sampling_rate"], "num_mel_bins": int(ast["num_mel_bins"]),
                     "max_length": int(args.max_len_AST), "mean": fe["mean"], "std": fe["std"]},
        "encoder": {"hidden_size": int(hidden), "num_hidden_layers": len(layers),
                    "num_attention_heads": int(ast["num_attention_heads"]), "intermediate_size": int(intermediate),
                    "hidden_act": "gelu", "layer_norm_eps": float(ast["layer_norm_eps"]),
                    "patch_size": int(ast["patch_size"]), "frequency_stride": int(ast["frequency_stride"]),
                    "time_stride": int(ast["time_stride"])},
        "head": {"num_labels": int(num_labels), "pooling": {"CLS": "cls", "ALL": "mean_all"}[args.final_output],
                 "score": args.score, "layernorm": False},
        "adapter_conf": adapter_conf,
    }
    enc, bins, p = config["encoder"], config["frontend"]["num_mel_bins"], config["encoder"]["patch_size"]
    tokens = ((bins - p) // enc["frequency_stride"] + 1) * ((args.max_len_AST - p) // enc["time_stride"] + 1) + 2
    pos = out[BODY + "embeddings.position_embeddings"]
    if tuple(pos.shape) != (1, tokens, hidden):
        raise ConvertError(f"position_embeddings have shape {list(pos.shape)}; --max_len_AST {args.max_len_AST} with "
                           f"{bins} mel bins implies [1, {tokens}, {hidden}]")
    return config, out


def labels_of(path, n):
    if path is None:
        return [f"class_{i}" for i in range(n)]
    labels = Path(path).read_text(encoding="utf-8").splitlines()
    if len(labels) != n or not all(labels):
        raise ConvertError(f"{path}: {len(labels)} labels (empty lines?), the head has {n} classes")
    return labels


def convert(args):
    out = Path(args.out)
    config, tensors = convert_state(model_view(read_state(args.ckpt)), args)
    labels = labels_of(args.labels, config["head"]["num_labels"])
    if out.exists() and any(out.iterdir()) and not args.force:
        raise ConvertError(f"{out} exists and is not empty (--force to overwrite)")
    out.mkdir(parents=True, exist_ok=True)
    (out / "classifier.yaml").write_text(
        f"# Converted from PETL_AST {Path(args.ckpt).name} by tools/convert_petl_ast.py\n"
        + yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    (out / "labels.txt").write_text("".join(label + "\n" for label in labels), encoding="utf-8")
    safetensors_io.save(out / "model.safetensors",
                        {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in sorted(tensors.items())},
                        metadata={"source": "PETL_AST " + config["adapter_conf"]["adapter_type"]})
    return config


def build_parser():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ckpt", required=True, help="torch.save(model.state_dict()) of AST_SoftMoA / AST_MoA")
    ap.add_argument("--out", required=True, help="moeasr classifier directory to write")
    ap.add_argument("--method", choices=["Soft-MoA", "Dense-MoA"])
    ap.add_argument("--adapter_type_moa", choices=["Pfeiffer", "Houlsby"])
    ap.add_argument("--location_moa", choices=["MHSA", "FFN"], help="required for Pfeiffer")
    ap.add_argument("--final_output", required=True, choices=["CLS", "ALL"])
    ap.add_argument("--max_len_AST", required=True, type=int, help="the dataset's max_len_AST (frames)")
    ap.add_argument("--reduction_rate_moa", type=int)
    ap.add_argument("--num_adapters", type=int)
    ap.add_argument("--num_slots", type=int)
    ap.add_argument("--normalize", type=parse_bool)
    ap.add_argument("--ast-config", dest="ast_config", help="config.json of the base AST (default: MIT AudioSet AST)")
    ap.add_argument("--labels", help="class names, one a line (default class_0 ...)")
    ap.add_argument("--score", choices=["softmax", "sigmoid"], default="softmax",
                    help="PETL trains with cross-entropy: softmax (default)")
    ap.add_argument("--force", action="store_true", help="overwrite a non-empty --out")
    return ap


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        if args.max_len_AST < 1:
            raise ConvertError("--max_len_AST must be positive")
        c = convert(args)
    except (ConvertError, ptfile.PtFileError, ValueError, OSError) as e:
        print(f"convert_petl_ast.py: {e}", file=sys.stderr)
        return 1
    a = c["adapter_conf"]
    print(f"wrote {args.out}: AST {c['encoder']['num_hidden_layers']} x {c['encoder']['hidden_size']}, "
          f"{a['adapter_type']} {a['adapter_placement']} x {a['adapter_n_expert']}, {c['head']['num_labels']} classes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
