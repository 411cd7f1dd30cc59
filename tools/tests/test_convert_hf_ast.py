"""tools/convert_hf_ast.py on fake Hugging Face AST checkpoints (no network).

    /usr/bin/python3 -m unittest discover -s tools/tests

Without torch: a checkpoint made of the plain fixture's weights (HF names) and an HF
config.json converts into exactly tests/data/ast/plain, whose logits the C++ runtime
matches (tests/model/ast_test.cc), so a converted checkpoint runs as the reference.
With torch: a random state_dict built here from HF's key names, saved as
pytorch_model.bin, gives the same logits through the converted directory as the
reference run directly on the HF-named dict with the HF config.
"""

import json
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import numpy as np
import yaml

TOOLS = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TOOLS))
import safetensors_io  # noqa: E402

try:
    import torch
except ImportError:
    torch = None

PLAIN = TOOLS.parent / "tests" / "data" / "ast" / "plain"
LABELS = ["yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go", "_silence_"]


def hf_config(layers=2, hidden=32, heads=2, intermediate=48, max_length=120, labels=LABELS, **extra):
    """An ASTConfig as config.json spells it (with keys the converter must ignore)."""
    c = {"architectures": ["ASTForAudioClassification"], "model_type": "audio-spectrogram-transformer",
         "hidden_size": hidden, "num_hidden_layers": layers, "num_attention_heads": heads,
         "intermediate_size": intermediate, "hidden_act": "gelu", "hidden_dropout_prob": 0.0,
         "attention_probs_dropout_prob": 0.0, "initializer_range": 0.02, "layer_norm_eps": 1e-12,
         "patch_size": 16, "qkv_bias": True, "frequency_stride": 10, "time_stride": 10,
         "max_length": max_length, "num_mel_bins": 128, "problem_type": "single_label_classification",
         "id2label": {str(i): label for i, label in enumerate(labels)},
         "label2id": {label: i for i, label in enumerate(labels)}}
    c.update(extra)
    return c


def hf_state_dict(rng, layers, hidden, intermediate, tokens, labels):
    """Random tensors under Hugging Face's ASTForAudioClassification key names."""
    h, body = hidden, "audio_spectrogram_transformer."
    shapes = {body + "embeddings.cls_token": (1, 1, h), body + "embeddings.distillation_token": (1, 1, h),
              body + "embeddings.position_embeddings": (1, tokens, h),
              body + "embeddings.patch_embeddings.projection.weight": (h, 1, 16, 16),
              body + "embeddings.patch_embeddings.projection.bias": (h,),
              body + "layernorm.weight": (h,), body + "layernorm.bias": (h,),
              "classifier.layernorm.weight": (h,), "classifier.layernorm.bias": (h,),
              "classifier.dense.weight": (labels, h), "classifier.dense.bias": (labels,)}
    for i in range(layers):
        l = f"{body}encoder.layer.{i}."
        for name in ("query", "key", "value"):
            shapes[f"{l}attention.attention.{name}.weight"] = (h, h)
            shapes[f"{l}attention.attention.{name}.bias"] = (h,)
        shapes[f"{l}attention.output.dense.weight"] = (h, h)
        shapes[f"{l}attention.output.dense.bias"] = (h,)
        shapes[f"{l}intermediate.dense.weight"] = (intermediate, h)
        shapes[f"{l}intermediate.dense.bias"] = (intermediate,)
        shapes[f"{l}output.dense.weight"] = (h, intermediate)
        shapes[f"{l}output.dense.bias"] = (h,)
        for norm in ("layernorm_before", "layernorm_after"):
            shapes[f"{l}{norm}.weight"] = (h,)
            shapes[f"{l}{norm}.bias"] = (h,)
    out = {}
    for name, shape in shapes.items():
        if name.endswith("weight") and "layernorm" in name:
            v = rng.uniform(0.5, 1.5, shape)
        elif len(shape) >= 2:
            v = rng.normal(0, 1 / np.sqrt(np.prod(shape[1:])) if "embeddings" not in name or "projection" in name
                           else 0.5, shape)
        else:
            v = rng.uniform(-0.1, 0.1, shape)
        out[name] = v.astype(np.float32)
    return out


def convert(hf, out, *extra):
    return subprocess.run([sys.executable, str(TOOLS / "convert_hf_ast.py"), "--hf", str(hf), "--out", str(out),
                           *extra], capture_output=True, text=True)


