#!/usr/bin/env python3
"""Train a U2++ MoE Conformer (tools/moeasr_ref) on a corpus from tools/corpus.

    nice -n 19 /usr/bin/python3 tools/train/train.py --corpus corpus --exp exp/en_moe_small \
        [--steps 2400] [--minutes 55] [--stretch-minutes 60 | --stretch-steps N] [--resume | --resume-from STATE]

Writes into --exp: train.yaml (WeNet style), units.txt, final.pt (a plain
state_dict, WeNet key names), checkpoint.pt (resumable state), state.pt (the compact
state to commit), train.log. The learning rate follows warmup then cosine decay over a
budget of --steps updates or --minutes of training time, whichever runs out first (a
run without --minutes decays over steps only, the same on any machine). --stretch-minutes
or --stretch-steps end this run early without touching the schedule: the next run resumes and goes on.

Resuming: --resume continues from <exp>/checkpoint.pt (saved every --save-minutes:
weights, EMA, Adam state). --resume-from continues from a compact state.pt (float16
weights, counters, random states, hyper-parameters; 2 bytes per parameter, small
enough to commit): Adam's moments restart (with β2 0.98 they re-estimate within ~50
updates) under a --rewarmup of the learning rate, and the EMA restarts from the
weights. Either way the hyper-parameters of the first run are kept, and the resume is
logged. An exponential moving average of the weights is kept; at the end of the budget
(not of a stretch) both the raw and the averaged weights are scored on the dev split
(greedy CTC, full attention and chunk 16) and the better one is written as final.pt.
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
from batching import (Split, collate, cmvn_stats, make_batches, perturb,  # noqa: E402
                      read_units, spec_augment)
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


def lr_at(args, step, minutes_done, rewarmup_from=None):
    """Warmup, then cosine decay to final_lr_ratio; after a --resume-from at update
    `rewarmup_from`, a linear ramp over args.rewarmup updates up to that schedule."""
    if step < args.warmup:
        return args.lr * (step + 1) / args.warmup
    progress = (step - args.warmup) / max(args.steps - args.warmup, 1)
    if args.minutes:
        progress = max(progress, minutes_done / args.minutes)
    progress = min(1.0, progress)
    lr = args.lr * (args.final_lr_ratio + (1 - args.final_lr_ratio)
                    * 0.5 * (1 + math.cos(math.pi * progress)))
    if rewarmup_from is not None and step - rewarmup_from < args.rewarmup:
        lr *= (step - rewarmup_from + 1) / args.rewarmup
    return lr


# Hyper-parameters a resumed run takes from the state it resumes (not the command line),
# except those in CHANGEABLE when the command line names them.
HPARAMS = ("steps", "freq_warp", "time_stretch", "minutes", "warmup", "lr", "final_lr_ratio",
           "grad_clip", "batch_frames", "ctc_weight", "reverse_weight", "lsm_weight", "dropout",
           "balance_weight", "ema", "seed")
# Each with the value of a new run, and of a resumed run whose state never recorded it.
CHANGEABLE = {"steps": 2400, "freq_warp": 0.0, "time_stretch": 0.0}


def cpu_name():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


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
    device = next(trainable.parameters()).device
    for chunk in chunks:
        hyps, refs = [], []
        for idx in batches:
            feats, feat_lens, _, _ = collate(split, idx)
            out, mask, _ = trainable.encode(feats.to(device), feat_lens.to(device), chunk)
            hyps += greedy_texts(trainable.model.ctc.ctc_lo(out), mask, id2tok)
            refs += [split.texts[i] for i in idx]
        result[chunk] = eval_wer.error_rates(refs, hyps)
    trainable.train()
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--exp", required=True)
    ap.add_argument("--resume", action="store_true", help="from <exp>/checkpoint.pt")
    ap.add_argument("--resume-from", help="a compact state.pt (e.g. a committed one)")
    ap.add_argument("--minutes", type=float, default=None,
                    help="training time budget of the schedule (none: --steps only)")
    ap.add_argument("--stretch-minutes", type=float, default=None,
                    help="end this run after this much training time; the schedule goes on")
    ap.add_argument("--stretch-steps", type=int, default=None,
                    help="end this run after this many updates; the schedule goes on")
    ap.add_argument("--rewarmup", type=int, default=50,
                    help="learning-rate ramp in updates after --resume-from")
    ap.add_argument("--steps", type=int, default=None,
                    help="update budget (2400 for a new run; on a resume, changes the run's)")
    ap.add_argument("--freq-warp", type=float, default=None,
                    help="mel-axis warp per utterance, 1 +- this (0 for a new run; on a "
                         "resume, changes the run's)")
    ap.add_argument("--time-stretch", type=float, default=None,
                    help="tempo change per utterance, 1 +- this (0 for a new run; on a "
                         "resume, changes the run's)")
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
    ap.add_argument("--device", default="cpu",
                    help="cpu or cuda: where the model and its batches live (checkpoints load "
                         "on either; the committed state.pt is always on the CPU)")
    args = ap.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: torch sees no CUDA device here")

    torch.set_num_threads(args.threads)
    exp = Path(args.exp)
    exp.mkdir(parents=True, exist_ok=True)
    log_file = open(exp / "train.log", "a")

    def log(msg):
        line = f"[{time.strftime('%H:%M:%S')}] {msg}"
        print(line, flush=True)
        log_file.write(line + "\n")
        log_file.flush()

    log(f"command: {' '.join(sys.argv)}")
    log(f"machine: {cpu_name()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
        f"{args.threads} thread(s)"
        + (f", {torch.cuda.get_device_name(device)}" if device.type == "cuda" else ""))
    corpus = Path(args.corpus)
    units = read_units(corpus / "units.txt")
    id2tok = {i: t for t, i in units.items()}
    (exp / "units.txt").write_text("".join(f"{id2tok[i]} {i}\n" for i in range(len(units))))
    train = Split(corpus / "train", units, log=log)
    dev = Split(corpus / "dev", units, log=log)
    log(f"train {len(train)} utts {train.hours():.2f} h; dev {len(dev)} utts")

    ckpt_path, state_path = exp / "checkpoint.pt", exp / "state.pt"
    if args.resume and args.resume_from:
        raise SystemExit("--resume and --resume-from are exclusive")
    state = (torch.load(ckpt_path, map_location="cpu") if args.resume and ckpt_path.exists()
             else None)
    compact = torch.load(args.resume_from, map_location="cpu") if args.resume_from else None
    resumed = state or compact
    if resumed is not None:
        config = resumed["config"]
        old = dict(CHANGEABLE, **resumed.get("hparams", {}))
        for k, v in old.items():
            if k in CHANGEABLE and getattr(args, k) is not None:
                if getattr(args, k) != v:
                    log(f"update budget {v} -> {args.steps}: the cosine schedule stretches"
                        if k == "steps" else f"{k} {v} -> {getattr(args, k)}")
                continue
            if getattr(args, k) != v:
                log(f"keeping the resumed run's {k} = {v} (command line: {getattr(args, k)})")
            setattr(args, k, v)
    else:
        for k, v in CHANGEABLE.items():
            if getattr(args, k) is None:
                setattr(args, k, v)
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
    model.to(device)  # before Adam sees the parameters
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr, betas=(0.9, 0.98),
                                 eps=1e-9)
    step, epoch, minutes_done, batch_pos = 0, 0, 0.0, 0
    rng = random.Random(args.seed)
    rewarmup_from = None
    if resumed is not None:
        weights = resumed["model"]
        if compact is not None:  # float16 on disk; the model's own dtype in memory
            own = model.state_dict()
            weights = {k: v.to(own[k].dtype) for k, v in weights.items()}
        missing, unexpected = model.load_state_dict(weights, strict=False)
        bad = [k for k in missing if not k.endswith(".pe")] + list(unexpected)
        if bad:
            raise SystemExit(f"the resumed weights do not fit the model: {bad[:5]}")
        step, epoch, minutes_done, batch_pos = (resumed["step"], resumed["epoch"],
                                                resumed["minutes"], resumed["batch_pos"])
        rng.setstate(resumed["rng"])
        torch.set_rng_state(resumed["torch_rng"])
        if device.type == "cuda" and "cuda_rng" in resumed:
            torch.cuda.set_rng_state(resumed["cuda_rng"], device)
        if state is not None:
            optimizer.load_state_dict(state["optimizer"])
        else:
            rewarmup_from = step
        log(f"resumed from {'checkpoint.pt' if state is not None else args.resume_from} "
            f"at step {step}, epoch {epoch}, {minutes_done:.1f} min"
            + ("" if state is not None else f"; Adam restarts, lr ramp over {args.rewarmup} updates"))
    ema = ({k: v.to(device) for k, v in state["ema"].items()} if state is not None
           else copy.deepcopy(model.state_dict()))
    n_params = sum(p.numel() for p in model.parameters())
    log(f"parameters: {n_params}")
    log(f"perturbation: freq_warp {args.freq_warp}, time_stretch {args.time_stretch}")
    hparams = {k: getattr(args, k) for k in HPARAMS}

    def counters():
        out = {"step": step, "epoch": epoch, "minutes": minutes_done, "batch_pos": batch_pos,
               "rng": rng.getstate(), "torch_rng": torch.get_rng_state(), "config": config,
               "hparams": hparams}
        if device.type == "cuda":  # dropout's draws; SpecAugment and the chunk draw are on the CPU
            out["cuda_rng"] = torch.cuda.get_rng_state(device)
        return out

    def save():
        tmp = ckpt_path.with_suffix(".tmp")
        torch.save(dict(counters(), model=model.state_dict(), ema=ema,
                        optimizer=optimizer.state_dict()), tmp)
        tmp.rename(ckpt_path)

    def save_compact():
        weights = {k: (v.half() if v.dtype.is_floating_point else v).cpu().clone()
                   for k, v in model.state_dict().items() if not k.endswith(".pe")}
        tmp = state_path.with_suffix(".tmp")
        torch.save(dict(counters(), model=weights), tmp)
        tmp.rename(state_path)

    def finished():
        return step >= args.steps or (args.minutes is not None and minutes_done >= args.minutes)

    stretch_start = (minutes_done, step)

    def stretch_over():
        return ((args.stretch_minutes is not None
                 and minutes_done - stretch_start[0] >= args.stretch_minutes)
                or (args.stretch_steps is not None and step - stretch_start[1] >= args.stretch_steps))

    last_save = time.time()
    sums, count = {}, 0
    while not finished() and not stretch_over():
        epoch_rng = random.Random(f"{args.seed}-{epoch}")
        batches = make_batches(train, args.batch_frames, epoch_rng)
        while batch_pos < len(batches) and not finished() and not stretch_over():
            t0 = time.time()
            lr = lr_at(args, step, minutes_done, rewarmup_from)
            for group in optimizer.param_groups:
                group["lr"] = lr
            feats, feat_lens, ys, ys_lens = collate(train, batches[batch_pos])
            # Its own random stream per update: turning it on or off changes neither the
            # batches nor the number of SpecAugment's draws.
            feats, feat_lens = perturb(feats, feat_lens,
                                       random.Random(f"{args.seed}-perturb-{step}"),
                                       args.freq_warp, args.time_stretch)
            feats = spec_augment(feats, feat_lens, rng)
            feats, feat_lens, ys, ys_lens = (t.to(device) for t in (feats, feat_lens, ys, ys_lens))
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
    save_compact()
    if not finished():
        log(f"stretch done: {step} steps, {epoch} epochs, {minutes_done:.1f} min; "
            f"resume with --resume or --resume-from {state_path}")
        return
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
    final = {k: v.cpu().clone() for k, v in (raw if best == "raw" else ema).items()
             if not k.endswith(".pe")}
    torch.save(final, exp / "final.pt")
    log(f"wrote {exp / 'final.pt'} ({best} weights)")


if __name__ == "__main__":
    main()
