#!/usr/bin/env python3
"""Serving capacity: how many real-time streams one server keeps up with.

    tools/triton_load.py --tritonserver BIN --backends DIR --model-dir MODEL
                         --lib libmoeasr.so [--seconds 20] [--piece-ms 640]
                         [--max-streams 64] [--out results.jsonl]

N streams each send audio at the pace of speech: a piece of --piece-ms every
--piece-ms, their phases spread evenly, so pieces arrive as from N independent
microphones. A piece's latency is the time from the moment its audio has been
spoken (its due time) to its response, so a server that falls behind shows it.
The default piece is one chunk (16 frames of 40 ms = 640 ms): every request
then runs one encoder step, and its latency is a chunk latency. The last piece
of each stream (END, with attention rescoring) is reported apart.

Two servers, the same load:
  triton      moeasr's Triton backend (libtriton_moeasr.so in a real
              tritonserver, one CPU instance, the repository's streaming config),
              driven over gRPC by one client thread per stream;
  in-process  one thread of the same process calling the C API (ctypes):
              every due piece is accepted, then ONE moeasr_decode_streams call
              decodes all streams that got a piece, as the backend does.
For each, N doubles until the p95 chunk latency exceeds the piece duration,
then bisects: capacity is the largest N that keeps p95 under it. Prints one
JSON line per trial (p50/p95/p99 ms, mean batch size) and a summary line.
A benchmark, not a test: run it on an otherwise idle machine.
"""

import argparse
import ctypes
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

TOOLS = Path(__file__).resolve().parent
ROOT = TOOLS.parent
sys.path.insert(0, str(TOOLS))
import triton_client  # noqa: E402


def make_audio(seconds, count):
    """`count` different streams of `seconds` of speech: the sample WAVs, looped from different offsets."""
    pcm = np.concatenate([triton_client.read_wav(w)[0] for w in sorted((ROOT / "samples").glob("*.wav"))])
    n = int(seconds * 16000)
    reps = n // len(pcm) + 2
    loop = np.tile(pcm, reps)
    return [loop[(i * 7919) % len(pcm):][:n].copy() for i in range(count)]


def percentiles(latencies):
    a = np.array(latencies) * 1e3
    return {f"p{p}_ms": round(float(np.percentile(a, p)), 1) for p in (50, 95, 99)}


# ---------------------------------------------------------------- triton
def run_triton(url, model, audio, piece_s):
    import tritonclient.grpc as grpcclient

    n = len(audio)
    step = int(piece_s * 16000)
    chunk_lat, final_lat, errors = [], [], []
    lock = threading.Lock()
    stats0 = grpcclient.InferenceServerClient(url).get_inference_statistics(model, as_json=True)
    start = time.monotonic() + 0.5

    def run(i):
        client = grpcclient.InferenceServerClient(url)
        pcm = audio[i]
        pieces = [pcm[k:k + step] for k in range(0, len(pcm), step)]
        t0 = start + i * piece_s / n
        mine, last = [], None
        try:
            for k, piece in enumerate(pieces):
                due = t0 + (k + 1) * len(piece) / 16000 if k < len(pieces) - 1 else t0 + len(pcm) / 16000
                time.sleep(max(0.0, due - time.monotonic()))
                triton_client.infer_piece(client, model, 10000 + i, piece, k == 0, k == len(pieces) - 1,
                                          outputs=("TEXT",))
                (mine.append if k < len(pieces) - 1 else lambda v: None)(time.monotonic() - due)
                last = time.monotonic() - due
        except Exception as e:
            with lock:
                errors.append(repr(e))
        with lock:
            chunk_lat.extend(mine)
            if last is not None:
                final_lat.append(last)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stats1 = grpcclient.InferenceServerClient(url).get_inference_statistics(model, as_json=True)

    def counts(s):
        m = s["model_stats"][0]
        return int(m.get("inference_count", 0)), int(m.get("execution_count", 0))

    (i0, e0), (i1, e1) = counts(stats0), counts(stats1)
    if errors:
        raise RuntimeError(f"{len(errors)} stream(s) failed: {errors[0]}")
    return chunk_lat, final_lat, (i1 - i0) / max(1, e1 - e0)


# ---------------------------------------------------------------- in-process
class CApi:
    def __init__(self, lib_path, model_dir):
        lib = ctypes.CDLL(str(lib_path))
        self.lib = lib
        lib.moeasr_last_error.restype = ctypes.c_char_p
        self.model = ctypes.c_void_p()
        self.check(lib.moeasr_model_load(str(model_dir).encode(), None, ctypes.byref(self.model)))

    def check(self, status):
        if status != 0:
            raise RuntimeError(self.lib.moeasr_last_error().decode())

    def stream(self):
        s = ctypes.c_void_p()
        self.check(self.lib.moeasr_stream_create(self.model, None, ctypes.byref(s)))
        return s


