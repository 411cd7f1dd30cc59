"""Mixture of Tokens (Antoniak et al., arXiv 2310.15961): a continuous MoE FFN.

Tokens are cut into groups of G. For every group and expert e (controller c_e):
    w[g, e]  = softmax over the group's tokens g of (x_g . c_e) / tau
    mixed_e  = sum_g w[g, e] x_g                 (the expert runs once per group)
    y_g      = sum_e w[g, e] expert_e(mixed_e)
Experts are WeNet's PositionwiseFeedForward (no bias by default). Grouping:
  * cross_example: position t of examples [jG, jG + G) of the batch is one group;
    the batch is padded to a multiple of G with absent examples, and positions
    past an example's length are masked out of its group;
  * within_sequence: G consecutive frames of one example (frames 0..G-1, G..2G-1,
    ...); the last group of an example is completed with masked slots.
Masked slots take no part in the softmax, get nothing and give nothing.

The controller is stored as an nn.Linear(d, E, bias=False): weight [E, d] = c^T.
"""

import torch
from torch import nn

from .ffn import PositionwiseFeedForward

GROUPINGS = ("cross_example", "within_sequence")


def group_index(lengths, max_len, group_size, grouping):
    """(num_groups, G) indices into the flattened (B * max_len) tokens, -1 = masked."""
    groups = []
    batch = len(lengths)
    if grouping == "within_sequence":
        for b, length in enumerate(lengths):
            for t0 in range(0, length, group_size):
                groups.append([b * max_len + t if t < length else -1
                               for t in range(t0, t0 + group_size)])
    elif grouping == "cross_example":
        for first in range(0, batch, group_size):
            members = range(first, first + group_size)
            longest = max(lengths[b] for b in members if b < batch)
            for t in range(longest):
                groups.append([b * max_len + t if b < batch and t < lengths[b] else -1
                               for b in members])
    else:
        raise ValueError(f"unknown grouping {grouping!r}")
    return torch.tensor(groups, dtype=torch.long).reshape(-1, group_size)


class MixtureOfTokens(nn.Module):
    def __init__(self, idim, hidden_units, activation, bias, n_expert, group_size, temperature,
                 grouping):
        super().__init__()
        if grouping not in GROUPINGS:
            raise ValueError(f"mot_grouping {grouping!r} is not one of {GROUPINGS}")
        if group_size < 1 or temperature <= 0:
            raise ValueError("mot_group_size must be >= 1 and mot_temperature > 0")
        self.controller = nn.Linear(idim, n_expert, bias=False)
        self.experts = nn.ModuleList(
            PositionwiseFeedForward(idim, hidden_units, activation, bias)
            for _ in range(n_expert))
        self.group_size = group_size
        self.temperature = temperature
        self.grouping = grouping

    def merge_weights(self, tokens, valid):
        """tokens (M, G, d), valid (M, G) -> weights (M, G, E), 0 on masked slots."""
        logits = self.controller(tokens) / self.temperature
        logits = logits.masked_fill(~valid.unsqueeze(-1), float("-inf"))
        weights = torch.softmax(logits, dim=1)
        return torch.nan_to_num(weights, nan=0.0)  # an all-masked group mixes nothing

    def forward(self, x, lengths=None):
        """x (B, T, d); lengths: valid frames per example (default: all T)."""
        batch, max_len, d = x.shape
        if lengths is None:
            lengths = [max_len] * batch
        index = group_index(list(lengths), max_len, self.group_size, self.grouping)
        flat = x.reshape(-1, d)
        out = torch.zeros_like(flat)
        if index.numel() == 0:
            return out.view_as(x)
        valid = index >= 0
        tokens = flat[index.clamp(min=0)] * valid.unsqueeze(-1)  # (M, G, d)
        weights = self.merge_weights(tokens, valid)              # (M, G, E)
        mixed = torch.einsum("mge,mgd->emd", weights, tokens)    # (E, M, d)
        expert_out = torch.stack([expert(mixed[e]) for e, expert in enumerate(self.experts)])
        y = torch.einsum("mge,emd->mgd", weights, expert_out)    # (M, G, d)
        out.index_add_(0, index[valid], y[valid])
        return out.view_as(x)


def expert_choice_one_hot(layer, x, lengths=None):
    """The tau -> 0 limit of `layer`, computed directly: in every group each expert
    takes the single token with the largest logit x . c_e (weight 1) and gives its
    output to that token only; every other weight is 0."""
    batch, max_len, d = x.shape
    lengths = list(lengths) if lengths is not None else [max_len] * batch
    index = group_index(lengths, max_len, layer.group_size, layer.grouping)
    flat = x.reshape(-1, d)
    out = torch.zeros_like(flat)
    for group in index.tolist():
        members = [i for i in group if i >= 0]
        if not members:
            continue
        logits = layer.controller(flat[members])  # (members, E)
        for e, expert in enumerate(layer.experts):
            chosen = members[int(torch.argmax(logits[:, e]))]
            out[chosen] += expert(flat[chosen:chosen + 1])[0]
    return out.view_as(x)
