"""tools/corpus: held-out voices stay out of training, the item plans (non-speech,
pairs, transcripts), non-speech levels, eval_wer's non-speech counts, and one small
corpus synthesized end to end where the synthesizers are installed.

Needs numpy; the synthesis test skips without espeak-ng, sox, mbrola voices, pico2wave,
festival's ked voice or flite."""

import random
import shutil
import subprocess
import sys
import tempfile
import unittest
import wave
from pathlib import Path

import numpy as np

TOOLS = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TOOLS / "corpus"))
sys.path.insert(0, str(TOOLS))
import eval_wer  # noqa: E402
import make_corpus  # noqa: E402
import nonspeech  # noqa: E402
import voices  # noqa: E402


class Voices(unittest.TestCase):
    def test_training_never_draws_a_heldout_voice_or_setting(self):
        rng = random.Random(3)
        engines = set()
        for _ in range(4000):
            v = voices.draw(rng, heldout=False)
            engines.add(v["engine"])
            self.assertNotEqual(v["engine"], "flite")
            if v["engine"] == "espeak":
                self.assertIn(v["voice"].split("+")[1], voices.TRAIN_VARIANTS)
            if v["engine"] in ("espeak", "mbrola"):
                self.assertFalse(voices.HELDOUT_SPEED[0] <= v["speed"] <= voices.HELDOUT_SPEED[1])
                self.assertFalse(voices.HELDOUT_PITCH[0] <= v["pitch"] <= voices.HELDOUT_PITCH[1])
            if v["engine"] == "mbrola":
                self.assertIn(v["voice"], voices.MBROLA_TRAIN)
            if v["engine"] == "pico":
                self.assertIn(v["voice"], voices.PICO_TRAIN)
                self.assertFalse(voices.PICO_HELDOUT_SPEED[0] <= v["speed"] <= voices.PICO_HELDOUT_SPEED[1])
        self.assertEqual(engines, set(voices.TRAIN_ENGINES))

    def test_heldout_draws_only_heldout_voices_each_with_a_heldout_setting(self):
        rng = random.Random(4)
        for _ in range(3000):
            v = voices.draw(rng, heldout=True)
            self.assertIn(v["engine"], voices.HELDOUT_ENGINES)
            if v["engine"] == "espeak":
                self.assertIn(v["voice"].split("+")[1], voices.HELDOUT_VARIANTS)
            if v["engine"] == "mbrola":
                self.assertIn(v["voice"], voices.MBROLA_HELDOUT)
            if v["engine"] == "pico":
                self.assertIn(v["voice"], voices.PICO_HELDOUT)
            if v["engine"] in ("espeak", "mbrola"):
                in_band = (voices.HELDOUT_SPEED[0] <= v["speed"] <= voices.HELDOUT_SPEED[1]
                           or voices.HELDOUT_PITCH[0] <= v["pitch"] <= voices.HELDOUT_PITCH[1])
                self.assertTrue(in_band, v)

    def test_voice_sets_are_disjoint_and_flite_and_festival_rules_hold(self):
        self.assertFalse(set(voices.TRAIN_VARIANTS) & set(voices.HELDOUT_VARIANTS))
        self.assertFalse(set(voices.MBROLA_TRAIN) & set(voices.MBROLA_HELDOUT))
        self.assertFalse(set(voices.PICO_TRAIN) & set(voices.PICO_HELDOUT))
        self.assertNotIn("flite", voices.TRAIN_ENGINES)
        with self.assertRaises(ValueError):
            voices.draw(random.Random(0), heldout=False, engine="flite")
        with self.assertRaises(ValueError):
            voices.draw(random.Random(0), heldout=True, engine="festival")

    def test_draw_espeak_keeps_its_random_stream(self):
        # tools/kws/make_data.py's splits depend on this exact sequence of draws.
        a, b = random.Random(7), random.Random(7)
        accent, variant = a.choice(voices.ACCENTS), a.choice(voices.TRAIN_VARIANTS)
        self.assertEqual(voices.draw_espeak(b, False)[0], f"{accent}+{variant}")


