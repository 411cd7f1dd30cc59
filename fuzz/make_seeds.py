#!/usr/bin/env python3
"""Regenerate fuzz/tiny_model and the seed corpora under fuzz/corpus/<target>/.

    /usr/bin/python3 fuzz/make_seeds.py

Needs torch (Debian's python3-torch) for the tiny model, like tools/make_fixtures.py;
deterministic for a given torch build. The outputs are committed, so the fuzzers
themselves never need Python.

  tiny_model/        a random-weight U2++ MoE model (d_model 8, one block, 3 experts
                     top-2, bidirectional MoE decoder, 12 units with CJK and BPE pieces):
                     the C-API fuzzer decodes with it, and its files seed the loaders
  corpus/safetensors tiny_model/model.safetensors and hand-made small images
  corpus/config      the train.yaml of every test model (first byte: units-count hint)
  corpus/units       the units.txt of every test model, plus odd but valid tables
  corpus/model_dir   tiny_model packed as fuzz_util.h's PackedModelDir
  corpus/wav         0.1 s of tests/data/audio/hello.wav in every supported encoding
  corpus/c_api       short programs for c_api_fuzz.cc (opcodes documented there)
Files named regress_* in the corpora are reproducers of fixed bugs, not written here.
"""

import json
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
import yaml

FUZZ = Path(__file__).resolve().parent
ROOT = FUZZ.parent
TOOLS = ROOT / "tools"
DATA = ROOT / "tests" / "data"
sys.path.insert(0, str(TOOLS))
import moeasr_ref  # noqa: E402
import safetensors_io  # noqa: E402
from fixtures import specs, weights  # noqa: E402

UNITS = ["<blank>", "<unk>", "a", "b", "c", "'", "\u2581", "\u2581the", "ing", "\u4f60", "\u597d",
         "<sos/eos>"]
TINY = specs.ModelSpec(
    "tiny", seed=7, units=UNITS, reverse_weight=0.3, special_tokens=True,
    encoder={"output_size": 8, "attention_heads": 2, "linear_units": 8, "num_blocks": 1,
             "cnn_module_kernel": 3, "causal": True, "cnn_module_norm": "layer_norm",
             "use_dynamic_chunk": True, "mlp_type": "moe", "n_expert": 3, "n_expert_activated": 2},
    decoder={"attention_heads": 2, "linear_units": 8, "num_blocks": 1, "r_num_blocks": 1,
             "mlp_type": "moe", "n_expert": 2, "n_expert_activated": 1})
MODELS = ["moe_ln", "dense_bn", "moe_k1", "odd_dims"]


