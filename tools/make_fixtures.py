#!/usr/bin/env python3
"""Regenerate tests/data: tiny random-weight models and their golden outputs.

    /usr/bin/python3 tools/make_fixtures.py [--regen-audio] [--only NAME ...]

Deterministic: running it again reproduces tests/data byte for byte (on the same
torch build). Steps:
  1. audio: tests/data/audio/*.wav are read as committed (--regen-audio first
     re-synthesizes them with espeak-ng + sox);
  2. fbank of every utterance; global CMVN statistics over all of them;
  3. per model spec (fixtures/specs.py): random weights from a seed, blank bias
     calibrated, decoded in every mode; the seed is bumped until no decision in the
     decode is a near-tie (fixtures/margins.py);
  4. the model is saved as WeNet would (final.pt = torch.save(state_dict), train.yaml,
     units.txt) and turned into tests/data/models/<name>/ by running
     convert_wenet.py; moe_ln's inputs are kept in tests/data/checkpoints/moe_ln/;
  5. the converted model is loaded back and decoded to write
     tests/data/golden/<name>/<utt>.{safetensors,json}.
"""

import argparse
import shutil
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
from fixtures import audio, golden, margins, specs, vocab, weights  # noqa: E402

DATA = TOOLS.parent / "tests" / "data"
CHECKPOINT_MODEL = "moe_ln"  # the model whose final.pt is kept as converter test input
MAX_SEED_TRIES = 200


def say(path):
    print(f"  wrote {path.relative_to(DATA.parent.parent)} ({path.stat().st_size} bytes)")


def load_utterances(audio_dir):
    feats = {}
    for name in audio.UTTERANCES:
        path = audio_dir / f"{name}.wav"
        if not path.is_file():
            raise SystemExit(f"{path} is missing; run with --regen-audio to synthesize it")
        samples, rate = moeasr_ref.read_wav_int16(path)
        # The exact (float64) fbank: the C++ front end matches it to ~1e-5, while
        # WeNet's float32 fbank is itself up to ~1e-2 off on near-empty bins.
        feats[name] = moeasr_ref.fbank(samples, rate, exact=True)
    return feats


def cmvn_stats(feats):
    """mean and 1/std per bin over all frames (float64 sums, as WeNet's cmvn tool)."""
    frames = torch.cat(list(feats.values())).double().numpy()
    mean = frames.mean(axis=0)
    var = np.maximum((frames ** 2).mean(axis=0) - mean ** 2, 1.0e-20)
    return mean, 1.0 / np.sqrt(var)


def build_model(spec, feats, mean, istd):
    """Random model for `spec` whose decodes have no fragile decisions; returns
    (model, seed, blank shift)."""
    for seed in range(spec.seed, spec.seed + MAX_SEED_TRIES):
        model = moeasr_ref.ASRModel(spec.train_yaml())
        weights.randomize(model, seed, mean, istd)
        shift = weights.calibrate_blank(model, feats.values())
        if model.is_transducer:
            weights.calibrate_joint_blank(model, feats.values())
        with margins.RouterMargins(model) as router:
            decoded = {utt: golden.decode_all_modes(model, f, spec.reverse_weight)
                       for utt, f in feats.items()}
        problems = []
        if router.smallest <= margins.MIN_ROUTER_GAP:
            problems.append(f"router top-k gap {router.smallest:.2e}")
        for utt, modes in decoded.items():
            for mode, d in modes.items():
                problems += [f"{utt}/{mode}: {p}" for p in
                             margins.search_problems(d, golden.BEAM_SIZE, seed)]
        if not problems:
            rounded = margins.bf16_rounded(model)
            decoded_bf16 = {utt: golden.decode_all_modes(rounded, f, spec.reverse_weight)
                            for utt, f in feats.items()}
            problems += margins.bf16_problems(decoded, decoded_bf16)
        if not problems:
            return model, seed, shift
        print(f"  seed {seed} rejected: {'; '.join(problems[:3])}")
    raise SystemExit(f"{spec.name}: no usable seed in {MAX_SEED_TRIES} tries")


def write_model(spec, model):
    """Save as WeNet would, then convert with convert_wenet.py into models/<name>."""
    out = DATA / "models" / spec.name
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
        if spec.name == CHECKPOINT_MODEL:
            kept = DATA / "checkpoints" / spec.name
            kept.mkdir(parents=True, exist_ok=True)
            for name in ("final.pt", "train.yaml", "units.txt"):
                shutil.copyfile(exp / name, kept / name)
                say(kept / name)
    for name in ("train.yaml", "units.txt", "model.safetensors"):
        say(out / name)
    return out


def load_converted(model_dir):
    config = moeasr_ref.load_config(model_dir / "train.yaml")
    tensors, _ = safetensors_io.load(model_dir / "model.safetensors")
    state = {k: torch.from_numpy(v) for k, v in tensors.items()}
    return moeasr_ref.load_model(config, state)


def write_goldens(spec, model, feats):
    out = DATA / "golden" / spec.name
    out.mkdir(parents=True, exist_ok=True)
    for utt, f in feats.items():
        decoded = golden.decode_all_modes(model, f, spec.reverse_weight)
        safetensors_io.save(out / f"{utt}.safetensors", golden.tensors(f, decoded))
        (out / f"{utt}.json").write_text(
            golden.json_text(golden.record(utt, spec.name, f, decoded, spec.reverse_weight)),
            encoding="utf-8")
        say(out / f"{utt}.safetensors")
        say(out / f"{utt}.json")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--regen-audio", action="store_true",
                        help="re-synthesize tests/data/audio with espeak-ng and sox first")
    parser.add_argument("--only", nargs="+", metavar="NAME",
                        help="regenerate only these models (the others' files stay as committed)")
    args = parser.parse_args()
    unknown = set(args.only or ()) - {spec.name for spec in specs.SPECS}
    if unknown:
        parser.error(f"unknown model(s) {sorted(unknown)}")
    torch.set_num_threads(1)  # one thread: identical float results on every run
    audio_dir = DATA / "audio"
    if args.regen_audio:
        audio.synthesize(audio_dir)
        for path in sorted(audio_dir.glob("*.wav")):
            say(path)
    feats = load_utterances(audio_dir)
    mean, istd = cmvn_stats(feats)
    for spec in specs.SPECS:
        if args.only and spec.name not in args.only:
            continue
        print(f"{spec.name}:")
        model, seed, shift = build_model(spec, feats, mean, istd)
        print(f"  seed {seed}, blank bias shift {shift:+.2f}")
        model_dir = write_model(spec, model)
        write_goldens(spec, load_converted(model_dir), feats)


if __name__ == "__main__":
    main()
