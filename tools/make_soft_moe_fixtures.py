#!/usr/bin/env python3
"""Regenerate tests/data/soft_moe: Soft MoE / Soft-MoA / dense MoA fixtures.

    /usr/bin/python3 tools/make_soft_moe_fixtures.py      # from the repository root

Deterministic (numpy seeds, one torch thread). Writes
  layers.safetensors   per layer case: weights, input rows of several groups, group
                       lengths, and the reference output of those rows when the groups
                       are run as one zero-padded batch with a mask (the padded rows
                       must not change anything: checked here against running each
                       group alone);
  models/<name>/       two tiny whole models (train.yaml, units.txt, model.safetensors
                       made by convert_wenet.py);
  adapter_swap.safetensors  the same for soft_moa's model without its adapters plus
                       dense_moa's adapters (an adapter set chosen per stream, made
                       from these files by the C++ test);
  <name>.safetensors   the reference encoder output for the hello fbank (the
                       `fbank` of tests/data/golden/moe_ln/hello.safetensors) in full
                       attention (one group = the utterance) and in simulated
                       streaming (one group = one chunk) for golden.MODES.
"""

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
import yaml

TOOLS = Path(__file__).resolve().parent
sys.path.insert(0, str(TOOLS))
import moeasr_ref  # noqa: E402
import safetensors_io  # noqa: E402
from fixtures import specs, vocab, weights  # noqa: E402
from moeasr_ref.decode import MODES  # noqa: E402
from moeasr_ref.soft_moe import DenseMoA, SoftMoE  # noqa: E402

OUT = TOOLS.parent / "tests" / "data" / "soft_moe"
GROUPS = [5, 1, 9]  # tokens per group in the layer cases (one of a single token)
D = 16

# name -> (constructor, kwargs); the C++ test builds the same layers from these names.
LAYER_CASES = {
    "soft_moe": (SoftMoE, dict(d=D, hidden=24, activation="swish", bias=True, n_expert=4,
                               slots_per_expert=2, normalize=False)),
    "soft_moe_norm": (SoftMoE, dict(d=D, hidden=24, activation="swish", bias=False, n_expert=3,
                                    slots_per_expert=3, normalize=True)),
    "soft_moa": (SoftMoE, dict(d=D, hidden=8, activation="gelu", bias=True, n_expert=4,
                               slots_per_expert=1, normalize=True)),
    "dense_moa": (DenseMoA, dict(d=D, hidden=8, activation="gelu", bias=True, n_expert=3)),
}

MODEL_SPECS = [
    # Soft MoE FFNs (normalized) and Soft-MoA adapters next to MHSA and FFN ("Houlsby").
    specs.ModelSpec("soft_moa", 5001, vocab.BASE, {
        "output_size": 16, "attention_heads": 2, "linear_units": 24, "num_blocks": 2,
        "cnn_module_kernel": 8, "causal": True, "cnn_module_norm": "layer_norm",
        "use_dynamic_chunk": True, "mlp_type": "soft_moe", "n_expert": 4,
        "slots_per_expert": 2, "soft_moe_normalize": True,
        "adapter_type": "soft_moa", "adapter_placement": ["self_attn", "feed_forward"],
        "adapter_dim": 8, "adapter_n_expert": 3, "adapter_slots_per_expert": 2,
        "adapter_normalize": False,
    }, {"attention_heads": 2, "linear_units": 24, "num_blocks": 1, "r_num_blocks": 0},
        0.0, True),
    # Dense FFNs with the dense MoA baseline next to both FFNs.
    specs.ModelSpec("dense_moa", 5002, vocab.BASE, {
        "output_size": 16, "attention_heads": 2, "linear_units": 24, "num_blocks": 2,
        "cnn_module_kernel": 8, "causal": True, "cnn_module_norm": "layer_norm",
        "use_dynamic_chunk": True,
        "adapter_type": "dense_moa", "adapter_placement": ["feed_forward_macaron", "feed_forward"],
        "adapter_dim": 8, "adapter_n_expert": 3,
    }, {"attention_heads": 2, "linear_units": 24, "num_blocks": 1, "r_num_blocks": 0},
        0.0, True),
]


def say(path):
    print(f"  wrote {path.relative_to(TOOLS.parent)} ({path.stat().st_size} bytes)")


def randomize_soft_params(module, rng):
    """phi ~ N(0, 4/d) (logits of order 1, so neither softmax is flat or one-hot);
    phi_scale U(2, 5) (normalized logits are cosines in [-1, 1])."""
    for name, p in module.named_parameters():
        if name.endswith("phi"):
            p.data = torch.from_numpy(rng.normal(0, 2 / np.sqrt(p.shape[0]), p.shape).astype(np.float32))
        elif name.endswith("phi_scale"):
            p.data = torch.from_numpy(rng.uniform(2, 5, p.shape).astype(np.float32))


def random_layer(cls, kwargs, rng):
    layer = cls(**kwargs).eval()
    for name, p in layer.named_parameters():
        fan_in = p.shape[-1] if p.dim() > 1 else 1
        if name.endswith("bias"):
            p.data = torch.from_numpy(rng.uniform(-0.1, 0.1, p.shape).astype(np.float32))
        elif name == "gate.weight":
            p.data = torch.from_numpy(rng.normal(0, 2 / np.sqrt(fan_in), p.shape).astype(np.float32))
        else:
            p.data = torch.from_numpy(rng.normal(0, 1 / np.sqrt(fan_in), p.shape).astype(np.float32))
    randomize_soft_params(layer, rng)
    return layer


