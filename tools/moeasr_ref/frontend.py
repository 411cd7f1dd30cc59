"""Audio front end: 16-bit WAV reading and Kaldi fbank exactly as WeNet computes it."""

import wave

import numpy as np
import torch
import torchaudio


def read_wav_int16(path):
    """Mono 16-bit PCM WAV -> (samples as float32 holding int16 values, sample rate).

    WeNet loads audio with torchaudio (scaled to [-1, 1)) and multiplies by 32768, so
    its fbank input is the int16 sample values; we read them directly."""
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2 or w.getnchannels() != 1:
            raise ValueError(f"{path}: expected mono 16-bit PCM")
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        return data.astype(np.float32), w.getframerate()


def fbank(samples, sample_rate=16000, num_mel_bins=80, frame_length=25, frame_shift=10, exact=False):
    """samples: 1-D float array in int16 scale -> (frames, num_mel_bins) float32 tensor.

    torchaudio's Kaldi-compatible fbank with WeNet's decode settings: dither 0,
    energy_floor 0, and the defaults povey window, pre-emphasis 0.97, DC removal,
    snip_edges (frames = 1 + (N - 400) // 160 at 16 kHz), log mel power, 20 Hz to Nyquist.

    WeNet runs it in float32, where the log energy of nearly empty mel bins in quiet
    frames is off by up to ~1e-2 from the exact value. `exact=True` runs the same
    function in float64 (its mel filters stay float32, as in Kaldi) and rounds the
    result to float32: the value a correct implementation should approach."""
    dtype = torch.float64 if exact else torch.float32
    waveform = torch.as_tensor(np.asarray(samples), dtype=dtype).unsqueeze(0)
    feats = torchaudio.compliance.kaldi.fbank(
        waveform,
        num_mel_bins=num_mel_bins,
        frame_length=frame_length,
        frame_shift=frame_shift,
        dither=0.0,
        energy_floor=0.0,
        sample_frequency=sample_rate,
    )
    return feats.to(torch.float32)
