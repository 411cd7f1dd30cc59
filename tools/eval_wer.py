#!/usr/bin/env python3
"""Word and character error rates of moeasr-decode output against reference text.

    build/src/cli/moeasr-decode --model M --wav-scp wav.scp > hyp.jsonl
    python3 tools/eval_wer.py --ref text --hyp hyp.jsonl [--details errors.txt]

--ref: Kaldi-style "key transcript" lines. --hyp: moeasr-decode's JSON lines (the
"key" and "text" fields; a line without "text", e.g. an error record, counts as an
empty hypothesis). Both sides are compared as given, lowercased, with whitespace
normalized. WER = (substitutions + deletions + insertions) / reference words; CER
the same over characters with spaces removed (WeNet's compute-cer convention for
char units counts letters, not spaces). Every reference key must have a hypothesis.
Prints one JSON object; exits 1 on a missing hypothesis. Needs only the standard library.
"""

import argparse
import json
import sys


def edit_distance(ref, hyp):
    """Levenshtein distance between two sequences."""
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]


def normalize(text):
    return " ".join(text.lower().split())


def error_rates(refs, hyps):
    """Parallel lists of strings -> {"wer", "cer", "word_errors", "words", "char_errors",
    "chars", "sentences", "sentence_errors", "empty_refs", "empty_refs_kept_empty"}: the
    last two count the references without words (non-speech) and how many of them got an
    empty hypothesis."""
    we = wn = ce = cn = se = en = ek = 0
    for ref, hyp in zip(refs, hyps):
        ref, hyp = normalize(ref), normalize(hyp)
        if not ref:
            en += 1
            ek += not hyp
        rw, hw = ref.split(), hyp.split()
        we += edit_distance(rw, hw)
        wn += len(rw)
        rc, hc = ref.replace(" ", ""), hyp.replace(" ", "")
        ce += edit_distance(rc, hc)
        cn += len(rc)
        se += ref != hyp
    return {"wer": we / max(wn, 1), "cer": ce / max(cn, 1), "word_errors": we, "words": wn,
            "char_errors": ce, "chars": cn, "sentences": len(refs), "sentence_errors": se,
            "empty_refs": en, "empty_refs_kept_empty": ek}


def read_refs(path):
    refs = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            key, _, text = line.strip().partition(" ")
            if key:
                refs[key] = text
    return refs


def parse_hyps(lines):
    """moeasr-decode's JSON lines -> {key: text} (a record without "text" is empty)."""
    hyps = {}
    for line in lines:
        line = line.strip()
        if not line:
            continue
        record = json.loads(line)
        if "key" in record:
            hyps[record["key"]] = record.get("text", "")
    return hyps


def read_hyps(path):
    with open(path, encoding="utf-8") as f:
        return parse_hyps(f)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ref", required=True, help='"key transcript" lines')
    ap.add_argument("--hyp", required=True, help="moeasr-decode JSON lines")
    ap.add_argument("--details", help="write the mismatching utterances here")
    args = ap.parse_args()
    refs, hyps = read_refs(args.ref), read_hyps(args.hyp)
    missing = [k for k in refs if k not in hyps]
    if missing:
        print(f"eval_wer: no hypothesis for {len(missing)} keys, e.g. {missing[0]}",
              file=sys.stderr)
        return 1
    keys = sorted(refs)
    result = error_rates([refs[k] for k in keys], [hyps[k] for k in keys])
    if args.details:
        with open(args.details, "w", encoding="utf-8") as f:
            for k in keys:
                if normalize(refs[k]) != normalize(hyps[k]):
                    f.write(f"{k}\n  ref: {refs[k]}\n  hyp: {hyps[k]}\n")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
