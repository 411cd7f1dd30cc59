"""Attention decoders used for rescoring: TransformerDecoder and BiTransformerDecoder."""

import torch
from torch import nn

from .attention import MultiHeadedAttention
from .embedding import PositionalEncoding
from .ffn import make_ffn


class DecoderLayer(nn.Module):
    """Pre-norm: x += self_attn(norm1 x) (causal); x += src_attn(norm2 x, memory);
    x += FF(norm3 x)."""

    def __init__(self, d, opts, src_biases):
        super().__init__()
        heads = opts["attention_heads"]
        self.self_attn = MultiHeadedAttention(heads, d, opts["query_bias"], opts["key_bias"],
                                              opts["value_bias"])
        self.src_attn = MultiHeadedAttention(heads, d, *src_biases)
        self.feed_forward = make_ffn(opts, d)
        self.norm1 = nn.LayerNorm(d, eps=opts["norm_eps"])
        self.norm2 = nn.LayerNorm(d, eps=opts["norm_eps"])
        self.norm3 = nn.LayerNorm(d, eps=opts["norm_eps"])

    def forward(self, x, tgt_mask, memory, memory_mask=None):
        """memory_mask (b, 1, T), True = a real encoder frame; None = all are real
        (training passes it for padded batches)."""
        y = self.norm1(x)
        x = x + self.self_attn(y, y, y, tgt_mask)
        x = x + self.src_attn(self.norm2(x), memory, memory, memory_mask)
        return x + self.feed_forward(self.norm3(x))


class TransformerDecoder(nn.Module):
    """embed = (Embedding, abs PositionalEncoding) -> layers -> after_norm -> output_layer."""

    def __init__(self, vocab_size, d, opts, num_blocks, src_biases):
        super().__init__()
        self.embed = nn.Sequential(nn.Embedding(vocab_size, d), PositionalEncoding(d))
        self.after_norm = nn.LayerNorm(d, eps=opts["norm_eps"])
        self.output_layer = nn.Linear(d, vocab_size)
        self.decoders = nn.ModuleList(DecoderLayer(d, opts, src_biases)
                                      for _ in range(num_blocks))

    def forward(self, tokens, memory, memory_mask=None, log_softmax=True):
        """tokens (b, L) starting with sos; memory (b, T, d) -> log-probs (b, L, vocab),
        or the logits with log_softmax=False.

        Position j attends to positions <= j only (padding after a shorter sequence
        is therefore never seen by its real positions); memory_mask (b, 1, T) hides
        padded encoder frames."""
        length = tokens.size(1)
        tgt_mask = torch.tril(torch.ones(length, length, dtype=torch.bool,
                                         device=tokens.device)).unsqueeze(0)
        x = self.embed[1](self.embed[0](tokens))
        for layer in self.decoders:
            x = layer(x, tgt_mask, memory, memory_mask)
        logits = self.output_layer(self.after_norm(x))
        return torch.log_softmax(logits, dim=-1) if log_softmax else logits


class BiTransformerDecoder(nn.Module):
    """left_decoder reads [sos, t1..tn]; right_decoder reads [sos, tn..t1].
    r_num_blocks may be 0: the right decoder is then embedding + after_norm + output only."""

    def __init__(self, vocab_size, d, opts):
        super().__init__()
        self.left_decoder = TransformerDecoder(vocab_size, d, opts, opts["num_blocks"],
                                               (True, True, True))
        self.right_decoder = TransformerDecoder(vocab_size, d, opts, opts["r_num_blocks"],
                                                (True, True, True))


def make_decoder(kind, vocab_size, d, opts):
    if kind == "bitransformer":
        return BiTransformerDecoder(vocab_size, d, opts)
    src_biases = (opts["src_query_bias"], opts["src_key_bias"], opts["src_value_bias"])
    return TransformerDecoder(vocab_size, d, opts, opts["num_blocks"], src_biases)
