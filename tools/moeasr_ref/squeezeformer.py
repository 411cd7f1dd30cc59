"""WeNet's SqueezeformerEncoder (encoder: squeezeformer), inference only.

Input layer DepthwiseConv2dSubsampling4: Conv2d(1 -> d, 3, stride 2) + ReLU,
Conv2d(d -> d, 3, stride 2) + ReLU, flattened (channel, freq) per frame, scaled
by sqrt(d) (the position encoding's scale, applied BEFORE the Linear), then
input_proj Linear(d * F' -> d); then preln (LayerNorm).

Each block is post-norm:
    x = layer_norm1(x + MHSA(x)); x = layer_norm2(x + FFN1(x))
    x = layer_norm3(x + Conv(x)); x = layer_norm4(x + FFN2(x))
where every sublayer first applies its adaptive scale (x * ada_scale + ada_bias,
adaptive_scale: true). Before block reduce_idx the time-reduction layer halves
the frame rate (conv1d: depthwise kernel 5, stride 2, padding 3; stream:
kernel 1, stride 2, i.e. the even frames; then a pointwise conv) and the blocks
from there on see every second position row; before block recover_idx every
reduced frame is repeated twice, passed through time_recover_layer (Linear) and
added to the activations saved at reduce_idx (cut to their length).

Streaming follows WeNet's forward_chunk: the time reduction sees the chunk
alone (zero padding at its edges, no cache); a reduced block's attention cache
is the full-rate cache tensor's every second row, cut to (its position rows -
its new frames); its new cache is repeated twice along time and cut to block
0's length. do_rel_shift applies Transformer-XL's rel_shift to the position
scores of the absolute position rows (WeNet does, whatever it means).
"""

import math

import torch
from torch import nn
from torch.nn import functional as F

from .conv_module import ConvolutionModule
from .embedding import GlobalCMVN, RelPositionalEncoding
from .encoder import cache_keep_from
from .ffn import ACTIVATIONS


def adaptive(module, x):
    return module.ada_scale * x + module.ada_bias if module.adaptive_scale else x


def rel_shift(x):
    """Transformer-XL's shift of (b, h, t1, t2) scores: pad a zero column on the
    left, read the (t1, t2 + 1) buffer as (t2 + 1, t1), drop its first row and
    read the rest as (t1, t2)."""
    b, h, t1, t2 = x.size()
    padded = torch.cat([x.new_zeros(b, h, t1, 1), x], dim=-1)
    return padded.view(b, h, t2 + 1, t1)[:, :, 1:].reshape(b, h, t1, t2)


class SqueezeformerAttention(nn.Module):
    """rel_selfattn with adaptive scale on its input and optional rel_shift."""

    def __init__(self, n_head, d, do_rel_shift, adaptive_scale):
        super().__init__()
        self.h, self.d_k = n_head, d // n_head
        self.linear_q = nn.Linear(d, d)
        self.linear_k = nn.Linear(d, d)
        self.linear_v = nn.Linear(d, d)
        self.linear_out = nn.Linear(d, d)
        self.linear_pos = nn.Linear(d, d, bias=False)
        self.pos_bias_u = nn.Parameter(torch.zeros(self.h, self.d_k))
        self.pos_bias_v = nn.Parameter(torch.zeros(self.h, self.d_k))
        self.ada_scale = nn.Parameter(torch.ones(1, 1, d))
        self.ada_bias = nn.Parameter(torch.zeros(1, 1, d))
        self.adaptive_scale = adaptive_scale
        self.do_rel_shift = do_rel_shift

    def _heads(self, x):
        return x.view(x.size(0), x.size(1), self.h, self.d_k).transpose(1, 2)

    def forward(self, x, pos_emb, cache=None):
        """x (1, t, d); pos_emb (1, t_cache + t, d); cache (1, h, t_cache, 2 d_k) or None."""
        x = adaptive(self, x)
        q = self._heads(self.linear_q(x))
        k = self._heads(self.linear_k(x))
        v = self._heads(self.linear_v(x))
        if cache is not None and cache.size(0) > 0:
            k = torch.cat([cache[..., :self.d_k], k], dim=2)
            v = torch.cat([cache[..., self.d_k:], v], dim=2)
        new_cache = torch.cat([k, v], dim=-1)
        p = self._heads(self.linear_pos(pos_emb))
        q = q.transpose(1, 2)
        ac = torch.matmul((q + self.pos_bias_u).transpose(1, 2), k.transpose(-2, -1))
        bd = torch.matmul((q + self.pos_bias_v).transpose(1, 2), p.transpose(-2, -1))
        if self.do_rel_shift:
            bd = rel_shift(bd)
        attn = torch.softmax((ac + bd) / math.sqrt(self.d_k), dim=-1)
        out = torch.matmul(attn, v).transpose(1, 2)
        return self.linear_out(out.reshape(out.size(0), out.size(1), -1)), new_cache


