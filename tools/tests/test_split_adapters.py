"""tools/split_adapters.py on the committed soft_moa fixture (numpy + pyyaml only)."""

import sys
import tempfile
import unittest
from pathlib import Path

import yaml

TOOLS = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TOOLS))
import safetensors_io  # noqa: E402
import split_adapters  # noqa: E402

DATA = TOOLS.parent / "tests" / "data"


class SplitAdaptersTest(unittest.TestCase):
    def test_splits_keys_and_tensors_without_loss(self):
        model = DATA / "soft_moe" / "models" / "soft_moa"
        with tempfile.TemporaryDirectory() as tmp:
            base, sets = Path(tmp) / "base", Path(tmp) / "set"
            split_adapters.split(model, base, sets)
            config = yaml.safe_load((base / "train.yaml").read_text())
            self.assertFalse([k for k in config["encoder_conf"] if k.startswith("adapter_")])
            adapter_conf = yaml.safe_load((sets / "adapters.yaml").read_text())["adapter_conf"]
            self.assertEqual(adapter_conf["adapter_type"], "soft_moa")
            self.assertEqual(adapter_conf["adapter_placement"], ["self_attn", "feed_forward"])
            original, _ = safetensors_io.load(model / "model.safetensors")
            kept, _ = safetensors_io.load(base / "model.safetensors")
            moved, _ = safetensors_io.load(sets / "adapters.safetensors")
            self.assertEqual(set(kept) | set(moved), set(original))
            self.assertFalse(set(kept) & set(moved))
            self.assertTrue(all(".adapter_" in k for k in moved))
            for name, value in {**kept, **moved}.items():
                self.assertTrue((value == original[name]).all(), name)

    def test_refuses_a_model_without_adapters(self):
        with tempfile.TemporaryDirectory() as tmp:
            with self.assertRaises(split_adapters.SplitError):
                split_adapters.split(DATA / "models" / "moe_ln", Path(tmp) / "b", Path(tmp) / "s")


if __name__ == "__main__":
    unittest.main()
