"""Mixture of Tokens: the transition-tuning converter (numpy only) and the reference
layer, its limits and the offline batch (skipped without torch).

    /usr/bin/python3 -m unittest discover -s tools/tests
"""

import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import numpy as np
import yaml

TOOLS = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TOOLS))
import mot_to_moe  # noqa: E402
import safetensors_io  # noqa: E402

DATA = TOOLS.parent / "tests" / "data"
MOT_CROSS = DATA / "models" / "mot_cross"
CONVERTED = DATA / "models" / "mot_cross_moe"

try:
    import torch
except ImportError:
    torch = None

if torch is not None:
    import moeasr_ref
    from moeasr_ref.batch import encode_batch
    from moeasr_ref.config import ConfigError
    from moeasr_ref.ffn import MoEFFNLayer
    from moeasr_ref.mot import MixtureOfTokens, expert_choice_one_hot, group_index


class ConverterTest(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.out = Path(self._tmp.name) / "moe"

    def tearDown(self):
        self._tmp.cleanup()

    def test_reproduces_the_committed_converted_model(self):
        mot_to_moe.convert(MOT_CROSS, self.out)
        for name in ("train.yaml", "units.txt", "model.safetensors"):
            self.assertEqual((self.out / name).read_bytes(), (CONVERTED / name).read_bytes(), name)

    def test_controller_becomes_the_gate_divided_by_tau_and_experts_are_copied(self):
        mot_to_moe.convert(MOT_CROSS, self.out, top_k=1)
        mot, _ = safetensors_io.load(MOT_CROSS / "model.safetensors")
        moe, meta = safetensors_io.load(self.out / "model.safetensors")
        config = yaml.safe_load((MOT_CROSS / "train.yaml").read_text())
        tau = config["encoder_conf"]["mot_temperature"]
        gates = [n for n in moe if n.endswith(".gate.weight") and n.startswith("encoder.")]
        self.assertEqual(len(gates), 4)  # 2 blocks x (macaron, second FFN)
        for gate in gates:
            controller = gate.replace(".gate.", ".controller.")
            np.testing.assert_array_equal(moe[gate], mot[controller] / np.float32(tau))
        self.assertEqual(set(moe) - set(gates), {n for n in mot if ".controller." not in n})
        for name in set(moe) - set(gates):
            np.testing.assert_array_equal(moe[name], mot[name])
        self.assertEqual(meta["converted_from"], "mixture_of_tokens")
        encoder_conf = yaml.safe_load((self.out / "train.yaml").read_text())["encoder_conf"]
        self.assertEqual((encoder_conf["mlp_type"], encoder_conf["n_expert_activated"]), ("moe", 1))
        self.assertTrue(encoder_conf["mlp_bias"])
        self.assertFalse(any(k.startswith("mot_") for k in encoder_conf))

    def test_default_k_keeps_the_expert_evaluations_per_token(self):
        for experts, group, k in ((8, 8, 1), (8, 2, 4), (4, 8, 1), (3, 2, 2), (4, 1, 4), (16, 3, 5)):
            self.assertEqual(mot_to_moe.default_top_k(experts, group), k, (experts, group))

    def test_bias_free_mot_writes_mlp_bias_false(self):
        config = {"encoder_conf": {"mlp_type": "mot", "n_expert": 4, "mot_group_size": 4}}
        new, tau, k = mot_to_moe.moe_config(config, None)
        self.assertEqual((new["encoder_conf"]["mlp_bias"], tau, k), (False, 1.0, 1))

    def test_errors_are_one_line(self):
        def run(*args):
            return subprocess.run([sys.executable, str(TOOLS / "mot_to_moe.py"), *map(str, args)],
                                  capture_output=True, text=True)
        for args, fragment in (
                (["--model", DATA / "models" / "moe_ln", "--out", self.out], "is not 'mot'"),
                (["--model", MOT_CROSS, "--out", self.out, "--top-k", "5"], "outside [1, n_expert=4]"),
                (["--model", self.out.parent / "nothing", "--out", self.out], "not found"),
                (["--model", MOT_CROSS, "--out", CONVERTED], "use --force")):
            result = run(*args)
            self.assertEqual(result.returncode, 1, args)
            self.assertIn(fragment, result.stderr)
            self.assertEqual(len(result.stderr.strip().splitlines()), 1)


def random_mot(group_size, grouping, temperature=1.0, bias=False, experts=4, d=8, seed=0):
    torch.manual_seed(seed)
    layer = MixtureOfTokens(d, 12, "swish", bias, experts, group_size, temperature, grouping)
    return layer.eval()


def naive_mot(layer, x, lengths):
    """The paper's layer written out token by token."""
    flat = x.reshape(-1, x.size(-1))
    out = torch.zeros_like(flat)
    for group in group_index(lengths, x.size(1), layer.group_size, layer.grouping).tolist():
        members = [i for i in group if i >= 0]
        for e, expert in enumerate(layer.experts):
            logits = torch.stack([flat[i] @ layer.controller.weight[e] for i in members])
            w = torch.softmax(logits / layer.temperature, dim=0)
            mixed = sum(wi * flat[i] for wi, i in zip(w, members))
            y = expert(mixed)
            for wi, i in zip(w, members):
                out[i] += wi * y
    return out.view_as(x)


@unittest.skipIf(torch is None, "torch is not installed")
class LayerTest(unittest.TestCase):
    def test_matches_the_token_by_token_layer(self):
        lengths = [7, 3, 5, 1, 6]
        x = torch.randn(5, 7, 8)
        for grouping in ("cross_example", "within_sequence"):
            for group_size in (1, 4, 8):
                layer = random_mot(group_size, grouping, 0.7, bias=True)
                with torch.no_grad():
                    torch.testing.assert_close(layer(x, lengths), naive_mot(layer, x, lengths),
                                               rtol=0, atol=1e-5)

    def test_padding_gets_nothing_and_gives_nothing(self):
        layer = random_mot(4, "cross_example")
        x = torch.randn(3, 5, 8)
        lengths = [5, 2, 4]
        y = x.clone()
        y[1, 2:] = 1e3  # padding of example 1
        with torch.no_grad():
            a, b = layer(x, lengths), layer(y, lengths)
        self.assertTrue(torch.equal(a, b))
        self.assertTrue(torch.equal(a[1, 2:], torch.zeros(3, 8)))

    def test_group_of_one_is_the_sum_of_all_experts(self):
        layer = random_mot(1, "cross_example", temperature=0.01)
        x = torch.randn(2, 3, 8)
        with torch.no_grad():
            dense = sum(expert(x) for expert in layer.experts)
            torch.testing.assert_close(layer(x), dense, rtol=0, atol=1e-6)

    def test_small_temperature_is_one_hot_expert_choice(self):
        layer = random_mot(4, "within_sequence", temperature=1e-6)
        x = torch.randn(2, 9, 8)
        with torch.no_grad():
            torch.testing.assert_close(layer(x, [9, 6]), expert_choice_one_hot(layer, x, [9, 6]),
                                       rtol=0, atol=1e-5)

    def test_converted_top1_moe_agrees_exactly_when_choices_are_mutual(self):
        """G = E and token g scores expert pi(g) highest while expert pi(g) scores token g
        highest: expert choice (MoT, tau -> 0) and token choice (top-1) coincide."""
        layer = random_mot(4, "cross_example", temperature=1e-3)
        with torch.no_grad():
            q, _ = torch.linalg.qr(torch.randn(8, 4))
            layer.controller.weight.copy_(q.T)
            x = torch.stack([3 * q.T[torch.randperm(4)] for _ in range(3)], dim=1)  # (4, 3, 8)
            moe = MoEFFNLayer(8, 12, "swish", False, 4, 1)
            moe.gate.weight.copy_(layer.controller.weight / layer.temperature)
            for src, dst in zip(layer.experts, moe.experts):
                dst.load_state_dict(src.state_dict())
            torch.testing.assert_close(layer(x), moe(x), rtol=0, atol=1e-6)
            # Where two experts pick the same token, they do not: that is the fine-tuning's job.
            x[:, 0] = 3 * q.T[0]
            self.assertGreater((layer(x) - moe(x)).abs().max().item(), 1e-2)


def load_model(name):
    config = moeasr_ref.load_config(DATA / "models" / name / "train.yaml")
    tensors, _ = safetensors_io.load(DATA / "models" / name / "model.safetensors")
    return moeasr_ref.load_model(config, {k: torch.from_numpy(v) for k, v in tensors.items()})


def fbank(utt):
    return moeasr_ref.fbank(*moeasr_ref.read_wav_int16(DATA / "audio" / f"{utt}.wav"), exact=True)


@unittest.skipIf(torch is None, "torch is not installed")
class ModelTest(unittest.TestCase):
    def test_config_rules(self):
        config = moeasr_ref.load_config(DATA / "models" / "mot_seq" / "train.yaml")
        self.assertIsNone(moeasr_ref.ASRModel(config).encoder.encoders[0].feed_forward.experts[0].w_1.bias)
        bad = dict(config, encoder_conf=dict(config["encoder_conf"], mot_group_size=None))
        with self.assertRaises(ConfigError):
            moeasr_ref.ASRModel(bad)
        bad = dict(config, decoder_conf=dict(config["decoder_conf"], mlp_type="mot"))
        with self.assertRaises(ConfigError):
            moeasr_ref.ASRModel(bad)

    def test_batch_of_models_without_cross_mixing_equals_each_alone(self):
        feats = [fbank("hello"), fbank("numbers")[:150], fbank("numbers")]
        for name in ("moe_ln", "mot_seq"):
            model = load_model(name)
            with torch.no_grad():
                batch = encode_batch(model, feats)
                for f, out in zip(feats, batch):
                    torch.testing.assert_close(out, model.encode(f), rtol=0, atol=1e-5, msg=name)

    def test_cross_example_sets_are_independent(self):
        model = load_model("mot_cross")
        a, b, c = fbank("hello"), fbank("numbers"), fbank("hello")[50:]
        with torch.no_grad():
            first = encode_batch(model, [a, b, c])
            swapped = encode_batch(model, [a, b, c[:100]])
            partner = encode_batch(model, [a, c, b])
        torch.testing.assert_close(first[0], swapped[0], rtol=0, atol=1e-6)
        self.assertGreater((first[0] - partner[0]).abs().max().item(), 1e-3)

    def test_within_sequence_one_chunk_covering_the_utterance_equals_full(self):
        """forward_chunk groups the frames of its chunk from the chunk's first frame: one
        chunk holding the utterance has the full forward's groups."""
        model = load_model("mot_seq")
        f = fbank("numbers")
        with torch.no_grad():
            full = model.encode(f)
            one_chunk = model.encode(f, chunk_size=full.size(0) + 4)
        torch.testing.assert_close(one_chunk, full, rtol=0, atol=1e-5)


if __name__ == "__main__":
    unittest.main()
