"""Multi-head attention as WeNet computes it (inference only, no dropout).

Both variants project q/k/v with separate Linears, split heads as (b, h, t, d_k),
take the softmax in float32, and zero masked probabilities after the softmax.
linear_out uses bias=query_bias, as in WeNet.
"""

import math

import torch
from torch import nn


class MultiHeadedAttention(nn.Module):
    """Plain scaled dot-product attention (decoder self- and cross-attention)."""

    def __init__(self, n_head, n_feat, query_bias=True, key_bias=True, value_bias=True):
        super().__init__()
        self.h = n_head
        self.d_k = n_feat // n_head
        self.linear_q = nn.Linear(n_feat, n_feat, bias=query_bias)
        self.linear_k = nn.Linear(n_feat, n_feat, bias=key_bias)
        self.linear_v = nn.Linear(n_feat, n_feat, bias=value_bias)
        self.linear_out = nn.Linear(n_feat, n_feat, bias=query_bias)

    def split_heads(self, x):
        """(b, t, h*d_k) -> (b, h, t, d_k)"""
        b, t, _ = x.size()
        return x.view(b, t, self.h, self.d_k).transpose(1, 2)

    def attend(self, scores, v, mask=None):
        """softmax(scores) @ v -> linear_out; mask (b, t1, t2) or (b, 1, t2), True = keep."""
        if mask is not None:
            drop = ~mask.unsqueeze(1)
            scores = scores.masked_fill(drop, -float("inf"))
            attn = torch.softmax(scores.float(), dim=-1).type_as(v).masked_fill(drop, 0.0)
        else:
            attn = torch.softmax(scores.float(), dim=-1).type_as(v)
        x = torch.matmul(attn, v).transpose(1, 2)  # (b, t1, h, d_k)
        return self.linear_out(x.reshape(x.size(0), x.size(1), self.h * self.d_k))

    def forward(self, query, key, value, mask=None):
        q = self.split_heads(self.linear_q(query))
        k = self.split_heads(self.linear_k(key))
        v = self.split_heads(self.linear_v(value))
        scores = torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(self.d_k)
        return self.attend(scores, v, mask)


def _with_cache(k, v, cache, d_k):
    """Prepends the cached keys / values ((1, h, t_cache, 2*d_k) = [K | V]) and returns
    (k, v, the new cache holding all of them)."""
    if cache is not None and cache.size(2) > 0:
        k = torch.cat([cache[..., :d_k], k], dim=2)
        v = torch.cat([cache[..., d_k:], v], dim=2)
    return k, v, torch.cat([k, v], dim=-1)


class SelfAttention(MultiHeadedAttention):
    """Encoder selfattn (WeNet's MultiHeadedAttention as an encoder layer calls it):
    pos_emb is ignored; the KV cache is the same (1, h, t_cache, 2*d_k) as rel_selfattn's."""

    def forward(self, x, pos_emb, cache=None, mask=None):
        q = self.split_heads(self.linear_q(x))
        k, v, new_cache = _with_cache(self.split_heads(self.linear_k(x)),
                                      self.split_heads(self.linear_v(x)), cache, self.d_k)
        scores = torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(self.d_k)
        return self.attend(scores, v, mask), new_cache


class RelPositionMultiHeadedAttention(MultiHeadedAttention):
    """Encoder self-attention with Transformer-XL style position terms.

    scores = ((q + pos_bias_u) k^T + (q + pos_bias_v) (linear_pos(pos_emb))^T) / sqrt(d_k)

    WeNet disabled rel_shift, so pos_emb is simply the absolute sinusoid rows of the
    keys (cache frames included). The KV cache is (1, h, t_cache, 2*d_k) = [K | V].
    """

    def __init__(self, n_head, n_feat, query_bias=True, key_bias=True, value_bias=True):
        super().__init__(n_head, n_feat, query_bias, key_bias, value_bias)
        self.linear_pos = nn.Linear(n_feat, n_feat, bias=False)
        self.pos_bias_u = nn.Parameter(torch.zeros(self.h, self.d_k))
        self.pos_bias_v = nn.Parameter(torch.zeros(self.h, self.d_k))

    def forward(self, x, pos_emb, cache=None, mask=None):
        """x (1, t, d); pos_emb (1, t_cache + t, d); returns (out, new cache with all keys)."""
        q = self.split_heads(self.linear_q(x))
        k = self.split_heads(self.linear_k(x))
        v = self.split_heads(self.linear_v(x))
        k, v, new_cache = _with_cache(k, v, cache, self.d_k)
        p = self.split_heads(self.linear_pos(pos_emb))  # (1, h, t_keys, d_k)
        q = q.transpose(1, 2)  # (b, t, h, d_k): the biases are per (head, dim)
        q_u = (q + self.pos_bias_u).transpose(1, 2)
        q_v = (q + self.pos_bias_v).transpose(1, 2)
        matrix_ac = torch.matmul(q_u, k.transpose(-2, -1))
        matrix_bd = torch.matmul(q_v, p.transpose(-2, -1))
        scores = (matrix_ac + matrix_bd) / math.sqrt(self.d_k)
        return self.attend(scores, v, mask), new_cache
