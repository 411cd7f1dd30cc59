#!/usr/bin/env python3
"""Train the keyword-spotting AST + Soft-MoA of models/kws_ast_moa on corpus/kws.

    nice /usr/bin/python3 tools/kws/train.py --data corpus/kws --out models/kws_ast_moa

Model: tools/moeasr_ref/ast.py's ASTClassifier (the module the runtime mirrors), small:
hidden 64, 3 layers, 4 heads, MLP 128, 128-bin hanning fbank, 100 frames (1 s), patch
16 with stride 10 (12 x 9 patches), Soft-MoA adapters next to attention and MLP in
every layer (4 experts x 2 slots, bottleneck 16), mean pooling, softmax.
Trained jointly (base + adapters) from scratch: AdamW, warmup + cosine, SpecAugment-style
time/frequency masks, on CPU with one thread, the schedule sized to a wall-time budget
(--minutes);
the checkpoint with the best dev accuracy is written. Normalization mean/std are the
training set's fbank statistics (as HF does when fine-tuning on Speech Commands).
"""

import argparse
import math
import sys
import time
import wave
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import yaml

TOOLS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TOOLS))
import safetensors_io  # noqa: E402
from moeasr_ref.ast import ASTClassifier, hf_fbank  # noqa: E402

MAX_LENGTH = 100
ENCODER = {"hidden_size": 64, "num_hidden_layers": 3, "num_attention_heads": 4, "intermediate_size": 128,
           "hidden_act": "gelu", "layer_norm_eps": 1e-12, "patch_size": 16, "frequency_stride": 10,
           "time_stride": 10}
ADAPTERS = {"adapter_type": "soft_moa", "adapter_placement": ["self_attn", "feed_forward"],
            "adapter_dim": 16, "adapter_n_expert": 4, "adapter_slots_per_expert": 2,
            "adapter_normalize": True}


def read_wav(path):
    """Mono PCM16 -> float64 in [-1, 1) (what the runtime's WAV reader hands over)."""
    with wave.open(str(path)) as w:
        assert w.getframerate() == 16000 and w.getnchannels() == 1 and w.getsampwidth() == 2
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64) / 32768.0


def read_split(data, split, labels, exact=False):
    """(raw fbank padded with zero frames to MAX_LENGTH (N, T, 128), frame counts, label ids, rows).
    The fbank (torchaudio) is cached in data/split/fbank.npy, so that training can run in a
    Python whose torch has no torchaudio (e.g. a faster PyPI build)."""
    rows = [r.split("\t") for r in (data / split / "list.tsv").read_text().splitlines()[1:] if r]
    cache = data / split / ("fbank_exact.npy" if exact else "fbank.npy")
    if cache.exists():
        feats = torch.from_numpy(np.load(cache))
    else:
        feats = torch.zeros(len(rows), MAX_LENGTH, 128)
        for i, r in enumerate(rows):
            fb = hf_fbank(read_wav(data / split / r[0]), exact=exact)[:MAX_LENGTH]
            feats[i, :len(fb)] = fb
        np.save(cache, feats.numpy())
    # Clips are 1 s = 98 frames; the rest is padding (all-zero rows, never a real fbank).
    frames = (feats.abs().sum(-1) > 0).sum(-1)
    y = torch.tensor([labels.index(r[1]) for r in rows])
    return feats, frames, y, rows


def normalize(feats, mean, std):
    """HF's order: the zero padding is normalized too (input_values in moeasr_ref.ast)."""
    return (feats - mean) / (2 * std)


def init_weights(model, seed):
    """ViT-style init: tokens/positions N(0, 0.02); Soft-MoA phi N(0, 1/sqrt(d)) and its
    scale 5 (the normalized logits are cosines: scale 1 would make dispatch uniform)."""
    g = torch.Generator().manual_seed(seed)
    for name, p in model.named_parameters():
        if name.endswith(("token", "position_embeddings")):
            p.data = torch.randn(p.shape, generator=g) * 0.02
        elif name.endswith("phi"):
            p.data = torch.randn(p.shape, generator=g) / math.sqrt(p.shape[0])
        elif name.endswith("phi_scale"):
            p.data.fill_(5.0)


def spec_augment(x, g):
    """Two time masks of <= 10 frames and two frequency masks of <= 16 bins, per clip
    (masked values set to 0 = the normalized mean)."""
    b, t, f = x.shape
    x = x.clone()
    for _ in range(2):
        w = torch.randint(0, 11, (b,), generator=g)
        s = (torch.rand(b, generator=g) * (t - w)).long()
        idx = torch.arange(t)
        x[(idx[None] >= s[:, None]) & (idx[None] < (s + w)[:, None])] = 0
        w = torch.randint(0, 17, (b,), generator=g)
        s = (torch.rand(b, generator=g) * (f - w)).long()
        idx = torch.arange(f)
        m = (idx[None] >= s[:, None]) & (idx[None] < (s + w)[:, None])
        x = x.masked_fill(m[:, None, :], 0)
    return x


