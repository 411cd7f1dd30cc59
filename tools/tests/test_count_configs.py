"""tools/count_wenet_configs.py against moeasr-decode --check-config.

Needs the moeasr-decode binary in MOEASR_DECODE (ctest sets it); skips without.
"""

import contextlib
import io
import json
import os
import subprocess
import sys
import unittest
from pathlib import Path

TOOLS = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TOOLS))
import convert_wenet  # noqa: E402
import count_wenet_configs  # noqa: E402

CONFIGS = Path(__file__).resolve().parent / "data" / "recipe_configs"
SHIPPED_CONFIGS = TOOLS.parent / "configs"
RUNTIME = os.environ.get("MOEASR_DECODE")


def run_tool(root):
    r = subprocess.run([sys.executable, str(TOOLS / "count_wenet_configs.py"), str(root), "--json",
                        "--runtime", RUNTIME], capture_output=True, text=True)
    return r.returncode, {Path(row["file"]).name: row for row in map(json.loads, r.stdout.splitlines())}, r.stderr


@unittest.skipUnless(RUNTIME, "MOEASR_DECODE (the moeasr-decode binary) not set")
class CountConfigsTest(unittest.TestCase):
    def test_verdicts_of_the_loader_and_the_family_check(self):
        rc, rows, err = run_tool(CONFIGS)
        self.assertEqual(rc, 0, err)
        self.assertEqual(len(rows), 4)
        ok = rows["accepted_no_output_dim.yaml"]
        self.assertTrue(ok["loader_accepts"] and ok["converter_family_check"], ok)
        self.assertIn("1 encoder layers of 8", ok["loader_message"])
        bad = rows["refused_encoder.yaml"]
        self.assertFalse(bad["loader_accepts"] or bad["converter_family_check"], bad)
        self.assertIn("encoder: 'made_up_former' is not supported", bad["loader_message"])
        self.assertIn("supported: conformer", bad["loader_message"])
        mfcc = rows["refused_mfcc.yaml"]
        self.assertFalse(mfcc["loader_accepts"])
        self.assertTrue(mfcc["converter_family_check"])  # refused by the loader after conversion
        self.assertIn("feats_type: 'mfcc'", mfcc["loader_message"])
        self.assertTrue(rows["other_family_whisper.yaml"]["other_family"])

    def test_summary_counts_u2_configs_only(self):
        r = subprocess.run([sys.executable, str(TOOLS / "count_wenet_configs.py"), str(CONFIGS), "--list",
                            "--runtime", RUNTIME], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("moeasr accepts 1 of 3 U2-family configs (4 yaml files; other model families left out: "
                      "1 whisper)", r.stdout)
        self.assertEqual(r.stdout.count("refused: "), 2)

    def test_every_shipped_config_is_accepted_by_both(self):
        rc, rows, err = run_tool(SHIPPED_CONFIGS)
        self.assertEqual(rc, 0, err)
        self.assertGreaterEqual(len(rows), 7)
        for name, row in rows.items():
            self.assertTrue(row["loader_accepts"], f"{name}: {row['loader_message']}")
            self.assertTrue(row["converter_family_check"], f"{name}: {row['converter_message']}")

    def test_a_family_check_stricter_than_the_loader_is_an_error(self):
        narrowed = tuple((w, k, tuple(v for v in values if v != "conformer"), d) if k == "encoder" else (w, k, values, d)
                         for w, k, values, d in convert_wenet.SUPPORTED_FAMILIES)
        saved = convert_wenet.SUPPORTED_FAMILIES
        convert_wenet.SUPPORTED_FAMILIES = narrowed
        err = io.StringIO()
        try:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
                rc = count_wenet_configs.main([str(CONFIGS), "--runtime", RUNTIME])
        finally:
            convert_wenet.SUPPORTED_FAMILIES = saved
        self.assertEqual(rc, 1)
        self.assertIn("accepted_no_output_dim.yaml: the loader accepts it but the converter's family check refuses",
                      err.getvalue())


if __name__ == "__main__":
    unittest.main()
