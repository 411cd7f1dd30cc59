#!/usr/bin/env python3
"""Synthesize the English corpus for the en_moe_small models: four synthesizers,
non-speech around and between utterances, held-out voices for dev and test.

    python3 tools/corpus/make_corpus.py --out corpus [--train 30000 --dev 300 --test 400]
        [--jobs 2] [--seed 1]

Writes, for each split under --out:
    <split>/wav/<key>.wav   16 kHz mono PCM16
    <split>/text            "<key> <transcript>" (just "<key>" when there is no speech)
    <split>/wav.scp         "<key> <path relative to the split directory>"
    <split>/utt2voice       "<key> <segments> <effects>", segments joined by "+"
    <split>/utt2kind        "<key> <sentence kinds>" (templates.KINDS, joined by "+"; or
                            "nonspeech")
and units.txt (the char vocabulary). Splits:
    train           voices.py's training voices, every engine but flite
    dev             held-out voices of espeak-ng, MBROLA and Pico (model selection)
    test            espeak-ng held-out voices only, no padding (as the v1 model's test)
    test_mbrola     the test sentences in MBROLA's held-out voice us2
    test_pico       the test sentences in Pico's held-out voice en-GB
    test_flite      the test sentences in flite's voices (never in training)
    test_lead       --test / 2 more held-out sentences in held-out espeak-ng, MBROLA
                    and Pico voices after 2 s of silence or quiet noise (speech that
                    follows a pause)
    test_nonspeech  5 s clips without speech: silence, white/brown/pink noise at -70 to
                    -30 dBFS, hum, music-like tones; every transcript empty
Training items: 80% one sentence, on half of them with 0.1-3 s of non-speech before
and 0.1-1.5 s after; 12% two sentences with 0.4-3 s of non-speech between them (the
transcript joins both); 8% only non-speech (1-8 s, empty transcript). dev mixes the
same way. Sentences come from templates.py, normalized (lowercase, numbers spelled out);
dev and test sentences never occur in train. Deterministic for a given --seed.

Audio per speech segment: the engine -> sox (16 kHz, gain -12..-3 dB; Festival also
tempo and pitch; small-room reverb on 25% of items) -> the item's segments joined ->
white or brown noise at 15..45 dB SNR on 60% of items. Needs espeak-ng, mbrola with
mbrola-us1/us2/us3/en1, libttspico-utils, festival with festvox-kdlpc16k, flite and sox
(Debian packages; mbrola and Pico are in non-free) and numpy.
"""

import argparse
import multiprocessing
import os
import random
import subprocess
import sys
import tempfile
import wave
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import nonspeech  # noqa: E402
import templates  # noqa: E402
import voices  # noqa: E402

RATE = 16000
WORD_BOUNDARY = "\u2581"


def units(texts):
    """WeNet char units: <blank> 0, <unk> 1, the characters sorted (space as "▁"),
    <sos/eos> last."""
    chars = sorted({c for t in texts for c in t.replace(" ", WORD_BOUNDARY)})
    return ["<blank>", "<unk>"] + chars + ["<sos/eos>"]


def make_sentences(rng, count, words, weights, exclude, kinds):
    """`count` new sentences (not in `exclude`); records each one's kind in `kinds`."""
    out, seen = [], set(exclude)
    while len(out) < count:
        kind, text = templates.sentence_with_kind(rng, words, weights)
        text = templates.normalize(text)
        if text in seen:
            continue
        seen.add(text)
        kinds[text] = kind
        out.append(text)
    return out


def speech(rng, text, heldout, engine=None):
    return {"kind": "speech", "text": text, "voice": voices.draw(rng, heldout, engine),
            "gain_db": round(rng.uniform(-12, -3), 2)}


def silence_or_noise(rng, seconds):
    kind, seconds, level = nonspeech.draw(rng, seconds)
    return {"kind": kind, "seconds": seconds, "level": level}


def effects(rng, item, noise_share=0.6):
    item["reverb"] = ((rng.randint(10, 50), rng.randint(10, 60), rng.randint(10, 50))
                      if rng.random() < 0.25 else None)
    item["noise"] = ((rng.choice(["white", "brown"]), round(rng.uniform(15, 45), 1))
                     if rng.random() < noise_share else None)
    item["seed"] = rng.randrange(2**31)
    return item


