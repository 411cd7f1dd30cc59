"""Audio Spectrogram Transformer (AST) classifier with optional mixtures of adapters.

The model ("AST: Audio Spectrogram Transformer", Gong et al. 2021) as Hugging Face's
ASTForAudioClassification runs it, re-implemented here from its description; module
names follow that state_dict so a converted checkpoint loads without renaming:

    features   Kaldi fbank of the waveform in [-1, 1] (NOT scaled to int16), 128 mel
               bins, hanning window, 25/10 ms, dither 0; zero-padded or truncated to
               max_length frames; then (fbank - mean) / (2 * std)
    patches    image [128 (freq), max_length (time)]; Conv2d(1, H, 16x16, stride
               (frequency_stride, time_stride)); patch p = f * t_dim + t
    tokens     [CLS, DIST, patches] + position_embeddings
    layers     pre-norm ViT: x += Attn(LN_before x); x += W_out GELU(W_in LN_after x)
    head       final LN; pooled = (h_CLS + h_DIST) / 2  ("cls_dist", HF)
                              or mean of the patch tokens ("mean", moeasr option)
                              or h_CLS ("cls") or mean of all tokens ("mean_all"):
                              PETL_AST's final_output CLS / ALL;
               logits = dense(LN(pooled)), or dense(pooled) with head.layernorm
               false (PETL_AST's head); scores = sigmoid (multi-label) or softmax

Mixtures of adapters (moeasr extension, Soft-MoA paper arXiv 2402.00828): adapter_conf
as in adapters.yaml; a mixture in parallel to the attention ("self_attn": reads the
layernorm_before output) and/or to the MLP ("feed_forward": reads the layernorm_after
output), its output added to the residual unscaled. Soft-MoA's dispatch group is the
whole token sequence of one clip (CLS, DIST and every patch). adapter_self_attn_twice
adds the self_attn mixture's output once more at the end of the layer: what PETL_AST's
code does for Pfeiffer adapters at location MHSA (its last line adds a variable that
still holds the attention-side mixture).
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

from .soft_moe import make_adapter

AST_PLACES = ("self_attn", "feed_forward")

# Hugging Face's ASTFeatureExtractor defaults (AudioSet statistics).
AUDIOSET_MEAN = -4.2677393
AUDIOSET_STD = 4.5689974


def hf_fbank(waveform, sample_rate=16000, num_mel_bins=128, exact=False):
    """waveform: 1-D float in [-1, 1] -> (frames, num_mel_bins) float32.

    torchaudio.compliance.kaldi.fbank with the arguments of HF's ASTFeatureExtractor
    (htk_compat=True, use_energy=False, window_type="hanning", dither=0, frame_shift=10).
    `exact` runs it in float64 (mel filters stay float32 as in Kaldi), the value the
    runtime's double-precision front end approaches; see frontend.fbank."""
    import torchaudio

    dtype = torch.float64 if exact else torch.float32
    w = torch.as_tensor(waveform, dtype=dtype).reshape(1, -1)
    feats = torchaudio.compliance.kaldi.fbank(
        w, htk_compat=True, sample_frequency=sample_rate, use_energy=False, window_type="hanning",
        num_mel_bins=num_mel_bins, dither=0.0, frame_shift=10)
    return feats.to(torch.float32)


def input_values(fbank, max_length, mean, std):
    """Pad with zero frames (or truncate) to max_length, then normalize (HF order)."""
    n = fbank.shape[0]
    if n < max_length:
        fbank = torch.cat([fbank, fbank.new_zeros(max_length - n, fbank.shape[1])])
    else:
        fbank = fbank[:max_length]
    return (fbank - mean) / (std * 2)


class _Linear(nn.Module):
    """A module holding one Linear under `.dense` (HF's ASTSelfOutput & co.)."""

    def __init__(self, i, o):
        super().__init__()
        self.dense = nn.Linear(i, o)


class _SelfAttention(nn.Module):
    def __init__(self, h):
        super().__init__()
        self.query = nn.Linear(h, h)
        self.key = nn.Linear(h, h)
        self.value = nn.Linear(h, h)


class _Attention(nn.Module):
    def __init__(self, h):
        super().__init__()
        self.attention = _SelfAttention(h)
        self.output = _Linear(h, h)

    def forward(self, x, heads):
        b, t, h = x.shape
        d = h // heads
        a = self.attention

        def split(y):
            return y.view(b, t, heads, d).transpose(1, 2)

        q, k, v = split(a.query(x)), split(a.key(x)), split(a.value(x))
        p = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d), dim=-1)
        ctx = (p @ v).transpose(1, 2).reshape(b, t, h)
        return self.output.dense(ctx)


