#!/usr/bin/env python3
"""Plot moeasr-bench --json results as PNG files.

    for c in 1 2 4 8 16 32; do
      build/bench/moeasr-bench --model M --chunk-size $c --json > out/chunk$c.json
    done
    for s in 1 2 4 8 16; do
      build/bench/moeasr-bench --model M --streams $s --json > out/streams$s.json
    done
    python3 tools/plot_bench.py out/*.json --out-dir out/plots

Writes, from whichever results fit:
  latency_vs_chunk.png   per-chunk step latency (p50, p95) and first-partial latency, with
                         the algorithmic latency of the chunk (audio that must arrive
                         before a chunk can run), and RTF, against --chunk-size; one line
                         per model / streams / threads / mode / MoE path.
  rtf_vs_streams.png     RTF (decode wall time / audio time summed over all streams) and the
                         batched step latency against --streams; one line per model /
                         chunk size / threads / mode / MoE path.
A plot needs at least two distinct x values in one line; otherwise it is skipped with
a note. Files may hold one JSON object or several back to back; `--compare A B` outputs
count as two results. Full-attention runs (--chunk-size -1) are left out of the chunk
plot. Needs matplotlib (Debian: apt-get install python3-matplotlib; or pip).
"""

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path


def read_objects(path):
    """All JSON objects in a file (one, or several concatenated / one per line)."""
    text = Path(path).read_text(encoding="utf-8")
    decoder = json.JSONDecoder()
    objects, pos = [], 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            return objects
        obj, pos = decoder.raw_decode(text, pos)
        objects.append(obj)


def results(paths):
    """(settings, result, file) for every bench result in the files."""
    out = []
    for path in paths:
        try:
            objects = read_objects(path)
        except (OSError, json.JSONDecodeError) as e:
            sys.exit(f"plot_bench: {path}: {e}")
        for obj in objects:
            if not isinstance(obj, dict) or "settings" not in obj:
                sys.exit(f"plot_bench: {path}: not moeasr-bench --json output")
            subjects = [obj["result"]] if "result" in obj else [obj.get("a"), obj.get("b")]
            for r in subjects:
                if r:
                    out.append((obj["settings"], r, str(path)))
    return out


def model_label(result):
    source = result.get("source", "?").rstrip("/")
    name = Path(source).name
    return Path(name).stem if name.endswith((".yaml", ".yml")) else name


def line_label(settings, result, varying):
    """Everything that identifies a line except the x variable."""
    parts = [model_label(result)]
    if varying != "chunk_size":
        c = settings.get("chunk_size")
        parts.append("full attention" if c is not None and c < 0 else f"chunk {c}")
    if varying != "streams":
        parts.append(f"{settings.get('streams', 1)} stream(s)")
    parts.append(f"{settings.get('threads', 1)} thr")
    parts.append(settings.get("mode", "?"))
    gemm = settings.get("moe_gemm", settings.get("moe_path", "grouped"))  # moe_path: reports before 2026-12
    if gemm != "grouped":
        parts.append(f"MoE {gemm}")
    return ", ".join(parts)


def group(rows, x_key, keep=lambda s: True):
    """{line label: [(x, settings, result)] sorted by x}; for the same x in one line
    the last file given wins (a rerun replaces an earlier one)."""
    lines = defaultdict(dict)
    for settings, result, _ in rows:
        if not keep(settings):
            continue
        lines[line_label(settings, result, x_key)][settings[x_key]] = (settings, result)
    return {label: [(x, *points[x]) for x in sorted(points)] for label, points in lines.items()}


def usable(lines, what):
    good = {k: v for k, v in lines.items() if len(v) >= 2}
    single = len(lines) - len(good)
    if single:
        print(f"plot_bench: {what}: {single} line(s) with a single point left out",
              file=sys.stderr)
    return good


