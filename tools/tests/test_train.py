"""Tests of the training code in tools/train (skipped when torch is missing).

    /usr/bin/python3 -m unittest discover -s tools/tests
"""

import random
import sys
import unittest
from pathlib import Path

TOOLS = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TOOLS))
sys.path.insert(0, str(TOOLS / "train"))
DATA = TOOLS.parent / "tests" / "data"

try:
    import torch
except ImportError:
    torch = None

if torch is not None:
    import losses
    import masks
    import moeasr_ref
    import safetensors_io
    from trainable import Trainable


def fixture_model(name="moe_ln"):
    config = moeasr_ref.load_config(DATA / "models" / name / "train.yaml")
    tensors, _ = safetensors_io.load(DATA / "models" / name / "model.safetensors")
    return moeasr_ref.load_model(config, {k: torch.from_numpy(v) for k, v in tensors.items()})


def fixture_feats(utt):
    return moeasr_ref.fbank(*moeasr_ref.read_wav_int16(DATA / "audio" / f"{utt}.wav"))


@unittest.skipIf(torch is None, "torch is not installed")
class MaskTest(unittest.TestCase):
    def test_chunk_mask(self):
        m = masks.chunk_mask(5, 2).int().tolist()
        self.assertEqual(m, [[1, 1, 0, 0, 0], [1, 1, 0, 0, 0], [1, 1, 1, 1, 0],
                             [1, 1, 1, 1, 0], [1, 1, 1, 1, 1]])
        m = masks.chunk_mask(5, 2, num_left_chunks=0).int().tolist()
        self.assertEqual(m[4], [0, 0, 0, 0, 1])

    def test_subsampled_lengths_match_the_conv(self):
        model = fixture_model()
        for frames in (7, 8, 10, 11, 57, 100):
            with torch.no_grad():
                out, _ = model.encoder.embed(torch.zeros(1, frames, 80))
            self.assertEqual(int(masks.subsampled_lengths(torch.tensor([frames]))), out.size(1))

    def test_dynamic_chunk_draw(self):
        gen = torch.Generator().manual_seed(0)
        draws = [masks.draw_dynamic_chunk(100, gen) for _ in range(400)]
        self.assertTrue(all(1 <= d <= 25 or d == 100 for d in draws))
        self.assertTrue(150 < draws.count(100) < 250)  # about half are full attention


@unittest.skipIf(torch is None, "torch is not installed")
class LossTest(unittest.TestCase):
    def test_add_sos_eos_as_wenet_docstring(self):
        ys = torch.tensor([[1, 2, 3, 4, 5], [4, 5, 6, 0, 0], [7, 8, 9, 0, 0]])
        ys_in, ys_out = losses.add_sos_eos(ys, torch.tensor([5, 3, 3]), 10, 11)
        self.assertEqual(ys_in.tolist(), [[10, 1, 2, 3, 4, 5], [10, 4, 5, 6, 11, 11],
                                          [10, 7, 8, 9, 11, 11]])
        self.assertEqual(ys_out.tolist(), [[1, 2, 3, 4, 5, 11], [4, 5, 6, 11, -1, -1],
                                           [7, 8, 9, 11, -1, -1]])
        self.assertEqual(losses.reverse_padded(ys, torch.tensor([5, 3, 3]))[1].tolist(),
                         [6, 5, 4, 0, 0])

    def test_label_smoothing_equals_explicit_kl(self):
        torch.manual_seed(0)
        logits = torch.randn(3, 4, 7)
        target = torch.tensor([[1, 2, 3, -1], [4, 5, -1, -1], [6, 0, 1, 2]])
        s = 0.1
        true = torch.full((12, 7), s / 6)
        keep = target.reshape(-1) != -1
        true[torch.arange(12), target.reshape(-1).clamp(min=0)] = 1 - s
        kl = torch.nn.KLDivLoss(reduction="none")(logits.reshape(-1, 7).log_softmax(-1), true)
        expected = kl[keep].sum() / 3
        torch.testing.assert_close(losses.label_smoothing_loss(logits, target, s), expected)

    def test_ctc_loss_is_batch_averaged_sum(self):
        torch.manual_seed(0)
        logits = torch.randn(2, 10, 5)
        ys = torch.tensor([[1, 2, 3], [4, 1, 0]])
        lens = torch.tensor([10, 8])
        ylens = torch.tensor([3, 2])
        per_utt = torch.nn.functional.ctc_loss(logits.log_softmax(-1).transpose(0, 1), ys,
                                               lens, ylens, reduction="none")
        torch.testing.assert_close(losses.ctc_loss(logits, lens, ys, ylens), per_utt.sum() / 2)