def plan_mixed(name, sentences, heldout, seed):
    """train and dev: single sentences (half padded), pairs with a gap, non-speech only."""
    rng = random.Random(f"{seed}-{name}-items")
    items, pos = [], 0
    while pos < len(sentences):
        r = rng.random()
        if r < 0.08:
            segments = [silence_or_noise(rng, rng.uniform(1, 8))]
        elif r < 0.20 and pos + 1 < len(sentences):
            segments = [speech(rng, sentences[pos], heldout),
                        silence_or_noise(rng, rng.uniform(0.4, 3)),
                        speech(rng, sentences[pos + 1], heldout)]
            pos += 2
        else:
            segments = [speech(rng, sentences[pos], heldout)]
            pos += 1
            if rng.random() < 0.5:
                segments = ([silence_or_noise(rng, rng.uniform(0.1, 3))] + segments
                            + [silence_or_noise(rng, rng.uniform(0.1, 1.5))])
        items.append(effects(rng, {"key": f"{name}_{len(items):06d}", "segments": segments}))
    return items


def plan_engine(name, sentences, engine, seed, lead=False):
    """Held-out sentences in one engine's held-out voices (any engine when `engine` is
    None); with `lead`, after 2 s of digital silence or quiet noise."""
    rng = random.Random(f"{seed}-{name}-items")
    items = []
    for i, text in enumerate(sentences):
        segments = [speech(rng, text, True, engine)]
        if lead:
            kind = rng.choice(["silence", "white", "brown", "pink"])
            segments.insert(0, {"kind": kind, "seconds": 2.0,
                                "level": round(rng.uniform(-75, -50), 1)})
        item = {"key": f"{name}_{i:06d}", "segments": segments}
        if engine == "flite":  # flite as a user hears it: clean
            item.update(reverb=None, noise=None, seed=rng.randrange(2**31))
            segments[0]["gain_db"] = -6.0
        else:
            effects(rng, item, noise_share=0.7)
        items.append(item)
    return items


def plan_nonspeech(name, count, seed):
    """5 s clips without speech: each kind at each of several levels."""
    rng = random.Random(f"{seed}-{name}-items")
    specs = [("silence", -120.0)]
    for kind in ("white", "brown", "pink"):
        specs += [(kind, level) for level in (-70.0, -55.0, -40.0, -30.0)]
    specs += [("hum", -50.0), ("hum", -35.0), ("music", -35.0), ("music", -20.0)]
    items = []
    for i in range(count):
        kind, level = specs[i % len(specs)]
        items.append({"key": f"{name}_{i:06d}", "reverb": None, "noise": None,
                      "seed": rng.randrange(2**31),
                      "segments": [{"kind": kind, "seconds": 5.0, "level": level}]})
    return items


def sox_cmd(voice, gain_db, reverb):
    """sox from the engine's WAV on stdin to 16 kHz int16 raw on stdout, with effects."""
    cmd = ["sox", "-t", "wav", "-", "-t", "raw", "-r", str(RATE), "-e", "signed", "-b", "16",
           "-c", "1", "-"]
    if voice["engine"] == "festival":
        cmd += ["tempo", "-s", str(voice["tempo"]), "pitch", str(voice["cents"])]
    cmd += ["gain", f"{gain_db:.2f}"]
    if reverb:
        cmd += ["reverb"] + [str(v) for v in reverb]
    return cmd


def engine_wav(seg, festival_dir, key, index):
    """The engine's WAV bytes for one speech segment."""
    v, text = seg["voice"], seg["text"]
    if v["engine"] in ("espeak", "mbrola"):
        cmd = ["espeak-ng", "-v", v["voice"], "-s", str(v["speed"]), "-p", str(v["pitch"]),
               "--stdout", text]
        return subprocess.run(cmd, capture_output=True, check=True).stdout
    if v["engine"] == "festival":
        return (festival_dir / f"{key}_{index}.wav").read_bytes()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.wav"
        if v["engine"] == "pico":
            markup = f"<speed level='{v['speed']}'><pitch level='{v['pitch']}'>{text}</pitch></speed>"
            subprocess.run(["pico2wave", "-l", v["voice"], "-w", str(out), markup],
                           capture_output=True, check=True)
        elif v["engine"] == "flite":
            subprocess.run(["flite", "-voice", v["voice"], "-t", text, "-o", str(out)],
                           capture_output=True, check=True)
        else:
            raise ValueError(f"unknown engine {v['engine']}")
        return out.read_bytes()


