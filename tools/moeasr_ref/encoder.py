"""The U2++ encoders (Conformer, Transformer, Branchformer, E-Branchformer): full-utterance
forward and WeNet's chunked streaming."""

import torch
from torch import nn

from .attention import RelPositionMultiHeadedAttention, SelfAttention
from .branchformer import BranchformerEncoderLayer, EBranchformerEncoderLayer
from .conv_module import ConvolutionModule
from .embedding import GlobalCMVN, make_input_layer
from .ffn import make_ffn
from .soft_moe import make_adapter


def cache_keep_from(keys, required_cache_size):
    """The first of `keys` cached rows that forward_chunk keeps for the next chunk
    (WeNet: the last required_cache_size rows; all when < 0, none when 0)."""
    if required_cache_size < 0:
        return 0
    if required_cache_size == 0:
        return keys
    return max(keys - required_cache_size, 0)


def make_self_attention(opts):
    """WeNet picks the class by selfattention_layer_type alone."""
    cls = (RelPositionMultiHeadedAttention if opts["selfattention_layer_type"] == "rel_selfattn"
           else SelfAttention)
    return cls(opts["attention_heads"], opts["output_size"], opts["query_bias"], opts["key_bias"],
               opts["value_bias"])


class TransformerEncoderLayer(nn.Module):
    """Pre-norm Transformer block: x += MHSA(norm1(x)); x += FF(norm2(x))."""

    def __init__(self, opts):
        super().__init__()
        d = opts["output_size"]
        self.self_attn = make_self_attention(opts)
        self.feed_forward = make_ffn(opts, d)
        self.norm1 = nn.LayerNorm(d, eps=opts["norm_eps"])
        self.norm2 = nn.LayerNorm(d, eps=opts["norm_eps"])

    def forward(self, x, pos_emb, att_cache=None, cnn_cache=None, mask=None):
        """Returns (x, new att cache (1, h, t_cache + t, 2*d_k), None)."""
        x_att, new_att_cache = self.self_attn(self.norm1(x), pos_emb, att_cache, mask)
        x = x + x_att
        x = x + self.feed_forward(self.norm2(x))
        return x, new_att_cache, None


class ConformerEncoderLayer(nn.Module):
    """Pre-norm Conformer block:
        x += s * FF_mac(norm_ff_macaron(x))      s = 0.5 with macaron, else 1
        x += MHSA(norm_mha(x))
        x += Conv(norm_conv(x))
        x += s * FF(norm_ff(x))
        x = norm_final(x)                        (only with a conv module)
    With adapters (moeasr extension, encoder_conf.adapter_type), a mixture of
    adapters runs in parallel to each sublayer named in adapter_placement, on the
    same LayerNorm output, and its output is added to the residual unscaled:
        x += s * FF(h) + A_ff(h),   h = norm_ff(x)    (likewise MHSA, macaron FF)
    """

    def __init__(self, opts):
        super().__init__()
        d = opts["output_size"]
        eps = opts["norm_eps"]
        self.self_attn = make_self_attention(opts)
        self.feed_forward = make_ffn(opts, d)
        self.feed_forward_macaron = make_ffn(opts, d) if opts["macaron_style"] else None
        self.conv_module = ConvolutionModule(
            d, opts["cnn_module_kernel"], opts["activation_type"], opts["cnn_module_norm"],
            opts["causal"], opts["conv_bias"], opts["conv_norm_eps"],
            opts["conv_inner_factor"]) if opts["use_cnn_module"] else None
        self.norm_ff = nn.LayerNorm(d, eps=eps)
        self.norm_mha = nn.LayerNorm(d, eps=eps)
        if self.feed_forward_macaron is not None:
            self.norm_ff_macaron = nn.LayerNorm(d, eps=eps)
        self.ff_scale = 0.5 if self.feed_forward_macaron is not None else 1.0
        if self.conv_module is not None:
            self.norm_conv = nn.LayerNorm(d, eps=eps)
            self.norm_final = nn.LayerNorm(d, eps=eps)
        places = opts["adapter_placement"] if opts["adapter_type"] is not None else []
        for place in places:
            setattr(self, "adapter_" + place, make_adapter(opts, d))

    def _adapter(self, place, h):
        adapter = getattr(self, "adapter_" + place, None)
        return None if adapter is None else adapter(h)

    def forward(self, x, pos_emb, att_cache=None, cnn_cache=None, mask=None):
        """Returns (x, new att cache (1, h, t_cache + t, 2*d_k), new cnn cache or None)."""
        if self.feed_forward_macaron is not None:
            h = self.norm_ff_macaron(x)
            x = x + self.ff_scale * self.feed_forward_macaron(h)
            a = self._adapter("feed_forward_macaron", h)
            if a is not None:
                x = x + a
        h = self.norm_mha(x)
        x_att, new_att_cache = self.self_attn(h, pos_emb, att_cache, mask)
        x = x + x_att
        a = self._adapter("self_attn", h)
        if a is not None:
            x = x + a
        new_cnn_cache = None
        if self.conv_module is not None:
            x_conv, new_cnn_cache = self.conv_module(self.norm_conv(x), cnn_cache)
            x = x + x_conv
        h = self.norm_ff(x)
        x = x + self.ff_scale * self.feed_forward(h)
        a = self._adapter("feed_forward", h)
        if a is not None:
            x = x + a
        if self.conv_module is not None:
            x = self.norm_final(x)
        return x, new_att_cache, new_cnn_cache


