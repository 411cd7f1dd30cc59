"""moeasr-decode's behaviour as a user meets it (stdlib only; run by ctest):
  decode_cli_test.py CLI DATA_DIR WORK_DIR [RUNNER ...]
RUNNER is the cross build's emulator (empty natively). Each check is a
unittest case; the expected values are computed here from the CLI's own
decodes of other inputs, so the random-weight test model is enough."""
import array
import json
import os
import shutil
import subprocess
import sys
import unittest
import wave

CLI, DATA, WORK = sys.argv[1:4]
RUNNER = sys.argv[4:]
MODEL = os.path.join(DATA, "models", "moe_ln")


def run(*args, stdin=None):
    return subprocess.run(RUNNER + [CLI, "--model", MODEL, *args], input=stdin, capture_output=True, timeout=600)


def lines(result):
    return [json.loads(l) for l in result.stdout.decode().splitlines() if l.strip()]


def read_pcm(path):
    with wave.open(path) as w:
        return w.getframerate(), w.getnchannels(), array.array("h", w.readframes(w.getnframes()))


def write_wav(path, rate, samples, channels=1):
    with wave.open(path, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(array.array("h", samples).tobytes())
    return path


def work(name):
    return os.path.join(WORK, name)


HELLO = os.path.join(DATA, "audio", "hello.wav")
NUMBERS = os.path.join(DATA, "audio", "numbers.wav")


class DecodeCli(unittest.TestCase):
    def decode_one(self, *args, stdin=None):
        r = run(*args, stdin=stdin)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        out = lines(r)
        self.assertEqual(len(out), 1, out)
        return out[0]

    def test_version(self):
        r = subprocess.run(RUNNER + [CLI, "--version"], capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout.decode(), r"^moeasr-decode \d+\.\d+\.\d+\n$")

    def test_nbest_fields_are_the_c_apis(self):
        rescored = self.decode_one("--wav", HELLO)
        self.assertEqual(set(rescored["nbest"][0]),
                         {"text", "tokens", "timestamps_ms", "ctc_score", "score", "attention_score"})
        ctc = self.decode_one("--wav", HELLO, "--mode", "ctc")
        self.assertNotIn("attention_score", ctc["nbest"][0])
        for out in (rescored, ctc):
            # The words cover the text (CJK characters are words with no space between).
            self.assertEqual("".join(w["text"] for w in out["words"]), out["text"].replace(" ", ""))
            self.assertEqual(set(out["words"][0]), {"text", "start_ms", "end_ms"})

    def test_transducer_greedy_mode(self):
        rnnt = os.path.join(DATA, "models", "rnnt_lstm")
        r = subprocess.run(RUNNER + [CLI, "--model", rnnt, "--wav", HELLO, "--mode", "transducer_greedy"],
                           capture_output=True, timeout=600)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        out = lines(r)[0]
        self.assertEqual(len(out["nbest"]), 1)
        self.assertNotIn("attention_score", out["nbest"][0])
        self.assertEqual(len(out["nbest"][0]["tokens"]), len(out["nbest"][0]["timestamps_ms"]))
        self.assertTrue(out["text"])
        r = subprocess.run(RUNNER + [CLI, "--model", rnnt, "--wav", HELLO, "--mode", "transducer_beam",
                            "--nbest", "3"], capture_output=True, timeout=600)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        default_weights = lines(r)[0]["nbest"]
        self.assertEqual(len(default_weights), 3)
        # The beam's per-frame weights (WeNet recognize.py's search weights): another beam.
        r = subprocess.run(RUNNER + [CLI, "--model", rnnt, "--wav", HELLO, "--mode", "transducer_beam",
                            "--nbest", "3", "--transducer-ctc-weight", "1", "--transducer-weight", "0"],
                           capture_output=True, timeout=600)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertNotEqual([h["tokens"] for h in lines(r)[0]["nbest"]], [h["tokens"] for h in default_weights])
        r = subprocess.run(RUNNER + [CLI, "--model", rnnt, "--wav", HELLO, "--mode", "transducer_beam",
                            "--transducer-ctc-weight", "0", "--transducer-weight", "0"],
                           capture_output=True, timeout=600)
        self.assertEqual(r.returncode, 2)
        self.assertIn("not both 0", r.stderr.decode())
        # Any out-of-range decoding option is a usage error (it aborted the CLI before).
        r = run("--wav", HELLO, "--reverse-weight", "3")
        self.assertEqual(r.returncode, 2)
        self.assertIn("reverse_weight in [0, 1]", r.stderr.decode())
        # A model without a predictor and joiner: a usage error before any decoding.
        r = run("--wav", HELLO, "--mode", "transducer_greedy")
        self.assertEqual(r.returncode, 2)
        self.assertIn("needs a model: transducer", r.stderr.decode())

    def test_scp_comments_duplicates_and_error_records(self):
        scp = work("list.scp")
        with open(scp, "w") as f:
            f.write(f"# a comment\na {HELLO}\n  # indented comment\nmissing {work('nope.wav')}\nb {NUMBERS}\n")
        r = run("--wav-scp", scp, "--mode", "ctc")
        self.assertEqual(r.returncode, 1)
        out = lines(r)
        self.assertEqual([o["key"] for o in out], ["a", "missing", "b"])
        self.assertEqual(out[1]["status"], "MOEASR_ERR_IO")
        self.assertIn("nope.wav", out[1]["error"])
        self.assertNotIn("error", out[0])
        with open(scp, "a") as f:
            f.write(f"a {NUMBERS}\n")
        r = run("--wav-scp", scp)
        self.assertEqual(r.returncode, 2)
        self.assertIn("duplicate key 'a'", r.stderr.decode())

    def test_stdin_equals_the_file(self):
        with open(NUMBERS, "rb") as f:
            piped = self.decode_one("--wav", "-", "--mode", "ctc", stdin=f.read())
        from_file = self.decode_one("--wav", NUMBERS, "--mode", "ctc")
        self.assertEqual(piped["key"], "stdin")
        self.assertEqual(piped["nbest"], from_file["nbest"])

    def test_dump_dir_is_created(self):
        target = work("new/dump/dir")
        shutil.rmtree(work("new"), ignore_errors=True)
        self.decode_one("--wav", HELLO, "--dump-dir", target, "--mode", "ctc")
        self.assertTrue(os.path.exists(os.path.join(target, "hello.ctc_logprobs.npy")))

    def test_channel_mix_is_the_mean(self):
        rate, channels, stereo = read_pcm(os.path.join(DATA, "audio", "hello_stereo.wav"))
        self.assertEqual(channels, 2)
        # Make the channels differ (with an even sum, so that their mean is
        # exact in 16 bits), then compare with the mean written as mono.
        left = stereo[0::2]
        right = array.array("h", [v - 2 * (v // 4) for v in left])
        both = array.array("h", [0] * (2 * len(left)))
        both[0::2], both[1::2] = left, right
        mixed = write_wav(work("mix2.wav"), rate, both, channels=2)
        mean = write_wav(work("mean.wav"), rate, [(a + b) // 2 for a, b in zip(left, right)])
        got = self.decode_one("--wav", mixed, "--channel", "mix", "--mode", "ctc")
        want = self.decode_one("--wav", mean, "--mode", "ctc")
        self.assertEqual(got["nbest"], want["nbest"])
        r = run("--wav", mixed)
        self.assertEqual(r.returncode, 1)
        self.assertIn("2 channels", r.stderr.decode())

    def test_truncated_wav_decodes_what_is_there(self):
        with open(NUMBERS, "rb") as f:
            data = f.read()
        cut = work("cut.wav")
        keep = len(data) - 8001  # an odd cut: the partial last sample is dropped
        with open(cut, "wb") as f:
            f.write(data[:keep])
        rate, _, pcm = read_pcm(NUMBERS)
        present = (keep - 44) // 2
        whole = write_wav(work("present.wav"), rate, pcm[:present])
        r = run("--wav", cut, "--mode", "ctc")
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        self.assertIn("truncated", r.stderr.decode())
        got = lines(r)[0]
        want = self.decode_one("--wav", whole, "--mode", "ctc")
        self.assertEqual(got["nbest"], want["nbest"])
        self.assertAlmostEqual(got["audio_seconds"], present / rate, places=6)

    def long_input(self, seconds):
        """hello and numbers with pauses, repeated to `seconds`."""
        rate, _, hello = read_pcm(HELLO)
        _, _, numbers = read_pcm(NUMBERS)
        unit = hello + array.array("h", [0] * (rate // 2)) + numbers + array.array("h", [0] * rate)
        n = int(seconds * rate)
        return rate, (unit * (n // len(unit) + 1))[:n]

    def test_continuous_segments_equal_decoding_each_segment_alone(self):
        rate, pcm = self.long_input(65)
        path = write_wav(work("long.wav"), rate, pcm)
        out = self.decode_one("--wav", path)  # auto: longer than 60 s
        segments = out["segments"]
        self.assertGreaterEqual(len(segments), 3)  # no segment is longer than 20 s of speech (+ one piece)
        self.assertNotIn("nbest", out)
        self.assertAlmostEqual(out["audio_seconds"], 65, places=3)
        tokens, times, words = [], [], []
        for seg in segments:
            words += seg["words"]
            for w in seg["words"]:
                self.assertTrue(seg["start_ms"] <= w["start_ms"] < w["end_ms"] <= seg["end_ms"] + 40, (w, seg))
            self.assertLessEqual(seg["end_ms"] - seg["start_ms"], 20500)
            tokens += seg["tokens"]
            times += seg["timestamps_ms"]
            for t in seg["timestamps_ms"]:
                self.assertTrue(seg["start_ms"] <= t < seg["end_ms"], (t, seg["start_ms"], seg["end_ms"]))
            first, last = seg["start_ms"] * rate // 1000, seg["end_ms"] * rate // 1000
            alone = self.decode_one("--wav", write_wav(work("segment.wav"), rate, pcm[first:last]),
                                    "--continuous", "off")
            self.assertEqual(alone["tokens"], seg["tokens"])
            self.assertEqual([t + seg["start_ms"] for t in alone["timestamps_ms"]], seg["timestamps_ms"])
            self.assertEqual(alone["nbest"][0]["score"], seg["nbest"][0]["score"])
            self.assertEqual([(w["text"], w["start_ms"] + seg["start_ms"], w["end_ms"] + seg["start_ms"])
                              for w in alone["words"]],
                             [(w["text"], w["start_ms"], w["end_ms"]) for w in seg["words"]])
        self.assertEqual(out["tokens"], tokens)
        self.assertEqual(out["timestamps_ms"], times)
        self.assertEqual(out["words"], words)
        self.assertEqual(out["text"], " ".join(s["text"] for s in segments if s["text"]))
        off = self.decode_one("--wav", path, "--continuous", "off")
        self.assertNotIn("segments", off)

    def test_progress_on_a_terminal_never_in_the_json(self):
        import pty
        master, slave = pty.openpty()
        try:
            r = subprocess.run(RUNNER + [CLI, "--model", MODEL, "--wav", HELLO, "--wav", NUMBERS, "--mode", "ctc"],
                               stdout=subprocess.PIPE, stderr=slave, timeout=600)
        finally:
            os.close(slave)
        shown = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the terminal's other end is closed
                break
            if not chunk:
                break
            shown += chunk
        os.close(master)
        self.assertEqual(r.returncode, 0)
        self.assertRegex(shown.decode(), r"\[1/2\] hello: [0-9.]+ s of audio done, RTF [0-9.]+")
        self.assertEqual([o["key"] for o in lines(r)], ["hello", "numbers"])  # stdout: JSON only
        quiet = run("--wav", HELLO, "--mode", "ctc")  # stderr not a terminal: nothing
        self.assertEqual(quiet.stderr, b"")

    def test_full_attention_refuses_long_input_early(self):
        rate = 8000
        path = write_wav(work("silence.wav"), rate, [0] * (301 * rate))
        r = run("--wav", path, "--chunk-size", "-1")
        self.assertEqual(r.returncode, 1)
        self.assertIn("at most 300 s", r.stderr.decode())
        self.assertEqual(lines(r)[0]["status"], "MOEASR_ERR_UNSUPPORTED")
        r = run("--wav", path, "--chunk-size", "-1", "--continuous", "on")
        self.assertEqual(r.returncode, 2)
        self.assertIn("needs chunked decoding", r.stderr.decode())

    def test_model_not_trained_for_chunks_defaults_to_full_attention(self):
        dense = os.path.join(DATA, "models", "dense_bn")
        default = subprocess.run(RUNNER + [CLI, "--model", dense, "--wav", HELLO], capture_output=True, timeout=600)
        self.assertEqual(default.returncode, 0, default.stderr.decode())
        self.assertIn("not trained for chunked decoding", default.stderr.decode())
        full = subprocess.run(RUNNER + [CLI, "--model", dense, "--wav", HELLO, "--chunk-size", "-1"],
                              capture_output=True, timeout=600)
        self.assertEqual(lines(default)[0]["nbest"], lines(full)[0]["nbest"])
        chunked = subprocess.run(RUNNER + [CLI, "--model", dense, "--wav", HELLO, "--chunk-size", "16"],
                                 capture_output=True, timeout=600)
        self.assertEqual(chunked.returncode, 0)
        self.assertIn("warning: decoding in chunks of 16 frames with a model not trained", chunked.stderr.decode())

    def test_refused_decode_options_are_a_message_not_an_abort(self):
        # Out of range for any model: a usage error before the model loads.
        r = run("--wav", HELLO, "--nbest", "0")
        self.assertEqual(r.returncode, 2)
        self.assertIn("nbest must be in [1, 1000]", r.stderr.decode())
        # Refused by this model: a message and exit status 1. An efficient conformer streams in multiples of its total stride (4 for effconf_c2).
        effconf = os.path.join(DATA, "models", "effconf_c2")
        r = subprocess.run(RUNNER + [CLI, "--model", effconf, "--wav", HELLO, "--chunk-size", "6"],
                           capture_output=True, timeout=600)
        self.assertEqual(r.returncode, 1)
        self.assertIn("must be a multiple of its total stride 4", r.stderr.decode())


if __name__ == "__main__":
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    unittest.main(argv=sys.argv[:1], verbosity=2)
