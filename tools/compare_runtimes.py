#!/usr/bin/env python3
"""moeasr against what users run today: PyTorch and onnxruntime, same model, same audio.

    python3 tools/compare_runtimes.py --model tests/data/models/dense_bn \\
        [--wav a.wav] [--chunk-size 16] [--repeat 3] [--moeasr-bench build/bench/moeasr-bench] [--json]
    python3 tools/compare_runtimes.py --config configs/NAME.yaml --random-weights [...]

In one go, on this machine, at 1 thread, streaming with --chunk-size and all left
context, on the same audio:

  moeasr       moeasr-bench --json (end-to-end RTF; encoder + CTC head time by stage)
  pytorch      the reference (tools/moeasr_ref) with the same weights: fbank, then chunk
               by chunk forward_chunk with att/cnn caches and the CTC log-softmax, then
               CTC prefix beam search and attention rescoring (torch.set_num_threads(1),
               inference_mode)
  onnxruntime  an ONNX export of the same model made from the reference, as WeNet's
               wenet/bin/export_onnx_cpu.py does: encoder.onnx is the chunk step
               (chunk, offset, att_cache, cnn_cache -> output, r_att_cache, r_cnn_cache),
               ctc.onnx the CTC head, decoder_l2r.onnx / decoder_r2l.onnx score one
               hypothesis for rescoring; sessions with intra_op_num_threads=1

Each of --repeat rounds times every runtime once, in turn, so that a change of load
on the machine hits all of them alike; medians over the rounds are reported. It
prints the RTF of each and how many times faster moeasr is, end to end and for the
encoder + CTC head alone (the fair number: the Python beam search and the Python loop
around the rescoring decoder dominate the end-to-end time of both Python runtimes).
It then checks that the three agree on the same features (moeasr's own fbank, dumped
by moeasr-decode): encoder output and CTC log-probs within --tolerance, same CTC best
path, same final hypothesis.

torch, torchaudio, onnx and onnxruntime come from PyPI, never from the system: on the
first run the script creates a virtualenv in .venv-compare/ (git-ignored) with
`python3 -m venv`, pip-installs them there, and re-executes itself inside it.
Run by hand, not in CI; the numbers are only as good as the machine is quiet.
"""

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

TOOLS = Path(__file__).resolve().parent
ROOT = TOOLS.parent
DEFAULT_VENV = ROOT / ".venv-compare"
# torchaudio: the reference's front end is torchaudio's Kaldi fbank, as in WeNet. Its
# last release may be older than torch's, and torchaudio refuses to load with a torch
# built differently, so torch is pinned to the torchaudio version pip picked.
PACKAGES = ["torchaudio", "onnx", "onnxruntime", "numpy", "pyyaml"]
INSTALLED_MARKER = ".moeasr-compare-installed"
IN_VENV_ENV = "MOEASR_COMPARE_IN_VENV"
ENCODER_STAGES = ("subsampling", "attention", "conv_module", "ffn_moe", "encoder_other", "ctc_head")


def fail(message):
    print(f"compare_runtimes: {message}", file=sys.stderr)
    sys.exit(1)


