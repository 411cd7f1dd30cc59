"""WeNet's Efficient Conformer (encoder: efficientConformer): Conformer blocks where
some layers halve the frame rate (a strided depthwise convolution, the residual
average-pooled to match) and some attend over groups of frames (grouped attention).

Full attention runs the layers over the whole utterance, every layer after a strided
one at the lower rate, with the position rows subsampled alike. Streaming follows
WeNet's EfficientConformerEncoder.forward_chunk, whose cache bookkeeping is kept as it
is (see EfficientConformerEncoder.forward_chunk).
"""

import math

import torch
from torch import nn
from torch.nn import functional as F

from .attention import RelPositionMultiHeadedAttention, _with_cache
from .encoder import ConformerEncoder, ConformerEncoderLayer, cache_keep_from


class GroupedRelPositionAttention(RelPositionMultiHeadedAttention):
    """rel_selfattn over groups of `group_size` consecutive frames: the queries, keys,
    values and position rows are zero-padded at the end to whole groups, a group's
    frames are concatenated into one row of group_size * d, and attention runs with
    the same number of heads on those rows (head width group_size * d_k, scale
    1/sqrt(group_size * d_k)); the output rows are split back into frames and the
    padding dropped. pos_bias_u / pos_bias_v are (heads, group_size * d_k)."""

    def __init__(self, n_head, n_feat, group_size):
        super().__init__(n_head, n_feat)
        self.group_size = group_size
        self.pos_bias_u = nn.Parameter(torch.zeros(n_head, self.d_k * group_size))
        self.pos_bias_v = nn.Parameter(torch.zeros(n_head, self.d_k * group_size))

    def _groups(self, x):
        """(1, t, d) -> (1, h, ceil(t / g), g * d_k)"""
        g = self.group_size
        x = F.pad(x, (0, 0, 0, (-x.size(1)) % g))
        return x.reshape(x.size(0), -1, self.h, g * self.d_k).transpose(1, 2)

    def forward(self, x, pos_emb, cache=None, mask=None):
        if mask is not None:
            raise ValueError("grouped attention runs unmasked here (full or one chunk)")
        t = x.size(1)
        k = self.split_heads(self.linear_k(x))
        v = self.split_heads(self.linear_v(x))
        k, v, new_cache = _with_cache(k, v, cache, self.d_k)
        merge = lambda y: y.transpose(1, 2).reshape(y.size(0), y.size(2), -1)  # noqa: E731
        q = self._groups(self.linear_q(x)).transpose(1, 2)  # (1, t_g, h, g*d_k)
        k, v = self._groups(merge(k)), self._groups(merge(v))
        p = self._groups(self.linear_pos(pos_emb))
        q_u = (q + self.pos_bias_u).transpose(1, 2)
        q_v = (q + self.pos_bias_v).transpose(1, 2)
        scores = (torch.matmul(q_u, k.transpose(-2, -1)) + torch.matmul(q_v, p.transpose(-2, -1))
                  ) / math.sqrt(self.d_k * self.group_size)
        attn = torch.softmax(scores.float(), dim=-1).type_as(v)
        out = torch.matmul(attn, v).transpose(1, 2)  # (1, t_g, h, g*d_k)
        out = out.reshape(out.size(0), -1, self.h * self.d_k)[:, :t]
        return self.linear_out(out), new_cache


class EfficientConformerLayer(ConformerEncoderLayer):
    """A Conformer block with its own conv kernel, optionally grouped attention, and
    optionally strided (stride > 1): the depthwise convolution runs with that stride
    (ceil(T / stride) frames out) and the conv block's residual is average-pooled
    (windows of `stride`, the last one partial) to the same frames; the FFN and
    norm_final then run at the lower rate. A strided layer also holds WeNet's unused
    concat_linear (Linear(2d, d)), so that state_dict keys match."""

    def __init__(self, opts, kernel, stride, group_size):
        super().__init__(dict(opts, cnn_module_kernel=kernel))
        d = opts["output_size"]
        if group_size is not None:
            self.self_attn = GroupedRelPositionAttention(opts["attention_heads"], d, group_size)
        self.stride = stride
        if stride > 1:
            old = self.conv_module.depthwise_conv
            self.conv_module.depthwise_conv = nn.Conv1d(
                old.in_channels, old.out_channels, kernel, stride=stride, padding=old.padding,
                groups=old.groups, bias=old.bias is not None)
            self.concat_linear = nn.Linear(2 * d, d)

    def forward(self, x, pos_emb, att_cache=None, cnn_cache=None, mask=None):
        if self.feed_forward_macaron is not None:
            x = x + self.ff_scale * self.feed_forward_macaron(self.norm_ff_macaron(x))
        x_att, new_att_cache = self.self_attn(self.norm_mha(x), pos_emb, att_cache, mask)
        x = x + x_att
        x_conv, new_cnn_cache = self.conv_module(self.norm_conv(x), cnn_cache)
        if self.stride > 1:
            x = F.avg_pool1d(x.transpose(1, 2), self.stride, self.stride, ceil_mode=True,
                             count_include_pad=False).transpose(1, 2)
        x = x + x_conv
        x = x + self.ff_scale * self.feed_forward(self.norm_ff(x))
        return self.norm_final(x), new_att_cache, new_cnn_cache