class ConvertHfAstTest(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.tmp = Path(self._tmp.name)
        self.hf = self.tmp / "hf"
        self.hf.mkdir()

    def tearDown(self):
        self._tmp.cleanup()

    def write_hf(self, config, tensors=None):
        (self.hf / "config.json").write_text(json.dumps(config))
        if tensors is not None:
            safetensors_io.save(self.hf / "model.safetensors", tensors)

    def test_plain_fixture_round_trips(self):
        tensors, _ = safetensors_io.load(PLAIN / "model.safetensors")
        self.write_hf(hf_config(), tensors)
        r = convert(self.hf, self.tmp / "out")
        self.assertEqual(r.returncode, 0, r.stderr)
        out = self.tmp / "out"
        self.assertEqual(yaml.safe_load((out / "classifier.yaml").read_text()),
                         yaml.safe_load((PLAIN / "classifier.yaml").read_text()))
        self.assertEqual((out / "labels.txt").read_text(), (PLAIN / "labels.txt").read_text())
        converted, _ = safetensors_io.load(out / "model.safetensors")
        self.assertEqual(sorted(converted), sorted(tensors))
        for k, v in tensors.items():
            np.testing.assert_array_equal(converted[k], v, err_msg=k)

    def test_preprocessor_config_and_score(self):
        tensors, _ = safetensors_io.load(PLAIN / "model.safetensors")
        config = hf_config()
        del config["problem_type"]
        self.write_hf(config, tensors)
        (self.hf / "preprocessor_config.json").write_text(json.dumps({"mean": 1.5, "std": 2.5, "sampling_rate": 16000}))
        r = convert(self.hf, self.tmp / "out")
        self.assertEqual(r.returncode, 0, r.stderr)
        c = yaml.safe_load((self.tmp / "out" / "classifier.yaml").read_text())
        self.assertEqual((c["frontend"]["mean"], c["frontend"]["std"]), (1.5, 2.5))
        self.assertEqual(c["head"]["score"], "sigmoid")  # no problem_type: multi-label (AudioSet)
        r = convert(self.hf, self.tmp / "out", "--score", "softmax", "--force")
        self.assertEqual(r.returncode, 0, r.stderr)
        c = yaml.safe_load((self.tmp / "out" / "classifier.yaml").read_text())
        self.assertEqual(c["head"]["score"], "softmax")

    def test_clean_errors(self):
        tensors, _ = safetensors_io.load(PLAIN / "model.safetensors")
        cases = [
            (hf_config(max_length=200), tensors, "position_embeddings has shape [1, 134, 32], the config implies [1, 230, 32]"),
            (hf_config(hidden_act="relu"), tensors, "hidden_act 'relu'"),
            (hf_config(labels=LABELS[:3]), tensors, "classifier.dense.weight does not have 3 rows"),
            ({k: v for k, v in hf_config().items() if k != "id2label"}, tensors, "no id2label"),
            ({k: v for k, v in hf_config().items() if k != "hidden_size"}, tensors, "lacks 'hidden_size'"),
            (hf_config(), {**tensors, "wav2vec.extra": np.zeros(1, np.float32)}, "unexpected tensors: wav2vec.extra"),
            (hf_config(), None, "neither model.safetensors nor pytorch_model.bin"),
        ]
        for config, t, fragment in cases:
            for f in self.hf.iterdir():
                f.unlink()
            self.write_hf(config, t)
            r = convert(self.hf, self.tmp / "out", "--force")
            self.assertEqual(r.returncode, 1, fragment)
            self.assertIn(fragment, r.stderr)
            self.assertNotIn("Traceback", r.stderr)

    def test_do_normalize_false_leaves_the_fbank_as_it_is(self):
        # ASTFeatureExtractor(do_normalize=False) hands over the padded fbank; the
        # runtime computes (x - mean) / (2 std), so mean 0, std 0.5 (exactly 1).
        tensors, _ = safetensors_io.load(PLAIN / "model.safetensors")
        self.write_hf(hf_config(), tensors)
        (self.hf / "preprocessor_config.json").write_text(json.dumps({"do_normalize": False, "mean": 1.5}))
        r = convert(self.hf, self.tmp / "out")
        self.assertEqual(r.returncode, 0, r.stderr)
        fe = yaml.safe_load((self.tmp / "out" / "classifier.yaml").read_text())["frontend"]
        self.assertEqual((fe["mean"], fe["std"]), (0.0, 0.5))
        x = np.float32([-20.5, -3.25, 0.0, 7.125])
        np.testing.assert_array_equal((x - np.float32(fe["mean"])) * (np.float32(1) / (2 * np.float32(fe["std"]))), x)
        (self.hf / "preprocessor_config.json").write_text(json.dumps({"do_normalize": True, "mean": 1.5}))
        r = convert(self.hf, self.tmp / "out", "--force")
        fe = yaml.safe_load((self.tmp / "out" / "classifier.yaml").read_text())["frontend"]
        self.assertEqual((fe["mean"], fe["std"]), (1.5, 4.5689974))
        (self.hf / "preprocessor_config.json").write_text(json.dumps({"do_normalize": "no"}))
        r = convert(self.hf, self.tmp / "out", "--force")
        self.assertEqual(r.returncode, 1)
        self.assertIn("do_normalize 'no' is not a boolean", r.stderr)

    def test_transformers5_names_are_refused_not_converted(self):
        # transformers 5 renamed the AST's modules; such a state_dict used to convert
        # "successfully" into a directory the runtime then refused to load.
        tensors, _ = safetensors_io.load(PLAIN / "model.safetensors")
        renames = [(".encoder.layer.", ".encoder.layers."), (".attention.attention.query.", ".attention.q_proj."),
                   (".attention.attention.key.", ".attention.k_proj."),
                   (".attention.attention.value.", ".attention.v_proj."),
                   (".attention.output.dense.", ".attention.o_proj."), (".intermediate.dense.", ".mlp.fc1."),
                   (".output.dense.", ".mlp.fc2.")]
        v5 = {}
        for k, v in tensors.items():
            for a, b in renames:
                k = k.replace(a, b)
            v5[k] = v
        self.assertIn("audio_spectrogram_transformer.encoder.layers.0.mlp.fc1.weight", v5)
        self.write_hf(hf_config(), v5)
        r = convert(self.hf, self.tmp / "out")
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("transformers 5 names", r.stderr)
        self.assertIn("save the model with transformers 4", r.stderr)
        self.assertNotIn("Traceback", r.stderr)
        self.assertFalse((self.tmp / "out").exists())
        # Any other misfit is named too, before anything is written.
        del tensors["audio_spectrogram_transformer.encoder.layer.1.output.dense.bias"]
        tensors["audio_spectrogram_transformer.encoder.layer.1.output.dense.bias_"] = np.zeros(32, np.float32)
        self.write_hf(hf_config(), tensors)
        r = convert(self.hf, self.tmp / "out")
        self.assertEqual(r.returncode, 1)
        self.assertIn("missing audio_spectrogram_transformer.encoder.layer.1.output.dense.bias;", r.stderr)
        self.assertIn("unexpected audio_spectrogram_transformer.encoder.layer.1.output.dense.bias_", r.stderr)
        self.assertFalse((self.tmp / "out").exists())

    @unittest.skipIf(torch is None, "needs torch")
    def test_pytorch_bin_gives_the_reference_logits(self):
        from moeasr_ref.ast import ASTClassifier, load_classifier

        layers, hidden, inter, max_length = 2, 32, 40, 64
        tokens = 12 * ((max_length - 16) // 10 + 1) + 2
        state = hf_state_dict(np.random.default_rng(9), layers, hidden, inter, tokens, len(LABELS))
        torch.save({k: torch.from_numpy(v) for k, v in state.items()}, self.hf / "pytorch_model.bin")
        (self.hf / "config.json").write_text(json.dumps(
            hf_config(layers=layers, hidden=hidden, intermediate=inter, max_length=max_length)))
        r = convert(self.hf, self.tmp / "out")
        self.assertEqual(r.returncode, 0, r.stderr)
        out = self.tmp / "out"
        converted, _ = safetensors_io.load(out / "model.safetensors")
        via_dir = load_classifier(yaml.safe_load((out / "classifier.yaml").read_text()),
                                  {k: torch.from_numpy(v) for k, v in converted.items()})
        # The reference straight on the HF-named dict, configured by hand from config.json.
        direct_config = {
            "frontend": {"sample_rate": 16000, "num_mel_bins": 128, "max_length": max_length,
                         "mean": -4.2677393, "std": 4.5689974},
            "encoder": {"hidden_size": hidden, "num_hidden_layers": layers, "num_attention_heads": 2,
                        "intermediate_size": inter, "layer_norm_eps": 1e-12, "patch_size": 16,
                        "frequency_stride": 10, "time_stride": 10},
            "head": {"num_labels": len(LABELS), "pooling": "cls_dist", "score": "softmax"}}
        direct = ASTClassifier(direct_config).eval()
        direct.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=True)
        wave = np.sin(np.arange(12000) * 0.05) * 0.3
        with torch.no_grad():
            _, values = direct.features(wave)
            a = direct(values.unsqueeze(0))
            _, values2 = via_dir.features(wave)
            b = via_dir(values2.unsqueeze(0))
        torch.testing.assert_close(a, b, atol=1e-6, rtol=0)
        self.assertEqual((out / "labels.txt").read_text().split("\n")[:-1], LABELS)


if __name__ == "__main__":
    unittest.main()
