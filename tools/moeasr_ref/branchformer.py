"""Branchformer and E-Branchformer encoder layers (WeNet's `encoder: branchformer` and
`encoder: e_branchformer`), inference only.

Both run two branches on the same input and merge them:
  attention branch:  x1 = MHSA(norm_mha(x))
  cgMLP branch:      x2 = cgMLP(norm_mlp(x))
where cgMLP (MLP with convolutional gating) is
  h = GELU(channel_proj1(x))              d -> U, split into [r | g] of U/2 each
  g = conv(norm(g)); g = linear(g) if use_linear_after_conv; g = gate_act(g)
  cgMLP(x) = channel_proj2(r * g)          U/2 -> d
with `conv` a depthwise Conv1d over time. Causal: the *pre-norm* g is left-padded
with K-1 zero frames, or prefixed with the cache (the last K-1 pre-norm frames
seen), so the padding frames become LayerNorm(0) = the norm's bias after the norm.
Non-causal: (K-1)/2 zeros on both sides of what it is given (the utterance, or one
chunk when streaming); no cache.

Branchformer merges (then x = norm_final(x)):
  concat:     x += merge_proj([x1 | x2])
  fixed_ave:  x += merge_proj((1 - w) x1 + w x2)       w = cgmlp_weight
E-Branchformer (macaron FFNs scaled by 0.5 when both exist, else 1):
  x += s * FF_mac(norm_ff_macaron(x))
  c = [x1 | x2]; x += merge_proj(c + fusion(c))
  x += s * FF(norm_ff(x)); x = norm_final(x)
where `fusion` is a depthwise Conv1d over time on the 2d channels; causal: K-1 zero
frames on the left of what it is given (every chunk afresh: WeNet keeps no cache for
it), else (K-1)/2 zeros on both sides.

The layers' LayerNorms use eps 1e-5 whatever norm_eps says (WeNet builds them with
nn.LayerNorm(size)); norm_eps reaches only the encoder's after_norm.
"""

import torch
from torch import nn
from torch.nn import functional as F

from .ffn import ACTIVATIONS, make_ffn

LAYER_NORM_EPS = 1e-5


class ConvolutionalGatingMLP(nn.Module):
    def __init__(self, d, units, kernel, use_linear_after_conv, gate_activation, causal):
        super().__init__()
        half = units // 2
        self.channel_proj1 = nn.Sequential(nn.Linear(d, units), nn.GELU())
        self.csgu = nn.Module()
        self.csgu.norm = nn.LayerNorm(half, eps=LAYER_NORM_EPS)
        self.lorder = kernel - 1 if causal else 0
        padding = 0 if causal else (kernel - 1) // 2
        self.csgu.conv = nn.Conv1d(half, half, kernel, 1, padding, groups=half)
        self.csgu.linear = nn.Linear(half, half) if use_linear_after_conv else None
        self.gate = nn.Identity() if gate_activation == "identity" else ACTIVATIONS[gate_activation]()
        self.channel_proj2 = nn.Linear(half, d)

    def forward(self, x, cache=None):
        """x (1, T, d); cache (1, U/2, K-1) pre-norm frames or None -> (y, new cache or None)."""
        r, g = self.channel_proj1(x).chunk(2, dim=-1)
        g = g.transpose(1, 2)  # (1, U/2, T)
        new_cache = None
        if self.lorder > 0:
            if cache is None or cache.size(2) == 0:
                g = F.pad(g, (self.lorder, 0), "constant", 0.0)
            else:
                g = torch.cat((cache, g), dim=2)
            new_cache = g[:, :, -self.lorder:]
        g = self.csgu.norm(g.transpose(1, 2))
        g = self.csgu.conv(g.transpose(1, 2)).transpose(1, 2)
        if self.csgu.linear is not None:
            g = self.csgu.linear(g)
        return self.channel_proj2(r * self.gate(g)), new_cache


def make_cgmlp(opts):
    return ConvolutionalGatingMLP(opts["output_size"], opts["cgmlp_linear_units"],
                                  opts["cgmlp_conv_kernel"], opts["use_linear_after_conv"],
                                  opts["gate_activation"], opts["causal"])


