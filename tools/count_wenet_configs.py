#!/usr/bin/env python3
"""Count the WeNet recipe configs the moeasr loader accepts.

    tools/count_wenet_configs.py WENET_CHECKOUT [--runtime build/src/cli/moeasr-decode] [--list] [--json]

Every `*.yaml` under WENET_CHECKOUT/examples (or under the directory given, if
it has no examples/ folder) is one model config, as WeNet's recipes train them.
Each is checked twice:

- by the runtime's own loader: `moeasr-decode --check-config FILE` (the train.yaml
  parser that loading a model runs, with no weights and no units.txt);
- by the converter's early family check (convert_wenet.check_family), which
  refuses a model family before any checkpoint is read.

The two must agree in one direction: a config the loader accepts must pass the
family check (else the converter would refuse a model the runtime can run); that
is an error (exit status 1). A config the family check passes but the loader
refuses for another reason (features, a setting) is refused by the converter
too, after conversion, by the same loader; it is listed as such.

Configs of other model families (model: whisper, paraformer, ctl_model, ...; not
U2 models) are counted apart: the issue that asks for the count leaves them out.

Needs what the converter needs (numpy, pyyaml). Prints one summary line (and
the refusals with --list).
"""

import argparse
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import yaml

TOOLS = Path(__file__).resolve().parent
sys.path.insert(0, str(TOOLS))
import convert_wenet  # noqa: E402

# Model families that are not a U2 encoder + CTC (+ attention decoder) model.
OTHER_FAMILIES = ("whisper", "paraformer", "ctl_model", "firered", "k2_model", "sensevoice")


def config_files(root):
    base = root / "examples" if (root / "examples").is_dir() else root
    if not base.is_dir():
        raise SystemExit(f"count_wenet_configs: {root}: not a directory")
    return sorted(p for p in base.rglob("*.yaml") if p.is_file())


def check_one(runtime, path, root):
    result = subprocess.run([str(runtime), "--check-config", str(path)], capture_output=True, text=True)
    lines = (result.stdout if result.returncode == 0 else result.stderr).strip().splitlines()
    message = lines[-1] if lines else ""
    prefix = f"moeasr-decode: {path}: "
    message = message[len(prefix):] if message.startswith(prefix) else message
    loader_ok = result.returncode == 0
    if result.returncode not in (0, 1):
        raise SystemExit(f"count_wenet_configs: {runtime} --check-config {path} exited {result.returncode}: "
                         f"{result.stderr.strip()}")
    try:
        config = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        config, family_error = {}, f"not YAML: {e}"
    else:
        try:
            convert_wenet.check_family(config, path)
            family_error = None
        except convert_wenet.ConvertError as e:
            family_error = str(e)
    model = config.get("model", "asr_model") if isinstance(config, dict) else "?"
    return {
        "file": str(path.relative_to(root)) if path.is_relative_to(root) else str(path),
        "model": model,
        "encoder": config.get("encoder", "conformer") if isinstance(config, dict) else "?",
        "other_family": model in OTHER_FAMILIES,
        "loader_accepts": loader_ok,
        "loader_message": message,
        "converter_family_check": family_error is None,
        "converter_message": family_error or "",
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", type=Path, help="a WeNet checkout (its examples/ is searched), or a folder of yaml")
    parser.add_argument("--runtime", type=Path, default=None,
                        help="moeasr-decode (default: build/src/cli/moeasr-decode of this repository, else PATH)")
    parser.add_argument("--list", action="store_true", help="also print every refused config and why")
    parser.add_argument("--json", action="store_true", help="print one JSON object per config instead")
    args = parser.parse_args(argv)

    try:
        runtime = convert_wenet.find_runtime(args.runtime)
    except convert_wenet.ConvertError as e:
        raise SystemExit(f"count_wenet_configs: {e}")
    if runtime is None:
        raise SystemExit("count_wenet_configs: no moeasr-decode found: build it or give --runtime")
    rows = [check_one(runtime, p, args.root) for p in config_files(args.root)]
    if not rows:
        raise SystemExit(f"count_wenet_configs: no *.yaml under {args.root}")

    disagreements = [r for r in rows if r["loader_accepts"] and not r["converter_family_check"]]
    if args.json:
        for r in rows:
            print(json.dumps(r))
    u2 = [r for r in rows if not r["other_family"]]
    accepted = [r for r in u2 if r["loader_accepts"]]
    others = Counter(r["model"] for r in rows if r["other_family"])
    if args.list and not args.json:
        for r in u2:
            if not r["loader_accepts"]:
                print(f"refused: {r['file']}: {r['loader_message']}")
    if not args.json:
        other_text = ", ".join(f"{n} {m}" for m, n in sorted(others.items())) or "none"
        print(f"moeasr accepts {len(accepted)} of {len(u2)} U2-family configs "
              f"({len(rows)} yaml files; other model families left out: {other_text})")
    for r in disagreements:
        print(f"count_wenet_configs: {r['file']}: the loader accepts it but the converter's family check "
              f"refuses it: {r['converter_message']}", file=sys.stderr)
    return 1 if disagreements else 0


if __name__ == "__main__":
    sys.exit(main())
