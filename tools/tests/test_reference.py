"""Self-consistency tests of the PyTorch reference (skipped when torch is missing).

    /usr/bin/python3 -m unittest discover -s tools/tests
"""

import json
import sys
import unittest
from pathlib import Path

TOOLS = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TOOLS))
DATA = TOOLS.parent / "tests" / "data"

try:
    import torch
except ImportError:
    torch = None

if torch is not None:
    import moeasr_ref
    import safetensors_io
    from moeasr_ref.decode import decode
    from moeasr_ref.ffn import MoEFFNLayer


def load_fixture_model(name):
    config = moeasr_ref.load_config(DATA / "models" / name / "train.yaml")
    tensors, _ = safetensors_io.load(DATA / "models" / name / "model.safetensors")
    return moeasr_ref.load_model(config, {k: torch.from_numpy(v) for k, v in tensors.items()})


def fixture_fbank(utt="hello"):
    """The fbank the goldens were made from (the exact, float64 one)."""
    return moeasr_ref.fbank(*moeasr_ref.read_wav_int16(DATA / "audio" / f"{utt}.wav"), exact=True)


@unittest.skipIf(torch is None, "torch is not installed")
class ReferenceTest(unittest.TestCase):
    def test_one_chunk_covering_the_utterance_equals_full(self):
        feats = fixture_fbank()
        for name in ("moe_ln", "dense_bn"):
            model = load_fixture_model(name)
            with torch.no_grad():
                full = model.encode(feats)
                chunked = model.encode(feats, chunk_size=full.size(0) + 3)
            self.assertEqual(chunked.shape, full.shape)
            torch.testing.assert_close(chunked, full, rtol=0, atol=1e-5, msg=name)

    def test_chunk_frame_count_equals_full(self):
        model = load_fixture_model("moe_k1")
        feats = fixture_fbank("numbers")
        with torch.no_grad():
            frames = model.encode(feats).size(0)
            for chunk, left in ((1, -1), (4, 2), (5, 0), (16, -1)):
                self.assertEqual(model.encode(feats, chunk, left).size(0), frames)

    def test_moe_matches_naive_loop(self):
        torch.manual_seed(0)
        layer = MoEFFNLayer(8, 16, "swish", True, n_expert=5, n_expert_activated=2)
        x = torch.randn(2, 7, 8)
        with torch.no_grad():
            out = layer(x)
            expected = torch.zeros_like(x)
            for b in range(2):
                for t in range(7):
                    logits = layer.gate(x[b, t])
                    top = sorted(range(5), key=lambda e: -logits[e].item())[:2]
                    w = torch.softmax(logits[top], dim=0)
                    for weight, e in zip(w, top):
                        expected[b, t] += weight * layer.experts[e](x[b, t])
        torch.testing.assert_close(out, expected, rtol=0, atol=1e-6)

    def test_fbank_shape_and_golden(self):
        samples, rate = moeasr_ref.read_wav_int16(DATA / "audio" / "hello.wav")
        feats = moeasr_ref.fbank(samples, rate, exact=True)
        self.assertEqual(tuple(feats.shape), (1 + (len(samples) - 400) // 160, 80))
        golden, _ = safetensors_io.load(DATA / "golden" / "moe_ln" / "hello.safetensors")
        self.assertTrue(torch.equal(feats, torch.from_numpy(golden["fbank"])))
        # WeNet's own float32 fbank differs from the exact one only on near-empty bins.
        wenet = moeasr_ref.fbank(samples, rate)
        self.assertLess((wenet - feats).abs().max().item(), 5e-2)

    def test_decode_reproduces_golden_json(self):
        record = json.loads((DATA / "golden" / "odd_dims" / "numbers.json").read_text())
        model = load_fixture_model("odd_dims")
        mode = record["modes"]["chunk4_left2"]
        result = decode(model, fixture_fbank("numbers"), 4, 2, record["beam_size"],
                        record["ctc_weight"], record["reverse_weight"])
        self.assertEqual([h.tokens for h in result.nbest], [e["tokens"] for e in mode["nbest"]])
        self.assertEqual([h.times for h in result.nbest], [e["times"] for e in mode["nbest"]])
        self.assertEqual(result.best_index, mode["best_index"])
        # Float32 sums differ in the last bits with the BLAS torch runs on
        # (Debian's reference BLAS made the goldens; OpenBLAS gives ~1e-6 changes).
        for scores, entry in zip(result.rescoring, mode["nbest"]):
            self.assertAlmostEqual(scores["final_score"], entry["final_score"], places=4)

    def test_transducer_decode_reproduces_golden_json(self):
        record = json.loads((DATA / "golden" / "rnnt_lstm" / "hello.json").read_text())
        model = load_fixture_model("rnnt_lstm")
        mode = record["modes"]["chunk4_left2"]
        result = decode(model, fixture_fbank("hello"), 4, 2, record["beam_size"],
                        record["ctc_weight"], record["reverse_weight"])
        self.assertEqual(result.greedy.tokens, mode["greedy_tokens"])
        self.assertEqual([h.tokens for h in result.beam], [e["tokens"] for e in mode["beam"]])
        for hyp, entry in zip(result.beam, mode["beam"]):
            self.assertAlmostEqual(hyp.score, entry["score"], places=4)

    def test_transducer_greedy_state_carries_across_chunks(self):
        from moeasr_ref.transducer_search import GreedyState, greedy_search
        model = load_fixture_model("rnnt_lstm")
        with torch.no_grad():
            encoder_out = model.encode(fixture_fbank("numbers"))
        state = GreedyState(model)
        for start in range(0, encoder_out.shape[0], 5):
            state.advance(encoder_out[start:start + 5])
        self.assertEqual(state.tokens, greedy_search(model, encoder_out))


if __name__ == "__main__":
    unittest.main()