def log(message):
    print(f"[compare] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# The virtualenv with PyPI's torch and onnxruntime
# ---------------------------------------------------------------------------

def ensure_venv(venv):
    """Create the venv and install PACKAGES once, then re-execute this script in it."""
    venv = Path(venv).resolve()
    if os.environ.get(IN_VENV_ENV) == "1" and Path(sys.prefix).resolve() == venv:
        return
    python = venv / "bin" / "python"
    marker = venv / INSTALLED_MARKER
    wanted = " ".join(PACKAGES + ["torch"])
    if not marker.exists() or marker.read_text().strip() != wanted:
        if not python.exists():
            log(f"creating the virtualenv {venv} (once)")
            r = subprocess.run([sys.executable, "-m", "venv", str(venv)])
            if r.returncode != 0:
                fail(f"`{sys.executable} -m venv {venv}` failed; on Debian install python3-venv")

        def pip(*what):
            log(f"pip install {' '.join(what)} from PyPI into {venv} (once; torch is large)")
            if subprocess.run([str(python), "-m", "pip", "install", *what]).returncode != 0:
                fail(f"could not install {' '.join(what)} from PyPI into {venv} (see pip's "
                     f"output above); fix the cause, or remove {venv} and run again")

        # torchaudio alone first (its only dependency is torch, which would pull the
        # newest torch), then the torch of its release series with everything else.
        # The series, not the exact version: a torchaudio bug-fix release (2.11.1)
        # need not have a torch of the same number, and newer torchaudios only ask
        # for torch>=X.
        pip("--upgrade", "--no-deps", "torchaudio")
        r = subprocess.run([str(python), "-c", "import importlib.metadata as m; "
                            "print(m.version('torchaudio'))"], capture_output=True, text=True)
        if r.returncode != 0:
            fail(f"torchaudio is not installed in {venv}: {r.stderr.strip()}")
        major_minor = ".".join(r.stdout.strip().split("+")[0].split(".")[:2])
        pip("--upgrade", f"torch=={major_minor}.*",
            *[p for p in PACKAGES if p != "torchaudio"])
        # torchaudio's C++ library loads only with the torch it was built against:
        # now take the torchaudio of exactly the torch that pip picked.
        r = subprocess.run([str(python), "-c", "import importlib.metadata as m; "
                            "print(m.version('torch'))"], capture_output=True, text=True)
        if r.returncode != 0:
            fail(f"torch is not installed in {venv}: {r.stderr.strip()}")
        pip("--no-deps", f"torchaudio=={r.stdout.strip().split('+')[0]}")
        marker.write_text(wanted + "\n")
    env = dict(os.environ, **{IN_VENV_ENV: "1"})
    os.execve(str(python), [str(python), str(Path(__file__).resolve()), *sys.argv[1:]], env)


# ---------------------------------------------------------------------------
# Audio and model
# ---------------------------------------------------------------------------

def read_wav(path):
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2 or w.getnchannels() != 1:
            fail(f"{path}: expected a mono 16-bit PCM WAV")
        return w.readframes(w.getnframes()), w.getframerate()


def default_audio(out_path, seconds):
    """The fixture utterances back to back (0.3 s of silence between) until `seconds`."""
    pieces, rate = [], None
    for name in ("hello.wav", "numbers.wav"):
        data, r = read_wav(ROOT / "tests" / "data" / "audio" / name)
        if rate not in (None, r):
            fail("fixture WAVs have different rates")
        rate = r
        pieces.append(data)
    gap = b"\0\0" * int(0.3 * rate)
    out, i = b"", 0
    while len(out) < seconds * rate * 2:
        out += pieces[i % len(pieces)] + gap
        i += 1
    with wave.open(str(out_path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(out)


def load_units(model_dir):
    units = {}
    path = Path(model_dir) / "units.txt"
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            parts = line.split()
            if len(parts) == 2:
                units[int(parts[1])] = parts[0]
    return units


def detokenize(tokens, units):
    return "".join(units.get(t, f"<{t}>") for t in tokens).replace("\u2581", " ").strip()


def load_reference(model_dir):
    import numpy as np
    import torch

    sys.path.insert(0, str(TOOLS))
    import moeasr_ref
    import safetensors_io

    config = moeasr_ref.load_config(Path(model_dir) / "train.yaml")
    weights = Path(model_dir) / "model.safetensors"
    tensors, _ = safetensors_io.load(weights)
    header = safetensors_io.read_header(weights)[0]
    state = {}
    for name, array in tensors.items():
        if header[name]["dtype"] == "BF16":  # uint16 bits: the high half of a float32
            array = (array.astype(np.uint32) << 16).view(np.float32)
        elif array.dtype == np.float16:
            array = array.astype(np.float32)
        state[name] = torch.from_numpy(np.ascontiguousarray(array))
    return moeasr_ref.load_model(config, state), config


def write_random_model(config_path, out_dir, seed):
    """A model directory with seeded random weights for a WeNet-style train.yaml, built
    by the reference (torch's default initialisation), for timing model shapes that have
    no trained weights. CMVN stays identity, BatchNorm statistics (0, 1)."""
    import torch

    sys.path.insert(0, str(TOOLS))
    import moeasr_ref
    import safetensors_io

    config = moeasr_ref.load_config(config_path)
    torch.manual_seed(seed)
    model = moeasr_ref.ASRModel(config)
    state = {k: v.detach().contiguous().numpy() for k, v in model.state_dict().items()
             if not k.endswith((".pe", ".num_batches_tracked"))}
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True)
    shutil.copyfile(config_path, out_dir / "train.yaml")
    safetensors_io.save(out_dir / "model.safetensors", state,
                        {"format": "pt", "moeasr_format_version": "1", "source": "random"})
    vocab = config["output_dim"]
    units = ["<blank> 0", "<unk> 1"] + [f"t{i} {i}" for i in range(2, vocab - 1)]
    (out_dir / "units.txt").write_text("\n".join(units + [f"<sos/eos> {vocab - 1}"]) + "\n")
    return out_dir


# ---------------------------------------------------------------------------
# (a) moeasr
# ---------------------------------------------------------------------------

def find_binary(given, candidates, what):
    if given:
        p = Path(given)
        if not p.is_file():
            fail(f"{what} not found at {given}")
        return p.resolve()
    for c in candidates:
        if c.is_file():
            return c.resolve()
    fail(f"no {what} under build*/ ; build it (cmake -S . -B build -G Ninja && ninja -C build "
         f"moeasr-bench moeasr-decode) or pass its path")


def moeasr_round(args, bench, wav):
    """One moeasr-bench process: --warmup untimed runs, then one timed run.
    Returns (seconds by stage of that run, audio seconds, the command, peak RSS)."""
    cmd = [str(bench), "--model", str(args.model), "--wav", str(wav),
           "--chunk-size", str(args.chunk_size), "--left-chunks", "-1", "--threads", "1",
           "--mode", args.mode, "--warmup", str(args.warmup), "--repeat", "1",
           "--no-probe", "--json"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"moeasr-bench failed ({r.returncode}): {r.stderr.strip()}")
    result = json.loads(r.stdout)["result"]
    stages = dict(result["stages_seconds"])
    stages["encoder_ctc"] = sum(stages.get(k, 0.0) for k in ENCODER_STAGES)
    return stages, result["audio_seconds_per_run"], "moeasr-bench " + " ".join(cmd[1:]), \
        result.get("peak_rss_mb")


def moeasr_outputs(args, decode_bin, wav, dump_dir):
    """moeasr-decode's result and its dumped fbank / encoder output / CTC log-probs."""
    import numpy as np

    cmd = [str(decode_bin), "--model", str(args.model), "--wav", str(wav),
           "--chunk-size", str(args.chunk_size), "--left-chunks", "-1", "--threads", "1",
           "--mode", args.mode, "--nbest", str(args.beam), "--ctc-weight", str(args.ctc_weight),
           "--reverse-weight", str(args.reverse_weight), "--dump-dir", str(dump_dir)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"moeasr-decode failed ({r.returncode}): {r.stderr.strip()}")
    line = json.loads(r.stdout.strip().splitlines()[-1])

    def one(suffix):
        found = sorted(Path(dump_dir).glob(f"*.{suffix}.npy"))
        if len(found) != 1:
            fail(f"moeasr-decode --dump-dir wrote {len(found)} *.{suffix}.npy files")
        return np.load(found[0])

    return line, one("fbank"), one("encoder_out"), one("ctc_logprobs")


# ---------------------------------------------------------------------------
# (b) PyTorch reference and (c) onnxruntime: one streaming decoder, two backends
# ---------------------------------------------------------------------------

def chunk_windows(num_frames, chunk_size):
    """(start, end) fbank windows exactly as WeNet's forward_chunk_by_chunk."""
    sub, context = 4, 7  # Conv2dSubsampling4: 4x, 7 input frames per output frame
    stride, window = sub * chunk_size, (chunk_size - 1) * sub + context
    if num_frames < context:
        fail(f"the audio gives {num_frames} fbank frames, fewer than {context}")
    return [(cur, min(cur + window, num_frames))
            for cur in range(0, num_frames - context + 1, stride)]


class TorchBackend:
    name = "pytorch"

    def __init__(self, model):
        self.model = model

    def encoder_ctc(self, feats, chunk_size):
        """Chunk by chunk with caches; returns (encoder_out, ctc_logprobs) as torch tensors."""
        import torch

        enc = self.model.encoder
        att_cache = cnn_cache = None
        offset = 0
        outs, logps = [], []
        x = feats.unsqueeze(0)
        for start, end in chunk_windows(feats.size(0), chunk_size):
            y, att_cache, cnn_cache = enc.forward_chunk(x[:, start:end], offset, -1,
                                                        att_cache, cnn_cache)
            offset += y.size(1)
            outs.append(y[0])
            logps.append(self.model.ctc.log_softmax(y)[0])
        return torch.cat(outs), torch.cat(logps)

    def rescoring_model(self):
        return self.model


class OrtBackend:
    """WeNet-style exported chunk step: encoder.onnx + ctc.onnx (+ decoders) in onnxruntime."""

    name = "onnxruntime"

    def __init__(self, model, onnx_dir, opset):
        import onnxruntime as ort

        self.model = model
        self.paths = export_onnx(model, onnx_dir, opset)
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL

        def session(path):
            return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

        self.encoder = session(self.paths["encoder"])
        self.ctc = session(self.paths["ctc"])
        self.decoders = {k: session(self.paths[k]) for k in ("decoder_l2r", "decoder_r2l")
                         if k in self.paths}
        self.encoder_inputs = {i.name for i in self.encoder.get_inputs()}
        enc = model.encoder
        self.layers = len(enc.encoders)
        attn = enc.encoders[0].self_attn
        self.heads, self.d_k = attn.h, attn.d_k
        conv = enc.encoders[0].conv_module
        self.cnn_shape = ((self.layers, 1, conv.pointwise_conv1.in_channels, conv.lorder)
                          if conv is not None and conv.lorder > 0 else None)

    def encoder_ctc(self, feats, chunk_size):
        import numpy as np
        import torch

        x = feats.numpy()[None]
        att_cache = np.zeros((self.layers, self.heads, 0, 2 * self.d_k), np.float32)
        cnn_cache = np.zeros(self.cnn_shape, np.float32) if self.cnn_shape else None
        offset = 0
        outs, logps = [], []
        for start, end in chunk_windows(feats.size(0), chunk_size):
            inputs = {"chunk": np.ascontiguousarray(x[:, start:end]),
                      "offset": np.array(offset, np.int64), "att_cache": att_cache}
            if "cnn_cache" in self.encoder_inputs:
                inputs["cnn_cache"] = cnn_cache
            result = self.encoder.run(None, inputs)
            y, att_cache = result[0], result[1]
            if len(result) > 2:
                cnn_cache = result[2]
            (logp,) = self.ctc.run(None, {"hidden": y})
            offset += y.shape[1]
            outs.append(y[0])
            logps.append(logp[0])
        return torch.from_numpy(np.concatenate(outs)), torch.from_numpy(np.concatenate(logps))

    def rescoring_model(self):
        return _OrtRescorer(self)


class _OrtRescorer:
    """What moeasr_ref.attention_rescoring needs of a model, answered by onnxruntime."""

    def __init__(self, backend):
        self.backend = backend
        self.eos = backend.model.eos
        self.has_right_decoder = "decoder_r2l" in backend.decoders

    def decoder_logprobs(self, tokens, encoder_out, reverse):
        import numpy as np
        import torch

        seq = list(reversed(tokens)) if reverse else list(tokens)
        ids = np.array([[self.backend.model.sos] + seq], np.int64)
        session = self.backend.decoders["decoder_r2l" if reverse else "decoder_l2r"]
        (logp,) = session.run(None, {"hyps": ids, "encoder_out": encoder_out.numpy()[None]})
        return torch.from_numpy(logp[0])


def decode_once(backend, samples, rate, args):
    """One utterance end to end; returns (result dict, seconds by stage)."""
    sys.path.insert(0, str(TOOLS))
    import moeasr_ref

    t0 = time.perf_counter()
    feats = moeasr_ref.fbank(samples, rate)
    t1 = time.perf_counter()
    encoder_out, logprobs = backend.encoder_ctc(feats, args.chunk_size)
    t2 = time.perf_counter()
    nbest = moeasr_ref.ctc_prefix_beam_search(logprobs, args.beam, backend.model.blank_id)
    t3 = time.perf_counter()
    best = nbest[0].tokens if nbest else []
    if args.mode == "rescore" and nbest:
        _, index = moeasr_ref.attention_rescoring(backend.rescoring_model(), encoder_out, nbest,
                                                  args.ctc_weight, args.reverse_weight)
        best = nbest[index].tokens
    t4 = time.perf_counter()
    stages = {"fbank": t1 - t0, "encoder_ctc": t2 - t1, "ctc_search": t3 - t2,
              "rescoring": t4 - t3, "total": t4 - t0}
    return {"tokens": best, "encoder_frames": int(encoder_out.size(0))}, stages


def backend_round(backend, samples, rate, args):
    """One timed end-to-end decode; returns (seconds by stage, final tokens)."""
    import torch

    with torch.inference_mode():
        result, stages = decode_once(backend, samples, rate, args)
    return stages, result["tokens"]


def summarize(runs, audio_seconds):
    """Median over the timed runs of each stage, and the RTFs from them."""
    stages = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    return {
        "rtf": statistics.median(r["total"] for r in runs) / audio_seconds,
        "rtf_runs": [r["total"] / audio_seconds for r in runs],
        "encoder_ctc_rtf": stages["encoder_ctc"] / audio_seconds,
        "encoder_ctc_rtf_runs": [r["encoder_ctc"] / audio_seconds for r in runs],
        "audio_seconds": audio_seconds,
        "stages_seconds_per_run": stages,
    }


def timed_rounds(args, bench, wav, backends, samples, rate, audio_seconds):
    """--repeat rounds, each timing every runtime once (moeasr, pytorch, onnxruntime in
    turn), so that a change of load on the machine hits all of them alike."""
    import torch

    for b in backends:
        for _ in range(args.warmup):
            with torch.inference_mode():
                decode_once(b, samples, rate, args)
    runs = {"moeasr": []}
    runs.update({b.name: [] for b in backends})
    tokens, command, rss = {}, None, None
    for i in range(args.repeat):
        stages, moeasr_audio, command, rss = moeasr_round(args, bench, wav)
        if abs(moeasr_audio - audio_seconds) > 0.01:
            fail(f"moeasr-bench decoded {moeasr_audio:.3f} s of audio, expected {audio_seconds:.3f}")
        runs["moeasr"].append(stages)
        for b in backends:
            stages, tokens[b.name] = backend_round(b, samples, rate, args)
            runs[b.name].append(stages)
        log(f"round {i + 1}/{args.repeat}: RTF end-to-end / encoder+CTC  " + "  ".join(
            f"{n} {r[-1]['total'] / audio_seconds:.4f} / {r[-1]['encoder_ctc'] / audio_seconds:.4f}"
            for n, r in runs.items()))
    out = {n: summarize(r, audio_seconds) for n, r in runs.items()}
    out["moeasr"]["command"] = command
    out["moeasr"]["peak_rss_mb"] = rss
    return out, tokens


# ---------------------------------------------------------------------------
# ONNX export (as WeNet's export_onnx_cpu.py, from the reference)
# ---------------------------------------------------------------------------

def _modules():
    import torch
    from torch import nn

    class EncoderChunk(nn.Module):
        """WeNet's encoder.forward_chunk with required_cache_size = -1 (keep all left
        context) and no attention mask: (chunk (1, T, 80), offset (int64 scalar),
        att_cache (L, h, T_cache, 2*d_k), cnn_cache (L, 1, d, K-1)) ->
        (output (1, T', d), r_att_cache, r_cnn_cache).

        The position rows are gathered with tensor ops from `offset` so that offset and
        T_cache stay dynamic in the graph. The first chunk passes a T_cache = 0
        att_cache and a zero cnn_cache (identical to the causal zero padding)."""

        def __init__(self, encoder, has_cnn_cache):
            super().__init__()
            self.encoder = encoder
            self.has_cnn_cache = has_cnn_cache

        def forward(self, chunk, offset, att_cache, cnn_cache=None):
            enc = self.encoder
            x = enc.global_cmvn(chunk) if enc.global_cmvn is not None else chunk
            x, _ = enc.embed(x, 0)
            cache_t = att_cache.size(2)
            positions = torch.arange(cache_t + x.size(1)) + (offset - cache_t)
            pos_emb = enc.embed.pos_enc.pe[0].index_select(0, positions).unsqueeze(0)
            new_att, new_cnn = [], []
            for i, layer in enumerate(enc.encoders):
                x, layer_att, layer_cnn = layer(
                    x, pos_emb, att_cache[i:i + 1],
                    cnn_cache[i] if self.has_cnn_cache else None)
                new_att.append(layer_att)
                if self.has_cnn_cache:
                    new_cnn.append(layer_cnn.unsqueeze(0))
            out = enc._finish(x)
            if self.has_cnn_cache:
                return out, torch.cat(new_att, dim=0), torch.cat(new_cnn, dim=0)
            return out, torch.cat(new_att, dim=0)

    class CtcHead(nn.Module):
        def __init__(self, ctc):
            super().__init__()
            self.ctc = ctc

        def forward(self, hidden):
            return self.ctc.log_softmax(hidden)

    class DecoderScore(nn.Module):
        """hyps (1, L) = [sos] + tokens, encoder_out (1, T, d) -> log-probs (1, L, vocab)."""

        def __init__(self, decoder):
            super().__init__()
            self.decoder = decoder

        def forward(self, hyps, encoder_out):
            return self.decoder(hyps, encoder_out)

    return EncoderChunk, CtcHead, DecoderScore


def _export(module, inputs, path, input_names, output_names, dynamic_axes, opset):
    import inspect

    import onnx
    import torch

    kwargs = dict(opset_version=opset, export_params=True, do_constant_folding=True,
                  input_names=input_names, output_names=output_names,
                  dynamic_axes=dynamic_axes)
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        kwargs["dynamo"] = False  # the TorchScript exporter, as WeNet uses
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TracerWarnings about python branches on shapes
        torch.onnx.export(module, inputs, str(path), **kwargs)
    # By path: a model over protobuf's 2 GB limit is written with external data, and
    # only the path form of the checker accepts it.
    onnx.checker.check_model(str(path))


def _moe_forward_for_export(self, x):
    """moeasr_ref's MoEFFNLayer.forward in ops that export with dynamic shapes: per
    expert, gather its tokens (NonZero, Gather), run it on them only, scatter-add the
    weighted result (ScatterElements add). Same math and the same expert-index order of
    accumulation; the reference's boolean-index form (`out[tokens] += ...`) traces into
    Reshapes fixed to the example's token counts."""
    import torch

    shape = x.size()
    x = x.reshape(-1, shape[-1])
    weights, chosen = self.route(x)
    k = chosen.size(1)
    flat_weights = weights.reshape(-1)
    out = torch.zeros_like(x)
    for e, expert in enumerate(self.experts):
        hit = torch.nonzero(chosen == e)  # (n_e, 2): token, slot
        tokens = hit[:, 0]
        w = flat_weights.index_select(0, tokens * k + hit[:, 1]).unsqueeze(1)
        y = w * expert(x.index_select(0, tokens))
        out = out.scatter_add(0, tokens.unsqueeze(1).expand(-1, shape[-1]), y)
    return out.view(shape)


class _ExportableMoE:
    """Within the block, every MoEFFNLayer of `model` runs _moe_forward_for_export."""

    def __init__(self, model):
        import types

        from moeasr_ref.ffn import MoEFFNLayer
        self.layers = [m for m in model.modules() if isinstance(m, MoEFFNLayer)]
        self.bound = [types.MethodType(_moe_forward_for_export, m) for m in self.layers]

    def __enter__(self):
        for layer, forward in zip(self.layers, self.bound):
            layer.forward = forward
        return len(self.layers)

    def __exit__(self, *exc):
        for layer in self.layers:
            del layer.forward


def export_onnx(model, out_dir, opset):
    with _ExportableMoE(model):
        return _export_onnx(model, out_dir, opset)


def _export_onnx(model, out_dir, opset):
    import torch

    EncoderChunk, CtcHead, DecoderScore = _modules()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    enc = model.encoder
    layers = len(enc.encoders)
    attn = enc.encoders[0].self_attn
    conv = enc.encoders[0].conv_module
    has_cnn_cache = conv is not None and conv.lorder > 0
    d = enc.after_norm.normalized_shape[0]
    paths = {}
    with torch.no_grad():
        # Traced with a non-empty cache so the concatenations are in the graph.
        chunk = torch.randn(1, 67, model.config["input_dim"])
        cache_t = 16
        att_cache = torch.randn(layers, attn.h, cache_t, 2 * attn.d_k)
        inputs = [chunk, torch.tensor(cache_t, dtype=torch.int64), att_cache]
        names = ["chunk", "offset", "att_cache"]
        outputs = ["output", "r_att_cache"]
        axes = {"chunk": {1: "T"}, "att_cache": {2: "T_CACHE"}, "output": {1: "T_OUT"},
                "r_att_cache": {2: "T_CACHE_OUT"}}
        if has_cnn_cache:
            inputs.append(torch.randn(layers, 1, conv.pointwise_conv1.in_channels, conv.lorder))
            names.append("cnn_cache")
            outputs.append("r_cnn_cache")
        paths["encoder"] = out_dir / "encoder.onnx"
        _export(EncoderChunk(enc, has_cnn_cache).eval(), tuple(inputs), paths["encoder"],
                names, outputs, axes, opset)

        paths["ctc"] = out_dir / "ctc.onnx"
        _export(CtcHead(model.ctc).eval(), (torch.randn(1, 16, d),), paths["ctc"],
                ["hidden"], ["ctc_logprobs"], {"hidden": {1: "T"}, "ctc_logprobs": {1: "T"}},
                opset)

        hyps = torch.tensor([[model.sos, 3, 4, 5]], dtype=torch.long)
        memory = torch.randn(1, 20, d)
        decoders = {}
        if model.decoder_kind == "bitransformer":
            decoders["decoder_l2r"] = model.decoder.left_decoder
            decoders["decoder_r2l"] = model.decoder.right_decoder
        else:
            decoders["decoder_l2r"] = model.decoder
        for key, decoder in decoders.items():
            paths[key] = out_dir / f"{key}.onnx"
            _export(DecoderScore(decoder).eval(), (hyps, memory), paths[key],
                    ["hyps", "encoder_out"], ["logprobs"],
                    {"hyps": {1: "L"}, "encoder_out": {1: "T"}, "logprobs": {1: "L"}}, opset)
    return paths


# ---------------------------------------------------------------------------
# Agreement on the same features
# ---------------------------------------------------------------------------

def greedy_path(logprobs, blank):
    path, prev = [], None
    for t in logprobs.argmax(-1).tolist():
        if t != prev and t != blank:
            path.append(t)
        prev = t
    return path


def agreement(args, model, backends, reference_outputs, final_tokens):
    """Encoder output / CTC log-probs of every pair on moeasr's fbank; greedy CTC paths
    and final hypotheses (each backend's own end-to-end decode) compared."""
    import numpy as np
    import torch

    _, m_fbank, m_enc, m_logp = reference_outputs
    feats = torch.from_numpy(np.ascontiguousarray(m_fbank, dtype=np.float32))
    outs = {"moeasr": (torch.from_numpy(m_enc), torch.from_numpy(m_logp))}
    with torch.inference_mode():
        for b in backends:
            outs[b.name] = b.encoder_ctc(feats, args.chunk_size)
    report = {"tolerance": args.tolerance, "pairs": {}, "ctc_greedy_paths_equal": None,
              "final_tokens_equal": None}
    names = list(outs)
    ok = True
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            a, b = outs[names[i]], outs[names[j]]
            if a[0].shape != b[0].shape:
                report["pairs"][f"{names[i]}~{names[j]}"] = {
                    "error": f"shapes {tuple(a[0].shape)} vs {tuple(b[0].shape)}"}
                ok = False
                continue
            enc_diff = (a[0] - b[0]).abs().max().item()
            logp_diff = (a[1] - b[1]).abs().max().item()
            pair_ok = enc_diff <= args.tolerance and logp_diff <= args.tolerance
            ok &= pair_ok
            report["pairs"][f"{names[i]}~{names[j]}"] = {
                "encoder_out_max_abs_diff": enc_diff, "ctc_logprobs_max_abs_diff": logp_diff,
                "within_tolerance": pair_ok}
    paths = {n: greedy_path(o[1], model.blank_id) for n, o in outs.items()}
    report["ctc_greedy_paths_equal"] = len({tuple(p) for p in paths.values()}) == 1
    report["final_tokens"] = final_tokens
    report["final_tokens_equal"] = len({tuple(t) for t in final_tokens.values()}) == 1
    report["ok"] = bool(ok and report["ctc_greedy_paths_equal"] and report["final_tokens_equal"])
    return report


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------

def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", help="model directory")
    source.add_argument("--config", help="WeNet-style train.yaml (with --random-weights): "
                        "time that shape with seeded random weights")
    p.add_argument("--random-weights", action="store_true",
                   help="required with --config; the model directory is written to a "
                        "temporary directory")
    p.add_argument("--seed", type=int, default=1, help="random weights seed (1)")
    p.add_argument("--wav", help="mono 16-bit WAV at the model rate (default: the fixture "
                   "utterances repeated to --audio-seconds)")
    p.add_argument("--audio-seconds", type=float, default=10.0,
                   help="length of the default audio (default 10)")
    p.add_argument("--chunk-size", type=int, default=16, help="encoder frames per chunk (16)")
    p.add_argument("--repeat", type=int, default=3,
                   help="timed rounds, each runtime once per round, medians reported (3)")
    p.add_argument("--warmup", type=int, default=1,
                   help="untimed runs first, in each moeasr-bench process and each Python "
                        "runtime (1)")
    p.add_argument("--mode", choices=("rescore", "ctc"), default="rescore",
                   help="end-to-end decoding: attention rescoring (default, as moeasr-bench) "
                        "or CTC prefix beam search only")
    p.add_argument("--beam", type=int, default=10, help="CTC beam / n-best (10, as moeasr)")
    p.add_argument("--ctc-weight", type=float, default=0.5)
    p.add_argument("--reverse-weight", type=float, default=0.0)
    p.add_argument("--moeasr-bench", help="path of moeasr-bench (default: build*/bench/)")
    p.add_argument("--moeasr-decode", help="path of moeasr-decode (default: next to the "
                   "bench, build*/src/cli/)")
    p.add_argument("--no-onnx", action="store_true", help="skip onnxruntime")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset (17)")
    p.add_argument("--onnx-dir", help="keep the exported ONNX files here (default: a "
                   "temporary directory)")
    p.add_argument("--tolerance", type=float, default=1e-3,
                   help="max abs difference allowed in the agreement check (1e-3)")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("--venv", default=str(DEFAULT_VENV),
                   help="virtualenv for PyPI's torch/onnxruntime (default .venv-compare/)")
    p.add_argument("--no-venv", action="store_true",
                   help="use the running Python as is (it must have torch, torchaudio, onnx, "
                        "onnxruntime)")
    args = p.parse_args()
    if args.config and not args.random_weights:
        p.error("--config needs --random-weights")
    if args.chunk_size <= 0:
        p.error("--chunk-size must be positive (this compares streaming decoders)")
    if args.repeat < 1 or args.warmup < 0:
        p.error("bad --repeat/--warmup")
    return args


def speedup(other, moeasr, key):
    if other is None or "error" in other or not moeasr.get(key):
        return None
    return other[key] / moeasr[key]


def print_report(report):
    r = report["runtimes"]
    print(f"model {report['model']}  audio {report['audio_seconds']:.2f} s  chunk "
          f"{report['chunk_size']}  1 thread  mode {report['mode']}  median of "
          f"{report['repeat']} interleaved rounds")
    print(f"  torch {report['versions'].get('torch')}  onnxruntime "
          f"{report['versions'].get('onnxruntime')}  onnx {report['versions'].get('onnx')}")
    print(f"  {'runtime':<12} {'RTF end-to-end':>15} {'RTF encoder+CTC':>16}   "
          f"{'moeasr faster by':>17}")
    for name in ("moeasr", "pytorch", "onnxruntime"):
        x = r.get(name)
        if x is None:
            continue
        if "error" in x:
            print(f"  {name:<12} failed: {x['error']}")
            continue
        if name == "moeasr":
            ratio = ""
        else:
            s = report["speedup"][f"vs_{name}"]
            ratio = f"{s['end_to_end']:6.2f}x / {s['encoder_ctc']:6.2f}x"
        print(f"  {name:<12} {x['rtf']:15.4f} {x['encoder_ctc_rtf']:16.4f}   {ratio:>17}")
    print("  (ratios: RTF of that runtime / RTF of moeasr, end-to-end / encoder+CTC head)")
    for name in ("pytorch", "onnxruntime"):
        x = r.get(name)
        if x and "error" not in x:
            s = x["stages_seconds_per_run"]
            print(f"  {name} seconds per run: " + ", ".join(
                f"{k} {v:.3f}" for k, v in s.items()))
    s = r["moeasr"]["stages_seconds_per_run"]
    order = ["fbank", *ENCODER_STAGES, "ctc_search", "rescoring", "total"]
    keys = [k for k in order if k in s] + [k for k in s if k not in order]
    print("  moeasr seconds per run: " + ", ".join(f"{k} {s[k]:.3f}" for k in keys))
    a = report.get("agreement")
    if a:
        print(f"agreement on moeasr's fbank (tolerance {a['tolerance']:g}):")
        for pair, v in a["pairs"].items():
            if "error" in v:
                print(f"  {pair:<26} {v['error']}")
            else:
                print(f"  {pair:<26} encoder out max |diff| {v['encoder_out_max_abs_diff']:.2e}"
                      f"  CTC log-probs {v['ctc_logprobs_max_abs_diff']:.2e}"
                      f"  {'ok' if v['within_tolerance'] else 'TOO FAR'}")
        print(f"  CTC greedy paths identical: {a['ctc_greedy_paths_equal']}")
        print(f"  final hypotheses identical: {a['final_tokens_equal']}")
        for k, v in a["final_tokens"].items():
            print(f"    {k:<12} {len(v):3d} tokens  {a['final_text'][k][:60]!r}")
        print(f"  agreement: {'OK' if a['ok'] else 'FAILED'}")


def main():
    args = parse_args()
    if not args.no_venv:
        ensure_venv(args.venv)
    try:
        import numpy as np  # noqa: F401
        import torch
        import torchaudio  # noqa: F401
    except Exception as e:  # noqa: BLE001 - ImportError, or torchaudio refusing its torch
        fail(f"cannot import torch/torchaudio: {e}\n(without --no-venv the script installs "
             f"matching ones from PyPI into {args.venv}; remove it to start over)")
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    if args.model:
        args.model = Path(args.model).resolve()
        if not (args.model / "model.safetensors").is_file():
            fail(f"{args.model} is not a model directory (no model.safetensors)")
    build_dirs = sorted(ROOT.glob("build*"))
    bench = find_binary(args.moeasr_bench,
                        [d / "bench" / "moeasr-bench" for d in build_dirs], "moeasr-bench")
    decode_bin = find_binary(args.moeasr_decode,
                             [bench.parent.parent / "src" / "cli" / "moeasr-decode"]
                             + [d / "src" / "cli" / "moeasr-decode" for d in build_dirs],
                             "moeasr-decode")

    with tempfile.TemporaryDirectory(prefix="moeasr-compare-") as tmp:
        tmp = Path(tmp)
        if args.config:
            log(f"writing random weights for {args.config} (seed {args.seed})")
            args.model = write_random_model(Path(args.config), tmp / "model", args.seed)
        if args.wav:
            wav = Path(args.wav).resolve()
        else:
            wav = tmp / "audio.wav"
            default_audio(wav, args.audio_seconds)
        data, rate = read_wav(wav)
        samples = np.frombuffer(data, dtype="<i2").astype(np.float32)
        audio_seconds = len(samples) / rate

        model, config = load_reference(args.model)
        units = load_units(args.model)
        versions = {"python": platform.python_version(), "torch": torch.__version__}

        # (b) PyTorch, (c) onnxruntime
        backends = [TorchBackend(model)]
        failures = {}
        if not args.no_onnx:
            try:
                import onnx
                import onnxruntime
                versions["onnx"] = onnx.__version__
                versions["onnxruntime"] = onnxruntime.__version__
                onnx_dir = Path(args.onnx_dir) if args.onnx_dir else tmp / "onnx"
                log(f"exporting ONNX (opset {args.opset}) to {onnx_dir}")
                backend = OrtBackend(model, onnx_dir, args.opset)
                backend_round(backend, samples, rate, args)  # fails here if it cannot run
                backends.append(backend)
            except Exception as e:  # noqa: BLE001 - report and go on with the others
                text = str(e).strip()
                msg = f"{type(e).__name__}: {text.splitlines()[0] if text else ''}"
                log(f"onnxruntime failed: {msg}")
                failures["onnxruntime"] = {"error": msg}

        # (a) moeasr and the others, interleaved
        log(f"timing {args.repeat} round(s) of moeasr, "
            + ", ".join(b.name for b in backends))
        runtimes, final_tokens = timed_rounds(args, bench, wav, backends, samples, rate,
                                              audio_seconds)
        runtimes.update(failures)
        for b in backends:
            if b.name == "onnxruntime":
                runtimes[b.name]["onnx_files"] = sorted(p.name for p in b.paths.values())
        dump = tmp / "dump"
        dump.mkdir()
        outputs = moeasr_outputs(args, decode_bin, wav, dump)
        final_tokens = {"moeasr": outputs[0]["tokens"], **final_tokens}

        agree = agreement(args, model, backends, outputs, final_tokens)
        agree["final_text"] = {k: detokenize(v, units) for k, v in final_tokens.items()}

    m = runtimes["moeasr"]
    if args.config:
        model_name = f"{args.config} (random weights, seed {args.seed})"
    elif str(args.model).startswith(str(Path.cwd())):
        model_name = os.path.relpath(args.model, Path.cwd())
    else:
        model_name = str(args.model)
    report = {
        "model": model_name,
        "audio": str(args.wav) if args.wav else f"fixture utterances, {args.audio_seconds:g} s",
        "audio_seconds": audio_seconds,
        "chunk_size": args.chunk_size, "left_chunks": -1, "threads": 1, "mode": args.mode,
        "repeat": args.repeat, "warmup": args.warmup,
        "encoder_mlp": config.get("encoder_conf", {}).get("mlp_type", "position_wise_feed_forward"),
        "versions": versions,
        "runtimes": runtimes,
        "speedup": {
            f"vs_{name}": {"end_to_end": speedup(runtimes.get(name), m, "rtf"),
                           "encoder_ctc": speedup(runtimes.get(name), m, "encoder_ctc_rtf")}
            for name in ("pytorch", "onnxruntime") if name in runtimes},
        "agreement": agree,
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_report(report)
    return 0 if agree["ok"] else 3


if __name__ == "__main__":
    sys.exit(main())