class ViTLayer(nn.Module):
    def __init__(self, cfg, adapter_conf):
        super().__init__()
        h, eps = cfg["hidden_size"], cfg["layer_norm_eps"]
        self.heads = cfg["num_attention_heads"]
        self.attention = _Attention(h)
        self.intermediate = _Linear(h, cfg["intermediate_size"])
        self.output = _Linear(cfg["intermediate_size"], h)
        self.layernorm_before = nn.LayerNorm(h, eps=eps)
        self.layernorm_after = nn.LayerNorm(h, eps=eps)
        places = adapter_conf.get("adapter_placement", []) if adapter_conf else []
        self.self_attn_twice = bool(adapter_conf and adapter_conf.get("adapter_self_attn_twice", False))
        adapter_conf = {k: v for k, v in (adapter_conf or {}).items() if k != "adapter_self_attn_twice"}
        for place in places:
            if place not in AST_PLACES:
                raise ValueError(f"adapter_placement {place!r}: an AST layer has {AST_PLACES}")
            setattr(self, "adapter_" + place, make_adapter(adapter_conf, h))

    def _adapter(self, place, y):
        adapter = getattr(self, "adapter_" + place, None)
        return 0 if adapter is None else adapter(y)

    def forward(self, x):
        y = self.layernorm_before(x)
        attn_mix = self._adapter("self_attn", y)
        x = x + self.attention(y, self.heads) + attn_mix
        y = self.layernorm_after(x)
        ffn = self.output.dense(F.gelu(self.intermediate.dense(y)))
        out = x + ffn + self._adapter("feed_forward", y)
        return out + attn_mix if self.self_attn_twice else out


class _PatchEmbeddings(nn.Module):
    def __init__(self, h, patch, fstride, tstride):
        super().__init__()
        self.projection = nn.Conv2d(1, h, kernel_size=(patch, patch), stride=(fstride, tstride))


class _Embeddings(nn.Module):
    def __init__(self, cfg, num_patches):
        super().__init__()
        h = cfg["hidden_size"]
        self.cls_token = nn.Parameter(torch.zeros(1, 1, h))
        self.distillation_token = nn.Parameter(torch.zeros(1, 1, h))
        self.patch_embeddings = _PatchEmbeddings(h, cfg["patch_size"], cfg["frequency_stride"],
                                                 cfg["time_stride"])
        self.position_embeddings = nn.Parameter(torch.zeros(1, num_patches + 2, h))

    def forward(self, values):
        """values (B, time, mel) -> tokens (B, 2 + patches, H)."""
        image = values.unsqueeze(1).transpose(2, 3)  # (B, 1, mel, time)
        patches = self.patch_embeddings.projection(image).flatten(2).transpose(1, 2)
        b = values.shape[0]
        tokens = torch.cat([self.cls_token.expand(b, -1, -1), self.distillation_token.expand(b, -1, -1),
                            patches], dim=1)
        return tokens + self.position_embeddings


class _Encoder(nn.Module):
    def __init__(self, cfg, adapter_conf):
        super().__init__()
        self.layer = nn.ModuleList(ViTLayer(cfg, adapter_conf) for _ in range(cfg["num_hidden_layers"]))


class _Body(nn.Module):
    def __init__(self, cfg, adapter_conf, num_patches):
        super().__init__()
        self.embeddings = _Embeddings(cfg, num_patches)
        self.encoder = _Encoder(cfg, adapter_conf)
        self.layernorm = nn.LayerNorm(cfg["hidden_size"], eps=cfg["layer_norm_eps"])


class _Head(nn.Module):
    def __init__(self, h, labels, eps, layernorm=True):
        super().__init__()
        if layernorm:
            self.layernorm = nn.LayerNorm(h, eps=eps)
        self.dense = nn.Linear(h, labels)

    def forward(self, pooled):
        norm = getattr(self, "layernorm", None)
        return self.dense(pooled if norm is None else norm(pooled))


def patch_grid(cfg, num_mel_bins, max_length):
    """(f_dim, t_dim): patches along frequency and time."""
    p = cfg["patch_size"]
    return (num_mel_bins - p) // cfg["frequency_stride"] + 1, (max_length - p) // cfg["time_stride"] + 1


class ASTClassifier(nn.Module):
    """config: the parsed classifier.yaml (see docs/model_format.md)."""

    def __init__(self, config):
        super().__init__()
        self.config = config
        enc, fe, head = config["encoder"], config["frontend"], config["head"]
        adapter_conf = config.get("adapter_conf")
        f_dim, t_dim = patch_grid(enc, fe["num_mel_bins"], fe["max_length"])
        self.audio_spectrogram_transformer = _Body(enc, adapter_conf, f_dim * t_dim)
        self.classifier = _Head(enc["hidden_size"], head["num_labels"], enc["layer_norm_eps"],
                                head.get("layernorm", True))

    def features(self, waveform, exact=True):
        """waveform in [-1, 1] at the model's rate -> (raw fbank, input values (max_length, mel))."""
        fe = self.config["frontend"]
        fb = hf_fbank(waveform, fe["sample_rate"], fe["num_mel_bins"], exact=exact)
        return fb, input_values(fb, fe["max_length"], fe["mean"], fe["std"])

    def forward(self, values):
        """input values (B, max_length, mel) -> logits (B, labels)."""
        body = self.audio_spectrogram_transformer
        x = body.embeddings(values)
        for layer in body.encoder.layer:
            x = layer(x)
        x = body.layernorm(x)
        pooling = self.config["head"]["pooling"]
        if pooling == "cls_dist":
            pooled = (x[:, 0] + x[:, 1]) / 2
        elif pooling == "cls":
            pooled = x[:, 0]
        elif pooling == "mean_all":
            pooled = x.mean(dim=1)
        else:
            pooled = x[:, 2:].mean(dim=1)
        return self.classifier(pooled)

    def scores(self, logits):
        if self.config["head"]["score"] == "sigmoid":
            return torch.sigmoid(logits)
        return torch.softmax(logits, dim=-1)


def load_classifier(config, state_dict):
    """An ASTClassifier in eval mode with `state_dict` (name -> tensor) loaded strictly."""
    model = ASTClassifier(config).eval()
    model.load_state_dict(state_dict, strict=True)
    return model
