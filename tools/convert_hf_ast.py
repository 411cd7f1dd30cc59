#!/usr/bin/env python3
"""Convert a Hugging Face ASTForAudioClassification checkpoint into a moeasr
classifier directory (classifier.yaml, model.safetensors, labels.txt).

    python3 tools/convert_hf_ast.py --hf HF_DIR --out OUT_DIR [--score sigmoid|softmax]

HF_DIR holds config.json and model.safetensors or pytorch_model.bin (read without
torch), and optionally preprocessor_config.json (the feature extractor's mean, std,
max_length, do_normalize; do_normalize false is written as mean 0, std 0.5, which
makes the runtime's (x - mean) / (2 std) the identity). The state_dict names of
transformers 4 are moeasr's names already, so tensors are copied unchanged (as
float32); the work is translating the config and checking that the weights fit it:
every tensor the config implies, by name and shape. Other names (transformers 5's
`layers.N.attention.q_proj`, `mlp.fc1`, ...) are refused with a message rather than
converted into a directory the runtime cannot load. Needs only numpy and pyyaml.
Errors are one line on stderr, exit 1.

Scores: the checkpoint's problem_type decides (single_label_classification ->
softmax, multi_label_classification -> sigmoid); without one, sigmoid (AudioSet
models are multi-label) unless --score says otherwise.
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

# ASTFeatureExtractor's defaults (AudioSet statistics).
DEFAULT_FRONTEND = {"sampling_rate": 16000, "num_mel_bins": 128, "max_length": 1024,
                    "mean": -4.2677393, "std": 4.5689974}


class ConvertError(Exception):
    pass


def read_json(path):
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ConvertError(f"{path}: {e}") from e


def read_weights(hf):
    st, pt = hf / "model.safetensors", hf / "pytorch_model.bin"
    if st.exists():
        tensors, _ = safetensors_io.load(st)
        return tensors
    if pt.exists():
        obj = ptfile.load(pt)
        state = obj.get("state_dict", obj) if isinstance(obj, dict) else None
        if not isinstance(state, dict):
            raise ConvertError(f"{pt}: not a state_dict")
        return {k: np.asarray(v) for k, v in state.items()}
    raise ConvertError(f"{hf}: neither model.safetensors nor pytorch_model.bin")


def labels_of(config):
    id2label = config.get("id2label")
    if not id2label:
        raise ConvertError("config.json has no id2label")
    try:
        ids = {int(k): str(v) for k, v in id2label.items()}
    except ValueError as e:
        raise ConvertError(f"config.json id2label: {e}") from e
    if sorted(ids) != list(range(len(ids))):
        raise ConvertError("config.json id2label keys are not 0..N-1")
    labels = [ids[i] for i in range(len(ids))]
    for i, label in enumerate(labels):
        if not label or "\n" in label or "\r" in label:
            raise ConvertError(f"label {i} ({label!r}) is empty or spans lines")
    return labels


def classifier_config(config, frontend, labels, score):
    act = config.get("hidden_act", "gelu")
    if act != "gelu":
        raise ConvertError(f"hidden_act {act!r}: moeasr runs gelu only")
    if not config.get("qkv_bias", True):
        raise ConvertError("qkv_bias false is not supported")
    if score is None:
        score = {"single_label_classification": "softmax"}.get(config.get("problem_type"), "sigmoid")
    fe = dict(DEFAULT_FRONTEND)
    fe.update({k: frontend[k] for k in DEFAULT_FRONTEND if k in frontend})
    if frontend.get("do_normalize", True) is False:
        # ASTFeatureExtractor then hands over the padded fbank as it is.
        fe["mean"], fe["std"] = 0.0, 0.5
    elif not isinstance(frontend.get("do_normalize", True), bool):
        raise ConvertError(f"preprocessor_config.json do_normalize {frontend['do_normalize']!r} is not a boolean")
    # The model's position embeddings are sized by config.max_length; it wins.
    max_length = int(config.get("max_length", fe["max_length"]))
    return {
        "model_type": "ast",
        "frontend": {"sample_rate": int(fe["sampling_rate"]),
                     "num_mel_bins": int(config.get("num_mel_bins", fe["num_mel_bins"])),
                     "max_length": max_length, "mean": float(fe["mean"]), "std": float(fe["std"])},
        "encoder": {
            "hidden_size": int(config["hidden_size"]),
            "num_hidden_layers": int(config["num_hidden_layers"]),
            "num_attention_heads": int(config["num_attention_heads"]),
            "intermediate_size": int(config["intermediate_size"]),
            "hidden_act": "gelu",
            "layer_norm_eps": float(config.get("layer_norm_eps", 1e-12)),
            "patch_size": int(config.get("patch_size", 16)),
            "frequency_stride": int(config.get("frequency_stride", 10)),
            "time_stride": int(config.get("time_stride", 10)),
        },
        "head": {"num_labels": len(labels), "pooling": "cls_dist", "score": score},
    }


def check_weights(tensors, c):
    """Clear errors here rather than from the runtime's loader for the usual mistakes."""
    enc, fe = c["encoder"], c["frontend"]
    p = enc["patch_size"]
    f_dim = (fe["num_mel_bins"] - p) // enc["frequency_stride"] + 1
    t_dim = (fe["max_length"] - p) // enc["time_stride"] + 1
    pos = "audio_spectrogram_transformer.embeddings.position_embeddings"
    want = (1, f_dim * t_dim + 2, enc["hidden_size"])
    if pos not in tensors:
        raise ConvertError(f"the state_dict has no {pos} (not an ASTForAudioClassification checkpoint?)")
    if tuple(tensors[pos].shape) != want:
        raise ConvertError(f"{pos} has shape {list(tensors[pos].shape)}, the config implies {list(want)}")
    dense = tensors.get("classifier.dense.weight")
    if dense is None or dense.shape[0] != c["head"]["num_labels"]:
        raise ConvertError(f"classifier.dense.weight does not have {c['head']['num_labels']} rows (id2label)")
    known = ("audio_spectrogram_transformer.", "classifier.")
    unknown = [k for k in tensors if not k.startswith(known)]
    if unknown:
        raise ConvertError(f"unexpected tensors: {', '.join(sorted(unknown)[:5])}")
    expected = expected_shapes(c)
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    if missing or extra:
        v5 = [k for k in extra if TRANSFORMERS5_NAME.search(k)]
        if v5:
            raise ConvertError(
                f"{len(v5)} tensors have transformers 5 names (e.g. {v5[0]}), which this converter does not "
                "map; it reads transformers 4's ASTForAudioClassification names "
                "(audio_spectrogram_transformer.encoder.layer.N.attention.attention.query, "
                "intermediate.dense, output.dense): save the model with transformers 4 (save_pretrained)")
        raise ConvertError("the tensors do not fit the config: "
                           + "; ".join(f"{what} {', '.join(names[:3])}" + (" ..." if len(names) > 3 else "")
                                       for what, names in (("missing", missing), ("unexpected", extra)) if names))
    for k, shape in expected.items():
        if tuple(tensors[k].shape) != shape:
            raise ConvertError(f"{k} has shape {list(tensors[k].shape)}, the config implies {list(shape)}")


