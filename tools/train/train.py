#!/usr/bin/env python3
"""Train a U2++ MoE Conformer (tools/moeasr_ref) on a corpus from tools/corpus.

    nice -n 19 /usr/bin/python3 tools/train/train.py --corpus corpus --exp exp/en_moe_small \
        [--minutes 55] [--resume]

Writes into --exp: train.yaml (WeNet style), units.txt, final.pt (a plain
state_dict, WeNet key names), checkpoint.pt (resumable state), train.log. Resumable:
--resume continues from checkpoint.pt (saved every --save-minutes). The learning rate
follows warmup then cosine decay over a budget of --steps updates or --minutes of
training time, whichever runs out first, so a slow or paused machine still ends with
a fully decayed model. An exponential moving average of the weights is kept; at the
end both the raw and the averaged weights are scored on the dev split (greedy CTC, full
attention and chunk 16) and the better one is written as final.pt.
"""

import argparse
import copy
import math
import os
import random
import sys
import time
from pathlib import Path

# OpenBLAS keeps its own thread pool next to torch's; on a shared 2-core machine two
# pools of spinning threads made a step 10x slower than one thread. --threads sets
# torch's; BLAS stays single-threaded unless the environment says otherwise.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import yaml  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
import moeasr_ref  # noqa: E402
from batching import (Split, collate, cmvn_stats, make_batches, read_units,  # noqa: E402
                      spec_augment)
from trainable import Trainable  # noqa: E402
import eval_wer  # noqa: E402


def make_config(args, vocab_size):
    """A WeNet train.yaml for the model (moeasr_ref and moeasr read the model part)."""
    moe = {"mlp_type": "moe", "n_expert": args.experts, "n_expert_activated": args.top_k,
           "mlp_bias": True}
    return {
        "input_dim": 80,
        "output_dim": vocab_size,
        "vocab_size": vocab_size,
        "model": "asr_model",
        "model_conf": {"ctc_weight": args.ctc_weight, "reverse_weight": args.reverse_weight,
                       "lsm_weight": args.lsm_weight, "length_normalized_loss": False},
        "encoder": "conformer",
        "encoder_conf": dict({
            "output_size": args.d_model, "attention_heads": args.heads,
            "linear_units": args.linear_units, "num_blocks": args.encoder_layers,
            "dropout_rate": args.dropout, "positional_dropout_rate": args.dropout,
            "attention_dropout_rate": 0.0, "input_layer": "conv2d",
            "pos_enc_layer_type": "rel_pos", "selfattention_layer_type": "rel_selfattn",
            "normalize_before": True, "macaron_style": True, "activation_type": "swish",
            "use_cnn_module": True, "cnn_module_kernel": 8, "causal": True,
            "cnn_module_norm": "layer_norm", "use_dynamic_chunk": True,
            "use_dynamic_left_chunk": False, "static_chunk_size": 0}, **moe),
        "decoder": "bitransformer",
        "decoder_conf": dict({
            "attention_heads": args.heads, "linear_units": args.linear_units,
            "num_blocks": args.decoder_layers, "r_num_blocks": args.r_decoder_layers,
            "dropout_rate": args.dropout, "positional_dropout_rate": args.dropout,
            "self_attention_dropout_rate": 0.0, "src_attention_dropout_rate": 0.0}, **moe),
        "ctc": "ctc",
        "ctc_conf": {"ctc_blank_id": 0},
        "cmvn": "global_cmvn",
        "cmvn_conf": {"cmvn_file": "global_cmvn", "is_json_cmvn": True},
        "tokenizer": "char",
        "tokenizer_conf": {"symbol_table_path": "units.txt", "split_with_space": False,
                           "bpe_path": None, "non_lang_syms_path": None,
                           "is_multilingual": False, "num_languages": 1,
                           "special_tokens": {"<blank>": 0, "<unk>": 1,
                                              "<sos>": vocab_size - 1,
                                              "<eos>": vocab_size - 1}},
        "dataset": "asr",
        "dataset_conf": {
            "fbank_conf": {"num_mel_bins": 80, "frame_length": 25, "frame_shift": 10,
                           "dither": 0.0},
            "resample_conf": {"resample_rate": 16000},
            "spec_aug": True,
            "spec_aug_conf": {"num_t_mask": 2, "num_f_mask": 2, "max_t": 50, "max_f": 10},
            "batch_conf": {"batch_type": "dynamic", "max_frames_in_batch": args.batch_frames},
        },
        "optim": "adam",
        "optim_conf": {"lr": args.lr},
        "scheduler": "warmup_cosine (tools/train/train.py)",
        "scheduler_conf": {"warmup_steps": args.warmup, "total_steps": args.steps,
                           "minutes": args.minutes},
        "grad_clip": args.grad_clip,
        "train_engine": "tools/train/train.py",
    }