class BranchformerEncoderLayer(nn.Module):
    def __init__(self, opts, make_self_attention):
        super().__init__()
        d = opts["output_size"]
        self.merge_method = opts["merge_method"]
        self.cgmlp_weight = float(opts["cgmlp_weight"])
        self.attn = make_self_attention(opts)
        self.cgmlp = make_cgmlp(opts)
        self.norm_mha = nn.LayerNorm(d, eps=LAYER_NORM_EPS)
        self.norm_mlp = nn.LayerNorm(d, eps=LAYER_NORM_EPS)
        self.norm_final = nn.LayerNorm(d, eps=LAYER_NORM_EPS)
        # WeNet builds these whatever the merge method (learned_ave's pooling); unused here.
        self.pooling_proj1 = nn.Linear(d, 1)
        self.pooling_proj2 = nn.Linear(d, 1)
        self.weight_proj1 = nn.Linear(d, 1)
        self.weight_proj2 = nn.Linear(d, 1)
        self.merge_proj = nn.Linear(2 * d if self.merge_method == "concat" else d, d)

    def forward(self, x, pos_emb, att_cache=None, cnn_cache=None, mask=None):
        x1, new_att_cache = self.attn(self.norm_mha(x), pos_emb, att_cache, mask)
        x2, new_cnn_cache = self.cgmlp(self.norm_mlp(x), cnn_cache)
        if self.merge_method == "concat":
            merged = torch.cat([x1, x2], dim=-1)
        else:  # fixed_ave
            merged = (1.0 - self.cgmlp_weight) * x1 + self.cgmlp_weight * x2
        x = x + self.merge_proj(merged)
        return self.norm_final(x), new_att_cache, new_cnn_cache


class EBranchformerEncoderLayer(nn.Module):
    def __init__(self, opts, make_self_attention):
        super().__init__()
        d = opts["output_size"]
        self.attn = make_self_attention(opts)
        self.cgmlp = make_cgmlp(opts)
        use_ffn = opts["use_ffn"]
        self.feed_forward = make_ffn(opts, d) if use_ffn else None
        self.feed_forward_macaron = make_ffn(opts, d) if use_ffn and opts["macaron_style"] else None
        self.ff_scale = 0.5 if self.feed_forward_macaron is not None else 1.0
        if self.feed_forward is not None:
            self.norm_ff = nn.LayerNorm(d, eps=LAYER_NORM_EPS)
        if self.feed_forward_macaron is not None:
            self.norm_ff_macaron = nn.LayerNorm(d, eps=LAYER_NORM_EPS)
        self.norm_mha = nn.LayerNorm(d, eps=LAYER_NORM_EPS)
        self.norm_mlp = nn.LayerNorm(d, eps=LAYER_NORM_EPS)
        self.norm_final = nn.LayerNorm(d, eps=LAYER_NORM_EPS)
        kernel = opts["merge_conv_kernel"]
        self.lorder = kernel - 1 if opts["causal"] else 0
        padding = 0 if opts["causal"] else (kernel - 1) // 2
        self.depthwise_conv_fusion = nn.Conv1d(2 * d, 2 * d, kernel, 1, padding, groups=2 * d)
        self.merge_proj = nn.Linear(2 * d, d)

    def forward(self, x, pos_emb, att_cache=None, cnn_cache=None, mask=None):
        if self.feed_forward_macaron is not None:
            x = x + self.ff_scale * self.feed_forward_macaron(self.norm_ff_macaron(x))
        x1, new_att_cache = self.attn(self.norm_mha(x), pos_emb, att_cache, mask)
        x2, new_cnn_cache = self.cgmlp(self.norm_mlp(x), cnn_cache)
        c = torch.cat([x1, x2], dim=-1)
        t = c.transpose(1, 2)
        if self.lorder > 0:
            t = F.pad(t, (self.lorder, 0), "constant", 0.0)
        t = self.depthwise_conv_fusion(t).transpose(1, 2)
        x = x + self.merge_proj(c + t)
        if self.feed_forward is not None:
            x = x + self.ff_scale * self.feed_forward(self.norm_ff(x))
        return self.norm_final(x), new_att_cache, new_cnn_cache
