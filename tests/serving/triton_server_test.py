#!/usr/bin/env python3
"""moeasr served by a real Triton Inference Server, over gRPC on localhost.

Run by scripts/serving_test.sh, which installs the server (the `tritonserver`
of PyPI's nvidia-pytriton) and tritonclient in a virtual environment and
builds libtriton_moeasr.so. Environment:
  MOEASR_TRITONSERVER   the tritonserver binary
  MOEASR_TRITON_BACKENDS a backend directory holding moeasr/libtriton_moeasr.so
  MOEASR_DECODE         moeasr-decode of the same build (the reference results)
  MOEASR_MODEL          model directory (default models/en_moe_small)

The server runs with explicit model control; every test uses its own
sequence ids, and the server is stopped at the end whatever happens.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import wave
from pathlib import Path

import numpy as np
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
import triton_client  # noqa: E402

MODEL_DIR = Path(os.environ.get("MOEASR_MODEL", ROOT / "models" / "en_moe_small")).resolve()
IDLE_US = 1000000  # max_sequence_idle_microseconds of the model "stream_idle"


def write_wav(path, pcm, rate=16000):
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.astype("<i2").tobytes())


class TritonServerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = Path(tempfile.mkdtemp(prefix="moeasr-triton-"))
        repo = cls.tmp / "repo"
        templates = ROOT / "serving/triton/model_repository"
        streaming = templates / "moeasr_streaming/config.pbtxt"
        # A long idle limit for the tests that must not lose a sequence on a busy machine,
        # a short one for the test of idle release.
        triton_client.write_model_config(
            repo, "stream", streaming, MODEL_DIR,
            {"max_sequence_idle_microseconds: 10000000": "max_sequence_idle_microseconds: 120000000"})
        triton_client.write_model_config(
            repo, "stream_idle", streaming, MODEL_DIR,
            {"max_sequence_idle_microseconds: 10000000": f"max_sequence_idle_microseconds: {IDLE_US}"})
        triton_client.write_model_config(
            repo, "stream_continuous", streaming, MODEL_DIR,
            {'{ key: "device", value: { string_value: "cpu" } }':
             '{ key: "device", value: { string_value: "cpu" } },\n  { key: "continuous", value: { string_value: "true" } }'})
        triton_client.write_model_config(repo, "offline", templates / "moeasr_offline/config.pbtxt", MODEL_DIR)
        try:
            cls.server = triton_client.LocalServer(os.environ["MOEASR_TRITONSERVER"],
                                                   os.environ["MOEASR_TRITON_BACKENDS"], repo,
                                                   ["stream", "stream_idle", "stream_continuous", "offline"], cls.tmp / "server.log")
        except Exception:
            shutil.rmtree(cls.tmp, ignore_errors=True)
            raise
        cls.url = cls.server.url
        cls.log_path = cls.server.log_path
        try:
            cls.audio = cls.make_audio()
            cls.reference = cls.decode_reference(cls.audio)
        except Exception:  # tearDownClass does not run after a failed setUpClass
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        if os.environ.get("MOEASR_KEEP_TMP"):
            print(f"kept {cls.tmp}", file=sys.stderr)
        else:
            shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def make_audio(cls):
        """32 distinct utterances: each speech sample WAV after 0..7 x 130 ms of low noise."""
        rng = np.random.default_rng(7)
        out = {}
        for wav in (ROOT / "samples" / f"{n}.wav" for n in ("command", "date", "number", "words")):
            pcm, rate = triton_client.read_wav(wav)
            assert rate == 16000
            for k in range(8):
                lead = (rng.standard_normal(k * 2080) * 20).astype(np.int16)
                name = f"{wav.stem}_{k}"
                out[name] = np.concatenate([lead, pcm])
                write_wav(cls.tmp / f"{name}.wav", out[name])
        assert len(out) == 32, len(out)
        return out

    @classmethod
    def decode_reference(cls, audio):
        """moeasr-decode's results on the same files: chunk 16, rescoring (the served model's options)."""
        args = [os.environ["MOEASR_DECODE"], "--model", str(MODEL_DIR), "--chunk-size", "16"]
        for name in audio:
            args += ["--wav", str(cls.tmp / f"{name}.wav")]
        lines = subprocess.run(args, check=True, capture_output=True, text=True).stdout.splitlines()
        results = [json.loads(line) for line in lines]
        return {Path(r["key"]).stem: r for r in results}

    def client(self):
        return grpcclient.InferenceServerClient(self.url)

    def assert_same_result(self, name, got):
        want = self.reference[name]
        self.assertEqual(got["text"], want["text"], name)
        self.assertEqual(got["tokens"], want["tokens"], name)
        self.assertEqual(got["timestamps_ms"], want["timestamps_ms"], name)
        self.assertEqual([h["tokens"] for h in got["nbest"]], [h["tokens"] for h in want["nbest"]], name)
        for g, w in zip(got["nbest"], want["nbest"]):
            # Batched steps may round differently (moeasr.h, Conventions): scores agree to float precision.
            self.assertAlmostEqual(g["score"], w["score"], delta=1e-3, msg=name)
            self.assertAlmostEqual(g["ctc_score"], w["ctc_score"], delta=1e-3, msg=name)

    def test_32_concurrent_sequences_equal_moeasr_decode(self):
        stats_before = self.client().get_inference_statistics("stream", as_json=True)
        results, errors = {}, []

        def run(i, name):
            try:
                time.sleep(0.03 * i)  # sequences start (and so end) at different times
                samples = self.audio[name]
                if i % 2:  # half the sequences send float32 pieces
                    samples = samples.astype(np.float32) / 32768.0
                results[name] = triton_client.stream_sequence(self.client(), "stream", 100 + i, samples,
                                                              piece_ms=100 + 20 * (i % 3))
            except Exception as e:  # reported below, with the sequence's name
                errors.append(f"{name}: {e!r}")

        threads = [threading.Thread(target=run, args=(i, n)) for i, n in enumerate(self.audio)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        self.assertEqual(set(results), set(self.audio))
        for name, got in results.items():
            self.assert_same_result(name, got)
        # Triton formed batches of several sequences (one decode step for them all).
        stats = self.client().get_inference_statistics("stream", as_json=True)

        def counts(s):
            m = s["model_stats"][0]
            return int(m.get("inference_count", 0)), int(m.get("execution_count", 0))

        (inf0, exe0), (inf1, exe1) = counts(stats_before), counts(stats)
        self.assertGreater((inf1 - inf0) / (exe1 - exe0), 1.0)

    def test_continuous_sequence_is_cut_at_endpoints_as_moeasr_decode_cuts_it(self):
        """A sequence of two utterances 2.5 s apart on a continuous model: the piece
        that reaches the endpoint gets the first utterance's final result, the END
        the second's, equal to moeasr-decode --continuous on (same 500 ms pieces)."""
        # The gap is low noise, as a live microphone gives between utterances.
        gap = (np.random.default_rng(1).standard_normal(40000) * 30).astype(np.int16)
        pcm = np.concatenate([self.audio["command_0"], gap, self.audio["number_0"]])
        write_wav(self.tmp / "two.wav", pcm)
        args = [os.environ["MOEASR_DECODE"], "--model", str(MODEL_DIR), "--chunk-size", "16", "--continuous", "on",
                "--wav", str(self.tmp / "two.wav")]
        want = json.loads(subprocess.run(args, check=True, capture_output=True, text=True).stdout)["segments"]
        self.assertEqual(len(want), 2)
        finals = []

        def on_partial(out):
            if out["IS_FINAL"]:
                self.assertTrue(out["ENDPOINT"])
                finals.append(json.loads(out["RESULT_JSON"]))

        last = triton_client.stream_sequence(self.client(), "stream_continuous", 900, pcm, piece_ms=500,
                                             on_partial=on_partial)
        got = [r for r in finals + [last] if r["tokens"]]
        self.assertEqual([r["text"] for r in got], [w["text"] for w in want])
        for g, w in zip(got, want):
            self.assertEqual(g["tokens"], w["tokens"])
            self.assertEqual(g["timestamps_ms"], w["timestamps_ms"])  # times run on over the cut
            self.assertEqual([h["tokens"] for h in g["nbest"]], [h["tokens"] for h in w["nbest"]])

    def test_offline_model_equals_full_attention_decode(self):
        names = ["command_0", "date_3", "number_5"]
        args = [os.environ["MOEASR_DECODE"], "--model", str(MODEL_DIR), "--chunk-size", "-1"]
        for n in names:
            args += ["--wav", str(self.tmp / f"{n}.wav")]
        want = {Path(json.loads(line)["key"]).stem: json.loads(line)
                for line in subprocess.run(args, check=True, capture_output=True, text=True).stdout.splitlines()}
        got, errors = {}, []

        def run(name):
            try:
                out = triton_client.infer_piece(self.client(), "offline", 0, self.audio[name], False, False)
                got[name] = json.loads(out["RESULT_JSON"])
            except Exception as e:
                errors.append(f"{name}: {e!r}")

        threads = [threading.Thread(target=run, args=(n,)) for n in names]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        c = self.client()
        bad = np.zeros(1600, np.float32)
        bad[5] = np.inf
        self.expect_error(lambda: triton_client.infer_piece(c, "offline", 0, bad, False, False), "infinite")
        self.expect_error(lambda: triton_client.infer_piece(c, "offline", 0, bad[:0], False, False), "empty audio")
        for n in names:
            self.assertEqual(got[n]["text"], want[n]["text"])
            self.assertEqual([h["tokens"] for h in got[n]["nbest"]], [h["tokens"] for h in want[n]["nbest"]])

    def expect_error(self, fn, fragment):
        with self.assertRaises(InferenceServerException) as ctx:
            fn()
        self.assertIn(fragment, str(ctx.exception))

    def test_bad_requests_get_errors_and_the_sequence_goes_on(self):
        c = self.client()
        name = "words_2"
        pcm = self.audio[name]
        step = 1600
        pieces = [pcm[i:i + step] for i in range(0, len(pcm), step)]
        seq = 500
        triton_client.infer_piece(c, "stream", seq, pieces[0], True, False)
        nan = np.full(800, np.nan, dtype=np.float32)
        self.expect_error(lambda: triton_client.infer_piece(c, "stream", seq, nan, False, False), "NaN")
        self.expect_error(lambda: triton_client.infer_piece(c, "stream", seq, pcm[:0], False, False), "empty audio")
        wrong = pieces[1].astype(np.float64)
        self.expect_error(lambda: triton_client.infer_piece(c, "stream", seq, wrong, False, False), "FP64")
        no_audio = lambda: c.infer("stream", [], sequence_id=seq)  # noqa: E731
        self.expect_error(no_audio, "no audio")
        two_rows = grpcclient.InferInput("WAV_INT16", [2, 800], "INT16")
        two_rows.set_data_from_numpy(np.zeros((2, 800), np.int16))
        self.expect_error(lambda: c.infer("stream", [two_rows], sequence_id=seq), "batch-size 1")  # Triton's rule
        self.expect_error(lambda: c.infer("offline", [two_rows]), "rows")  # the backend's
        # None of these changed the stream: the sequence still decodes as the clean audio.
        for k, piece in enumerate(pieces[1:], start=1):
            out = triton_client.infer_piece(c, "stream", seq, piece, False, k == len(pieces) - 1)
        self.assert_same_result(name, json.loads(out["RESULT_JSON"]))

    def test_unknown_sequence_and_end_without_start_are_errors(self):
        c = self.client()
        piece = self.audio["command_0"][:1600]
        # A sequence never started (Triton or the backend refuses it).
        self.expect_error(lambda: triton_client.infer_piece(c, "stream", 987654, piece, False, False), "START")
        self.expect_error(lambda: triton_client.infer_piece(c, "stream", 987655, piece, False, True), "START")
        # The server still serves a sequence.
        final = triton_client.stream_sequence(c, "stream", 600, self.audio["command_0"])
        self.assert_same_result("command_0", final)

    def test_idle_sequence_is_released(self):
        c = self.client()
        pcm = self.audio["number_1"]
        triton_client.infer_piece(c, "stream_idle", 700, pcm[:1600], True, False)
        self.assertEqual(self.server.metric("moeasr_live_sequences", "stream_idle"), 1)
        time.sleep(IDLE_US / 1e6 + 1.5)  # past Triton's idle limit and the backend's grace period
        # The next request of any sequence lets the backend free the abandoned stream.
        final = triton_client.stream_sequence(c, "stream_idle", 701, self.audio["command_0"])
        self.assert_same_result("command_0", final)
        self.expect_error(lambda: triton_client.infer_piece(c, "stream_idle", 700, pcm[1600:3200], False, False),
                          "START")
        self.assertIn("model stream_idle: released 1 stream", self.log_path.read_text())
        self.assertEqual(self.server.metric("moeasr_idle_sequences_released_total", "stream_idle"), 1)
        self.assertEqual(self.server.metric("moeasr_live_sequences", "stream_idle"), 0)

    def test_instance_restart_loses_no_sequence(self):
        """Reloading the model with another instance count (1 -> 2) while
        sequences are half way: Triton adds the instance without reloading the
        model, and the streams, which belong to the model, go on. (Going back
        to 1 made tritonserver 2.51.0 itself crash in about 1 run of 6 here, a
        segfault inside libtritonserver: serving/triton/README.md.)"""
        c = self.client()
        names = ["date_4", "words_6", "command_5", "number_7", "date_1", "words_1"]
        step = 1600

        def set_instances(count):
            config = c.get_model_config("stream", as_json=True)["config"]
            config["instance_group"][0]["count"] = count
            c.load_model("stream", config=json.dumps(config))
            self.assertTrue(c.is_model_ready("stream"))
            self.assertEqual(c.get_model_config("stream", as_json=True)["config"]["instance_group"][0]["count"], count)

        def first_pieces(ids):
            for i in ids:
                triton_client.infer_piece(c, "stream", 800 + i, self.audio[names[i]][:step], True, False)

        first_pieces([0, 1])
        set_instances(2)
        first_pieces([2, 3, 4, 5])  # sequences on both instances now
        for i, n in enumerate(names):
            pcm = self.audio[n]
            pieces = [pcm[k:k + step] for k in range(step, len(pcm), step)]
            for k, piece in enumerate(pieces):
                out = triton_client.infer_piece(c, "stream", 800 + i, piece, False, k == len(pieces) - 1)
            self.assert_same_result(n, json.loads(out["RESULT_JSON"]))

if __name__ == "__main__":
    unittest.main(verbosity=2)
