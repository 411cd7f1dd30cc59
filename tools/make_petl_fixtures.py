#!/usr/bin/env python3
"""Regenerate tests/data/petl: tiny random PETL_AST Soft-MoA / Dense-MoA checkpoints,
their conversions and their logits.

    python3 tools/make_petl_fixtures.py      # from the repository root, with torch

Deterministic (numpy seeds, one torch thread). For each case in CASES writes
  <name>.pt        model.state_dict() of PETL_AST's AST_SoftMoA / AST_MoA, with every
                   name PETL's module tree gives it (model.*, and the same tensors
                   again as embeddings.*, encoder.*, layernorm.*) and random weights
  <name>.json      the convert_petl_ast.py arguments of the case (paths relative to
                   tests/data/petl)
  <name>.golden.safetensors   logits, scores [classes] of tests/data/audio/hello.wav
  <name>/          the classifier directory tools/convert_petl_ast.py makes of it
The goldens come from tools/moeasr_ref (ast.py) running the converted directory;
tools/check_against_petl.py runs PETL_AST's own classes on the same .pt files and
input and compares with them (docs/model_format.md has the numbers).
"""

import json
import sys
from pathlib import Path

import numpy as np
import torch
import yaml

TOOLS = Path(__file__).resolve().parent
sys.path.insert(0, str(TOOLS))
import convert_petl_ast  # noqa: E402
import safetensors_io  # noqa: E402
from moeasr_ref import read_wav_int16  # noqa: E402
from moeasr_ref.ast import load_classifier  # noqa: E402

OUT = TOOLS.parent / "tests" / "data" / "petl"
WAV = TOOLS.parent / "tests" / "data" / "audio" / "hello.wav"

# A tiny base AST: 16 wide (reduction rate 4 -> bottleneck 4), 2 layers, 2 heads,
# MIT's patches and strides; 60 frames truncate the clip to 12 x 5 patches.
HIDDEN, LAYERS, HEADS, MLP, MAX_LEN, CLASSES = 16, 2, 2, 24, 60, 5
AST_CONFIG = {"num_attention_heads": HEADS, "layer_norm_eps": 1e-12, "patch_size": 16, "frequency_stride": 10,
              "time_stride": 10, "num_mel_bins": 128, "hidden_act": "gelu", "qkv_bias": True}

# name -> (seed, PETL main.py options)
CASES = {
    "soft_pfeiffer_mhsa_norm": (7001, dict(method="Soft-MoA", adapter_type_moa="Pfeiffer", location_moa="MHSA",
                                           num_adapters=3, num_slots=2, normalize=True, final_output="ALL")),
    "soft_pfeiffer_ffn": (7002, dict(method="Soft-MoA", adapter_type_moa="Pfeiffer", location_moa="FFN",
                                     num_adapters=3, num_slots=1, normalize=False, final_output="CLS")),
    "soft_houlsby_norm": (7003, dict(method="Soft-MoA", adapter_type_moa="Houlsby", location_moa=None,
                                     num_adapters=2, num_slots=2, normalize=True, final_output="CLS")),
    "soft_houlsby": (7004, dict(method="Soft-MoA", adapter_type_moa="Houlsby", location_moa=None,
                                num_adapters=3, num_slots=1, normalize=False, final_output="ALL")),
    "dense_pfeiffer_mhsa": (7005, dict(method="Dense-MoA", adapter_type_moa="Pfeiffer", location_moa="MHSA",
                                       num_adapters=3, final_output="ALL")),
    "dense_pfeiffer_ffn": (7006, dict(method="Dense-MoA", adapter_type_moa="Pfeiffer", location_moa="FFN",
                                      num_adapters=3, final_output="CLS")),
    "dense_houlsby": (7007, dict(method="Dense-MoA", adapter_type_moa="Houlsby", location_moa=None,
                                 num_adapters=2, final_output="ALL")),
}
REDUCTION_RATE = 4
LABELS = ["yes", "no", "up", "down", "_silence_"]


def petl_shapes(opts):
    """(name, shape) of every parameter of AST_SoftMoA / AST_MoA's `model` (PETL's
    src/MoA.py over HF's ASTModel), without the `model.` prefix."""
    h, r = HIDDEN, round(HIDDEN / REDUCTION_RATE)
    f_dim = (AST_CONFIG["num_mel_bins"] - 16) // 10 + 1
    t_dim = (MAX_LEN - 16) // 10 + 1
    out = [("embeddings.cls_token", (1, 1, h)), ("embeddings.distillation_token", (1, 1, h)),
           ("embeddings.position_embeddings", (1, f_dim * t_dim + 2, h)),
           ("embeddings.patch_embeddings.projection.weight", (h, 1, 16, 16)),
           ("embeddings.patch_embeddings.projection.bias", (h,))]
    soft = opts["method"] == "Soft-MoA"
    houlsby = opts["adapter_type_moa"] == "Houlsby"
    for i in range(LAYERS):
        p = f"encoder.layer.{i}."
        for name, i_, o_ in (("attention.attention.query", h, h), ("attention.attention.key", h, h),
                             ("attention.attention.value", h, h), ("attention.output.dense", h, h),
                             ("intermediate.dense", h, MLP), ("output.dense", MLP, h)):
            out += [(p + name + ".weight", (o_, i_)), (p + name + ".bias", (o_,))]
        for ln in ("layernorm_before", "layernorm_after"):
            out += [(p + ln + ".weight", (h,)), (p + ln + ".bias", (h,))]
        mixtures = ["moa_mhsa", "moa_ffn"] if houlsby else ["moa"]
        routers = ["router_mhsa", "router_ffn"] if houlsby else ["router"]
        for m, router in zip(mixtures, routers):
            for e in range(opts["num_adapters"]):
                q = f"{p}{m}.moa.{e}."
                out += [(q + "linear_downsample.weight", (r, h)), (q + "linear_downsample.bias", (r,)),
                        (q + "linear_upsample.weight", (h, r)), (q + "linear_upsample.bias", (h,))]
            if soft:
                out.append((f"{p}{m}.slot_params", (h, opts["num_adapters"], opts["num_slots"])))
                if opts["normalize"]:
                    out.append((f"{p}{m}.scale", ()))
            else:
                out += [(f"{p}{router}.ff.weight", (opts["num_adapters"], h)),
                        (f"{p}{router}.ff.bias", (opts["num_adapters"],))]
    out += [("layernorm.weight", (h,)), ("layernorm.bias", (h,))]
    return out


