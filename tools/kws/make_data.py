#!/usr/bin/env python3
"""Synthesize the keyword-spotting data set for models/kws_ast_moa with espeak-ng.

    nice python3 tools/kws/make_data.py --out corpus/kws      # ~5 min on a loaded 2-core machine

Classes: the 10 commands of Speech Commands v1 (yes no up down left right on off stop
go), `_unknown_` (another English word) and `_silence_` (noise only). Every clip is
1 s of 16 kHz mono PCM16.

Split (so that test clips are not near-duplicates of training clips):
  * voices: train draws tools/corpus/voices.py's TRAIN_VARIANTS at a training speed
    and pitch; dev uses the first half of HELDOUT_VARIANTS, test the second half, each
    at a held-out speed or pitch (voices.py's rule). No espeak-ng variant is in two splits.
  * unknown words: words of tools/corpus/words.txt go to train or to dev/test by a hash
    of the word, so a test `_unknown_` word was never heard in training.
  * every random draw (placement, gain, noise) comes from a per-split seed.
Augmentation: one espeak-ng rendering is cut to its voiced part, placed at a random
offset in the 1 s window, scaled to a random peak level, and mixed with white or brown
noise at 10..40 dB SNR (80% of clips). Training renders each keyword several times
over (`--train-aug`) with different placement / gain / noise; dev and test once.

Writes OUT/{train,dev,test}/wav/<label>_<n>.wav and OUT/{split}/list.tsv
(path, label, voice, speed, pitch). Needs espeak-ng and sox (scripts/setup.sh) and numpy.
"""

import argparse
import hashlib
import random
import subprocess
import sys
import wave
from multiprocessing import Pool
from pathlib import Path

import numpy as np

TOOLS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TOOLS / "corpus"))
import voices  # noqa: E402

RATE = 16000
KEYWORDS = ["yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go"]
LABELS = KEYWORDS + ["_unknown_", "_silence_"]
# Words that sound like a keyword must not be `_unknown_` examples.
HOMOPHONES = {"know", "write", "rite", "wright", "whoa", "noh", "yea"}
DEV_VARIANTS = voices.HELDOUT_VARIANTS[:6]
TEST_VARIANTS = voices.HELDOUT_VARIANTS[6:]


def draw_voice(rng, split):
    if split == "train":
        return voices.draw_espeak(rng, heldout=False)
    # voices.draw_espeak(heldout=True) with the variant restricted to this split's half.
    voice, speed, pitch = voices.draw_espeak(rng, heldout=True)
    accent = voice.split("+")[0]
    variant = rng.choice(DEV_VARIANTS if split == "dev" else TEST_VARIANTS)
    return f"{accent}+{variant}", speed, pitch


def unknown_words():
    """(train words, held-out words): a stable 80/20 split by hash of the word."""
    words = [w.strip() for w in (TOOLS / "corpus" / "words.txt").read_text().split()]
    words = [w for w in words if w and w not in KEYWORDS and w not in HOMOPHONES]
    held = [w for w in words if hashlib.md5(w.encode()).digest()[0] < 51]  # ~20%
    train = [w for w in words if w not in set(held)]
    return train, held


