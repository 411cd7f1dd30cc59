#!/usr/bin/env python3
"""Build tools/corpus/words.txt: a few thousand common English words without homophones.

    python3 tools/corpus/make_wordlist.py [--count 3000] [--out tools/corpus/words.txt]

How (run once; the list is committed, so the corpus does not depend on this machine):
  1. candidates: lowercase alphabetic words of 2..10 letters from Debian's `wamerican`
     list (/usr/share/dict/words);
  2. ranked by how often they occur in the English text installed on the machine (man
     pages and /usr/share/doc), a stand-in for a word-frequency list; words that never
     occur are dropped;
  3. pronounced by espeak-ng (`-x`, en-us); a word whose phoneme string equals that of
     a more frequent word (their/there, right/write, two/to) is dropped, and so is any
     word that sounds like a word used by the sentence templates, so no transcript
     depends on a guess between homophones;
  4. the `--count` most frequent survivors, alphabetically.
"""

import argparse
import collections
import gzip
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import templates  # noqa: E402

WORD = re.compile(r"[a-z]+")


def text_sources():
    for path in sorted(Path("/usr/share/man/man1").glob("*.gz")):
        yield path
    for path in sorted(Path("/usr/share/doc").rglob("*")):
        if path.is_file() and (path.suffix in (".txt", ".md", ".gz") or path.name.startswith("README")):
            yield path


def read_text(path):
    try:
        data = gzip.open(path).read() if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError):
        return ""
    return data[:2_000_000].decode("utf-8", "ignore")


def phonemes(words):
    text = "".join(f"{w}.\n" for w in words)
    out = subprocess.run(["espeak-ng", "-q", "-x", "--stdin", "-v", "en-us"], input=text,
                         capture_output=True, text=True, check=True).stdout.split("\n")
    out = [line.strip() for line in out if line.strip()]
    if len(out) != len(words):
        raise SystemExit(f"espeak-ng gave {len(out)} phoneme lines for {len(words)} words")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=3000)
    ap.add_argument("--dict", default="/usr/share/dict/words")
    ap.add_argument("--out", default=str(HERE / "words.txt"))
    args = ap.parse_args()

    candidates = {w for w in Path(args.dict).read_text().split()
                  if re.fullmatch(r"[a-z]{2,10}", w)}
    counts = collections.Counter()
    for path in text_sources():
        for w in WORD.findall(read_text(path).lower()):
            if w in candidates:
                counts[w] += 1
    ranked = [w for w, _ in counts.most_common()]
    print(f"{len(candidates)} candidates, {len(ranked)} occur in local text", file=sys.stderr)

    reserved = sorted(templates.template_words())
    taken = {p: w for w, p in zip(reserved, phonemes(reserved))}
    kept = []
    pool = [w for w in ranked if w not in taken.values()][:args.count * 2]
    for w, p in zip(pool, phonemes(pool)):
        if p in taken:
            continue
        taken[p] = w
        kept.append(w)
        if len(kept) == args.count:
            break
    Path(args.out).write_text("".join(f"{w}\n" for w in sorted(kept)))
    print(f"wrote {len(kept)} words to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