def accuracy(model, x, y, batch=256):
    model.eval()
    with torch.no_grad():
        pred = torch.cat([model(x[i:i + batch]).argmax(-1) for i in range(0, len(x), batch)])
    model.train()
    return (pred == y).float().mean().item()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path("corpus/kws"))
    ap.add_argument("--out", type=Path, default=Path("models/kws_ast_moa"))
    ap.add_argument("--minutes", type=float, default=12.0, help="wall-time budget of the training loop")
    ap.add_argument("--steps", type=int, help="fixed schedule length (deterministic) instead of --minutes")
    ap.add_argument("--features-only", action="store_true", help="only write the fbank caches")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from make_data import LABELS

    t0 = time.time()
    xtr, ntr, ytr, _ = read_split(args.data, "train", LABELS)
    xdv, _, ydv, _ = read_split(args.data, "dev", LABELS)
    if args.features_only:
        return
    real = torch.arange(MAX_LENGTH)[None] < ntr[:, None]
    mean, std = xtr[real].mean().item(), xtr[real].std().item()
    xtr, xdv = normalize(xtr, mean, std), normalize(xdv, mean, std)
    print(f"features: train {tuple(xtr.shape)} dev {tuple(xdv.shape)}, mean {mean:.4f} std {std:.4f} "
          f"({time.time() - t0:.0f} s)", flush=True)

    config = {
        "model_type": "ast",
        "description": "keyword spotting on synthetic espeak-ng commands (tools/kws); see README.md",
        "frontend": {"sample_rate": 16000, "num_mel_bins": 128, "max_length": MAX_LENGTH,
                     "mean": round(mean, 6), "std": round(std, 6)},
        "encoder": dict(ENCODER),
        "head": {"num_labels": len(LABELS), "pooling": "mean", "score": "softmax"},
        "adapter_conf": dict(ADAPTERS),
    }
    model = ASTClassifier(config).train()
    init_weights(model, args.seed)
    print(f"parameters: {sum(p.numel() for p in model.parameters())}", flush=True)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.05)
    steps_per_epoch = len(xtr) // args.batch
    # Without --steps the schedule is sized to the wall-time budget: after `probe` steps the
    # seconds per step give the total step count (so runs differ with the machine's load).
    probe, total, warmup = 30, args.steps, 200

    def lr_at(step):
        if step < warmup:
            return args.lr * (step + 1) / warmup
        if total is None:
            return args.lr
        return args.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / (total - warmup))))

    g = torch.Generator().manual_seed(args.seed)
    best, best_state, step, start, epoch = -1.0, None, 0, time.time(), 0
    while total is None or step < total:
        perm = torch.randperm(len(xtr), generator=g)
        loss_sum, n = 0.0, 0
        for b in range(steps_per_epoch):
            idx = perm[b * args.batch:(b + 1) * args.batch]
            for group in opt.param_groups:
                group["lr"] = lr_at(step)
            loss = F.cross_entropy(model(spec_augment(xtr[idx], g)), ytr[idx], label_smoothing=0.05)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            loss_sum += loss.item()
            step, n = step + 1, n + 1
            if step == probe and args.steps is None:
                per_step = (time.time() - start) / probe
                # ~8% of the budget left for the dev evaluations
                total = max(int(args.minutes * 60 * 0.92 / per_step), warmup + steps_per_epoch)
                print(f"{per_step:.3f} s/step -> {total} steps ({total / steps_per_epoch:.1f} epochs)",
                      flush=True)
            if total is not None and step >= total:
                break
        epoch += 1
        dev = accuracy(model, xdv, ydv)
        print(f"epoch {epoch}: {step} steps, loss {loss_sum / n:.4f} dev acc {dev:.4f} "
              f"lr {lr_at(step):.2e} ({(time.time() - start) / 60:.1f} min)", flush=True)
        if dev >= best:
            best, best_state = dev, {k: v.detach().clone() for k, v in model.state_dict().items()}
    print(f"best dev accuracy {best:.4f}; training {(time.time() - start) / 60:.1f} min", flush=True)

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "classifier.yaml").write_text(
        "# Keyword-spotting AST + Soft-MoA trained by tools/kws/train.py (see README.md)\n"
        + yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    (args.out / "labels.txt").write_text("".join(lab + "\n" for lab in LABELS), encoding="utf-8")
    # float32: the runtime reads it as is, so C++ and the reference see the same weights.
    safetensors_io.save(args.out / "model.safetensors", {k: v.numpy() for k, v in best_state.items()})
    print(f"wrote {args.out} ({(args.out / 'model.safetensors').stat().st_size} bytes)")


if __name__ == "__main__":
    main()