def render(item, festival_dir):
    """All of an item's segments joined, then the item's noise; int16 samples."""
    nrng = np.random.default_rng(item["seed"])
    parts, speech_parts = [], []
    for index, seg in enumerate(item["segments"]):
        if seg["kind"] == "speech":
            wav = engine_wav(seg, festival_dir, item["key"], index)
            raw = subprocess.run(sox_cmd(seg["voice"], seg["gain_db"], item["reverb"]),
                                 input=wav, capture_output=True, check=True).stdout
            x = np.frombuffer(raw, dtype="<i2").astype(np.float64)
            speech_parts.append(x)
        else:
            x = nonspeech.make(seg["kind"], seg["seconds"], seg["level"], nrng)
        parts.append(x)
    x = np.concatenate(parts) if parts else np.zeros(0)
    if item["noise"] and speech_parts:
        kind, snr = item["noise"]
        s = np.concatenate(speech_parts)
        power = np.mean(s[np.abs(s) > 0.05 * np.abs(s).max()] ** 2) if s.any() else 1.0
        n = nonspeech.make(kind, len(x) / RATE, 0.0, nrng)
        n *= np.sqrt(power / 10 ** (snr / 10) / max(np.mean(n ** 2), 1e-12))
        x = x + n
    return np.clip(np.round(x), -32768, 32767).astype("<i2")


def write_wav(path, samples):
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(samples.tobytes())


def run_item(args):
    item, wav_dir, festival_dir = args
    path = wav_dir / f"{item['key']}.wav"
    if not path.exists():
        samples = render(item, festival_dir)
        tmp = path.with_suffix(".tmp")
        write_wav(tmp, samples)
        tmp.rename(path)
    with wave.open(str(path)) as w:
        return w.getnframes() / RATE


def scheme_string(text):
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def run_festival(args):
    """One Festival process synthesizes a batch of segments (its start-up costs more
    than a sentence)."""
    batch, festival_dir = args
    todo = [(key, index, seg) for key, index, seg in batch
            if not (festival_dir / f"{key}_{index}.wav").exists()]
    if not todo:
        return
    lines = []
    for key, index, seg in todo:
        lines.append(f"(voice_{seg['voice']['voice']})")
        tmp = festival_dir / f"{key}_{index}.tmp.wav"
        lines.append(f"(utt.save.wave (utt.synth (Utterance Text {scheme_string(seg['text'])})) "
                     f"{scheme_string(str(tmp))} 'riff)")
    with tempfile.NamedTemporaryFile("w", suffix=".scm", delete=False) as f:
        f.write("\n".join(lines) + "\n")
        script = f.name
    try:
        subprocess.run(["festival", "--batch", script], capture_output=True, check=True)
    finally:
        os.unlink(script)
    for key, index, _ in todo:
        (festival_dir / f"{key}_{index}.tmp.wav").rename(festival_dir / f"{key}_{index}.wav")


def describe(item):
    segs = []
    for s in item["segments"]:
        segs.append(voices.describe(s["voice"]) if s["kind"] == "speech"
                    else f"{s['kind']}:{s['seconds']}s:{s['level']}dB")
    effects = ",".join(filter(None, [
        f"reverb{item['reverb'][0]}" if item["reverb"] else "",
        f"{item['noise'][0]}{item['noise'][1]:.0f}dB" if item["noise"] else ""])) or "clean"
    return "+".join(segs) + " " + effects


