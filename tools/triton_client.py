#!/usr/bin/env python3
"""Stream WAV files to a moeasr model served by Triton, as a microphone would.

    tools/triton_client.py [--url localhost:8001] [--model moeasr_streaming]
                           [--piece-ms 100] [--realtime] a.wav [b.wav ...]

Each file is one sequence: its 16-bit PCM samples go to the server in pieces of
--piece-ms milliseconds (START with the first, END with the last), over gRPC.
A model without a sequence batcher (moeasr_offline) gets each file whole.
Prints each partial result as it comes back, and the final (rescored) result
as moeasr-decode prints it (one JSON line). --realtime sends the pieces at the
pace of the audio. Needs `pip install tritonclient[grpc] numpy`
(scripts/serve.sh installs them in its virtual environment).

Also a module for tests/serving and tools/triton_load.py: stream_sequence(),
and LocalServer, a tritonserver on localhost for a model repository.
"""

import argparse
import json
import signal
import socket
import subprocess
import sys
import time
import wave
from pathlib import Path

import numpy as np

OUTPUTS = ("TEXT", "ENDPOINT", "IS_FINAL", "RESULT_JSON")


def read_wav(path):
    """16-bit PCM mono samples and the rate of a WAV file."""
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2:
            raise ValueError(f"{path}: expected 16-bit PCM")
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        if w.getnchannels() > 1:
            pcm = pcm.reshape(-1, w.getnchannels())[:, 0]
        return pcm.astype(np.int16), w.getframerate()


def infer_piece(client, model, sequence_id, piece, start, end, sample_rate=None, outputs=OUTPUTS):
    """Sends one piece (int16 or float32 numpy array) of a sequence; returns the outputs as a dict."""
    import tritonclient.grpc as grpcclient

    name, dtype = ("WAV_INT16", "INT16") if piece.dtype == np.int16 else ("WAV", "FP32")
    if piece.dtype not in (np.int16, np.float32):
        name, dtype = "WAV", {np.dtype("float64"): "FP64"}.get(piece.dtype, "FP32")
    inputs = [grpcclient.InferInput(name, [1, len(piece)], dtype)]
    inputs[0].set_data_from_numpy(piece.reshape(1, -1))
    if sample_rate is not None:
        rate = grpcclient.InferInput("SAMPLE_RATE", [1, 1], "INT32")
        rate.set_data_from_numpy(np.array([[sample_rate]], dtype=np.int32))
        inputs.append(rate)
    result = client.infer(model, inputs, outputs=[grpcclient.InferRequestedOutput(o) for o in outputs],
                          sequence_id=sequence_id, sequence_start=start, sequence_end=end)
    out = {}
    for o in outputs:
        value = result.as_numpy(o).reshape(-1)
        out[o] = value[0].decode() if value.dtype == object else (bool(value[0]) if o in ("ENDPOINT", "IS_FINAL") else value)
    return out


