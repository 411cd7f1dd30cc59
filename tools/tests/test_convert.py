"""Tests of the torch-free tools: safetensors_io, ptfile and convert_wenet.py.

Needs only numpy and pyyaml:  python3 -m unittest discover -s tools/tests
"""

import shutil
import struct
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import numpy as np

TOOLS = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TOOLS))
import ptfile  # noqa: E402
import safetensors_io  # noqa: E402

DATA = TOOLS.parent / "tests" / "data"
CHECKPOINT = DATA / "checkpoints" / "moe_ln"
COMMITTED_MODEL = DATA / "models" / "moe_ln"
TINY = Path(__file__).resolve().parent / "data"


def run_converter(*args):
    return subprocess.run([sys.executable, str(TOOLS / "convert_wenet.py"), *map(str, args)],
                          capture_output=True, text=True)


class TempDirTest(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.tmp = Path(self._tmp.name)

    def tearDown(self):
        self._tmp.cleanup()

    def assertCleanError(self, result, *fragments):
        """Non-zero exit, exactly one line on stderr, no traceback."""
        self.assertNotEqual(result.returncode, 0)
        lines = result.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, result.stderr)
        self.assertNotIn("Traceback", result.stderr)
        for fragment in fragments:
            self.assertIn(fragment, lines[0])


class SafetensorsTest(TempDirTest):
    def test_round_trip_all_dtypes(self):
        tensors = {
            "f32": np.arange(6, dtype=np.float32).reshape(2, 3),
            "f16": np.array([0.5, -1.25], dtype=np.float16),
            "bf16": np.array([0x3FC0, 0xC000], dtype=np.uint16),  # 1.5, -2.0
            "i8": np.array([-128, 127], dtype=np.int8),
            "i32": np.array([[1], [-2]], dtype=np.int32),
            "i64": np.array(7, dtype=np.int64),
            "u8": np.zeros((0, 4), dtype=np.uint8),
        }
        path = self.tmp / "x.safetensors"
        safetensors_io.save(path, tensors, {"format": "pt"}, dtypes={"bf16": "BF16"})
        loaded, metadata = safetensors_io.load(path)
        self.assertEqual(metadata, {"format": "pt"})
        self.assertEqual(sorted(loaded), sorted(tensors))
        for name, array in tensors.items():
            self.assertEqual(loaded[name].dtype, array.dtype, name)
            np.testing.assert_array_equal(loaded[name], array)
        header, _, start = safetensors_io.read_header(path)
        self.assertEqual(header["bf16"]["dtype"], "BF16")
        self.assertEqual(start % 8, 0)

    def test_layout_sorted_and_contiguous(self):
        path = self.tmp / "x.safetensors"
        safetensors_io.save(path, {"b": np.ones(3, np.float32), "a": np.ones(2, np.int64)})
        header, _, _ = safetensors_io.read_header(path)
        self.assertEqual(header["a"]["data_offsets"], [0, 16])
        self.assertEqual(header["b"]["data_offsets"], [16, 28])

    def test_rejects_truncated_payload(self):
        path = self.tmp / "x.safetensors"
        safetensors_io.save(path, {"a": np.ones(4, np.float32)})
        path.write_bytes(path.read_bytes()[:-4])
        with self.assertRaises(safetensors_io.SafetensorsError):
            safetensors_io.load(path)

    def test_rejects_bad_header_length(self):
        path = self.tmp / "x.safetensors"
        path.write_bytes(struct.pack("<Q", 1 << 40) + b"{}")
        with self.assertRaises(safetensors_io.SafetensorsError):
            safetensors_io.load(path)


