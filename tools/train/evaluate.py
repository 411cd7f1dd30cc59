#!/usr/bin/env python3
"""Measure a model directory on the corpus' held-out splits with the C++ runtime.

    python3 tools/train/evaluate.py --model models/en_moe_small --corpus corpus \\
        [--decoder build/src/cli/moeasr-decode] [--splits test,test_flite] \\
        [--modes="-1;16"] [--extra "--compute-type int8"] [--json out.json]

Runs `moeasr-decode --wav-scp` on every split (default: the test splits
tools/corpus/make_corpus.py writes) in every chunk mode (";"-separated
`--chunk-size` arguments; default full attention and chunk 16) and prints a Markdown
table: WER, CER, sentences exactly right, the WER of the numbers/dates/times sentences
(utt2kind "numeric"), and for splits with non-speech items the share that decoded to
nothing. Needs only the standard library and tools/eval_wer.py."""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
import eval_wer  # noqa: E402

TEST_SPLITS = ["test", "test_mbrola", "test_pico", "test_flite", "test_lead", "test_nonspeech"]


def read_table(path):
    return eval_wer.read_refs(path) if path.exists() else {}


def decode(decoder, model, split_dir, mode, extra):
    """{key: text} from moeasr-decode (wav.scp paths are relative to the split)."""
    cmd = [str(decoder), "--model", str(model), "--wav-scp", "wav.scp",
           "--chunk-size"] + mode.split() + extra.split()
    out = subprocess.run(cmd, cwd=split_dir, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed in {split_dir}:\n{out.stderr[-2000:]}")
    return eval_wer.parse_hyps(out.stdout.splitlines())


def measure(refs, hyps, kinds):
    keys = sorted(refs)
    missing = [k for k in keys if k not in hyps]
    if missing:
        raise SystemExit(f"no hypothesis for {len(missing)} keys, e.g. {missing[0]}")
    result = eval_wer.error_rates([refs[k] for k in keys], [hyps[k] for k in keys])
    result["speech_right"] = sum(
        bool(refs[k].strip()) and eval_wer.normalize(refs[k]) == eval_wer.normalize(hyps[k])
        for k in keys)
    numeric = [k for k in keys if kinds.get(k) == "numeric"]
    if numeric:
        result["numeric"] = eval_wer.error_rates([refs[k] for k in numeric],
                                                 [hyps[k] for k in numeric])
    return result


def row(split, mode, r):
    speech = r["sentences"] - r["empty_refs"]
    cells = [split, mode]
    if speech:
        cells += [f"{r['wer']:.2%}", f"{r['cer']:.2%}", f"{r['speech_right']} / {speech}"]
    else:
        cells += ["—", "—", "—"]
    cells.append(f"{r['numeric']['wer']:.2%} ({r['numeric']['sentences']})" if "numeric" in r else "—")
    cells.append(f"{r['empty_refs_kept_empty']} / {r['empty_refs']}" if r["empty_refs"] else "—")
    return "| " + " | ".join(cells) + " |"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--decoder", default="build/src/cli/moeasr-decode")
    ap.add_argument("--splits", default=",".join(TEST_SPLITS))
    ap.add_argument("--modes", default="-1;16", help='";"-separated --chunk-size arguments')
    ap.add_argument("--extra", default="", help="more moeasr-decode arguments")
    ap.add_argument("--json", help="also write every result here")
    args = ap.parse_args()
    decoder, model = Path(args.decoder).resolve(), Path(args.model).resolve()
    if not os.access(decoder, os.X_OK):
        raise SystemExit(f"{decoder}: not an executable (build moeasr-decode first)")
    print("| split | chunk | WER | CER | sentences right | numbers/dates/times WER (sentences)"
          " | non-speech decoded empty |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    results = {}
    for split in [s for s in args.splits.split(",") if s]:
        split_dir = Path(args.corpus) / split
        if not (split_dir / "wav.scp").exists():
            print(f"(no split {split_dir})", file=sys.stderr)
            continue
        refs, kinds = read_table(split_dir / "text"), read_table(split_dir / "utt2kind")
        for mode in [m.strip() for m in args.modes.split(";") if m.strip()]:
            r = measure(refs, decode(decoder, model, split_dir, mode, args.extra), kinds)
            results[f"{split} {mode}"] = r
            print(row(split, mode, r), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