def random_state(opts, seed):
    """PETL's state_dict with weights that keep every part visible in the logits
    (as make_ast_fixtures.randomize; PETL itself starts adapters at zero)."""
    rng = np.random.default_rng(seed)
    model = {}
    for name, shape in petl_shapes(opts):
        if name.endswith("slot_params"):
            v = rng.normal(0, 2 / np.sqrt(shape[0]), shape)
        elif name.endswith(".scale"):
            v = rng.uniform(2, 5, shape)
        elif "layernorm" in name and name.endswith("weight"):
            v = rng.uniform(0.5, 1.5, shape)
        elif name.endswith("bias"):
            v = rng.uniform(-0.3, 0.3, shape) if ".ff." in name else rng.uniform(-0.1, 0.1, shape)
        elif name.endswith(("token", "position_embeddings")):
            v = rng.normal(0, 0.5, shape)
        else:
            v = rng.normal(0, 1 / np.sqrt(int(np.prod(shape[1:]))), shape)
        model[name] = torch.from_numpy(np.asarray(v, dtype=np.float32))
    state = {"model." + k: v for k, v in model.items()}
    # AST_SoftMoA / AST_MoA keep the same modules as attributes too: state_dict()
    # lists their tensors again under those names.
    state.update({k: v for k, v in model.items() if k.startswith(("embeddings.", "encoder.", "layernorm."))})
    state["classification_head.weight"] = torch.from_numpy(
        rng.normal(0, 1 / np.sqrt(HIDDEN), (CLASSES, HIDDEN)).astype(np.float32))
    state["classification_head.bias"] = torch.from_numpy(rng.uniform(-0.1, 0.1, CLASSES).astype(np.float32))
    return state


def converter_args(name, opts):
    args = ["--ckpt", f"{name}.pt", "--method", opts["method"], "--adapter_type_moa", opts["adapter_type_moa"],
            "--final_output", opts["final_output"], "--max_len_AST", str(MAX_LEN),
            "--reduction_rate_moa", str(REDUCTION_RATE), "--num_adapters", str(opts["num_adapters"]),
            "--ast-config", "ast_config.json", "--labels", "labels.txt"]
    if opts["location_moa"]:
        args += ["--location_moa", opts["location_moa"]]
    if opts["method"] == "Soft-MoA":
        args += ["--num_slots", str(opts["num_slots"]), "--normalize", str(opts["normalize"]).lower()]
    return args


def say(path):
    print(f"  wrote {path.relative_to(TOOLS.parent)} ({path.stat().st_size} bytes)")


def main():
    torch.set_num_threads(1)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "ast_config.json").write_text(json.dumps(AST_CONFIG, indent=1) + "\n", encoding="utf-8")
    (OUT / "labels.txt").write_text("".join(label + "\n" for label in LABELS), encoding="utf-8")
    samples, rate = read_wav_int16(WAV)
    assert rate == 16000
    waveform = samples.astype(np.float64) / 32768.0
    for name, (seed, opts) in CASES.items():
        pt = OUT / f"{name}.pt"
        torch.save(random_state(opts, seed), pt)
        say(pt)
        args = converter_args(name, opts)
        parsed = convert_petl_ast.build_parser().parse_args(
            [str(OUT / a) if i and args[i - 1] in ("--ckpt", "--ast-config", "--labels") else a
             for i, a in enumerate(args)] + ["--out", str(OUT / name), "--force"])
        convert_petl_ast.convert(parsed)
        # Goldens from the directory as written (what the runtime reads).
        d = OUT / name
        tensors, _ = safetensors_io.load(d / "model.safetensors")
        model = load_classifier(yaml.safe_load((d / "classifier.yaml").read_text()),
                                {k: torch.from_numpy(v) for k, v in tensors.items()})
        with torch.no_grad():
            _, values = model.features(waveform)
            logits = model(values.unsqueeze(0))[0]
            scores = model.scores(logits)
        print(f"  {name}: logits {np.round(logits.numpy(), 3)}")
        (OUT / f"{name}.json").write_text(json.dumps({"converter_args": args}, indent=1) + "\n",
                                           encoding="utf-8")
        safetensors_io.save(OUT / f"{name}.golden.safetensors", {"logits": logits.numpy(), "scores": scores.numpy()})
        for f in (d / "classifier.yaml", d / "model.safetensors", OUT / f"{name}.json",
                  OUT / f"{name}.golden.safetensors"):
            say(f)


if __name__ == "__main__":
    main()
