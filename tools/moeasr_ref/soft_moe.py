"""Soft Mixture of Experts and Mixture-of-Adapters layers (moeasr extensions to WeNet).

Soft MoE ("From Sparse to Soft Mixtures of Experts", arXiv 2308.00951), as described
there, re-implemented here:
    logits  = x . phi                      phi (d, n_expert, slots_per_expert)
              (normalize: scale * l2norm(x) . l2norm(phi), norms over d)
    D       = softmax of the logits over the tokens of a group (padded tokens masked)
    C       = softmax of the logits over all slots, per token
    x_slots = D^T x                        (n_expert * slots, d)
    y_slots = expert_e(x_slots of expert e's slots)
    y       = C . y_slots
A group is the set of tokens that share the dispatch softmax: one utterance in
full-attention mode, one chunk of one stream in streaming mode (the encoder simply
calls the layer with the frames it has, so the grouping follows the mode). A model
meant to stream must be trained with that chunk grouping.

Soft-MoA ("Efficient Fine-tuning of Audio Spectrogram Transformers via Soft Mixture
of Adapters", arXiv 2402.00828): the experts are bottleneck adapters
(w_1: d -> r, GELU, w_2: r -> d) of a Soft MoE layer placed in parallel to a
sublayer. The dense Mixture-of-Adapters baseline routes every token to every
adapter with softmax weights from a gate (bias-free unless adapter_router_bias).

PETL_AST (the Soft-MoA paper's own code, src/MoA.py) differs in two places, both
options here: its dense MoA router is nn.Linear(d, n) with a bias
(adapter_router_bias: true), and its SoftMoA normalization
(adapter_normalize_mode: petl_ast) divides by (|v| + 1e-6), normalizes phi over
the expert axis instead of d, and dispatches the normalized x. The paper's
normalization (and vmoe's) is the default, adapter_normalize_mode: soft_moe.
"""

import torch
import torch.nn.functional as F
from torch import nn

from .ffn import PositionwiseFeedForward

NORMALIZE_EPS = 1e-12  # torch.nn.functional.normalize's default
PETL_EPS = 1e-6  # PETL_AST's l2_normalize: v / (|v| + eps)
NORMALIZE_MODES = ("soft_moe", "petl_ast")


def petl_l2_normalize(v, dim):
    return v / (torch.sqrt(torch.square(v).sum(dim=dim, keepdim=True)) + PETL_EPS)


class SoftMoE(nn.Module):
    """Soft MoE over experts of PositionwiseFeedForward(d, hidden, activation, bias).

    Parameters: phi (d, n_expert, slots_per_expert); phi_scale (1,) when normalize;
    experts.{e}.w_1 / w_2 (WeNet's expert names).
    """

    def __init__(self, d, hidden, activation, bias, n_expert, slots_per_expert, normalize,
                 normalize_mode="soft_moe"):
        super().__init__()
        if normalize_mode not in NORMALIZE_MODES:
            raise ValueError(f"normalize_mode {normalize_mode!r}")
        self.n_expert = n_expert
        self.slots = slots_per_expert
        self.normalize = normalize
        self.petl = normalize and normalize_mode == "petl_ast"
        self.phi = nn.Parameter(torch.zeros(d, n_expert, slots_per_expert))
        if normalize:
            self.phi_scale = nn.Parameter(torch.ones(1))
        self.experts = nn.ModuleList(
            PositionwiseFeedForward(d, hidden, activation, bias) for _ in range(n_expert))

    def logits(self, x):
        """x (..., d) -> (..., n_expert * slots)."""
        if self.petl:
            x = petl_l2_normalize(x, -1)
            phi = petl_l2_normalize(self.phi, 1).reshape(self.phi.size(0), -1)
            return self.phi_scale * (x @ phi)
        phi = self.phi.reshape(self.phi.size(0), -1)
        if self.normalize:
            x = F.normalize(x, dim=-1, eps=NORMALIZE_EPS)
            phi = F.normalize(phi, dim=0, eps=NORMALIZE_EPS)
            return self.phi_scale * (x @ phi)
        return x @ phi

    def weights(self, x, mask=None):
        """x (B, T, d), mask (B, T) bool (True = real token) or None ->
        (dispatch D (B, T, m), combine C (B, T, m)), m = n_expert * slots.
        D sums to 1 over the real tokens of each group; C to 1 over slots."""
        logits = self.logits(x)
        masked = logits if mask is None else logits.masked_fill(~mask[..., None], float("-inf"))
        dispatch = torch.softmax(masked, dim=1)
        combine = torch.softmax(logits, dim=-1)
        return dispatch, combine

    def forward(self, x, mask=None):
        """x (B, T, d) (each batch row one group) or (T, d) (one group) -> same shape.
        Padded tokens (mask False) neither contribute to the slots nor get an output
        (their rows are zero)."""
        squeeze = x.dim() == 2
        if squeeze:
            x = x.unsqueeze(0)
        dispatch, combine = self.weights(x, mask)
        dispatched = petl_l2_normalize(x, -1) if self.petl else x
        slots_in = torch.einsum("btm,btd->bmd", dispatch, dispatched)
        s = self.slots
        slots_out = torch.cat([expert(slots_in[:, e * s:(e + 1) * s])
                               for e, expert in enumerate(self.experts)], dim=1)
        y = torch.einsum("btm,bmd->btd", combine, slots_out)
        if mask is not None:
            y = y * mask[..., None].to(y.dtype)
        return y.squeeze(0) if squeeze else y


class DenseMoA(nn.Module):
    """Dense Mixture of Adapters: y = sum_e softmax(gate x)_e * adapter_e(x).

    Parameters: gate.weight (n_expert, d), gate.bias (n_expert,) when router_bias;
    experts.{e}.w_1 / w_2."""

    def __init__(self, d, hidden, activation, bias, n_expert, router_bias=False):
        super().__init__()
        self.gate = nn.Linear(d, n_expert, bias=router_bias)
        self.experts = nn.ModuleList(
            PositionwiseFeedForward(d, hidden, activation, bias) for _ in range(n_expert))

    def forward(self, x, mask=None):
        weights = torch.softmax(self.gate(x), dim=-1)
        y = sum(weights[..., e:e + 1] * expert(x) for e, expert in enumerate(self.experts))
        if mask is not None:
            y = y * mask[..., None].to(y.dtype)
        return y


ADAPTER_ACTIVATION = "gelu"  # the bottleneck adapters' non-linearity (exact erf form)
ADAPTER_PLACES = ("self_attn", "feed_forward", "feed_forward_macaron")


def make_adapter(opts, d):
    """The mixture of adapters for one placement, or None when adapter_type is null.
    Adapters always have biases and GELU."""
    kind = opts["adapter_type"]
    if kind is None:
        return None
    if kind == "soft_moa":
        return SoftMoE(d, opts["adapter_dim"], ADAPTER_ACTIVATION, True, opts["adapter_n_expert"],
                       opts["adapter_slots_per_expert"], opts["adapter_normalize"],
                       opts.get("adapter_normalize_mode", "soft_moe"))
    if kind == "dense_moa":
        return DenseMoA(d, opts["adapter_dim"], ADAPTER_ACTIVATION, True, opts["adapter_n_expert"],
                        opts.get("adapter_router_bias", False))
    raise ValueError(f"adapter_type {kind!r}")
