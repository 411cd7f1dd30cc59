"""The Conformer convolution module, streaming-capable."""

import torch
from torch import nn
from torch.nn import functional as F

from .ffn import ACTIVATIONS


class ConvolutionModule(nn.Module):
    """pointwise_conv1 (d -> f*d) -> GLU -> depthwise conv (K) -> norm -> act -> pointwise_conv2.

    Causal (lorder = K-1 > 0): the module *input* (before pointwise_conv1) is
    left-padded with K-1 zero frames, or prefixed with the cache, and the depthwise
    conv runs unpadded. Because pointwise_conv1 has a bias, a zero input frame does
    not become a zero depthwise input: the cache must hold module inputs.
    The new cache is the last K-1 frames of that padded/prefixed input.

    Non-causal: the depthwise conv pads (K-1)/2 zeros on both sides of whatever it
    is given (the whole utterance, or just the current chunk when streaming), and
    there is no cache.
    """

    def __init__(self, channels, kernel_size, activation, norm, causal, bias=True,
                 norm_eps=1e-5, inner_factor=2):
        super().__init__()
        inner = inner_factor * channels // 2
        self.pointwise_conv1 = nn.Conv1d(channels, inner_factor * channels, 1, bias=bias)
        self.lorder = kernel_size - 1 if causal else 0
        padding = 0 if causal else (kernel_size - 1) // 2
        self.depthwise_conv = nn.Conv1d(inner, inner, kernel_size, padding=padding,
                                        groups=inner, bias=bias)
        self.use_layer_norm = norm == "layer_norm"
        if self.use_layer_norm:
            self.norm = nn.LayerNorm(inner, eps=norm_eps)
        else:
            self.norm = nn.BatchNorm1d(inner, eps=norm_eps)
        self.pointwise_conv2 = nn.Conv1d(inner, channels, 1, bias=bias)
        self.activation = ACTIVATIONS[activation]()

    def forward(self, x, cache=None):
        """x (1, T, C); cache (1, C, K-1) or None -> (y (1, T, C), new cache or None)."""
        x = x.transpose(1, 2)  # (b, C, T)
        new_cache = None
        if self.lorder > 0:
            if cache is None or cache.size(2) == 0:
                x = F.pad(x, (self.lorder, 0), "constant", 0.0)
            else:
                x = torch.cat((cache, x), dim=2)
            new_cache = x[:, :, -self.lorder:]
        x = F.glu(self.pointwise_conv1(x), dim=1)
        x = self.depthwise_conv(x)
        if self.use_layer_norm:
            x = self.activation(self.norm(x.transpose(1, 2))).transpose(1, 2)
        else:
            x = self.activation(self.norm(x))
        x = self.pointwise_conv2(x)
        return x.transpose(1, 2), new_cache