def run_in_process(api, audio, piece_s):
    lib = api.lib
    n = len(audio)
    step = int(piece_s * 16000)
    streams = [api.stream() for _ in range(n)]
    # (due time, stream, piece index), in time order
    start = time.monotonic() + 0.2
    events = []
    for i, pcm in enumerate(audio):
        t0 = start + i * piece_s / n
        pieces = [pcm[k:k + step] for k in range(0, len(pcm), step)]
        for k, piece in enumerate(pieces):
            due = t0 + (k + 1) * len(piece) / 16000 if k < len(pieces) - 1 else t0 + len(pcm) / 16000
            events.append((due, i, piece, k == len(pieces) - 1))
    events.sort(key=lambda e: e[0])
    chunk_lat, final_lat, batches = [], [], []
    array_type = ctypes.c_void_p * n
    pos = 0
    while pos < len(events):
        time.sleep(max(0.0, events[pos][0] - time.monotonic()))
        now = time.monotonic()
        fed = []
        while pos < len(events) and events[pos][0] <= now:
            due, i, piece, last = events[pos]
            p = np.ascontiguousarray(piece, dtype=np.int16)
            api.check(lib.moeasr_stream_accept_waveform_int16(
                streams[i], p.ctypes.data_as(ctypes.POINTER(ctypes.c_int16)), ctypes.c_size_t(len(p)), 16000))
            if last:
                api.check(lib.moeasr_stream_input_finished(streams[i]))
            fed.append((due, i, last))
            pos += 1
        # A stream that fell behind has several pieces due: it is decoded once, for all of them.
        unique = list(dict.fromkeys(i for _, i, _ in fed))
        batch = array_type(*[streams[i].value for i in unique])
        api.check(lib.moeasr_decode_streams(api.model, batch, ctypes.c_size_t(len(unique))))
        done = time.monotonic()
        batches.append(len(unique))
        for due, _, last in fed:
            (final_lat if last else chunk_lat).append(done - due)
    for s in streams:
        lib.moeasr_stream_free(s)
    return chunk_lat, final_lat, float(np.mean(batches))


def find_capacity(trial, piece_s, max_streams, log):
    """Largest N whose p95 chunk latency stays under the piece duration."""
    def ok(n):
        chunk, final, batch = trial(n)
        row = {"streams": n, **percentiles(chunk), "final_p50_ms": percentiles(final)["p50_ms"],
               "mean_batch": round(batch, 2)}
        row["keeps_up"] = row["p95_ms"] < piece_s * 1e3
        log(row)
        return row["keeps_up"]

    good, bad, n = 0, None, 1
    while n <= max_streams:
        if ok(n):
            good, n = n, n * 2
        else:
            bad = n
            break
    if bad is None:
        return good
    while bad - good > 1 and bad - good > good // 8:  # bisect to within 1/8
        mid = (good + bad) // 2
        if ok(mid):
            good = mid
        else:
            bad = mid
    return good


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tritonserver", required=True)
    ap.add_argument("--backends", required=True, help="directory holding moeasr/libtriton_moeasr.so")
    ap.add_argument("--lib", required=True, help="libmoeasr.so of the same build (in-process runs)")
    ap.add_argument("--model-dir", required=True, type=Path)
    ap.add_argument("--seconds", type=float, default=20.0, help="audio per stream and trial")
    ap.add_argument("--piece-ms", type=int, default=640)
    ap.add_argument("--max-streams", type=int, default=64)
    ap.add_argument("--modes", default="triton,in-process")
    ap.add_argument("--label", default="", help="a name for the model in the output")
    ap.add_argument("--out", type=Path, help="also append the JSON lines here")
    args = ap.parse_args()
    piece_s = args.piece_ms / 1000.0
    label = args.label or args.model_dir.name

    def log(row):
        line = json.dumps({"model": label, **row})
        print(line, flush=True)
        if args.out:
            with open(args.out, "a") as f:
                f.write(line + "\n")

    summary = {}
    if "in-process" in args.modes:
        api = CApi(args.lib, args.model_dir)  # the model's defaults: 1 thread, as the served config
        run_in_process(api, make_audio(3, 2), piece_s)  # warm-up (first-touch of the weights), not reported
        summary["in_process_capacity"] = find_capacity(
            lambda n: run_in_process(api, make_audio(args.seconds, n), piece_s), piece_s, args.max_streams,
            lambda r: log({"mode": "in-process", **r}))
    if "triton" in args.modes:
        with tempfile.TemporaryDirectory(prefix="moeasr-load-") as tmp:
            repo = Path(tmp) / "repo"
            triton_client.write_model_config(
                repo, "stream", ROOT / "serving/triton/model_repository/moeasr_streaming/config.pbtxt",
                args.model_dir, {"max_batch_size: 32": f"max_batch_size: {max(32, args.max_streams)}"})
            with triton_client.LocalServer(args.tritonserver, args.backends, repo, ["stream"],
                                           Path(tmp) / "server.log") as server:
                run_triton(server.url, "stream", make_audio(3, 2), piece_s)  # warm-up, not reported
                summary["triton_capacity"] = find_capacity(
                    lambda n: run_triton(server.url, "stream", make_audio(args.seconds, n), piece_s), piece_s,
                    args.max_streams, lambda r: log({"mode": "triton", **r}))
    if "triton_capacity" in summary and summary.get("in_process_capacity"):
        summary["triton_over_in_process"] = round(summary["triton_capacity"] / summary["in_process_capacity"], 2)
    log({"summary": summary, "piece_ms": args.piece_ms, "seconds": args.seconds})


if __name__ == "__main__":
    main()