def write_split(out, name, items, pool, kinds):
    split = out / name
    wav_dir, festival_dir = split / "wav", split / "festival"
    wav_dir.mkdir(parents=True, exist_ok=True)
    festival = [(it["key"], i, s) for it in items for i, s in enumerate(it["segments"])
                if s["kind"] == "speech" and s["voice"]["engine"] == "festival"
                and not (wav_dir / f"{it['key']}.wav").exists()]
    if festival:
        festival_dir.mkdir(exist_ok=True)
        batches = [(festival[i:i + 200], festival_dir) for i in range(0, len(festival), 200)]
        for _ in pool.imap_unordered(run_festival, batches):
            pass
    seconds = 0.0
    args = [(it, wav_dir, festival_dir) for it in items]
    for i, dur in enumerate(pool.imap(run_item, args, chunksize=16)):
        seconds += dur
        if (i + 1) % 1000 == 0:
            print(f"  {name}: {i + 1}/{len(items)} ({seconds / 3600:.2f} h)", flush=True)
    if festival_dir.exists():  # joined into wav/ now
        for path in festival_dir.glob("*"):
            path.unlink()
        festival_dir.rmdir()
    with open(split / "text", "w") as t, open(split / "wav.scp", "w") as s, \
            open(split / "utt2voice", "w") as v, open(split / "utt2kind", "w") as k:
        for it in items:
            said = [seg["text"] for seg in it["segments"] if seg["kind"] == "speech"]
            text = " ".join(said)
            t.write(f"{it['key']} {text}\n" if text else f"{it['key']}\n")
            s.write(f"{it['key']} wav/{it['key']}.wav\n")
            v.write(f"{it['key']} {describe(it)}\n")
            k.write(f"{it['key']} {'+'.join(kinds[x] for x in said) or 'nonspeech'}\n")
    print(f"{name}: {len(items)} items, {seconds / 3600:.2f} h", flush=True)
    return seconds


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--train", type=int, default=30000, help="training sentences")
    ap.add_argument("--dev", type=int, default=300)
    ap.add_argument("--test", type=int, default=400)
    ap.add_argument("--nonspeech", type=int, default=200, help="test_nonspeech clips")
    ap.add_argument("--splits", default="", help="comma-separated subset of the splits to write")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--words", default=str(HERE / "words.txt"))
    args = ap.parse_args()

    words = Path(args.words).read_text().split()
    # frequent words (words.txt is alphabetical; rank is lost) get no extra weight:
    weights = [1.0] * len(words)
    rng = random.Random(args.seed)
    # held-out sentences first, so train can exclude them
    kinds = {}
    test = make_sentences(rng, args.test, words, weights, (), kinds)
    dev = make_sentences(rng, args.dev, words, weights, test, kinds)
    lead = make_sentences(rng, args.test // 2, words, weights, test + dev, kinds)
    train = make_sentences(rng, args.train, words, weights, test + dev + lead, kinds)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    vocab = units(train)
    missing = {c for t in test + dev + lead for c in t.replace(" ", WORD_BOUNDARY)} - set(vocab)
    if missing:
        raise SystemExit(f"held-out text uses characters not in train: {missing}")
    (out / "units.txt").write_text("".join(f"{u} {i}\n" for i, u in enumerate(vocab)))
    plans = {
        "test": lambda: plan_engine("test", test, "espeak", args.seed),
        "test_mbrola": lambda: plan_engine("test_mbrola", test[:200], "mbrola", args.seed),
        "test_pico": lambda: plan_engine("test_pico", test[:200], "pico", args.seed),
        "test_flite": lambda: plan_engine("test_flite", test, "flite", args.seed),
        "test_lead": lambda: plan_engine("test_lead", lead, None, args.seed, lead=True),
        "test_nonspeech": lambda: plan_nonspeech("test_nonspeech", args.nonspeech, args.seed),
        "dev": lambda: plan_mixed("dev", dev, True, args.seed),
        "train": lambda: plan_mixed("train", train, False, args.seed),
    }
    wanted = [s for s in args.splits.split(",") if s] or list(plans)
    unknown = set(wanted) - set(plans)
    if unknown:
        raise SystemExit(f"unknown splits {sorted(unknown)}; known: {list(plans)}")
    with multiprocessing.Pool(args.jobs) as pool:
        for name in wanted:
            write_split(out, name, plans[name](), pool, kinds)


if __name__ == "__main__":
    main()
