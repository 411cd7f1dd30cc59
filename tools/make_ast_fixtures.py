#!/usr/bin/env python3
"""Regenerate tests/data/ast: tiny random-weight AST classifiers and their goldens.

    /usr/bin/python3 tools/make_ast_fixtures.py      # from the repository root

Deterministic (numpy seeds, one torch thread). Writes
  hello_fbank.safetensors     fbank [frames, 128] of tests/data/audio/hello.wav with HF's
                              AST arguments (torchaudio in float64, rounded to float32)
and for each case in CASES
  <name>/classifier.yaml, model.safetensors, labels.txt   a model directory
  <name>.golden.safetensors   logits, scores [labels] for that clip
The reference fbank is checked against torchaudio in float32 (what HF runs) on the way.
"""

import sys
from pathlib import Path

import numpy as np
import torch
import yaml

TOOLS = Path(__file__).resolve().parent
sys.path.insert(0, str(TOOLS))
import safetensors_io  # noqa: E402
from moeasr_ref import read_wav_int16  # noqa: E402
from moeasr_ref.ast import ASTClassifier, hf_fbank, load_classifier  # noqa: E402

OUT = TOOLS.parent / "tests" / "data" / "ast"
WAV = TOOLS.parent / "tests" / "data" / "audio" / "hello.wav"

ENCODER = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 48,
           "hidden_act": "gelu", "layer_norm_eps": 1e-12, "patch_size": 16, "frequency_stride": 10,
           "time_stride": 10}

# name -> (seed, max_length, head, adapter_conf or None)
CASES = {
    # Soft-MoA next to attention and MLP ("Houlsby"), HF pooling, AudioSet-style sigmoid;
    # 100 frames truncate the 3.2 s clip.
    "soft_moa": (6001, 100, {"pooling": "cls_dist", "score": "sigmoid"},
                 {"adapter_type": "soft_moa", "adapter_placement": ["self_attn", "feed_forward"],
                  "adapter_dim": 8, "adapter_n_expert": 3, "adapter_slots_per_expert": 2,
                  "adapter_normalize": True}),
    # Dense MoA next to the MLP ("Pfeiffer"), mean pooling, softmax; 400 frames pad the clip.
    "dense_moa": (6002, 400, {"pooling": "mean", "score": "softmax"},
                  {"adapter_type": "dense_moa", "adapter_placement": ["feed_forward"],
                   "adapter_dim": 8, "adapter_n_expert": 3}),
    # Plain AST (what a converted Hugging Face checkpoint is).
    "plain": (6003, 120, {"pooling": "cls_dist", "score": "softmax"}, None),
}
LABELS = ["yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go", "_silence_"]


def say(path):
    print(f"  wrote {path.relative_to(TOOLS.parent)} ({path.stat().st_size} bytes)")


def config_for(max_length, head, adapter_conf):
    config = {
        "model_type": "ast",
        "frontend": {"sample_rate": 16000, "num_mel_bins": 128, "max_length": max_length,
                     "mean": -4.2677393, "std": 4.5689974},
        "encoder": dict(ENCODER),
        "head": {"num_labels": len(LABELS), **head},
    }
    if adapter_conf:
        config["adapter_conf"] = adapter_conf
    return config


def randomize(model, seed):
    """Weights of a scale that keeps every part of the network visible in the logits:
    N(0, 1/fan_in) matrices, LayerNorm gains around 1, position/CLS tokens of order 1,
    Soft-MoA phi with logits of order 1."""
    rng = np.random.default_rng(seed)
    for name, p in model.named_parameters():
        shape = tuple(p.shape)
        if name.endswith("phi"):
            v = rng.normal(0, 2 / np.sqrt(shape[0]), shape)
        elif name.endswith("phi_scale"):
            v = rng.uniform(2, 5, shape)
        elif "layernorm" in name and name.endswith("weight"):
            v = rng.uniform(0.5, 1.5, shape)
        elif name.endswith("bias"):
            v = rng.uniform(-0.1, 0.1, shape)
        elif name.endswith(("token", "position_embeddings")):
            v = rng.normal(0, 0.5, shape)
        else:
            fan_in = int(np.prod(shape[1:]))
            v = rng.normal(0, 1 / np.sqrt(fan_in), shape)
        p.data = torch.from_numpy(v.astype(np.float32))


def check_fbank(waveform):
    """The float64 reference against torchaudio float32 with HF's arguments."""
    exact = hf_fbank(waveform, exact=True)
    f32 = hf_fbank(waveform, exact=False)
    err = (exact - f32).abs().max().item()
    print(f"  fbank: float64 vs torchaudio float32 (HF arguments): max |diff| {err:.2e}")
    assert err < 2e-2, err


def main():
    torch.set_num_threads(1)
    OUT.mkdir(parents=True, exist_ok=True)
    samples, rate = read_wav_int16(WAV)
    assert rate == 16000
    waveform = samples.astype(np.float64) / 32768.0  # what a WAV reader hands over: [-1, 1)
    check_fbank(waveform)
    path = OUT / "hello_fbank.safetensors"
    safetensors_io.save(path, {"fbank": hf_fbank(waveform, exact=True).numpy()})
    say(path)
    for name, (seed, max_length, head, adapter_conf) in CASES.items():
        config = config_for(max_length, head, adapter_conf)
        model = ASTClassifier(config).eval()
        randomize(model, seed)
        d = OUT / name
        d.mkdir(exist_ok=True)
        (d / "classifier.yaml").write_text(
            f"# Tiny random-weight AST fixture ({name}); regenerate with tools/make_ast_fixtures.py\n"
            + yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        (d / "labels.txt").write_text("".join(label + "\n" for label in LABELS), encoding="utf-8")
        safetensors_io.save(d / "model.safetensors", {k: v.numpy() for k, v in model.state_dict().items()})
        for f in ("classifier.yaml", "labels.txt", "model.safetensors"):
            say(d / f)
        # Goldens from the files as written (what the runtime reads).
        tensors, _ = safetensors_io.load(d / "model.safetensors")
        loaded = load_classifier(yaml.safe_load((d / "classifier.yaml").read_text()),
                                 {k: torch.from_numpy(v) for k, v in tensors.items()})
        with torch.no_grad():
            _, values = loaded.features(waveform)
            logits = loaded(values.unsqueeze(0))[0]
            scores = loaded.scores(logits)
        print(f"  {name}: logits {np.round(logits.numpy(), 3)}")
        path = OUT / f"{name}.golden.safetensors"
        safetensors_io.save(path, {"logits": logits.numpy(), "scores": scores.numpy()})
        say(path)


if __name__ == "__main__":
    main()