# Key fragments of transformers 5's renamed AST (layers.N, q_proj/k_proj/v_proj/o_proj, mlp.fc1/fc2).
TRANSFORMERS5_NAME = re.compile(r"\.layers\.\d+\.|\.[qkvo]_proj\.|\.out_proj\.|\.mlp\.fc[12]\.")


def expected_shapes(c):
    """name -> shape of every tensor of a plain ASTForAudioClassification (the
    runtime's expected_ast_tensors without adapters)."""
    enc, fe = c["encoder"], c["frontend"]
    h, m, p, body = enc["hidden_size"], enc["intermediate_size"], enc["patch_size"], "audio_spectrogram_transformer."
    f_dim = (fe["num_mel_bins"] - p) // enc["frequency_stride"] + 1
    t_dim = (fe["max_length"] - p) // enc["time_stride"] + 1
    out = {body + "embeddings.cls_token": (1, 1, h), body + "embeddings.distillation_token": (1, 1, h),
           body + "embeddings.position_embeddings": (1, f_dim * t_dim + 2, h),
           body + "embeddings.patch_embeddings.projection.weight": (h, 1, p, p),
           body + "embeddings.patch_embeddings.projection.bias": (h,)}

    def linear(name, i, o):
        out[name + ".weight"], out[name + ".bias"] = (o, i), (o,)

    def norm(name):
        out[name + ".weight"], out[name + ".bias"] = (h,), (h,)

    for i in range(enc["num_hidden_layers"]):
        l = f"{body}encoder.layer.{i}."
        for name in ("attention.attention.query", "attention.attention.key", "attention.attention.value",
                     "attention.output.dense"):
            linear(l + name, h, h)
        linear(l + "intermediate.dense", h, m)
        linear(l + "output.dense", m, h)
        norm(l + "layernorm_before")
        norm(l + "layernorm_after")
    norm(body + "layernorm")
    norm("classifier.layernorm")
    linear("classifier.dense", h, c["head"]["num_labels"])
    return out


def convert(hf, out, score=None, force=False):
    hf, out = Path(hf), Path(out)
    config = read_json(hf / "config.json")
    frontend = read_json(hf / "preprocessor_config.json") if (hf / "preprocessor_config.json").exists() else {}
    labels = labels_of(config)
    try:
        c = classifier_config(config, frontend, labels, score)
    except KeyError as e:
        raise ConvertError(f"config.json lacks {e}") from e
    tensors = read_weights(hf)
    check_weights(tensors, c)
    if out.exists() and any(out.iterdir()) and not force:
        raise ConvertError(f"{out} exists and is not empty (--force to overwrite)")
    out.mkdir(parents=True, exist_ok=True)
    note = ("# preprocessor_config.json do_normalize false: mean 0, std 0.5 leave the fbank as it is\n"
            if frontend.get("do_normalize", True) is False else "")
    (out / "classifier.yaml").write_text(
        f"# Converted from {hf.name} by tools/convert_hf_ast.py\n" + note + yaml.safe_dump(c, sort_keys=False),
        encoding="utf-8")
    (out / "labels.txt").write_text("".join(label + "\n" for label in labels), encoding="utf-8")
    safetensors_io.save(out / "model.safetensors",
                        {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in tensors.items()},
                        metadata={"source": "huggingface ASTForAudioClassification"})
    return c


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hf", required=True, help="Hugging Face checkpoint directory")
    ap.add_argument("--out", required=True, help="moeasr classifier directory to write")
    ap.add_argument("--score", choices=["sigmoid", "softmax"], help="override the score function")
    ap.add_argument("--force", action="store_true", help="overwrite a non-empty --out")
    args = ap.parse_args(argv)
    try:
        c = convert(args.hf, args.out, args.score, args.force)
    except (ConvertError, ptfile.PtFileError, ValueError, OSError) as e:
        print(f"convert_hf_ast.py: {e}", file=sys.stderr)
        return 1
    enc = c["encoder"]
    print(f"wrote {args.out}: AST {enc['num_hidden_layers']} x {enc['hidden_size']}, "
          f"{c['head']['num_labels']} labels, {c['head']['score']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