class SqueezeformerFeedForward(nn.Module):
    def __init__(self, d, hidden, activation, adaptive_scale):
        super().__init__()
        self.w_1 = nn.Linear(d, hidden)
        self.w_2 = nn.Linear(hidden, d)
        self.activation = ACTIVATIONS[activation]()
        self.ada_scale = nn.Parameter(torch.ones(1, 1, d))
        self.ada_bias = nn.Parameter(torch.zeros(1, 1, d))
        self.adaptive_scale = adaptive_scale

    def forward(self, x):
        return self.w_2(self.activation(self.w_1(adaptive(self, x))))


class SqueezeformerConvolution(ConvolutionModule):
    """The Conformer convolution module after an adaptive scale."""

    def __init__(self, d, kernel, activation, norm, causal, adaptive_scale):
        super().__init__(d, kernel, activation, norm, causal)
        self.ada_scale = nn.Parameter(torch.ones(1, 1, d))
        self.ada_bias = nn.Parameter(torch.zeros(1, 1, d))
        self.adaptive_scale = adaptive_scale

    def forward(self, x, cache=None):
        return super().forward(adaptive(self, x), cache)


class SqueezeformerEncoderLayer(nn.Module):
    def __init__(self, opts):
        super().__init__()
        d = opts["encoder_dim"]
        ada = opts["adaptive_scale"]
        hidden = d * opts["feed_forward_expansion_factor"]
        act = opts["activation_type"]
        self.self_attn = SqueezeformerAttention(opts["attention_heads"], d, opts["do_rel_shift"], ada)
        self.layer_norm1 = nn.LayerNorm(d)
        self.ffn1 = SqueezeformerFeedForward(d, hidden, act, ada)
        self.layer_norm2 = nn.LayerNorm(d)
        self.conv_module = SqueezeformerConvolution(d, opts["cnn_module_kernel"], act,
                                                    opts["cnn_norm_type"], opts["causal"], ada)
        self.layer_norm3 = nn.LayerNorm(d)
        self.ffn2 = SqueezeformerFeedForward(d, hidden, act, ada)
        self.layer_norm4 = nn.LayerNorm(d)

    def forward(self, x, pos_emb, att_cache=None, cnn_cache=None):
        x_att, new_att_cache = self.self_attn(x, pos_emb, att_cache)
        x = self.layer_norm1(x + x_att)
        x = self.layer_norm2(x + self.ffn1(x))
        x_conv, new_cnn_cache = self.conv_module(x, cnn_cache)
        x = self.layer_norm3(x + x_conv)
        x = self.layer_norm4(x + self.ffn2(x))
        return x, new_att_cache, new_cnn_cache


class TimeReduction(nn.Module):
    """Depthwise Conv1d (kernel 5, stride 2, padding 3 for conv1d; kernel 1,
    stride 2 for stream) then pointwise Conv1d; the output has ceil(T / 2)
    frames (conv1d's extra last frame is dropped)."""

    def __init__(self, d, kind):
        super().__init__()
        self.kernel = 5 if kind == "conv1d" else 1
        self.padding = 3 if kind == "conv1d" else 0
        self.dw_conv = nn.Conv1d(d, d, self.kernel, stride=2, padding=self.padding, groups=d)
        self.pw_conv = nn.Conv1d(d, d, 1)

    def forward(self, x):
        frames = (x.size(1) + 1) // 2
        x = x.transpose(1, 2)
        # WeNet zeroes padded frames here (one utterance has none) with masked_fill,
        # whose copy sets the layout the convolutions' rounding depends on (one frame:
        # (C, 1) strides instead of the transpose's): copied the same way.
        x = x.masked_fill(torch.zeros(1, 1, x.size(2), dtype=torch.bool), 0.0)
        y = self.pw_conv(self.dw_conv(x)).transpose(1, 2)
        return y[:, :frames]


