"""Feed-forward blocks: dense (w_2(act(w_1 x))), WeNet's Mixture-of-Experts layer, and
(moeasr extensions) Mixture of Tokens (mot.py) and Soft MoE (soft_moe.py)."""

import torch
from torch import nn

ACTIVATIONS = {
    "swish": nn.SiLU,
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "selu": nn.SELU,
    "hardtanh": nn.Hardtanh,
}


class PositionwiseFeedForward(nn.Module):
    def __init__(self, idim, hidden_units, activation, bias=True):
        super().__init__()
        self.w_1 = nn.Linear(idim, hidden_units, bias=bias)
        self.activation = ACTIVATIONS[activation]()
        self.w_2 = nn.Linear(hidden_units, idim, bias=bias)

    def forward(self, x):
        return self.w_2(self.activation(self.w_1(x)))


class MoEFFNLayer(nn.Module):
    """Top-k routed experts (WeNet MoEFFNLayer).

    logits = gate(x) (no bias); pick the k largest raw logits; weights = softmax over
    those k only (float32); out = sum_j weight_j * expert_j(x). Outputs are accumulated
    expert by expert in expert-index order, like WeNet, so results match bit for bit.
    """

    def __init__(self, idim, hidden_units, activation, bias, n_expert, n_expert_activated):
        super().__init__()
        self.gate = nn.Linear(idim, n_expert, bias=False)
        self.experts = nn.ModuleList(
            PositionwiseFeedForward(idim, hidden_units, activation, bias)
            for _ in range(n_expert))
        self.n_expert_activated = n_expert_activated

    def route(self, x):
        """x (N, d) -> (weights (N, k), expert ids (N, k)), best expert first."""
        logits, chosen = torch.topk(self.gate(x), self.n_expert_activated)
        weights = torch.softmax(logits, dim=1, dtype=torch.float).to(x.dtype)
        return weights, chosen

    def forward(self, x):
        shape = x.size()
        x = x.reshape(-1, shape[-1])
        weights, chosen = self.route(x)
        out = torch.zeros_like(x)
        for e, expert in enumerate(self.experts):
            tokens, slot = torch.where(chosen == e)
            out[tokens] += weights[tokens, slot, None] * expert(x[tokens])
        return out.view(shape)


def make_ffn(options, d_model):
    """Dense, top-k MoE, Mixture-of-Tokens or Soft MoE block from encoder_conf/decoder_conf options."""
    if options["mlp_type"] == "mot":
        from .mot import MixtureOfTokens  # mot.py builds on this module
        return MixtureOfTokens(d_model, options["linear_units"], options["activation_type"],
                               options["mlp_bias"], options["n_expert"], options["mot_group_size"],
                               options["mot_temperature"], options["mot_grouping"])
    if options["mlp_type"] == "soft_moe":
        from .soft_moe import SoftMoE  # soft_moe imports this module
        return SoftMoE(d_model, options["linear_units"], options["activation_type"],
                       options["mlp_bias"], options["n_expert"], options["slots_per_expert"],
                       options["soft_moe_normalize"])
    if options["mlp_type"] == "moe":
        return MoEFFNLayer(d_model, options["linear_units"], options["activation_type"],
                           options["mlp_bias"], options["n_expert"],
                           options["n_expert_activated"])
    return PositionwiseFeedForward(d_model, options["linear_units"],
                                   options["activation_type"], options["mlp_bias"])