def plot_latency_vs_chunk(plt, lines, out):
    fig, (ax_lat, ax_rtf) = plt.subplots(1, 2, figsize=(12, 4.8))
    for i, (label, points) in enumerate(sorted(lines.items())):
        color = f"C{i % 10}"
        xs = [p[0] for p in points]
        lat = [p[2]["chunk_latency_ms"] for p in points]
        ax_lat.plot(xs, [l["p50"] for l in lat], "o-", color=color, label=f"{label}: step p50")
        ax_lat.plot(xs, [l["p95"] for l in lat], "s--", color=color, label=f"{label}: step p95")
        ax_lat.plot(xs, [p[2]["first_partial_ms"] for p in points], "^:", color=color,
                    label=f"{label}: first partial")
        ax_rtf.plot(xs, [p[2]["rtf"] for p in points], "o-", color=color, label=label)
    # The algorithmic latency depends only on the chunk size (and the fbank settings).
    algo = {}
    for points in lines.values():
        for x, _, r in points:
            if r.get("algorithmic_latency_ms", -1) > 0:
                algo[x] = r["algorithmic_latency_ms"]
    if algo:
        xs = sorted(algo)
        ax_lat.plot(xs, [algo[x] for x in xs], "k-", alpha=0.35, linewidth=3,
                    label="algorithmic latency (audio per chunk + lookahead)")
    for ax in (ax_lat, ax_rtf):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("chunk size (encoder frames of 40 ms)")
        ax.grid(True, which="both", alpha=0.3)
        ticks = sorted({p[0] for pts in lines.values() for p in pts})
        ax.set_xticks(ticks)
        ax.set_xticklabels([str(t) for t in ticks])
    ax_lat.set_yscale("log")
    ax_lat.set_ylabel("latency (ms)")
    ax_lat.set_title("compute latency per decode step vs chunk size")
    ax_rtf.set_ylabel("RTF (decode time / audio time)")
    ax_rtf.set_title("RTF vs chunk size")
    ax_lat.legend(fontsize=7)
    ax_rtf.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


def plot_rtf_vs_streams(plt, lines, out):
    fig, (ax_rtf, ax_lat) = plt.subplots(1, 2, figsize=(12, 4.8))
    for i, (label, points) in enumerate(sorted(lines.items())):
        color = f"C{i % 10}"
        xs = [p[0] for p in points]
        ax_rtf.plot(xs, [p[2]["rtf"] for p in points], "o-", color=color, label=label)
        lat = [p[2]["chunk_latency_ms"] for p in points]
        ax_lat.plot(xs, [l["p50"] for l in lat], "o-", color=color, label=f"{label}: p50")
        ax_lat.plot(xs, [l["p95"] for l in lat], "s--", color=color, label=f"{label}: p95")
    for ax in (ax_rtf, ax_lat):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("streams decoded together (batched step)")
        ax.grid(True, which="both", alpha=0.3)
        ticks = sorted({p[0] for pts in lines.values() for p in pts})
        ax.set_xticks(ticks)
        ax.set_xticklabels([str(t) for t in ticks])
    ax_rtf.set_ylabel("RTF (wall time / audio time summed over streams)")
    ax_rtf.set_title("RTF vs streams")
    ax_lat.set_ylabel("batched step latency (ms)")
    ax_lat.set_title("decode step latency vs streams")
    ax_rtf.legend(fontsize=7)
    ax_lat.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("files", nargs="+", help="moeasr-bench --json outputs")
    p.add_argument("--out-dir", default=".", help="where the PNGs go (default .)")
    p.add_argument("--prefix", default="", help="prefix of the PNG names")
    args = p.parse_args()
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        sys.exit("plot_bench: needs matplotlib (Debian: apt-get install python3-matplotlib, "
                 "or pip install matplotlib)")
    rows = results(args.files)
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    chunk_lines = usable(group(rows, "chunk_size", lambda s: s.get("chunk_size", -1) > 0),
                         "latency vs chunk size")
    if chunk_lines:
        out = out_dir / f"{args.prefix}latency_vs_chunk.png"
        plot_latency_vs_chunk(plt, chunk_lines, out)
        written.append(out)
    stream_lines = usable(group(rows, "streams"), "RTF vs streams")
    if stream_lines:
        out = out_dir / f"{args.prefix}rtf_vs_streams.png"
        plot_rtf_vs_streams(plt, stream_lines, out)
        written.append(out)
    if not written:
        sys.exit("plot_bench: nothing to plot: give results that differ only in --chunk-size "
                 "or only in --streams")
    for w in written:
        print(w)
    return 0


if __name__ == "__main__":
    sys.exit(main())