@unittest.skipIf(torch is None, "torch is not installed")
class TrainableTest(unittest.TestCase):
    def test_padded_batch_equals_single_utterances(self):
        """The batched training forward (eval mode) gives the reference's full-attention
        encoder output and decoder log-probs for every utterance of a padded batch."""
        model = fixture_model()
        trainable = Trainable(model).eval()
        feats = [fixture_feats("hello"), fixture_feats("numbers")]
        lens = torch.tensor([len(f) for f in feats])
        batch = torch.nn.utils.rnn.pad_sequence(feats, batch_first=True)
        tokens = [[5, 6, 7], [8, 9, 10, 11, 12]]
        with torch.no_grad():
            out, frame_mask, _ = trainable.encode(batch, lens, chunk=-1)
            ys = torch.tensor([tokens[0] + [0, 0], tokens[1]])
            ys_in, _ = losses.add_sos_eos(ys, torch.tensor([3, 5]), model.sos, model.eos)
            dec = model.decoder.left_decoder(ys_in, out, frame_mask.unsqueeze(1))
            for b, f in enumerate(feats):
                single = model.encode(f)
                n = single.size(0)
                self.assertEqual(int(frame_mask[b].sum()), n)
                torch.testing.assert_close(out[b, :n], single, rtol=0, atol=2e-5)
                ref = model.decoder_logprobs(tokens[b], single, reverse=False)
                torch.testing.assert_close(dec[b, :len(tokens[b]) + 1], ref, rtol=0, atol=2e-5)

    def test_no_tensor_is_made_off_the_model_device(self):
        """train.py --device cuda needs every tensor the forward and backward make to
        follow the model's device. Without a GPU here: factories called with no device
        make tensors on the meta device, which any op mixing them with the model's CPU
        tensors rejects, as CUDA would reject a CPU tensor."""
        from torch.overrides import TorchFunctionMode
        factories = {torch.arange, torch.zeros, torch.ones, torch.full, torch.empty,
                     torch.tensor, torch.eye, torch.linspace}

        class NoDeviceGoesToMeta(TorchFunctionMode):
            def __torch_function__(self, func, types, args=(), kwargs=None):
                kwargs = dict(kwargs or {})
                if func in factories and kwargs.get("device") is None:
                    kwargs["device"] = "meta"
                return func(*args, **kwargs)

        model = fixture_model()
        trainable = Trainable(model, balance_weight=0.01)
        feats = [fixture_feats("hello"), fixture_feats("numbers")]
        lens = torch.tensor([len(f) for f in feats])
        batch = torch.nn.utils.rnn.pad_sequence(feats, batch_first=True)
        ys, ys_lens = torch.tensor([[5, 6, 7, 0, 0], [8, 9, 10, 11, 12]]), torch.tensor([3, 5])
        for chunk in (None, 4, -1):
            trainable.train()
            with NoDeviceGoesToMeta():
                loss, _ = trainable(batch, lens, ys, ys_lens, chunk=chunk)
                loss.backward()
            self.assertEqual(loss.device.type, "cpu")
            trainable.eval()
            with torch.no_grad(), NoDeviceGoesToMeta():
                out, mask, _ = trainable.encode(batch, lens, chunk)
            self.assertEqual((out.device.type, mask.device.type), ("cpu", "cpu"))
        # the mode does catch a device-less factory mixed with the model's tensors
        with self.assertRaises(RuntimeError), NoDeviceGoesToMeta():
            out + torch.zeros(out.size(-1))

    def test_chunk_mask_forward_is_close_to_streaming(self):
        """With the causal conv, a masked chunk forward differs from real streaming only
        through the subsampling's right context at chunk edges: close, not equal."""
        model = fixture_model()
        trainable = Trainable(model).eval()
        f = fixture_feats("numbers")
        with torch.no_grad():
            masked, _, _ = trainable.encode(f.unsqueeze(0), torch.tensor([len(f)]), chunk=4)
            streamed = model.encode(f, chunk_size=4)
        self.assertEqual(masked.shape[1], streamed.shape[0])
        self.assertLess(float((masked[0] - streamed).abs().mean()), 0.05)

    def test_training_step_reduces_loss(self):
        torch.manual_seed(0)
        random.seed(0)
        model = fixture_model()
        model.decoder.left_decoder.embed[0].weight.data.normal_()
        trainable = Trainable(model, dropout=0.0).train()
        f = fixture_feats("hello").unsqueeze(0)
        lens = torch.tensor([f.size(1)])
        ys, ylens = torch.tensor([[5, 6, 7, 8]]), torch.tensor([4])
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        first = None
        for _ in range(10):
            loss, stats = trainable(f, lens, ys, ylens, chunk=-1)
            first = first if first is not None else loss.item()
            opt.zero_grad()
            loss.backward()
            opt.step()
        self.assertLess(loss.item(), first)
        self.assertGreater(stats["balance"], 0.0)