class PtFileTest(unittest.TestCase):
    def test_strided_and_offset_storages(self):
        checkpoint = ptfile.load(TINY / "tiny_wrapped.pt")
        self.assertEqual(checkpoint["epoch"], 3)
        state = checkpoint["model"]
        base = np.arange(24, dtype=np.float32).reshape(4, 6)
        np.testing.assert_array_equal(state["module.ctc.ctc_lo.weight"], base.T)
        np.testing.assert_array_equal(state["module.ctc.ctc_lo.bias"], base.reshape(-1)[5:11])
        np.testing.assert_array_equal(state["module.encoder.view"], base[1:, ::2])
        self.assertEqual(state["module.encoder.half"].dtype, np.float16)
        np.testing.assert_array_equal(state["module.encoder.half"],
                                      np.arange(6).reshape(2, 3) / 4)
        self.assertEqual(state["module.encoder.bf16"].dtype, np.float32)
        np.testing.assert_array_equal(state["module.encoder.bf16"], [1.5, -2.0, 0.15625])
        self.assertEqual(state["module.encoder.count"].dtype, np.int64)
        self.assertEqual(state["module.encoder.empty"].shape, (0, 3))
        self.assertEqual(state["module.encoder.norm.num_batches_tracked"].shape, ())

    def test_not_a_checkpoint(self):
        with tempfile.NamedTemporaryFile(suffix=".pt") as f:
            f.write(b"PK\x03\x04 definitely not a zip")
            f.flush()
            with self.assertRaises(ptfile.PtFileError):
                ptfile.load(f.name)