def render(job):
    """espeak-ng -> sox (16 kHz int16) -> float64 samples, silence trimmed."""
    espeak = ["espeak-ng", "-v", job["voice"], "-s", str(job["speed"]), "-p", str(job["pitch"]),
              "--stdout", job["text"]]
    sox = ["sox", "-t", "wav", "-", "-t", "raw", "-r", str(RATE), "-e", "signed", "-b", "16",
           "-c", "1", "-"]
    speech = subprocess.run(espeak, capture_output=True, check=True).stdout
    raw = subprocess.run(sox, input=speech, capture_output=True, check=True).stdout
    x = np.frombuffer(raw, dtype="<i2").astype(np.float64) / 32768.0
    # Trim espeak-ng's leading/trailing silence: keep 10 ms frames above -40 dB of the peak.
    frames = x[: len(x) // 160 * 160].reshape(-1, 160)
    energy = np.sqrt((frames ** 2).mean(axis=1))
    on = np.nonzero(energy > energy.max() * 0.01)[0]
    return x[on[0] * 160:(on[-1] + 1) * 160] if len(on) else x


def noise(rng, n, kind):
    v = rng.standard_normal(n)
    if kind == "brown":
        v = np.cumsum(v)
        v -= np.convolve(v, np.ones(801) / 801, mode="same")  # remove the drift
    return v / max(np.sqrt(np.mean(v ** 2)), 1e-12)


def place(rng, speech):
    """A 1 s clip: speech at a random offset, random peak level, optional noise."""
    clip = np.zeros(RATE)
    if len(speech) > RATE:  # rare (slow long word): keep the middle second
        start = (len(speech) - RATE) // 2
        speech = speech[start:start + RATE]
    off = rng.integers(0, RATE - len(speech) + 1)
    peak = 10 ** (rng.uniform(-24, -2) / 20)
    clip[off:off + len(speech)] = speech * peak / max(np.abs(speech).max(), 1e-9)
    if rng.random() < 0.8:
        power = np.mean(speech ** 2) * (peak / max(np.abs(speech).max(), 1e-9)) ** 2
        snr = rng.uniform(10, 40)
        clip += noise(rng, RATE, rng.choice(["white", "brown"])) * np.sqrt(power / 10 ** (snr / 10))
    else:  # a faint floor so that no clip is digital silence
        clip += noise(rng, RATE, "white") * 10 ** (-80 / 20)
    return clip


def silence(rng):
    """Noise only: white, brown or both, at -70..-25 dBFS RMS."""
    kinds = [["white"], ["brown"], ["white", "brown"]][rng.integers(3)]
    clip = sum(noise(rng, RATE, k) * 10 ** (rng.uniform(-70, -25) / 20) for k in kinds)
    return clip


def to_int16(x):
    return np.clip(np.round(x * 32768.0), -32768, 32767).astype("<i2")


def write_wav(path, samples):
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(samples.tobytes())


def run_job(args):
    """One rendering -> `aug` clips written; returns list.tsv rows."""
    job, wav_dir = args
    rng = np.random.default_rng(job["seed"])
    rows = []
    speech = None if job["label"] == "_silence_" else render(job)
    for a in range(job["aug"]):
        clip = silence(rng) if speech is None else place(rng, speech)
        path = wav_dir / f"{job['key']}_{a}.wav"
        write_wav(path, to_int16(clip))
        rows.append("\t".join([str(path.relative_to(wav_dir.parent)), job["label"], job["voice"],
                               str(job["speed"]), str(job["pitch"]), job["text"]]))
    return rows


def plan(split, per_keyword, n_unknown, n_silence, aug, words, seed):
    rng = random.Random(f"{seed}-{split}")
    jobs = []
    for label, count in [(k, per_keyword) for k in KEYWORDS] + [("_unknown_", n_unknown),
                                                               ("_silence_", n_silence)]:
        for i in range(count):
            voice, speed, pitch = draw_voice(rng, split)
            text = rng.choice(words) if label == "_unknown_" else label
            jobs.append({"key": f"{label}_{i:04d}", "label": label,
                         "text": text if label != "_silence_" else "",
                         "voice": voice if label != "_silence_" else "-", "speed": speed, "pitch": pitch,
                         # Unknown and silence clips get the augmentation count in distinct
                         # renderings / draws instead (more distinct words and noises).
                         "aug": aug if label in KEYWORDS else 1, "seed": rng.randrange(2**31)})
    return jobs


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("corpus/kws"))
    ap.add_argument("--train-per-keyword", type=int, default=200, help="renderings per keyword")
    ap.add_argument("--train-aug", type=int, default=3, help="clips per training rendering")
    ap.add_argument("--test-per-keyword", type=int, default=60)
    ap.add_argument("--dev-per-keyword", type=int, default=30)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=2024)
    args = ap.parse_args()
    train_words, held_words = unknown_words()
    print(f"unknown words: {len(train_words)} train, {len(held_words)} held out (dev/test)")
    splits = {
        # _unknown_ ~ 1.3x and _silence_ ~ 0.7x a keyword's clip count
        "train": plan("train", args.train_per_keyword, 4 * args.train_per_keyword,
                      2 * args.train_per_keyword, args.train_aug, train_words, args.seed),
        "dev": plan("dev", args.dev_per_keyword, int(1.3 * args.dev_per_keyword),
                    int(0.7 * args.dev_per_keyword), 1, held_words, args.seed),
        "test": plan("test", args.test_per_keyword, int(1.3 * args.test_per_keyword),
                     int(0.7 * args.test_per_keyword), 1, held_words, args.seed),
    }
    with Pool(args.jobs) as pool:
        for split, jobs in splits.items():
            wav_dir = args.out / split / "wav"
            wav_dir.mkdir(parents=True, exist_ok=True)
            rows = []
            for i, r in enumerate(pool.imap(run_job, [(j, wav_dir) for j in jobs], chunksize=8)):
                rows += r
                if (i + 1) % 500 == 0:
                    print(f"  {split}: {i + 1}/{len(jobs)} renderings", flush=True)
            (args.out / split / "list.tsv").write_text(
                "path\tlabel\tvoice\tspeed\tpitch\ttext\n" + "\n".join(rows) + "\n")
            counts = {lab: sum(r.split("\t")[1] == lab for r in rows) for lab in LABELS}
            print(f"{split}: {len(rows)} clips {counts}", flush=True)


if __name__ == "__main__":
    main()
