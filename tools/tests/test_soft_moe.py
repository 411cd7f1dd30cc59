"""Properties of the Soft MoE / mixture-of-adapters reference (skipped without torch).

    /usr/bin/python3 -m unittest discover -s tools/tests
"""

import sys
import unittest
from pathlib import Path

TOOLS = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TOOLS))

try:
    import torch
except ImportError:
    torch = None

if torch is not None:
    from moeasr_ref.soft_moe import DenseMoA, SoftMoE


@unittest.skipIf(torch is None, "needs torch")
class SoftMoETest(unittest.TestCase):
    def setUp(self):
        torch.manual_seed(0)
        self.layer = SoftMoE(8, 12, "swish", True, n_expert=3, slots_per_expert=2, normalize=True)
        torch.nn.init.normal_(self.layer.phi)
        self.x = torch.randn(2, 6, 8)
        self.mask = torch.tensor([[True] * 6, [True] * 4 + [False] * 2])

    def test_dispatch_sums_to_one_over_real_tokens_combine_over_slots(self):
        dispatch, combine = self.layer.weights(self.x, self.mask)
        ones = torch.ones(2, 6)
        torch.testing.assert_close(dispatch.sum(dim=1), torch.ones(2, 6), atol=1e-6, rtol=0)
        torch.testing.assert_close(combine.sum(dim=2), ones, atol=1e-6, rtol=0)
        self.assertEqual(dispatch[1, 4:].abs().max().item(), 0.0)  # padded tokens get no weight

    def test_padding_changes_nothing(self):
        with torch.no_grad():
            padded = self.x.clone()
            padded[1, 4:] = 1e3
            y = self.layer(padded, self.mask)
            alone = self.layer(self.x[1, :4])
        torch.testing.assert_close(y[1, :4], alone, atol=1e-6, rtol=0)
        self.assertEqual(y[1, 4:].abs().max().item(), 0.0)

    def test_one_token_group_feeds_it_to_every_slot(self):
        # A group of one token: D is all ones, so every slot's input is the token.
        dispatch, _ = self.layer.weights(self.x[:1, :1])
        torch.testing.assert_close(dispatch, torch.ones_like(dispatch))

    def test_dense_moa_is_a_convex_mix_of_adapters(self):
        layer = DenseMoA(8, 4, "gelu", True, n_expert=2)
        with torch.no_grad():
            layer.gate.weight.zero_()  # equal weights
            y = layer(self.x)
            expected = 0.5 * (layer.experts[0](self.x) + layer.experts[1](self.x))
        torch.testing.assert_close(y, expected, atol=1e-6, rtol=0)


if __name__ == "__main__":
    unittest.main()