class ConvertTest(TempDirTest):
    def test_converts_to_committed_model(self):
        out = self.tmp / "model"
        result = run_converter("--checkpoint", CHECKPOINT / "final.pt",
                               "--config", CHECKPOINT / "train.yaml",
                               "--units", CHECKPOINT / "units.txt", "--out", out)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("encoder.embed.pos_enc.pe", result.stdout)  # says what it dropped
        converted, metadata = safetensors_io.load(out / "model.safetensors")
        committed, committed_metadata = safetensors_io.load(COMMITTED_MODEL / "model.safetensors")
        self.assertEqual(metadata, {"format": "pt", "moeasr_format_version": "1",
                                    "source": "wenet"})
        self.assertEqual(metadata, committed_metadata)
        self.assertEqual(sorted(converted), sorted(committed))
        for name, array in committed.items():
            self.assertEqual(converted[name].dtype, np.float32, name)
            np.testing.assert_array_equal(converted[name], array, err_msg=name)
        self.assertFalse([k for k in converted if k.endswith((".pe", ".num_batches_tracked"))])
        for name in ("train.yaml", "units.txt"):
            self.assertEqual((out / name).read_bytes(), (CHECKPOINT / name).read_bytes())
        self.assertEqual((out / "model.safetensors").read_bytes(),
                         (COMMITTED_MODEL / "model.safetensors").read_bytes())

    def test_fp16_output(self):
        out = self.tmp / "model"
        result = run_converter("--checkpoint", CHECKPOINT / "final.pt",
                               "--config", CHECKPOINT / "train.yaml",
                               "--units", CHECKPOINT / "units.txt", "--out", out,
                               "--dtype", "fp16")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("fp16 (all)", result.stdout)
        converted, metadata = safetensors_io.load(out / "model.safetensors")
        committed, _ = safetensors_io.load(COMMITTED_MODEL / "model.safetensors")
        self.assertEqual(metadata["moeasr_format_version"], "1")
        self.assertEqual(sorted(converted), sorted(committed))
        for name, array in committed.items():
            self.assertEqual(converted[name].dtype, np.float16, name)
            np.testing.assert_array_equal(converted[name], array.astype(np.float16),
                                          err_msg=name)
        fp32_size = (COMMITTED_MODEL / "model.safetensors").stat().st_size
        self.assertLess((out / "model.safetensors").stat().st_size, 0.6 * fp32_size)

    def test_fp16_refuses_values_out_of_range(self):
        sys.path.insert(0, str(TOOLS))
        import convert_wenet
        state = {"ok": np.ones(3, np.float32), "big": np.array([1e6], np.float32)}
        with self.assertRaisesRegex(convert_wenet.ConvertError, "big.*fp16"):
            convert_wenet.convert_tensors(state, "fp16")
        kept, _, _ = convert_wenet.convert_tensors(state, "fp32")
        self.assertEqual(kept["big"].dtype, np.float32)

    def test_bf16_and_int8_convert_linear_weights(self):
        sys.path.insert(0, str(TOOLS))
        import convert_wenet
        from safetensors_io import load
        committed, _ = load(COMMITTED_MODEL / "model.safetensors")
        for dtype, only in (("bf16", "all"), ("int8", "all"), ("int8", "experts"), ("bf16", "linear")):
            with self.subTest(dtype=dtype, only=only), tempfile.TemporaryDirectory() as tmp:
                out = Path(tmp) / "m"
                result = run_converter("--checkpoint", CHECKPOINT / "final.pt", "--config", CHECKPOINT / "train.yaml",
                                       "--units", CHECKPOINT / "units.txt", "--out", out, "--dtype", dtype,
                                       "--only", only)
                self.assertEqual(result.returncode, 0, result.stderr)
                tensors, _ = load(out / "model.safetensors")
                for name, array in committed.items():
                    linear = convert_wenet.is_linear_weight(name)
                    chosen = linear and (only != "experts" or ".experts." in name)
                    if dtype == "bf16" and name.startswith("encoder.embed."):
                        chosen = False  # the runtime runs the input layer in float32 unless in int8
                    if not chosen:
                        np.testing.assert_array_equal(tensors[name], array, err_msg=name)
                        self.assertNotIn(name + ".scale", tensors)
                    elif dtype == "int8":
                        q, scale = tensors[name], tensors[name + ".scale"]
                        self.assertEqual(q.dtype, np.int8)
                        self.assertLessEqual(np.abs(q.astype(np.int32)).max(), 127)
                        rows = array.reshape(array.shape[0], -1)
                        err = np.abs(q.reshape(rows.shape) * scale[:, None] - rows).max(axis=1)
                        self.assertTrue(np.all(err <= scale * 0.5 + 1e-7), name)
                    else:
                        widened = (tensors[name].astype(np.uint32) << 16).view(np.float32)
                        np.testing.assert_allclose(widened, array, rtol=2 ** -8, err_msg=name)
                # Router gates, the decoder's embedding, the first subsampling convolution
                # and the biases stay float32.
                for name in tensors:
                    if (name.endswith((".gate.weight", ".bias")) or name.startswith("encoder.embed.conv.0.")
                            or name.startswith("decoder.left_decoder.embed.")):
                        self.assertEqual(tensors[name].dtype, np.float32, name)

    def test_linear_weight_names_match_the_runtime(self):
        sys.path.insert(0, str(TOOLS))
        import convert_wenet
        self.assertTrue(convert_wenet.is_linear_weight("encoder.encoders.0.self_attn.linear_pos.weight"))
        self.assertTrue(convert_wenet.is_linear_weight("encoder.encoders.3.feed_forward.experts.7.w_2.weight"))
        self.assertTrue(convert_wenet.is_linear_weight("encoder.encoders.0.conv_module.pointwise_conv1.weight"))
        self.assertTrue(convert_wenet.is_linear_weight("decoder.right_decoder.output_layer.weight"))
        self.assertTrue(convert_wenet.is_linear_weight("ctc.ctc_lo.weight"))
        # The subsampling's convolutions over d channels and its output layer; not the first convolution.
        for name in ("encoder.embed.conv.2.weight", "encoder.embed.conv.4.weight", "encoder.embed.out.0.weight",
                     "encoder.embed.linear.weight"):
            self.assertTrue(convert_wenet.is_linear_weight(name), name)
        for name in ("encoder.encoders.0.feed_forward.gate.weight", "encoder.embed.conv.0.weight",
                     "encoder.embed.conv.2.bias",
                     "decoder.left_decoder.embed.0.weight", "encoder.encoders.0.conv_module.depthwise_conv.weight",
                     "encoder.encoders.0.norm_ff.weight", "ctc.ctc_lo.bias",
                     # a transducer's predictor and joiner stay float32 (weight_spec.cc)
                     "predictor.projection.weight", "predictor.rnn.weight_ih_l0", "predictor.pos_embed.weight",
                     "predictor.ffn.weight", "predictor.conv.weight", "joint.enc_ffn.weight",
                     "joint.pred_ffn.weight", "joint.post_ffn.weight", "joint.ffn_out.weight"):
            self.assertFalse(convert_wenet.is_linear_weight(name), name)

    def test_rejects_unknown_dtype(self):
        result = run_converter("--checkpoint", CHECKPOINT / "final.pt",
                               "--config", CHECKPOINT / "train.yaml",
                               "--units", CHECKPOINT / "units.txt", "--out", self.tmp / "m",
                               "--dtype", "int4")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("--dtype", result.stderr)

    def test_wrapped_prefixed_mixed_dtypes(self):
        (self.tmp / "train.yaml").write_text("output_dim: 6\n")
        (self.tmp / "units.txt").write_text("".join(f"t{i} {i}\n" for i in range(6)))
        out = self.tmp / "model"
        # Not a model the runtime could load: only the checkpoint reading is tested.
        result = run_converter("--checkpoint", TINY / "tiny_wrapped.pt",
                               "--config", self.tmp / "train.yaml",
                               "--units", self.tmp / "units.txt", "--out", out, "--no-runtime-check")
        self.assertEqual(result.returncode, 0, result.stderr)
        tensors, _ = safetensors_io.load(out / "model.safetensors")
        self.assertEqual(sorted(tensors), [
            "ctc.ctc_lo.bias", "ctc.ctc_lo.weight", "encoder.bf16", "encoder.count",
            "encoder.empty", "encoder.half", "encoder.view"])
        self.assertEqual(tensors["encoder.half"].dtype, np.float32)
        self.assertEqual(tensors["encoder.bf16"].dtype, np.float32)
        self.assertEqual(tensors["encoder.count"].dtype, np.int64)
        np.testing.assert_array_equal(tensors["ctc.ctc_lo.weight"],
                                      np.arange(24, dtype=np.float32).reshape(4, 6).T)

    def test_weights_entry_of_a_training_checkpoint(self):
        (self.tmp / "train.yaml").write_text("output_dim: 3\n")
        (self.tmp / "units.txt").write_text("".join(f"t{i} {i}\n" for i in range(3)))
        common = ("--checkpoint", TINY / "tiny_train_checkpoint.pt", "--config", self.tmp / "train.yaml",
                  "--units", self.tmp / "units.txt", "--no-runtime-check", "--force")
        for weights, value in ((None, 1.0), ("model", 1.0), ("ema", 0.5)):
            out = self.tmp / f"model_{weights}"
            extra = ("--weights", weights) if weights else ()
            result = run_converter(*common, "--out", out, *extra)
            self.assertEqual(result.returncode, 0, result.stderr)
            tensors, _ = safetensors_io.load(out / "model.safetensors")
            self.assertEqual(sorted(tensors), ["ctc.ctc_lo.bias", "ctc.ctc_lo.weight"])
            np.testing.assert_array_equal(tensors["ctc.ctc_lo.weight"], np.full((3, 2), value, np.float32))
        result = run_converter(*common, "--out", self.tmp / "bad", "--weights", "averaged")
        self.assertCleanError(result, "'averaged'", "ema, model, optimizer")
        self.assertFalse((self.tmp / "bad" / "model.safetensors").exists())

    def test_refuses_model_families_the_runtime_cannot_run(self):
        import yaml
        base = yaml.safe_load((CHECKPOINT / "train.yaml").read_text())
        cases = [({"encoder": "dual_conformer"}, "encoder: 'dual_conformer'",
                  "(supported: conformer, transformer, branchformer, e_branchformer, squeezeformer, "
                  "efficientConformer)"),
                 ({"encoder": "squeezeformer", "encoder_conf": {"time_reduction_layer_type": "conv2d"}},
                  "encoder_conf.time_reduction_layer_type: 'conv2d'", "(supported: conv1d, stream)"),
                 ({"encoder": "branchformer", "encoder_conf": {"merge_method": "learned_ave"}},
                  "encoder_conf.merge_method: 'learned_ave'", "(supported: concat, fixed_ave)"),
                 ({"encoder": "branchformer", "encoder_conf": {"use_attn": False}},
                  "encoder_conf.use_attn: False", "(only true: both branches)"),
                 ({"model": "paraformer"}, "model: 'paraformer'", "(supported: asr_model, transducer)"),
                 ({"model": "transducer", "predictor_conf": {"rnn_type": "gru"}},
                  "predictor_conf.rnn_type: 'gru'", "(supported: lstm)"),
                 ({"model": "transducer", "joint_conf": {"hat_joint": True}},
                  "joint_conf.hat_joint: 'true'", "(supported: false)"),
                 ({"encoder_conf": {**base["encoder_conf"], "input_layer": "conv2d2"}},
                  "encoder_conf.input_layer: 'conv2d2'", "(supported: conv2d, conv2d6, conv2d8, linear;"),
                 ({"encoder": "efficientConformer",
                   "encoder_conf": {**base["encoder_conf"], "efficient_conf": {"stride": [3]}}},
                  "efficient_conf.stride: [3]", "(supported: 2)"),
                 ({"encoder_conf": {**base["encoder_conf"], "pos_enc_layer_type": "rope_pos"}},
                  "encoder_conf.pos_enc_layer_type: 'rope_pos'", "(supported: rel_pos, abs_pos, no_pos)"),
                 ({"encoder": "transformer"}, "selfattention_layer_type: 'rel_selfattn'",
                  "(supported: selfattn)")]
        for change, message, supported in cases:
            config = self.tmp / "train.yaml"
            config.write_text(yaml.safe_dump({**base, **change}))
            result = run_converter("--checkpoint", CHECKPOINT / "final.pt", "--config", config,
                                   "--units", CHECKPOINT / "units.txt", "--out", self.tmp / "o")
            self.assertCleanError(result, message, "not supported", supported)
            self.assertFalse((self.tmp / "o").exists(), change)

    def test_accepts_the_encoder_variants_the_runtime_runs(self):
        import yaml
        import convert_wenet
        for name in ("tf_moe_c6", "cf_lin_nopos", "cf_c8_abs", "bf_causal", "ebf_moe", "effconf_stream",
                     "effconf_c2"):
            config = yaml.safe_load((DATA / "models" / name / "train.yaml").read_text())
            convert_wenet.check_family(config, name)  # raises ConvertError if refused
        convert_wenet.check_family({"encoder": "transformer"}, "defaults")  # selfattn, abs_pos
        rnnt = TOOLS.parent / "configs" / "wenet_aishell_u2pp_rnnt.yaml"
        convert_wenet.check_family(yaml.safe_load(rnnt.read_text()), rnnt.name)
        convert_wenet.check_family({"model": "transducer"}, "defaults")  # rnn predictor, add joint

    def test_missing_file(self):
        result = run_converter("--checkpoint", self.tmp / "nope.pt",
                               "--config", CHECKPOINT / "train.yaml",
                               "--units", CHECKPOINT / "units.txt", "--out", self.tmp / "o")
        self.assertCleanError(result, "not found", "nope.pt")

    def _convert_broken(self, data):
        broken = self.tmp / "final.pt"
        broken.write_bytes(data)
        return run_converter("--checkpoint", broken, "--config", CHECKPOINT / "train.yaml",
                             "--units", CHECKPOINT / "units.txt", "--out", self.tmp / "o")

    def test_truncated_zip(self):
        data = (CHECKPOINT / "final.pt").read_bytes()
        self.assertCleanError(self._convert_broken(data[: len(data) // 2]), "final.pt")

    def test_corrupted_zip_member(self):
        data = bytearray((CHECKPOINT / "final.pt").read_bytes())
        start = data.index(b"data.pkl") + 40  # inside the pickle's stored bytes
        data[start:start + 16] = b"\xff" * 16
        self.assertCleanError(self._convert_broken(bytes(data)), "final.pt")

    def test_non_tensor_entry(self):
        result = run_converter("--checkpoint", TINY / "non_tensor.pt",
                               "--config", CHECKPOINT / "train.yaml",
                               "--units", CHECKPOINT / "units.txt", "--out", self.tmp / "o")
        self.assertCleanError(result, "'epoch'", "not a tensor")

    def test_bad_units_line(self):
        (self.tmp / "units.txt").write_text("<blank> 0\nbroken\n")
        result = run_converter("--checkpoint", CHECKPOINT / "final.pt",
                               "--config", CHECKPOINT / "train.yaml",
                               "--units", self.tmp / "units.txt", "--out", self.tmp / "o")
        self.assertCleanError(result, "units.txt:2")

    def test_refuses_to_overwrite_without_force(self):
        out = self.tmp / "model"
        shutil.copytree(COMMITTED_MODEL, out)
        args = ["--checkpoint", CHECKPOINT / "final.pt", "--config", CHECKPOINT / "train.yaml",
                "--units", CHECKPOINT / "units.txt", "--out", out]
        self.assertCleanError(run_converter(*args), "--force")
        self.assertEqual(run_converter(*args, "--force").returncode, 0)


if __name__ == "__main__":
    unittest.main()