def write(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def tiny_model():
    out = FUZZ / "tiny_model"
    cmvn, _ = safetensors_io.load(DATA / "models" / "moe_ln" / "model.safetensors")
    torch.manual_seed(0)
    model = moeasr_ref.ASRModel(TINY.train_yaml())
    weights.randomize(model, TINY.seed, cmvn["encoder.global_cmvn.mean"], cmvn["encoder.global_cmvn.istd"])
    with tempfile.TemporaryDirectory() as tmp:
        exp = Path(tmp)
        torch.save(model.state_dict(), exp / "final.pt")
        (exp / "train.yaml").write_text(yaml.safe_dump(TINY.train_yaml(), sort_keys=True, allow_unicode=True),
                                        encoding="utf-8")
        (exp / "units.txt").write_text("".join(f"{u} {i}\n" for i, u in enumerate(UNITS)), encoding="utf-8")
        subprocess.run([sys.executable, str(TOOLS / "convert_wenet.py"), "--checkpoint", str(exp / "final.pt"),
                        "--config", str(exp / "train.yaml"), "--units", str(exp / "units.txt"), "--out", str(out),
                        "--force"], check=True, stdout=subprocess.DEVNULL)
    return out


def safetensors_image(header, data=b""):
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + data


def seeds_safetensors(model):
    d = FUZZ / "corpus" / "safetensors"
    write(d / "tiny_model", (model / "model.safetensors").read_bytes())
    write(d / "one_f32", safetensors_image({"a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}},
                                           bytes(range(16))))
    write(d / "mixed", safetensors_image(
        {"__metadata__": {"moeasr_format_version": "1", "format": "pt"},
         "h": {"dtype": "F16", "shape": [3], "data_offsets": [0, 6]},
         "b": {"dtype": "BF16", "shape": [1], "data_offsets": [6, 8]},
         "z": {"dtype": "F32", "shape": [0, 4], "data_offsets": [8, 8]},
         "i": {"dtype": "I64", "shape": [1], "data_offsets": [8, 16]}}, bytes(16)))
    write(d / "terabyte", safetensors_image(
        {"w": {"dtype": "F32", "shape": [262144, 1048576], "data_offsets": [0, 1099511627776]}}))
    write(d / "empty", safetensors_image({}))


def seeds_config():
    d = FUZZ / "corpus" / "config"
    for name in MODELS + ["tiny"]:
        path = (FUZZ / "tiny_model" if name == "tiny" else DATA / "models" / name) / "train.yaml"
        units = (path.parent / "units.txt").read_text(encoding="utf-8").splitlines()
        write(d / name, bytes([128 + len(units)]) + path.read_bytes())
    write(d / "minimal", b"\xff" + b"output_dim: 5\ndecoder: null\nencoder_conf: {output_size: 4, "
          b"attention_heads: 1, num_blocks: 1, linear_units: 4}\n")


def seeds_units():
    d = FUZZ / "corpus" / "units"
    for name in MODELS:
        write(d / name, (DATA / "models" / name / "units.txt").read_bytes())
    write(d / "tiny", (FUZZ / "tiny_model" / "units.txt").read_bytes())
    write(d / "crlf_blank_lines", b"<blank> 0\r\n\r\n\xe4\xbd\xa0 2\r\n<unk>\t1\r\n")


def pack_model_dir(yaml_bytes, units_bytes, weights_bytes):
    return struct.pack("<II", len(yaml_bytes), len(units_bytes)) + yaml_bytes + units_bytes + weights_bytes


def seeds_model_dir(model):
    d = FUZZ / "corpus" / "model_dir"
    y, u, w = ((model / f).read_bytes() for f in ("train.yaml", "units.txt", "model.safetensors"))
    write(d / "tiny_model", pack_model_dir(y, u, w))
    write(d / "tiny_ctc_only", pack_model_dir(y.replace(b"decoder: bitransformer", b"decoder: null"), u, w))


def wav_bytes(samples, rate, fmt, bits, channels=1, extensible=False, data_size=None):
    """samples: float array in [-1, 1] (mono; duplicated for more channels)."""
    x = np.repeat(np.asarray(samples, dtype=np.float64)[:, None], channels, axis=1).reshape(-1)
    if fmt == 3:
        pcm = x.astype("<f4" if bits == 32 else "<f8").tobytes()
    elif bits == 8:
        pcm = np.clip(np.round(x * 128 + 128), 0, 255).astype("u1").tobytes()
    elif bits == 16:
        pcm = np.clip(np.round(x * 32768), -32768, 32767).astype("<i2").tobytes()
    elif bits == 24:
        v = np.clip(np.round(x * 8388608), -8388608, 8388607).astype("<i4").tobytes()
        pcm = b"".join(v[i:i + 3] for i in range(0, len(v), 4))
    else:
        pcm = np.clip(np.round(x * 2147483648), -2147483648, 2147483647).astype("<i4").tobytes()
    align = channels * bits // 8
    if extensible:
        fmt_body = struct.pack("<HHIIHHHHI", 0xFFFE, channels, rate, rate * align, align, bits, 22, bits,
                               (1 << channels) - 1)
        fmt_body += struct.pack("<H", fmt) + b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
    else:
        fmt_body = struct.pack("<HHIIHH", fmt, channels, rate, rate * align, align, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt_body)) + fmt_body
    body += b"LIST" + struct.pack("<I", 5) + b"INFOx\x00"  # an odd-sized chunk to skip (padded)
    body += b"data" + struct.pack("<I", len(pcm) if data_size is None else data_size) + pcm
    return b"RIFF" + struct.pack("<I", len(body)) + body


def seeds_wav():
    d = FUZZ / "corpus" / "wav"
    raw = (DATA / "audio" / "hello.wav").read_bytes()
    start = raw.index(b"data") + 8
    x = np.frombuffer(raw[start:start + 3200], dtype="<i2").astype(np.float64) / 32768.0
    x = x[:800]  # 50 ms at 16 kHz keeps every seed small
    for fmt, bits in ((1, 8), (1, 16), (1, 24), (1, 32), (3, 32), (3, 64)):
        write(d / f"{'pcm' if fmt == 1 else 'float'}{bits}", wav_bytes(x, 16000, fmt, bits))
    write(d / "extensible16", wav_bytes(x, 16000, 1, 16, extensible=True))
    write(d / "stereo16", wav_bytes(x[:400], 8000, 1, 16, channels=2))
    write(d / "streaming_size", wav_bytes(x[:200], 16000, 1, 16, data_size=0xFFFFFFFF))


# Opcodes of c_api_fuzz.cc (op % 16).
CREATE, ACCEPT, ACCEPT16, FINISH, DECODE, DECODE_STREAMS, FLAGS, PARTIAL, FINAL, JSON, RESET, FREE, INFO, \
    MODEL, ERR, DRAIN = range(16)


def accept(stream, n, rate_index=0, kind=1, amp=128, freq=10, seed=1, poison=0, int16=False, times8=False):
    return bytes([ACCEPT16 if int16 else ACCEPT, stream, n & 255, n >> 8, 1 if times8 else 0, rate_index,
                  kind, amp, freq, seed, poison])


def create(model=0, flags=0, a=0, b=0, c=0):
    # a: chunk (low 3 bits) and left chunks (bits 3-5); b: nbest and ctc weight; c: reverse weight,
    # rescoring (bit 3), timestamps (bit 4), struct size (bits 5-7).
    return bytes([CREATE, model, flags, a, b, c])


def seeds_c_api():
    d = FUZZ / "corpus" / "c_api"
    full = 0x18  # rescoring + timestamps, default struct size
    one_utterance = (create(c=full) + accept(0, 4000, times8=True, kind=2) + bytes([DECODE, 0])
                     + bytes([PARTIAL, 0]) + bytes([FINISH, 0, DECODE, 0, FINAL, 0, JSON, 0, 1]))
    write(d / "one_utterance", one_utterance)
    write(d / "full_attention_int16", create(a=3, c=full) + accept(0, 2000, kind=2, int16=True, times8=True)
          + bytes([FINISH, 0, DECODE, 0, FINAL, 0, JSON, 0, 0]))
    write(d / "two_streams_batched", create(c=full) + create(a=1 | (2 << 3), c=full | 1)
          + accept(0, 3000, kind=2, times8=True) + accept(1, 3000, kind=1, times8=True)
          + bytes([DECODE_STREAMS, 2, 0, 0, 1]) + bytes([FINISH, 0, FINISH, 1, DECODE_STREAMS, 2, 0, 0, 1])
          + bytes([FINAL, 0, FINAL, 1, RESET, 1, FREE, 0]))
    write(d / "resample_8k_nan", create(c=full) + accept(0, 1000, rate_index=2, kind=2, times8=True)
          + accept(0, 100, rate_index=2, kind=2, poison=241) + bytes([DRAIN, FINISH, 0, DRAIN, FINAL, 0]))
    write(d / "bad_calls", bytes([FINAL, 0, DECODE, 0, DECODE_STREAMS, 1, 0, 0, INFO, 0, 1, INFO, 1, 0x80])
          + create(model=1) + create(c=0x40) + bytes([MODEL, 6, MODEL, 0, ERR, 99]))
    write(d / "extra_model", bytes([MODEL, 0]) + create(model=1, c=full) + accept(0, 2000, kind=2, times8=True)
          + bytes([MODEL, 1, 0]) + bytes([DECODE_STREAMS, 1, 0, 0, FINISH, 0, DECODE, 0, FINAL, 0]))


def main():
    # Seeds are rewritten in place; corpus/<target>/regress_* are the inputs of
    # fixed crashes, kept by hand as regression inputs (ctest replays them all).
    model = tiny_model()
    seeds_safetensors(model)
    seeds_config()
    seeds_units()
    seeds_model_dir(model)
    seeds_wav()
    seeds_c_api()
    for p in sorted((FUZZ / "corpus").rglob("*")):
        if p.is_file():
            print(f"  {p.relative_to(ROOT)} ({p.stat().st_size} bytes)")
    for p in sorted(model.iterdir()):
        print(f"  {p.relative_to(ROOT)} ({p.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