class NonSpeech(unittest.TestCase):
    def test_levels_are_the_requested_rms(self):
        for kind in ("white", "brown", "pink", "hum", "music"):
            for level in (-70.0, -30.0):
                x = nonspeech.make(kind, 2.0, level, np.random.default_rng(1))
                self.assertEqual(len(x), 32000)
                rms_db = 20 * np.log10(np.sqrt(np.mean(x ** 2)) / 32767)
                self.assertAlmostEqual(rms_db, level, places=6, msg=kind)

    def test_silence_is_zero_and_output_is_deterministic(self):
        self.assertFalse(nonspeech.make("silence", 1.0, -20, np.random.default_rng(0)).any())
        a = nonspeech.make("music", 1.0, -30, np.random.default_rng(5))
        b = nonspeech.make("music", 1.0, -30, np.random.default_rng(5))
        np.testing.assert_array_equal(a, b)

    def test_music_is_tonal_not_flat(self):
        x = nonspeech.make("music", 3.0, -20, np.random.default_rng(2))
        spec = np.abs(np.fft.rfft(x)) ** 2
        # a few harmonic lines carry most of the energy (white noise: ~1% in the top 1%)
        top = np.sort(spec)[::-1][:len(spec) // 100].sum() / spec.sum()
        self.assertGreater(top, 0.5)


class Plans(unittest.TestCase):
    def setUp(self):
        self.sentences = [f"sentence number {i}" for i in range(3000)]

    def test_mixed_items_use_every_sentence_once_in_order(self):
        items = make_corpus.plan_mixed("train", self.sentences, False, 1)
        said = [s["text"] for it in items for s in it["segments"] if s["kind"] == "speech"]
        self.assertEqual(said, self.sentences)
        kinds = {"nonspeech": 0, "pair": 0, "padded": 0, "single": 0}
        for it in items:
            speech = [s for s in it["segments"] if s["kind"] == "speech"]
            if not speech:
                kinds["nonspeech"] += 1
                self.assertTrue(1 <= it["segments"][0]["seconds"] <= 8)
            elif len(speech) == 2:
                kinds["pair"] += 1
                self.assertEqual(it["segments"][1]["kind"] in nonspeech.KINDS, True)
            elif len(it["segments"]) == 3:
                kinds["padded"] += 1
            else:
                kinds["single"] += 1
        n = len(items)
        self.assertAlmostEqual(kinds["nonspeech"] / n, 0.08, delta=0.02)
        self.assertAlmostEqual(kinds["pair"] / n, 0.12, delta=0.02)
        self.assertAlmostEqual(kinds["padded"] / (kinds["padded"] + kinds["single"]), 0.5, delta=0.05)

    def test_heldout_plans_use_one_engine_and_lead_with_two_seconds(self):
        for engine in ("espeak", "mbrola", "pico", "flite"):
            items = make_corpus.plan_engine("t", self.sentences[:50], engine, 1)
            self.assertEqual({it["segments"][0]["voice"]["engine"] for it in items}, {engine})
        lead = make_corpus.plan_engine("t", self.sentences[:50], None, 1, lead=True)
        for it in lead:
            self.assertEqual(it["segments"][0]["seconds"], 2.0)
            self.assertLessEqual(it["segments"][0]["level"], -50)
            self.assertIn(it["segments"][1]["voice"]["engine"], voices.HELDOUT_ENGINES)

    def test_nonspeech_plan_covers_every_kind(self):
        items = make_corpus.plan_nonspeech("n", 34, 1)
        kinds = {it["segments"][0]["kind"] for it in items}
        self.assertEqual(kinds, {"silence", "white", "brown", "pink", "hum", "music"})
        self.assertTrue(all(it["segments"][0]["seconds"] == 5.0 for it in items))


class EvalWer(unittest.TestCase):
    def test_empty_references_count_kept_empty_hypotheses(self):
        r = eval_wer.error_rates(["", "", "a b"], ["", "enteen", "a c"])
        self.assertEqual((r["empty_refs"], r["empty_refs_kept_empty"]), (2, 1))
        self.assertEqual((r["word_errors"], r["words"]), (2, 2))  # "enteen" inserted, "c" substituted


TOOLS_NEEDED = ["espeak-ng", "sox", "pico2wave", "festival", "flite"]


@unittest.skipUnless(all(shutil.which(t) for t in TOOLS_NEEDED)
                     and Path("/usr/share/mbrola/us2").exists()
                     and Path("/usr/share/festival/voices/english/ked_diphone").exists(),
                     "the synthesizers are not installed")
class Synthesis(unittest.TestCase):
    def test_small_corpus_end_to_end(self):
        with tempfile.TemporaryDirectory() as tmp:
            cmd = [sys.executable, str(TOOLS / "corpus" / "make_corpus.py"), "--out", tmp,
                   "--train", "40", "--dev", "4", "--test", "4", "--nonspeech", "3", "--jobs", "2"]
            subprocess.run(cmd, check=True, capture_output=True)
            out = Path(tmp)
            engines = set()
            for split in ("train", "dev", "test", "test_mbrola", "test_pico", "test_flite",
                          "test_lead", "test_nonspeech"):
                text = eval_wer.read_refs(out / split / "text")
                scp = eval_wer.read_refs(out / split / "wav.scp")
                self.assertEqual(set(text), set(scp), split)
                for line in (out / split / "utt2voice").read_text().splitlines():
                    engines |= {seg.split(":")[0] for seg in line.split()[1].split("+")}
                for key, rel in scp.items():
                    with wave.open(str(out / split / rel)) as w:
                        self.assertEqual((w.getframerate(), w.getnchannels()), (16000, 1))
                        x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
                    if text[key]:  # speech is audible, not a failed synthesis
                        self.assertGreater(np.abs(x.astype(np.int32)).max(), 1000, (split, key))
                self.assertFalse((out / split / "festival").exists())
            self.assertTrue({"espeak", "mbrola", "pico", "festival", "flite"} <= engines, engines)
            self.assertTrue(all(not t for t in eval_wer.read_refs(out / "test_nonspeech" / "text").values()))


if __name__ == "__main__":
    unittest.main()