class EfficientConformerEncoder(ConformerEncoder):
    """WeNet's EfficientConformerEncoder (rel_pos, conv modules, dense FFNs)."""

    def _make_layers(self, opts):
        strides = dict(zip(opts["stride_layer_idx"], opts["stride"]))
        kernels = opts["cnn_module_kernels"]
        layers, passed = [], 0
        for i in range(opts["num_blocks"]):
            group = opts["group_size"] if i in opts["group_layer_idx"] else None
            layers.append(EfficientConformerLayer(opts, kernels[passed], strides.get(i, 1), group))
            if i in strides:
                passed += 1
        return nn.ModuleList(layers)

    def rate_before(self, i):
        """The frame rate divisor at layer i's input: the strides of the layers before it."""
        rate = 1
        for index, stride in zip(self.opts["stride_layer_idx"], self.opts["stride"]):
            if index < i:
                rate *= stride
        return rate

    def _after(self, i, pos_emb):
        """The position rows for the layers after layer i."""
        strides = dict(zip(self.opts["stride_layer_idx"], self.opts["stride"]))
        return pos_emb[:, ::strides[i]] if i in strides else pos_emb

    def forward(self, feats):
        """feats (1, T, input_dim) -> (1, T'', d): full attention."""
        x = self.global_cmvn(feats) if self.global_cmvn is not None else feats
        x, pos_emb = self.embed(x)
        for i, layer in enumerate(self.encoders):
            x = layer(x, pos_emb)[0]
            pos_emb = self._after(i, pos_emb)
        return self._finish(x)

    def forward_chunk(self, feats, offset, required_cache_size, att_cache, cnn_cache):
        """One streaming step with WeNet's EfficientConformerEncoder.forward_chunk caches.

        offset counts output frames; the input layer's frames so far are offset times
        the total stride. att_cache (layers, h, S, 2*d_k) holds every layer's keys and
        values at the input layer's rate: a layer after strides (rate r) stores its
        kept frames each repeated r times, cut to layer 0's kept length S, and reads
        back every r-th row of it. The position rows span S + chunk frames at the
        input layer's rate, every r-th for such a layer; when its cached rows plus the
        chunk's exceed them (S / r not whole) WeNet drops the oldest cached rows:
        chunk + S // r - rows + 1 of them. The kept frames start at
        keys - required_cache_size of the input layer's rate, // r at rate r. The
        convolution caches are per layer (the last kernel - 1 module inputs at the
        layer's input rate; WeNet zero-pads them to one width, unread).
        """
        total = self.rate_before(len(self.encoders))
        x = self.global_cmvn(feats) if self.global_cmvn is not None else feats
        start = offset * total
        x, _ = self.embed(x, start)
        cache_t = att_cache.size(2) if att_cache is not None else 0
        keys = cache_t + x.size(1)
        pos_emb = self.embed.position_encoding(start - cache_t, keys)
        keep_from = cache_keep_from(keys, required_cache_size)
        new_att, new_cnn, kept = [], [], 0
        for i, layer in enumerate(self.encoders):
            rate = self.rate_before(i)
            cache = None
            if att_cache is not None:
                cache = att_cache[i:i + 1, :, ::rate]
                if x.size(1) + cache_t / rate > pos_emb.size(1):
                    cache = cache[:, :, x.size(1) + cache_t // rate - pos_emb.size(1) + 1:]
            x, layer_att, layer_cnn = layer(x, pos_emb, cache,
                                            cnn_cache[i] if cnn_cache is not None else None)
            pos_emb = self._after(i, pos_emb)
            layer_att = layer_att[:, :, keep_from // rate:].repeat_interleave(rate, dim=2)
            if i == 0:
                kept = layer_att.size(2)
            # With nothing kept at layer 0 (num_left_chunks 0) nothing is kept at all.
            # WeNet slices [-0:] there, keeping the whole tensor, and fails to stack
            # the layers when a strided layer kept a row (the chunk's frames not a
            # multiple of the rate, e.g. an utterance's last chunk).
            new_att.append(layer_att[:, :, layer_att.size(2) - kept:])
            new_cnn.append(layer_cnn)
        return (self._finish(x), torch.cat(new_att, dim=0),
                new_cnn if new_cnn[0] is not None else None)