class ConformerEncoder(nn.Module):
    """WeNet's BaseEncoder with ConformerEncoderLayer blocks, or with the blocks of
    opts["encoder"]: transformer, branchformer or e_branchformer."""

    def __init__(self, input_dim, opts, global_cmvn):
        super().__init__()
        d = opts["output_size"]
        self.opts = opts
        self.global_cmvn = GlobalCMVN(input_dim) if global_cmvn else None
        self.embed = make_input_layer(opts["input_layer"], input_dim, d, opts["pos_enc_layer_type"])
        self.after_norm = nn.LayerNorm(d, eps=opts["norm_eps"])
        kind = opts.get("encoder")
        if kind in ("branchformer", "e_branchformer"):
            layer = BranchformerEncoderLayer if kind == "branchformer" else EBranchformerEncoderLayer
            self.encoders = nn.ModuleList(layer(opts, make_self_attention)
                                          for _ in range(opts["num_blocks"]))
        else:
            self.encoders = self._make_layers(opts)

    def _make_layers(self, opts):
        layer = TransformerEncoderLayer if opts.get("encoder") == "transformer" \
            else ConformerEncoderLayer
        return nn.ModuleList(layer(opts) for _ in range(opts["num_blocks"]))

    def _finish(self, x):
        return self.after_norm(x) if self.opts["final_norm"] else x

    def forward(self, feats):
        """Whole-utterance forward, as WeNet's with decoding_chunk_size -1: full
        attention, except for a static-chunk model (static_chunk_size > 0 without
        use_dynamic_chunk), where WeNet still applies its chunk mask.

        feats (1, T, input_dim) -> (1, T', d)."""
        x = self.global_cmvn(feats) if self.global_cmvn is not None else feats
        x, pos_emb = self.embed(x)
        mask = self._static_chunk_mask(x.size(1), x.device)
        for layer in self.encoders:
            x = layer(x, pos_emb, mask=mask)[0]
        return self._finish(x)

    def _static_chunk_mask(self, frames, device):
        """(1, T', T') with frame i seeing every frame up to the end of its chunk, or None."""
        chunk = self.opts["static_chunk_size"]
        if self.opts["use_dynamic_chunk"] or chunk <= 0:
            return None
        index = torch.arange(frames, device=device)
        chunk_end = (index // chunk + 1) * chunk
        return (index.unsqueeze(0) < chunk_end.unsqueeze(1)).unsqueeze(0)

    def forward_chunk(self, feats, offset, required_cache_size, att_cache, cnn_cache):
        """One streaming step (WeNet BaseEncoder.forward_chunk, no attention mask).

        feats: (1, (chunk-1)*rate + right_context + 1, input_dim) raw fbank frames of this chunk
        offset: encoder frames already produced
        att_cache: (layers, h, t_cache, 2*d_k) or None; cnn_cache: (layers, 1, C, K-1) or None
        Returns (ys (1, chunk, d), att_cache, cnn_cache) where the new att_cache keeps the
        last `required_cache_size` frames (all when < 0, none when 0).
        """
        x = self.global_cmvn(feats) if self.global_cmvn is not None else feats
        x, _ = self.embed(x, offset)
        cache_t = att_cache.size(2) if att_cache is not None else 0
        keys = cache_t + x.size(1)
        pos_emb = self.embed.position_encoding(offset - cache_t, keys)
        keep_from = cache_keep_from(keys, required_cache_size)
        new_att, new_cnn = [], []
        for i, layer in enumerate(self.encoders):
            x, layer_att, layer_cnn = layer(
                x, pos_emb,
                att_cache[i:i + 1] if att_cache is not None else None,
                cnn_cache[i] if cnn_cache is not None else None)
            new_att.append(layer_att[:, :, keep_from:, :])
            if layer_cnn is not None:
                new_cnn.append(layer_cnn.unsqueeze(0))
        return (self._finish(x), torch.cat(new_att, dim=0),
                torch.cat(new_cnn, dim=0) if new_cnn else None)

    def forward_chunk_by_chunk(self, feats, chunk_size, num_left_chunks=-1):
        """Simulated streaming exactly like WeNet's forward_chunk_by_chunk.

        Windows of (chunk-1)*rate + right_context + 1 frames start every rate*chunk
        frames, for every start that leaves at least right_context + 1 frames; the last window is cut at the utterance end and
        yields fewer than `chunk` outputs. The total equals the full-mode frame count.
        """
        if chunk_size <= 0:
            raise ValueError("chunk_size must be positive")
        sub = self.embed.subsampling_rate
        context = self.embed.right_context + 1
        stride = sub * chunk_size
        window = (chunk_size - 1) * sub + context
        num_frames = feats.size(1)
        if num_frames < context:
            raise ValueError(f"need at least {context} frames, got {num_frames}")
        required_cache_size = chunk_size * num_left_chunks
        att_cache = cnn_cache = None
        outputs = []
        offset = 0
        for cur in range(0, num_frames - context + 1, stride):
            end = min(cur + window, num_frames)
            y, att_cache, cnn_cache = self.forward_chunk(
                feats[:, cur:end, :], offset, required_cache_size, att_cache, cnn_cache)
            outputs.append(y)
            offset += y.size(1)
        return torch.cat(outputs, dim=1)