def layer_tensors():
    out = {}
    rng = np.random.default_rng(7001)
    for case, (cls, kwargs) in LAYER_CASES.items():
        layer = random_layer(cls, kwargs, rng)
        rows = [torch.from_numpy(rng.normal(0, 1, (n, D)).astype(np.float32)) for n in GROUPS]
        padded = torch.zeros(len(GROUPS), max(GROUPS), D)
        mask = torch.zeros(len(GROUPS), max(GROUPS), dtype=torch.bool)
        for g, x in enumerate(rows):
            padded[g, :len(x)] = x
            # Garbage in the padded rows: the mask, not zeros, must keep them out.
            padded[g, len(x):] = 100.0
            mask[g, :len(x)] = True
        with torch.no_grad():
            y = layer(padded, mask)
            alone = [layer(x.unsqueeze(0))[0] for x in rows]
        valid = torch.cat([y[g, :n] for g, n in enumerate(GROUPS)])
        err = (valid - torch.cat(alone)).abs().max().item()
        assert err < 1e-5, f"{case}: padded batch differs from groups alone by {err}"
        for name, p in layer.state_dict().items():
            out[f"{case}.{name}"] = p.numpy()
        out[f"{case}.input"] = torch.cat(rows).numpy()
        out[f"{case}.groups"] = np.array(GROUPS, dtype=np.float32)
        out[f"{case}.output"] = valid.numpy()
    return out


def build_model(spec, feats, mean, istd):
    model = moeasr_ref.ASRModel(spec.train_yaml())
    weights.randomize(model, spec.seed, mean, istd)
    rng = np.random.default_rng(spec.seed + 1)
    randomize_soft_params(model, rng)
    return model


def write_model(spec, model):
    out = OUT / "models" / spec.name
    with tempfile.TemporaryDirectory() as tmp:
        exp = Path(tmp)
        torch.save(model.state_dict(), exp / "final.pt")
        (exp / "train.yaml").write_text(
            yaml.safe_dump(spec.train_yaml(), sort_keys=True, allow_unicode=True), encoding="utf-8")
        (exp / "units.txt").write_text(vocab.units_text(spec.units), encoding="utf-8")
        subprocess.run([sys.executable, str(TOOLS / "convert_wenet.py"),
                        "--checkpoint", str(exp / "final.pt"), "--config", str(exp / "train.yaml"),
                        "--units", str(exp / "units.txt"), "--out", str(out), "--force"],
                       check=True, stdout=subprocess.DEVNULL)
    for name in ("train.yaml", "units.txt", "model.safetensors"):
        say(out / name)
    return out


def is_adapter(name):
    return ".adapter_" in name


def adapter_swap_golden(feats):
    """soft_moa's model with dense_moa's adapters instead of its own (what a stream
    that picks dense_moa's adapter set on a soft_moa base computes)."""
    models = OUT / "models"
    config = moeasr_ref.load_config(models / "soft_moa" / "train.yaml")
    dense = moeasr_ref.load_config(models / "dense_moa" / "train.yaml")
    for key, value in dense["encoder_conf"].items():
        if key.startswith("adapter_"):
            config["encoder_conf"][key] = value
    base, _ = safetensors_io.load(models / "soft_moa" / "model.safetensors")
    adapters, _ = safetensors_io.load(models / "dense_moa" / "model.safetensors")
    state = {k: v for k, v in base.items() if not is_adapter(k)}
    state.update({k: v for k, v in adapters.items() if is_adapter(k)})
    model = moeasr_ref.load_model(config, {k: torch.from_numpy(v) for k, v in state.items()})
    with torch.no_grad():
        return {f"encoder_out.{mode}": model.encode(feats, chunk, left).numpy()
                for mode, (chunk, left) in MODES.items()}


def main():
    torch.set_num_threads(1)
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / "layers.safetensors"
    safetensors_io.save(path, layer_tensors())
    say(path)

    samples, rate = moeasr_ref.read_wav_int16(TOOLS.parent / "tests" / "data" / "audio" / "hello.wav")
    feats = moeasr_ref.fbank(samples, rate, exact=True)
    frames = feats.double().numpy()
    mean = frames.mean(axis=0)
    istd = 1.0 / np.sqrt(np.maximum((frames ** 2).mean(axis=0) - mean ** 2, 1e-20))
    for spec in MODEL_SPECS:
        model_dir = write_model(spec, build_model(spec, feats, mean, istd))
        # Goldens from the converted files, as the runtime will read them.
        config = moeasr_ref.load_config(model_dir / "train.yaml")
        tensors, _ = safetensors_io.load(model_dir / "model.safetensors")
        model = moeasr_ref.load_model(config, {k: torch.from_numpy(v) for k, v in tensors.items()})
        # The fbank itself is the one in tests/data/golden/<model>/hello.safetensors.
        golden = {}
        with torch.no_grad():
            for mode, (chunk, left) in MODES.items():
                golden[f"encoder_out.{mode}"] = model.encode(feats, chunk, left).numpy()
        path = OUT / f"{spec.name}.safetensors"
        safetensors_io.save(path, golden)
        say(path)
    path = OUT / "adapter_swap.safetensors"
    safetensors_io.save(path, adapter_swap_golden(feats))
    say(path)


if __name__ == "__main__":
    main()