def write_tiny_corpus(root, count=24):
    """A corpus of tones and noise with made-up transcripts (some empty): enough for
    train.py to run, no synthesizer needed."""
    import wave
    import numpy as np
    rng = np.random.default_rng(0)
    words = ["ab", "ba", "abc", "c"]
    root.mkdir(parents=True)
    (root / "units.txt").write_text("<blank> 0\n<unk> 1\na 2\nb 3\nc 4\n\u2581 5\n<sos/eos> 6\n")
    for split, n in (("train", count), ("dev", 4)):
        (root / split / "wav").mkdir(parents=True)
        texts, scp = [], []
        for i in range(n):
            key = f"{split}_{i:03d}"
            seconds = 0.6 + 0.1 * (i % 7)
            t = np.arange(int(16000 * seconds)) / 16000
            x = 3000 * np.sin(2 * np.pi * (200 + 40 * i) * t) + 300 * rng.standard_normal(len(t))
            with wave.open(str(root / split / "wav" / f"{key}.wav"), "wb") as w:
                w.setnchannels(1)
                w.setsampwidth(2)
                w.setframerate(16000)
                w.writeframes(x.astype("<i2").tobytes())
            text = " ".join(words[j % 4] for j in range(i % 3))
            texts.append(f"{key} {text}".rstrip())
            scp.append(f"{key} wav/{key}.wav")
        (root / split / "text").write_text("\n".join(texts) + "\n")
        (root / split / "wav.scp").write_text("\n".join(scp) + "\n")