class DepthwiseConv2dSubsampling4(nn.Module):
    subsampling_rate = 4
    right_context = 6

    def __init__(self, idim, d):
        super().__init__()
        self.pw_conv = nn.Conv2d(1, d, 3, 2)
        self.dw_conv = nn.Conv2d(d, d, 3, 2)
        self.pos_enc = RelPositionalEncoding(d)
        self.input_proj = nn.Sequential(nn.Linear(d * (((idim - 1) // 2 - 1) // 2), d))

    def position_encoding(self, offset, size):
        return self.pos_enc.position_encoding(offset, size)

    def forward(self, x, offset=0):
        x = torch.relu(self.dw_conv(torch.relu(self.pw_conv(x.unsqueeze(1)))))
        b, c, t, f = x.size()
        x, pos_emb = self.pos_enc(x.transpose(1, 2).reshape(b, t, c * f), offset)
        return self.input_proj(x), pos_emb


class SqueezeformerEncoder(nn.Module):
    def __init__(self, input_dim, opts, global_cmvn):
        super().__init__()
        d = opts["encoder_dim"]
        self.opts = opts
        self.global_cmvn = GlobalCMVN(input_dim) if global_cmvn else None
        self.embed = DepthwiseConv2dSubsampling4(input_dim, d)
        self.preln = nn.LayerNorm(d)
        self.encoders = nn.ModuleList(SqueezeformerEncoderLayer(opts)
                                      for _ in range(opts["num_blocks"]))
        self.time_reduction_layer = TimeReduction(d, opts["time_reduction_layer_type"])
        self.time_recover_layer = nn.Linear(d, d)
        self.final_proj = nn.Linear(d, opts["output_size"]) if opts["output_size"] != d else None
        self.reduce_idx, self.recover_idx = opts["reduce_idx"], opts["recover_idx"]

    def _finish(self, x):
        return self.final_proj(x) if self.final_proj is not None else x

    def _recover(self, x, saved):
        # The Linear runs on all repeated rows before the cut, as in WeNet: a GEMM's
        # rounding depends on its row count.
        x = self.time_recover_layer(x.repeat_interleave(2, dim=1))
        return saved + x[:, :saved.size(1)]

    def factor(self, i):
        """Frame-rate divisor of block i (2 between reduce_idx and recover_idx)."""
        return 2 if self.reduce_idx <= i < self.recover_idx else 1

    def forward(self, feats):
        """Whole utterance (1, T, input_dim) -> (1, T', output_size)."""
        x = self.global_cmvn(feats) if self.global_cmvn is not None else feats
        x, pos_emb = self.embed(x)
        x = self.preln(x)
        saved = None
        for i, layer in enumerate(self.encoders):
            if i == self.reduce_idx:
                saved = (x, pos_emb)
                x, pos_emb = self.time_reduction_layer(x), pos_emb[:, ::2]
            if i == self.recover_idx:
                x, pos_emb = self._recover(x, saved[0]), saved[1]
            x = layer(x, pos_emb)[0]
        return self._finish(x)

    def forward_chunk(self, feats, offset, required_cache_size, att_cache, cnn_cache):
        """WeNet's SqueezeformerEncoder.forward_chunk: att_cache (layers, h, t_cache,
        2 d_k) at the full frame rate (a reduced block's rows repeated twice)."""
        x = self.global_cmvn(feats) if self.global_cmvn is not None else feats
        x, _ = self.embed(x, offset)
        cache_t = att_cache.size(2) if att_cache is not None else 0
        keys = cache_t + x.size(1)
        pos_emb = self.embed.position_encoding(offset - cache_t, keys)
        keep_from = cache_keep_from(keys, required_cache_size)
        x = self.preln(x)
        saved = None
        new_att, new_cnn = [], []
        max_len = 0
        for i, layer in enumerate(self.encoders):
            if i == self.reduce_idx:
                saved = (x, pos_emb)
                x, pos_emb = self.time_reduction_layer(x), pos_emb[:, ::2]
            if i == self.recover_idx:
                x, pos_emb = self._recover(x, saved[0]), saved[1]
            f = self.factor(i)
            cache = None
            if att_cache is not None:
                cache = att_cache[i:i + 1, :, ::f][:, :, :pos_emb.size(1) - x.size(1)]
            x, layer_att, layer_cnn = layer(
                x, pos_emb, cache, cnn_cache[i] if cnn_cache is not None else None)
            kept = layer_att[:, :, keep_from // f:].repeat_interleave(f, dim=2)
            if i == 0:
                max_len = kept.size(2)
            new_att.append(kept[:, :, :max_len])
            if layer_cnn is not None:
                new_cnn.append(layer_cnn.unsqueeze(0))
        return (self._finish(x), torch.cat(new_att, dim=0),
                torch.cat(new_cnn, dim=0) if new_cnn else None)

    def forward_chunk_by_chunk(self, feats, chunk_size, num_left_chunks=-1):
        from .encoder import ConformerEncoder  # the same windows as every WeNet encoder

        return ConformerEncoder.forward_chunk_by_chunk(self, feats, chunk_size, num_left_chunks)