def lr_at(args, step, minutes_done):
    if step < args.warmup:
        return args.lr * (step + 1) / args.warmup
    progress = min(1.0, max((step - args.warmup) / max(args.steps - args.warmup, 1),
                            minutes_done / args.minutes))
    return args.lr * (args.final_lr_ratio + (1 - args.final_lr_ratio)
                      * 0.5 * (1 + math.cos(math.pi * progress)))


def greedy_texts(log_probs, frame_mask, id2tok):
    out = []
    best = log_probs.argmax(-1)
    for row, n in zip(best.tolist(), frame_mask.sum(1).tolist()):
        toks, prev = [], None
        for t in row[:n]:
            if t != prev and t != 0:
                toks.append(id2tok[t])
            prev = t
        out.append("".join(t for t in toks if not t.startswith("<"))
                   .replace("\u2581", " ").strip())
    return out


@torch.no_grad()
def evaluate(trainable, split, id2tok, chunks=(-1, 16)):
    """Greedy CTC error rates on a split, per chunk size (masked, like training)."""
    trainable.eval()
    result = {}
    batches = make_batches(split, 20000, random.Random(0))
    for chunk in chunks:
        hyps, refs = [], []
        for idx in batches:
            feats, feat_lens, _, _ = collate(split, idx)
            out, mask, _ = trainable.encode(feats, feat_lens, chunk)
            hyps += greedy_texts(trainable.model.ctc.ctc_lo(out), mask, id2tok)
            refs += [split.texts[i] for i in idx]
        result[chunk] = eval_wer.error_rates(refs, hyps)
    trainable.train()
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--exp", required=True)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--minutes", type=float, default=55.0, help="training time budget")
    ap.add_argument("--steps", type=int, default=2400, help="update budget")
    ap.add_argument("--warmup", type=int, default=150)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--final-lr-ratio", type=float, default=0.02)
    ap.add_argument("--grad-clip", type=float, default=5.0)
    ap.add_argument("--batch-frames", type=int, default=4800, help="padded fbank frames")
    ap.add_argument("--d-model", type=int, default=96)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--linear-units", type=int, default=256)
    ap.add_argument("--encoder-layers", type=int, default=6)
    ap.add_argument("--decoder-layers", type=int, default=2)
    ap.add_argument("--r-decoder-layers", type=int, default=1)
    ap.add_argument("--experts", type=int, default=4)
    ap.add_argument("--top-k", type=int, default=2)
    ap.add_argument("--ctc-weight", type=float, default=0.3)
    ap.add_argument("--reverse-weight", type=float, default=0.3)
    ap.add_argument("--lsm-weight", type=float, default=0.1)
    ap.add_argument("--dropout", type=float, default=0.1)
    ap.add_argument("--balance-weight", type=float, default=0.01)
    ap.add_argument("--ema", type=float, default=0.998)
    ap.add_argument("--save-minutes", type=float, default=4.0)
    ap.add_argument("--eval-every", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads; more than 1 on a busy machine can be 10x slower")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    exp = Path(args.exp)
    exp.mkdir(parents=True, exist_ok=True)
    log_file = open(exp / "train.log", "a")

    def log(msg):
        line = f"[{time.strftime('%H:%M:%S')}] {msg}"
        print(line, flush=True)
        log_file.write(line + "\n")
        log_file.flush()

    corpus = Path(args.corpus)
    units = read_units(corpus / "units.txt")
    id2tok = {i: t for t, i in units.items()}
    (exp / "units.txt").write_text("".join(f"{id2tok[i]} {i}\n" for i in range(len(units))))
    train = Split(corpus / "train", units, log=log)
    dev = Split(corpus / "dev", units, log=log)
    log(f"train {len(train)} utts {train.hours():.2f} h; dev {len(dev)} utts")

    ckpt_path = exp / "checkpoint.pt"
    state = torch.load(ckpt_path) if args.resume and ckpt_path.exists() else None
    if state is not None:
        config = state["config"]
    else:
        config = make_config(args, len(units))
    with open(exp / "train.yaml", "w") as f:
        yaml.safe_dump(config, f, sort_keys=True)

    torch.manual_seed(args.seed)
    model = moeasr_ref.ASRModel(config)
    mean, istd = cmvn_stats(train)
    model.encoder.global_cmvn.mean.copy_(torch.from_numpy(mean))
    model.encoder.global_cmvn.istd.copy_(torch.from_numpy(istd))
    trainable = Trainable(model, args.ctc_weight, args.reverse_weight, args.lsm_weight,
                          args.dropout, args.balance_weight)
    trainable.train()
    ema = copy.deepcopy(model.state_dict())
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr, betas=(0.9, 0.98),
                                 eps=1e-9)
    step, epoch, minutes_done, batch_pos = 0, 0, 0.0, 0
    rng = random.Random(args.seed)
    if state is not None:
        model.load_state_dict(state["model"])
        ema = state["ema"]
        optimizer.load_state_dict(state["optimizer"])
        step, epoch, minutes_done, batch_pos = (state["step"], state["epoch"],
                                                state["minutes"], state["batch_pos"])
        rng.setstate(state["rng"])
        torch.set_rng_state(state["torch_rng"])
        log(f"resumed at step {step}, epoch {epoch}, {minutes_done:.1f} min")
    n_params = sum(p.numel() for p in model.parameters())
    log(f"parameters: {n_params}")

    def save():
        tmp = ckpt_path.with_suffix(".tmp")
        torch.save({"model": model.state_dict(), "ema": ema, "optimizer": optimizer.state_dict(),
                    "step": step, "epoch": epoch, "minutes": minutes_done,
                    "batch_pos": batch_pos, "rng": rng.getstate(),
                    "torch_rng": torch.get_rng_state(), "config": config}, tmp)
        tmp.rename(ckpt_path)

    def finished():
        return step >= args.steps or minutes_done >= args.minutes

    last_save = time.time()
    sums, count = {}, 0
    while not finished():
        epoch_rng = random.Random(f"{args.seed}-{epoch}")
        batches = make_batches(train, args.batch_frames, epoch_rng)
        while batch_pos < len(batches) and not finished():
            t0 = time.time()
            lr = lr_at(args, step, minutes_done)
            for group in optimizer.param_groups:
                group["lr"] = lr
            feats, feat_lens, ys, ys_lens = collate(train, batches[batch_pos])
            feats = spec_augment(feats, feat_lens, rng)
            loss, stats = trainable(feats, feat_lens, ys, ys_lens)
            optimizer.zero_grad()
            loss.backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), args.grad_clip)
            if torch.isfinite(grad_norm):
                optimizer.step()
            with torch.no_grad():
                for k, v in model.state_dict().items():
                    if v.dtype.is_floating_point:
                        ema[k].mul_(args.ema).add_(v, alpha=1 - args.ema)
                    else:
                        ema[k].copy_(v)
            step += 1
            batch_pos += 1
            # wall time of the step, capped so a SIGSTOP pause does not eat the budget
            minutes_done += min(time.time() - t0, 60.0) / 60
            for k in ("loss_ctc", "loss_att", "acc", "balance"):
                sums[k] = sums.get(k, 0.0) + stats[k]
            count += 1
            if step % 25 == 0:
                log(f"step {step} epoch {epoch} lr {lr:.2e} "
                    + " ".join(f"{k} {v / count:.3f}" for k, v in sums.items())
                    + f" grad {float(grad_norm):.2f} {minutes_done:.1f} min")
                sums, count = {}, 0
            if step % args.eval_every == 0:
                res = evaluate(trainable, dev, id2tok)
                log("dev greedy CTC " + " ".join(
                    f"chunk{c}: WER {r['wer']:.2%} CER {r['cer']:.2%}" for c, r in res.items()))
            if time.time() - last_save > args.save_minutes * 60:
                save()
                last_save = time.time()
        if batch_pos >= len(batches):
            epoch += 1
            batch_pos = 0
    save()
    log(f"training done: {step} steps, {epoch} epochs, {minutes_done:.1f} min")

    raw = copy.deepcopy(model.state_dict())
    scores = {}
    for name, weights in (("raw", raw), ("ema", ema)):
        model.load_state_dict(weights)
        res = evaluate(trainable, dev, id2tok)
        scores[name] = (res[-1]["wer"] + res[16]["wer"]
                        + 0.01 * (res[-1]["cer"] + res[16]["cer"]))
        log(f"final {name}: " + " ".join(
            f"chunk{c}: WER {r['wer']:.2%} CER {r['cer']:.2%}" for c, r in res.items()))
    best = min(scores, key=scores.get)
    final = {k: v.clone() for k, v in (raw if best == "raw" else ema).items()
             if not k.endswith(".pe")}
    torch.save(final, exp / "final.pt")
    log(f"wrote {exp / 'final.pt'} ({best} weights)")


if __name__ == "__main__":
    main()