@unittest.skipIf(torch is None, "torch is not installed")
class ResumeTest(unittest.TestCase):
    """train.py's stretches: --resume continues bit for bit; --resume-from a compact
    state continues the counters and the float16 weights."""

    SMALL = ["--d-model", "16", "--heads", "2", "--linear-units", "32", "--encoder-layers", "1",
             "--decoder-layers", "1", "--r-decoder-layers", "1", "--batch-frames", "800",
             "--warmup", "2", "--eval-every", "1000", "--steps", "8"]

    def run_train(self, corpus, exp, *extra):
        import subprocess
        cmd = [sys.executable, str(TOOLS / "train" / "train.py"), "--corpus", str(corpus),
               "--exp", str(exp)] + self.SMALL + list(extra)
        r = subprocess.run(cmd, capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        return r.stdout

    def test_stretches(self):
        import tempfile
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            write_tiny_corpus(tmp / "corpus")
            self.run_train(tmp / "corpus", tmp / "whole")
            out = self.run_train(tmp / "corpus", tmp / "parts", "--stretch-steps", "3")
            self.assertIn("stretch done: 3 steps", out)
            self.assertFalse((tmp / "parts" / "final.pt").exists())
            state = torch.load(tmp / "parts" / "state.pt")
            ckpt = torch.load(tmp / "parts" / "checkpoint.pt")
            self.assertEqual((state["step"], ckpt["step"]), (3, 3))
            for k, v in state["model"].items():
                if v.dtype.is_floating_point:
                    self.assertEqual(v.dtype, torch.float16)
                    self.assertTrue(torch.equal(v, ckpt["model"][k].half()), k)
            # a full checkpoint continues exactly as the uninterrupted run
            out = self.run_train(tmp / "corpus", tmp / "parts", "--resume")
            self.assertIn("resumed from checkpoint.pt at step 3", out)
            whole = torch.load(tmp / "whole" / "final.pt")
            parts = torch.load(tmp / "parts" / "final.pt")
            self.assertEqual(whole.keys(), parts.keys())
            for k in whole:
                self.assertTrue(torch.equal(whole[k], parts[k]), k)
            # the compact state: counters and weights go on; Adam restarts under a ramp
            out = self.run_train(tmp / "corpus", tmp / "compact", "--resume-from",
                                 str(tmp / "parts" / "state.pt"), "--steps", "10", "--lr", "1.0",
                                 "--freq-warp", "0.1", "--time-stretch", "0.15")
            self.assertIn("keeping the resumed run's lr = 0.002 (command line: 1.0)", out)
            self.assertIn("update budget 8 -> 10", out)
            self.assertIn("freq_warp 0.0 -> 0.1", out)
            self.assertIn("perturbation: freq_warp 0.1, time_stretch 0.15", out)
            self.assertEqual(torch.load(tmp / "compact" / "state.pt")["hparams"]["time_stretch"],
                             0.15)
            self.assertIn("training done: 10 steps", out)
            self.assertTrue((tmp / "compact" / "final.pt").exists())


@unittest.skipIf(torch is None, "torch is not installed")
class PerturbTest(unittest.TestCase):
    """batching.perturb: the mel-axis warp and the tempo change, on features whose values
    are their own coordinates."""

    def draws(self, seed, n, freq_warp, time_stretch):
        r = random.Random(seed)
        out = []
        for _ in range(n):
            out.append((1 + r.uniform(-freq_warp, freq_warp),
                        1 + r.uniform(-time_stretch, time_stretch)))
        return out

    def test_off_returns_the_input(self):
        from batching import perturb
        feats, lens = torch.randn(2, 7, 5), torch.tensor([7, 4])
        out, out_lens = perturb(feats, lens, random.Random(0), 0.0, 0.0)
        self.assertIs(out, feats)
        self.assertIs(out_lens, lens)

    def test_mel_axis_warp(self):
        from batching import perturb
        bins = torch.arange(80, dtype=torch.float32)
        feats = bins.repeat(3, 6, 1)
        lens = torch.tensor([6, 6, 3])
        out, out_lens = perturb(feats, lens, random.Random(5), 0.2, 0.0)
        self.assertTrue(torch.equal(out_lens, lens))
        for b, (alpha, _) in enumerate(self.draws(5, 3, 0.2, 0.0)):
            self.assertNotAlmostEqual(alpha, 1.0, places=2)
            want = (bins / alpha).clamp(max=79)
            for t in range(int(lens[b])):
                torch.testing.assert_close(out[b, t], want, rtol=0, atol=1e-4)
            self.assertEqual(float(out[b, int(lens[b]):].abs().sum()), 0.0)

    def test_tempo_change(self):
        from batching import perturb
        lens = torch.tensor([50, 31, 2])
        frames = torch.arange(50, dtype=torch.float32)
        feats = frames.view(1, 50, 1).repeat(3, 1, 4)
        for b, n in enumerate(lens.tolist()):
            feats[b, n:] = 0
        out, out_lens = perturb(feats, lens, random.Random(9), 0.0, 0.3)
        for b, (_, beta) in enumerate(self.draws(9, 3, 0.0, 0.3)):
            n = int(lens[b])
            new = max(2, round(n * beta))
            self.assertEqual(int(out_lens[b]), new)
            want = torch.linspace(0, n - 1, new)
            for f in range(4):
                torch.testing.assert_close(out[b, :new, f], want, rtol=0, atol=1e-4)
        self.assertEqual(out.size(1), int(out_lens.max()))
        self.assertNotEqual(out_lens.tolist(), lens.tolist())


if __name__ == "__main__":
    unittest.main()
