#!/usr/bin/env python3
"""Accuracy of a keyword-spotting classifier directory on a split of tools/kws/make_data.py.

    python3 tools/kws/eval.py --model models/kws_ast_moa --data corpus/kws --split test \\
        [--cli build/src/cli/moeasr-classify] [--reference]

Runs the C++ runtime (`moeasr-classify --json`, every label's score) on the split's WAVs
and prints top-1 accuracy, per-class accuracy and the most frequent confusions. With
--reference it also runs the PyTorch reference (tools/moeasr_ref/ast.py; needs torch and
torchaudio) on the same files and model files and reports its accuracy, how many top-1
labels the two agree on and the largest score difference. Without --reference it needs
only the standard library.
"""

import argparse
import collections
import json
import subprocess
import sys
from pathlib import Path


def run_cli(cli, model, wavs, labels, chunk=200):
    """file -> {label: score} from moeasr-classify --json."""
    out = {}
    for i in range(0, len(wavs), chunk):
        cmd = [str(cli), str(model), *map(str, wavs[i:i + chunk]), "--json", "--top-k", str(len(labels))]
        res = subprocess.run(cmd, capture_output=True, text=True, check=True)
        for line in res.stdout.splitlines():
            r = json.loads(line)
            out[r["file"]] = {lab["label"]: lab["score"] for lab in r["labels"]}
    return out


def run_reference(model, wavs):
    """file -> {label: score} from the PyTorch reference, fbank in float64 like the runtime."""
    import torch
    import yaml

    tools = Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(tools))
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import safetensors_io
    from moeasr_ref.ast import load_classifier
    from train import read_wav

    torch.set_num_threads(1)
    labels = (model / "labels.txt").read_text().split()
    tensors, _ = safetensors_io.load(model / "model.safetensors")
    clf = load_classifier(yaml.safe_load((model / "classifier.yaml").read_text()),
                          {k: torch.from_numpy(v) for k, v in tensors.items()})
    out = {}
    with torch.no_grad():
        for w in wavs:
            _, values = clf.features(read_wav(w), exact=True)
            scores = clf.scores(clf(values.unsqueeze(0))[0])
            out[str(w)] = dict(zip(labels, scores.tolist()))
    return out


def report(name, truth, scores, labels):
    pred = {f: max(s, key=s.get) for f, s in scores.items()}
    correct = sum(pred[f] == t for f, t in truth.items())
    print(f"{name}: top-1 accuracy {correct / len(truth):.4f} ({correct}/{len(truth)})")
    per = collections.defaultdict(lambda: [0, 0])
    confusions = collections.Counter()
    for f, t in truth.items():
        per[t][1] += 1
        per[t][0] += pred[f] == t
        if pred[f] != t:
            confusions[(t, pred[f])] += 1
    print("  per class: " + ", ".join(f"{lab} {per[lab][0]}/{per[lab][1]}" for lab in labels if per[lab][1]))
    print("  top confusions (truth -> predicted): "
          + (", ".join(f"{t} -> {p} x{n}" for (t, p), n in confusions.most_common(8)) or "none"))
    return pred


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, default=Path("models/kws_ast_moa"))
    ap.add_argument("--data", type=Path, default=Path("corpus/kws"))
    ap.add_argument("--split", default="test")
    ap.add_argument("--cli", type=Path, default=Path("build/src/cli/moeasr-classify"))
    ap.add_argument("--reference", action="store_true")
    args = ap.parse_args()
    labels = (args.model / "labels.txt").read_text().split()
    rows = [r.split("\t") for r in (args.data / args.split / "list.tsv").read_text().splitlines()[1:] if r]
    wavs = [args.data / args.split / r[0] for r in rows]
    truth = {str(w): r[1] for w, r in zip(wavs, rows)}
    cpp = run_cli(args.cli, args.model, wavs, labels)
    pred_cpp = report("C++ runtime (moeasr-classify)", truth, cpp, labels)
    if args.reference:
        ref = run_reference(args.model, wavs)
        pred_ref = report("PyTorch reference", truth, ref, labels)
        agree = sum(pred_cpp[f] == pred_ref[f] for f in truth)
        diff = max(abs(cpp[f][lab] - ref[f][lab]) for f in truth for lab in labels)
        print(f"C++ vs reference: same top-1 on {agree}/{len(truth)} clips, max |score diff| {diff:.2e}")


if __name__ == "__main__":
    main()
