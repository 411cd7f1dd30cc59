"""Training data: a corpus split (text + wav.scp) as fbank features in memory, global
CMVN statistics, length-bucketed batches with padding, voice and tempo perturbation, and
SpecAugment."""

import random
import sys
import time
from pathlib import Path

import numpy as np
import torch

import moeasr_ref

WORD_BOUNDARY = "\u2581"


def read_table(path):
    table = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            key, _, value = line.rstrip("\n").partition(" ")
            if key:
                table[key] = value
    return table


def read_units(path):
    return {tok: int(i) for tok, i in (line.split() for line in open(path, encoding="utf-8"))}


def tokenize(text, units):
    """WeNet char tokenizer (split_with_space false): one token per character, the
    space as "▁"; unknown characters map to <unk>."""
    unk = units["<unk>"]
    return [units.get(c, unk) for c in text.replace(" ", WORD_BOUNDARY)]


class Split:
    """One split of the corpus: keys, transcripts, token ids and fbank features.

    Features (80-bin Kaldi fbank as moeasr_ref.fbank computes it, dither 0) are cached
    as float16 in <split>/fbank.npy + fbank_index.npy, so only the first run pays."""

    def __init__(self, split_dir, units, num_mel_bins=80, log=print):
        split_dir = Path(split_dir)
        text = read_table(split_dir / "text")
        scp = read_table(split_dir / "wav.scp")
        self.keys = sorted(text)
        self.texts = [text[k] for k in self.keys]
        self.tokens = [tokenize(t, units) for t in self.texts]
        cache, index = split_dir / "fbank.npy", split_dir / "fbank_index.npy"
        if cache.exists() and index.exists():
            self.feats = np.load(cache, mmap_mode=None)
            self.offsets = np.load(index)
        else:
            start = time.time()
            parts, offsets = [], [0]
            for i, k in enumerate(self.keys):
                samples, rate = moeasr_ref.read_wav_int16(split_dir / scp[k])
                f = moeasr_ref.fbank(samples, rate, num_mel_bins=num_mel_bins).numpy()
                parts.append(f.astype(np.float16))
                offsets.append(offsets[-1] + len(f))
                if (i + 1) % 2000 == 0:
                    log(f"fbank {split_dir.name}: {i + 1}/{len(self.keys)} "
                        f"({time.time() - start:.0f} s)")
            self.feats = np.concatenate(parts)
            self.offsets = np.asarray(offsets, dtype=np.int64)
            np.save(cache.with_suffix(".tmp.npy"), self.feats)
            Path(cache.with_suffix(".tmp.npy")).rename(cache)
            np.save(index, self.offsets)
        self.lengths = np.diff(self.offsets)

    def __len__(self):
        return len(self.keys)

    def feat(self, i):
        return self.feats[self.offsets[i]:self.offsets[i + 1]]

    def hours(self):
        return float(self.lengths.sum()) / 100 / 3600


def cmvn_stats(split):
    """WeNet's global CMVN (tools/compute_cmvn_stats.py): mean and 1/std over all
    frames, variance floored at 1e-20."""
    total = np.zeros(split.feats.shape[1], dtype=np.float64)
    total_sq = np.zeros_like(total)
    for start in range(0, len(split.feats), 500000):
        block = split.feats[start:start + 500000].astype(np.float64)
        total += block.sum(0)
        total_sq += (block ** 2).sum(0)
    n = len(split.feats)
    mean = total / n
    var = np.maximum(total_sq / n - mean ** 2, 1e-20)
    return mean.astype(np.float32), (1.0 / np.sqrt(var)).astype(np.float32)


def make_batches(split, max_frames, rng, max_utts=64):
    """Sort by length, cut into batches of at most max_frames padded frames, shuffle."""
    order = sorted(range(len(split)), key=lambda i: (split.lengths[i], rng.random()))
    batches, cur = [], []
    for i in order:
        longest = max(split.lengths[i], max((split.lengths[j] for j in cur), default=0))
        if cur and (longest * (len(cur) + 1) > max_frames or len(cur) >= max_utts):
            batches.append(cur)
            cur = []
        cur.append(i)
    if cur:
        batches.append(cur)
    rng.shuffle(batches)
    return batches


def collate(split, indices):
    """-> feats (B, T, F) float32 zero-padded, feat_lens (B,), ys (B, L) padded with 0,
    ys_lens (B,)."""
    feats = [torch.from_numpy(split.feat(i).astype(np.float32)) for i in indices]
    ys = [torch.tensor(split.tokens[i], dtype=torch.long) for i in indices]
    feat_lens = torch.tensor([len(f) for f in feats])
    ys_lens = torch.tensor([len(y) for y in ys])
    return (torch.nn.utils.rnn.pad_sequence(feats, batch_first=True), feat_lens,
            torch.nn.utils.rnn.pad_sequence(ys, batch_first=True), ys_lens)


def _interp(x, pos, dim):
    """x sampled at fractional positions `pos` along `dim`, linearly between neighbours."""
    lo = pos.floor().long().clamp(0, x.size(dim) - 1)
    hi = (lo + 1).clamp(max=x.size(dim) - 1)
    w = (pos - lo).clamp(0, 1)
    shape = [1] * x.dim()
    shape[dim] = -1
    w = w.view(shape)
    return x.index_select(dim, lo) * (1 - w) + x.index_select(dim, hi) * w


def perturb(feats, feat_lens, rng, freq_warp, time_stretch):
    """Per utterance, on raw fbank: warp the mel axis by a factor alpha in
    1 +- freq_warp (bin j takes the value at j / alpha, the top bin held: a vocal-tract
    length change, the way one synthesizer's voice differs from another's) and resample
    the frames to round(length * beta), beta in 1 +- time_stretch (a tempo change that
    keeps pitch and formants). Zero for both returns the input unchanged.
    -> feats (B, T', F) zero-padded, feat_lens (B,)."""
    if not freq_warp and not time_stretch:
        return feats, feat_lens
    n_bins = feats.size(2)
    bins = torch.arange(n_bins, dtype=torch.float32)
    out = []
    for b, length in enumerate(feat_lens.tolist()):
        x = feats[b, :length]
        alpha = 1 + rng.uniform(-freq_warp, freq_warp)
        beta = 1 + rng.uniform(-time_stretch, time_stretch)
        if freq_warp:
            x = _interp(x, (bins / alpha).clamp(max=n_bins - 1), dim=1)
        if time_stretch and length > 1:
            new_len = max(2, round(length * beta))
            x = _interp(x, torch.arange(new_len, dtype=torch.float32)
                        * ((length - 1) / (new_len - 1)), dim=0)
        out.append(x)
    return (torch.nn.utils.rnn.pad_sequence(out, batch_first=True),
            torch.tensor([len(x) for x in out]))


def spec_augment(feats, feat_lens, rng, num_t_mask=2, num_f_mask=2, max_t=50, max_f=10):
    """WeNet's spec_aug on raw fbank: zero num_t_mask time bands (width < max_t, within
    the utterance) and num_f_mask frequency bands (width < max_f), per utterance."""
    feats = feats.clone()
    n_bins = feats.size(2)
    for b, length in enumerate(feat_lens.tolist()):
        for _ in range(num_t_mask):
            start = rng.randint(0, max(length - 1, 0))
            width = rng.randint(1, max_t)
            feats[b, start:min(start + width, length), :] = 0
        for _ in range(num_f_mask):
            start = rng.randint(0, n_bins - 1)
            width = rng.randint(1, max_f)
            feats[b, :, start:start + width] = 0
    return feats
