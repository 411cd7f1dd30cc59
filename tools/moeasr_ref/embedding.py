"""Encoder input side: global CMVN, conv2d subsampling (x4) and sinusoid positions."""

import math

import torch
from torch import nn


class GlobalCMVN(nn.Module):
    """(x - mean) * istd with the statistics stored as buffers `mean` / `istd`."""

    def __init__(self, dim):
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("istd", torch.ones(dim))

    def forward(self, x):
        return (x - self.mean) * self.istd


def sinusoid_table(d_model, max_len=5000):
    """WeNet's table, computed the same way in float32: even columns sin, odd cos,
    angle = position * exp(2i * -ln(10000)/d)."""
    position = torch.arange(0, max_len, dtype=torch.float32).unsqueeze(1)
    div_term = torch.exp(
        torch.arange(0, d_model, 2, dtype=torch.float32) * -(math.log(10000.0) / d_model))
    pe = torch.zeros(max_len, d_model)
    pe[:, 0::2] = torch.sin(position * div_term)
    pe[:, 1::2] = torch.cos(position * div_term)
    return pe.unsqueeze(0)


class PositionalEncoding(nn.Module):
    """Absolute positions for the decoder: x * sqrt(d) + pe[offset:offset+T].

    The table is a persistent buffer `pe` of shape (1, 5000, d) because WeNet saves it
    in every checkpoint; the converter drops it and the runtime recomputes it."""

    def __init__(self, d_model, max_len=5000):
        super().__init__()
        self.xscale = math.sqrt(d_model)
        self.register_buffer("pe", sinusoid_table(d_model, max_len))

    def position_encoding(self, offset, size):
        if offset < 0 or offset + size > self.pe.size(1):
            raise ValueError(f"positions {offset}..{offset + size} outside the table")
        return self.pe[:, offset:offset + size]

    def forward(self, x, offset=0):
        return x * self.xscale + self.position_encoding(offset, x.size(1))


class RelPositionalEncoding(PositionalEncoding):
    """Encoder flavour: x is only scaled; the positions go to the attention layers as
    a separate `pos_emb` (absolute rows of the same table, since WeNet has no rel_shift)."""

    def forward(self, x, offset=0):
        return x * self.xscale, self.position_encoding(offset, x.size(1))


class Conv2dSubsampling4(nn.Module):
    """Two 3x3 stride-2 convs with ReLU, then Linear(d * F' -> d); T' = ((T-1)//2 - 1)//2.

    One output frame sees 7 input frames (right_context 6) and advances by 4."""

    subsampling_rate = 4
    right_context = 6

    def __init__(self, idim, odim):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(1, odim, 3, 2),
            nn.ReLU(),
            nn.Conv2d(odim, odim, 3, 2),
            nn.ReLU(),
        )
        self.out = nn.Sequential(nn.Linear(odim * (((idim - 1) // 2 - 1) // 2), odim))
        self.pos_enc = RelPositionalEncoding(odim)

    def forward(self, x, offset=0):
        """x: (1, T, idim) -> (x (1, T', d) scaled by sqrt(d), pos_emb (1, T', d))."""
        x = self.conv(x.unsqueeze(1))  # (b, d, T', F')
        b, c, t, f = x.size()
        x = self.out(x.transpose(1, 2).reshape(b, t, c * f))  # channel-major per frame
        return self.pos_enc(x, offset)

    def position_encoding(self, offset, size):
        return self.pos_enc.position_encoding(offset, size)
