"""Encoder input side: global CMVN, the input layers (conv2d x2/x4/x6/x8, linear) and positions."""

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


class AbsPositionalEncoding(PositionalEncoding):
    """Encoder abs_pos: x * sqrt(d) + pe[offset:offset+T], and the same rows as `pos_emb`
    (a rel_selfattn attention still uses them; a selfattn one ignores them)."""

    def forward(self, x, offset=0):
        pos_emb = self.position_encoding(offset, x.size(1))
        return x * self.xscale + pos_emb, pos_emb


class NoPositionalEncoding(nn.Module):
    """no_pos: x unscaled, pos_emb zeros (so a rel_selfattn's position term is zero)."""

    def __init__(self, d_model):
        super().__init__()
        self.d_model = d_model

    def position_encoding(self, offset, size):
        return torch.zeros(1, size, self.d_model)

    def forward(self, x, offset=0):
        return x, self.position_encoding(offset, x.size(1))


POSITION_ENCODINGS = {"rel_pos": RelPositionalEncoding, "abs_pos": AbsPositionalEncoding,
                      "no_pos": NoPositionalEncoding}


class _Subsampling(nn.Module):
    """Shared by the input layers: the position encoding is `pos_enc` (WeNet's name)."""

    def position_encoding(self, offset, size):
        return self.pos_enc.position_encoding(offset, size)


class _Conv2dSubsampling(_Subsampling):
    """Conv2d + ReLU stages (kernel, stride) over (time, freq), then Linear(d * F' -> d),
    the output flattened channel-major per frame as WeNet does."""

    def __init__(self, idim, odim, stages, linear_name, pos_enc):
        super().__init__()
        layers, f, c_in = [], idim, 1
        for kernel, stride in stages:
            layers += [nn.Conv2d(c_in, odim, kernel, stride), nn.ReLU()]
            f, c_in = (f - kernel) // stride + 1, odim
        self.conv = nn.Sequential(*layers)
        self._linear_name = linear_name
        linear = nn.Linear(odim * f, odim)
        if linear_name == "out":
            self.out = nn.Sequential(linear)
        else:
            self.linear = linear
        self.pos_enc = pos_enc

    def forward(self, x, offset=0):
        """x: (1, T, idim) -> (x (1, T', d), pos_emb (1, T', d))."""
        x = self.conv(x.unsqueeze(1))  # (b, d, T', F')
        b, c, t, f = x.size()
        x = getattr(self, self._linear_name)(x.transpose(1, 2).reshape(b, t, c * f))
        return self.pos_enc(x, offset)


class Conv2dSubsampling2(_Conv2dSubsampling):
    """One 3x3 stride-2 conv (rate 2, right_context 2): WeNet's efficient conformer
    input layer conv2d2."""

    subsampling_rate = 2
    right_context = 2

    def __init__(self, idim, odim, pos_enc):
        super().__init__(idim, odim, [(3, 2)], "out", pos_enc)


class Conv2dSubsampling4(_Conv2dSubsampling):
    """Two 3x3 stride-2 convs; T' = ((T-1)//2 - 1)//2. One output frame sees 7 input
    frames (right_context 6) and advances by 4."""

    subsampling_rate = 4
    right_context = 6

    def __init__(self, idim, odim, pos_enc=None):
        super().__init__(idim, odim, [(3, 2), (3, 2)], "out", pos_enc or RelPositionalEncoding(odim))


class Conv2dSubsampling6(_Conv2dSubsampling):
    """3x3 stride 2, then 5x5 stride 3 (rate 6, right_context 10)."""

    subsampling_rate = 6
    right_context = 10

    def __init__(self, idim, odim, pos_enc):
        super().__init__(idim, odim, [(3, 2), (5, 3)], "linear", pos_enc)


class Conv2dSubsampling8(_Conv2dSubsampling):
    """Three 3x3 stride-2 convs (rate 8, right_context 14)."""

    subsampling_rate = 8
    right_context = 14

    def __init__(self, idim, odim, pos_enc):
        super().__init__(idim, odim, [(3, 2), (3, 2), (3, 2)], "linear", pos_enc)


class LinearNoSubsampling(_Subsampling):
    """Linear(idim -> d) then LayerNorm(eps 1e-5); one output frame per input frame."""

    subsampling_rate = 1
    right_context = 0

    def __init__(self, idim, odim, pos_enc):
        super().__init__()
        self.out = nn.Sequential(nn.Linear(idim, odim), nn.LayerNorm(odim, eps=1e-5))
        self.pos_enc = pos_enc

    def forward(self, x, offset=0):
        return self.pos_enc(self.out(x), offset)


INPUT_LAYERS = {"conv2d2": Conv2dSubsampling2,  # the efficient conformer's only
                "conv2d": Conv2dSubsampling4, "conv2d6": Conv2dSubsampling6,
                "conv2d8": Conv2dSubsampling8, "linear": LinearNoSubsampling}


def make_input_layer(kind, idim, odim, pos_enc_kind):
    return INPUT_LAYERS[kind](idim, odim, POSITION_ENCODINGS[pos_enc_kind](odim))