def stream_sequence(client, model, sequence_id, samples, sample_rate=16000, piece_ms=100, realtime=False,
                    on_partial=None, latencies=None):
    """Streams `samples` as one sequence; returns the final result (dict from RESULT_JSON).

    on_partial(outputs) is called with every partial response; latencies, a list,
    gets each request's round-trip seconds."""
    step = max(1, sample_rate * piece_ms // 1000)
    pieces = [samples[i:i + step] for i in range(0, len(samples), step)] or [samples[:0]]
    t0 = time.monotonic()
    for k, piece in enumerate(pieces):
        if realtime:  # a microphone has this piece only once its audio has been spoken
            due = t0 + (k + 1) * step / sample_rate
            time.sleep(max(0.0, due - time.monotonic()))
        sent = time.monotonic()
        out = infer_piece(client, model, sequence_id, piece, k == 0, k == len(pieces) - 1, sample_rate)
        if latencies is not None:
            latencies.append(time.monotonic() - sent)
        if k < len(pieces) - 1:
            if on_partial:
                on_partial(out)
        else:
            return json.loads(out["RESULT_JSON"])


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_model_config(repo, name, template, model_dir, replace=None):
    """A model `name` in `repo` from one of serving/triton/model_repository's
    config.pbtxt, serving `model_dir`; `replace` maps config text to new text."""
    config = Path(template).read_text()
    config = config.replace('name: "moeasr_streaming"', f'name: "{name}"').replace(
        'name: "moeasr_offline"', f'name: "{name}"')
    config = config.replace('"../../../../models/en_moe_small"', json.dumps(str(Path(model_dir).resolve())))
    for old, new in (replace or {}).items():
        if old not in config:
            raise ValueError(f"{template}: no {old!r} to replace")
        config = config.replace(old, new)
    (Path(repo) / name / "1").mkdir(parents=True, exist_ok=True)
    (Path(repo) / name / "config.pbtxt").write_text(config)


def _die_with_parent():
    """In the server's process before exec: SIGTERM when the process that started
    it dies, so a test killed by a timeout leaves no server behind (Linux)."""
    import ctypes

    PR_SET_PDEATHSIG = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class LocalServer:
    """tritonserver on 127.0.0.1 (free ports, explicit model control) for `repo`,
    loading `models`; a context manager that stops it (SIGTERM, then kill)."""

    def __init__(self, tritonserver, backends, repo, models, log_path, timeout_s=120):
        self.grpc_port, http_port, metrics_port = free_port(), free_port(), free_port()
        self.url = f"127.0.0.1:{self.grpc_port}"
        self.metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
        self.log_path = Path(log_path)
        self._log = open(self.log_path, "w")
        args = [str(tritonserver), f"--model-repository={repo}", f"--backend-directory={backends}",
                "--model-control-mode=explicit", "--grpc-address=127.0.0.1", f"--grpc-port={self.grpc_port}",
                "--http-address=127.0.0.1", f"--http-port={http_port}", "--metrics-address=127.0.0.1",
                f"--metrics-port={metrics_port}", "--exit-timeout-secs=5"] + [f"--load-model={m}" for m in models]
        self.process = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT,
                                        preexec_fn=_die_with_parent)
        import tritonclient.grpc as grpcclient
        from tritonclient.utils import InferenceServerException

        client = grpcclient.InferenceServerClient(self.url)
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                if client.is_server_ready() and all(client.is_model_ready(m) for m in models):
                    return
            except InferenceServerException:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("tritonserver did not start:\n" + self.log_path.read_text()[-4000:])
            time.sleep(0.2)

    def metric(self, name, model):
        """The value of Prometheus metric `name` for label model="`model`" (None if absent)."""
        import urllib.request

        text = urllib.request.urlopen(self.metrics_url, timeout=10).read().decode()
        prefix = f'{name}{{model="{model}"}} '
        for line in text.splitlines():
            if line.startswith(prefix):
                return float(line[len(prefix):])
        return None

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", default="localhost:8001", help="Triton's gRPC address")
    ap.add_argument("--model", default="moeasr_streaming")
    ap.add_argument("--piece-ms", type=int, default=100)
    ap.add_argument("--realtime", action="store_true", help="send at the pace of the audio")
    ap.add_argument("wavs", nargs="+")
    args = ap.parse_args()
    import tritonclient.grpc as grpcclient

    client = grpcclient.InferenceServerClient(args.url)
    streaming = "sequence_batching" in client.get_model_config(args.model, as_json=True)["config"]
    status = 0
    for i, path in enumerate(args.wavs):
        try:
            samples, rate = read_wav(path)

            def show(out):
                print(f"  partial: {out['TEXT']}" + ("  [endpoint]" if out["ENDPOINT"] else ""), file=sys.stderr)

            if streaming:
                final = stream_sequence(client, args.model, 1000 + i, samples, rate, args.piece_ms, args.realtime,
                                        show)
            else:
                final = json.loads(infer_piece(client, args.model, 0, samples, False, False, rate)["RESULT_JSON"])
            final["key"] = path
            print(json.dumps(final, ensure_ascii=False), flush=True)
        except Exception as e:  # one bad file does not stop the others
            print(json.dumps({"key": path, "error": str(e)}), flush=True)
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
