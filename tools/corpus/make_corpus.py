#!/usr/bin/env python3
"""Synthesize the English training corpus for models/en_moe_small with espeak-ng.

    python3 tools/corpus/make_corpus.py --out corpus [--train 15000 --dev 200 --test 400]
        [--jobs 2] [--seed 1]

Writes, for each split (train, dev, test) under --out:
    <split>/wav/<key>.wav   16 kHz mono PCM16
    <split>/text            "<key> <transcript>"
    <split>/wav.scp         "<key> <path relative to the split directory>"
    <split>/utt2voice       "<key> <voice> <speed> <pitch> <effects>"
and units.txt (the char vocabulary). Sentences come from templates.py (free words
from words.txt, commands, numbers, dates, times), already normalized: lowercase,
numbers spelled out. dev and test sentences never occur in train, and their voice
settings are held out (voices.py). Deterministic for a given --seed.

Audio: espeak-ng -v <accent>+<variant> -s <wpm> -p <pitch> -> sox: resample to
16 kHz, gain, optionally a small-room reverb (25%), then in numpy white or brown noise
at 15..45 dB SNR (70%). Needs espeak-ng and sox (Debian packages) and numpy.
"""

import argparse
import multiprocessing
import random
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import templates  # noqa: E402
import voices  # noqa: E402

RATE = 16000
WORD_BOUNDARY = "\u2581"


def units(texts):
    """WeNet char units: <blank> 0, <unk> 1, the characters sorted (space as "▁"),
    <sos/eos> last."""
    chars = sorted({c for t in texts for c in t.replace(" ", WORD_BOUNDARY)})
    return ["<blank>", "<unk>"] + chars + ["<sos/eos>"]


def make_sentences(rng, count, words, weights, exclude):
    out, seen = [], set(exclude)
    while len(out) < count:
        text = templates.normalize(templates.sentence(rng, words, weights))
        if text in seen:
            continue
        seen.add(text)
        out.append(text)
    return out


def plan_split(name, sentences, heldout, seed):
    rng = random.Random(f"{seed}-{name}-voices")
    jobs = []
    for i, text in enumerate(sentences):
        voice, speed, pitch = voices.draw(rng, heldout)
        reverb = rng.random() < 0.25
        noise = rng.random() < 0.7
        jobs.append({
            "key": f"{name}_{i:06d}", "text": text, "voice": voice, "speed": speed,
            "pitch": pitch, "gain_db": rng.uniform(-12, -3),
            "reverb": (rng.randint(10, 50), rng.randint(10, 60), rng.randint(10, 50))
            if reverb else None,
            "noise": (rng.choice(["white", "brown"]), rng.uniform(15, 45)) if noise else None,
            "seed": rng.randrange(2**31),
        })
    return jobs


def synthesize(job):
    espeak = ["espeak-ng", "-v", job["voice"], "-s", str(job["speed"]), "-p",
              str(job["pitch"]), "--stdout", job["text"]]
    sox = ["sox", "-t", "wav", "-", "-t", "raw", "-r", str(RATE), "-e", "signed", "-b", "16",
           "-c", "1", "-", "gain", f"{job['gain_db']:.2f}"]
    if job["reverb"]:
        reverberance, hf_damping, room = job["reverb"]
        sox += ["reverb", str(reverberance), str(hf_damping), str(room)]
    speech = subprocess.run(espeak, capture_output=True, check=True).stdout
    raw = subprocess.run(sox, input=speech, capture_output=True, check=True).stdout
    x = np.frombuffer(raw, dtype="<i2").astype(np.float64)
    if job["noise"]:
        kind, snr = job["noise"]
        nrng = np.random.default_rng(job["seed"])
        n = nrng.standard_normal(len(x))
        if kind == "brown":
            n = np.cumsum(n)
            n -= np.convolve(n, np.ones(801) / 801, mode="same")  # remove the drift
        power = np.mean(x[np.abs(x) > 0.05 * np.abs(x).max()] ** 2) if x.any() else 1.0
        n *= np.sqrt(power / 10 ** (snr / 10) / max(np.mean(n ** 2), 1e-12))
        x = x + n
    return np.clip(np.round(x), -32768, 32767).astype("<i2")


def write_wav(path, samples):
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(samples.tobytes())


def run_job(args):
    job, wav_dir = args
    path = wav_dir / f"{job['key']}.wav"
    if not path.exists():
        samples = synthesize(job)
        tmp = path.with_suffix(".tmp")
        write_wav(tmp, samples)
        tmp.rename(path)
    with wave.open(str(path)) as w:
        return w.getnframes() / RATE


def write_split(out, name, jobs, pool):
    split = out / name
    wav_dir = split / "wav"
    wav_dir.mkdir(parents=True, exist_ok=True)
    seconds = 0.0
    for i, dur in enumerate(pool.imap(run_job, [(j, wav_dir) for j in jobs], chunksize=16)):
        seconds += dur
        if (i + 1) % 1000 == 0:
            print(f"  {name}: {i + 1}/{len(jobs)} ({seconds / 3600:.2f} h)", flush=True)
    with open(split / "text", "w") as t, open(split / "wav.scp", "w") as s, \
            open(split / "utt2voice", "w") as v:
        for j in jobs:
            t.write(f"{j['key']} {j['text']}\n")
            s.write(f"{j['key']} wav/{j['key']}.wav\n")
            effects = ",".join(filter(None, [
                f"reverb{j['reverb'][0]}" if j["reverb"] else "",
                f"{j['noise'][0]}{j['noise'][1]:.0f}dB" if j["noise"] else ""])) or "clean"
            v.write(f"{j['key']} {j['voice']} {j['speed']} {j['pitch']} {effects}\n")
    print(f"{name}: {len(jobs)} utterances, {seconds / 3600:.2f} h", flush=True)
    return seconds


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--train", type=int, default=15000)
    ap.add_argument("--dev", type=int, default=200)
    ap.add_argument("--test", type=int, default=400)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--words", default=str(HERE / "words.txt"))
    args = ap.parse_args()

    words = Path(args.words).read_text().split()
    # frequent words (words.txt is alphabetical; rank is lost) get no extra weight:
    weights = [1.0] * len(words)
    rng = random.Random(args.seed)
    # held-out sentences first, so train can exclude them
    test = make_sentences(rng, args.test, words, weights, ())
    dev = make_sentences(rng, args.dev, words, weights, test)
    train = make_sentences(rng, args.train, words, weights, test + dev)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    vocab = units(train)
    missing = {c for t in test + dev for c in t.replace(" ", WORD_BOUNDARY)} - set(vocab)
    if missing:
        raise SystemExit(f"held-out text uses characters not in train: {missing}")
    (out / "units.txt").write_text("".join(f"{u} {i}\n" for i, u in enumerate(vocab)))
    with multiprocessing.Pool(args.jobs) as pool:
        for name, sentences, heldout in (("test", test, True), ("dev", dev, True),
                                         ("train", train, False)):
            write_split(out, name, plan_split(name, sentences, heldout, args.seed), pool)


if __name__ == "__main__":
    main()
