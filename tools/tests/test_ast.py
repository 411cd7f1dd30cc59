"""Properties of the AST reference (tools/moeasr_ref/ast.py); skipped without torch.

    /usr/bin/python3 -m unittest discover -s tools/tests
"""

import sys
import unittest
from pathlib import Path

import numpy as np

TOOLS = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TOOLS))

try:
    import torch
except ImportError:
    torch = None

if torch is not None:
    from moeasr_ref.ast import ASTClassifier, hf_fbank, input_values

CONFIG = {
    "frontend": {"sample_rate": 16000, "num_mel_bins": 128, "max_length": 40, "mean": -4.0, "std": 4.0},
    "encoder": {"hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 12,
                "layer_norm_eps": 1e-12, "patch_size": 16, "frequency_stride": 10, "time_stride": 10},
    "head": {"num_labels": 3, "pooling": "cls_dist", "score": "softmax"},
}


@unittest.skipIf(torch is None, "needs torch")
class AstReferenceTest(unittest.TestCase):
    def setUp(self):
        torch.manual_seed(0)
        self.model = ASTClassifier(CONFIG).eval()
        for p in self.model.parameters():
            torch.nn.init.normal_(p, std=0.3)

    def test_patch_order_is_frequency_major(self):
        # Patch p = f * t_dim + t reads frames [10 t, 10 t + 16) and bins [10 f, 10 f + 16).
        values = torch.randn(1, 40, 128)
        emb = self.model.audio_spectrogram_transformer.embeddings
        proj = emb.patch_embeddings.projection
        with torch.no_grad():
            tokens = emb(values)[0] - emb.position_embeddings[0]
        t_dim = (40 - 16) // 10 + 1
        for f, t in [(0, 0), (3, 2), (11, 2)]:
            block = values[0, 10 * t:10 * t + 16, 10 * f:10 * f + 16].T  # [freq, time]
            want = (proj.weight[:, 0] * block).sum(dim=(1, 2)) + proj.bias
            torch.testing.assert_close(tokens[2 + f * t_dim + t], want.detach(), atol=1e-5, rtol=0)

    def test_padding_before_normalization(self):
        fb = torch.zeros(5, 128) + 2.0
        v = input_values(fb, 8, -4.0, 4.0)
        self.assertEqual(tuple(v.shape), (8, 128))
        torch.testing.assert_close(v[0], torch.full((128,), 6.0 / 8.0))
        torch.testing.assert_close(v[7], torch.full((128,), 4.0 / 8.0))  # zero frames, normalized
        self.assertEqual(tuple(input_values(torch.zeros(20, 128), 8, 0.0, 1.0).shape), (8, 128))

    def test_hanning_window_is_not_povey(self):
        import torchaudio

        wave = np.sin(np.arange(8000) * 0.3) * 0.2
        a = hf_fbank(wave)
        b = torchaudio.compliance.kaldi.fbank(torch.tensor(wave, dtype=torch.float32)[None], num_mel_bins=128,
                                              dither=0.0)
        self.assertGreater((a - b).abs().max().item(), 1e-2)

    def test_mean_pooling_ignores_cls_and_dist(self):
        config = {**CONFIG, "head": {**CONFIG["head"], "pooling": "mean"}}
        model = ASTClassifier(config).eval()
        model.load_state_dict(self.model.state_dict())
        values = torch.randn(1, 40, 128)
        with torch.no_grad():
            base = model(values)
            # The CLS token still changes the patches through attention, so compare
            # with a model whose layers are removed: then only pooling matters.
            model.audio_spectrogram_transformer.encoder.layer = torch.nn.ModuleList()
            before = model(values)
            model.audio_spectrogram_transformer.embeddings.cls_token.add_(10.0)
            after = model(values)
        torch.testing.assert_close(before, after)
        self.assertEqual(tuple(base.shape), (1, 3))


if __name__ == "__main__":
    unittest.main()
