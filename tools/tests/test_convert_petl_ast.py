"""tools/convert_petl_ast.py on the PETL_AST fixtures (tests/data/petl, no torch).

    /usr/bin/python3 -m unittest discover -s tools/tests

Each committed PETL checkpoint (<case>.pt, PETL's own state_dict names) converts with
its recorded arguments into exactly the committed classifier directory, whose logits
the C++ runtime matches (tests/model/petl_ast_test.cc) and which
tools/check_against_petl.py ties to PETL's forward. With MOEASR_CLASSIFY set to the
moeasr-classify binary (ctest sets it), the CLI's scores of hello.wav on each freshly
converted directory are compared with the golden scores. Plus the converter's errors.
"""

import json
import os
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

DATA = TOOLS.parent / "tests" / "data" / "petl"
WAV = TOOLS.parent / "tests" / "data" / "audio" / "hello.wav"
CASES = sorted(p.stem for p in DATA.glob("*.json") if p.name != "ast_config.json")
TOLERANCE = 1e-4


def convert(args, out):
    return subprocess.run([sys.executable, str(TOOLS / "convert_petl_ast.py"), *args, "--out", str(out)],
                          capture_output=True, text=True, cwd=DATA)


def case_args(name):
    return json.loads((DATA / f"{name}.json").read_text())["converter_args"]


def with_option(args, flag, value):
    """args with `flag` set to value (added when absent, removed when value is None)."""
    out = list(args)
    if flag in out:
        i = out.index(flag)
        del out[i:i + 2]
    return out if value is None else out + [flag, value]


class ConvertPetlAstTest(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.tmp = Path(self._tmp.name)

    def tearDown(self):
        self._tmp.cleanup()

    def test_every_kind_of_checkpoint_is_covered(self):
        kinds = set()
        for name in CASES:
            c = yaml.safe_load((DATA / name / "classifier.yaml").read_text())["adapter_conf"]
            kinds.add((c["adapter_type"], tuple(c["adapter_placement"]), c.get("adapter_normalize", False)))
        self.assertEqual(kinds, {
            ("soft_moa", ("self_attn",), True), ("soft_moa", ("feed_forward",), False),
            ("soft_moa", ("self_attn", "feed_forward"), True), ("soft_moa", ("self_attn", "feed_forward"), False),
            ("dense_moa", ("self_attn",), False), ("dense_moa", ("feed_forward",), False),
            ("dense_moa", ("self_attn", "feed_forward"), False)})

    def test_fixtures_convert_into_the_committed_directories(self):
        for name in CASES:
            out = self.tmp / name
            r = convert(case_args(name), out)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual((out / "classifier.yaml").read_text(), (DATA / name / "classifier.yaml").read_text())
            self.assertEqual((out / "labels.txt").read_text(), (DATA / name / "labels.txt").read_text())
            got, _ = safetensors_io.load(out / "model.safetensors")
            want, _ = safetensors_io.load(DATA / name / "model.safetensors")
            self.assertEqual(sorted(got), sorted(want), name)
            for k in want:
                np.testing.assert_array_equal(got[k], want[k], err_msg=f"{name}: {k}")

    def test_petl_options_in_the_yaml(self):
        c = yaml.safe_load((DATA / "soft_pfeiffer_mhsa_norm" / "classifier.yaml").read_text())
        self.assertEqual(c["adapter_conf"]["adapter_normalize_mode"], "petl_ast")
        self.assertTrue(c["adapter_conf"]["adapter_self_attn_twice"])
        self.assertEqual((c["head"]["pooling"], c["head"]["layernorm"]), ("mean_all", False))
        c = yaml.safe_load((DATA / "dense_pfeiffer_ffn" / "classifier.yaml").read_text())
        self.assertTrue(c["adapter_conf"]["adapter_router_bias"])
        self.assertNotIn("adapter_self_attn_twice", c["adapter_conf"])
        self.assertEqual(c["head"]["pooling"], "cls")
        tensors, _ = safetensors_io.load(DATA / "soft_houlsby_norm" / "model.safetensors")
        self.assertEqual(tensors["audio_spectrogram_transformer.encoder.layer.1.adapter_feed_forward.phi_scale"].shape,
                         (1,))  # PETL's scale is 0-d

    @unittest.skipUnless(os.environ.get("MOEASR_CLASSIFY"), "MOEASR_CLASSIFY (the moeasr-classify binary) not set")
    def test_moeasr_classify_reproduces_petl_scores(self):
        for name in CASES:
            out = self.tmp / name
            r = convert(case_args(name), out)
            self.assertEqual(r.returncode, 0, r.stderr)
            r = subprocess.run([os.environ["MOEASR_CLASSIFY"], str(out), str(WAV), "--json", "--top-k", "100"],
                               capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            labels = (out / "labels.txt").read_text().split("\n")[:-1]
            got = {e["label"]: e["score"] for e in json.loads(r.stdout)["labels"]}
            golden = safetensors_io.load(DATA / f"{name}.golden.safetensors")[0]["scores"]
            self.assertEqual(sorted(got), sorted(labels))
            err = max(abs(got[label] - float(golden[i])) for i, label in enumerate(labels))
            self.assertLess(err, TOLERANCE, name)

    def test_clean_errors(self):
        base = case_args("soft_pfeiffer_mhsa_norm")
        dense = case_args("dense_houlsby")
        cases = [
            (with_option(base, "--location_moa", None), "needs --location_moa MHSA or FFN"),
            (with_option(base, "--num_adapters", "7"), "--num_adapters 7, but the state_dict has 3"),
            (with_option(base, "--num_slots", "1"), "--num_slots 1, but the state_dict has 2"),
            (with_option(base, "--normalize", "false"), "'False' turns it on"),
            (with_option(base, "--method", "Dense-MoA"), "--method Dense-MoA, but the state_dict is a Soft-MoA"),
            (with_option(base, "--adapter_type_moa", "Houlsby"), "but layer 0 is Pfeiffer"),
            (with_option(base, "--reduction_rate_moa", "8"), "implies a bottleneck of 2, the adapters have 4"),
            (with_option(base, "--max_len_AST", "100"), "--max_len_AST 100 with 128 mel bins implies [1, 110, 16]"),
            (with_option(dense, "--adapter_type_moa", "Pfeiffer"), "but layer 0 is Houlsby"),
            (with_option(base, "--ckpt", "soft_pfeiffer_mhsa_norm.json"), "soft_pfeiffer_mhsa_norm.json: "),
            (with_option(base, "--labels", "ast_config.json"), "the head has 5 classes"),
        ]
        for args, fragment in cases:
            r = convert(args, self.tmp / "out")
            self.assertEqual(r.returncode, 1, fragment)
            self.assertIn(fragment, r.stderr)
            self.assertNotIn("Traceback", r.stderr)
            self.assertFalse((self.tmp / "out").exists(), fragment)


if __name__ == "__main__":
    unittest.main()
