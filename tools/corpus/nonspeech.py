"""Non-speech audio for the corpus: digital silence, noises, mains hum and music-like
tones, at a given RMS level in dBFS (0 dBFS = a full-scale square wave).

make() and the generators take a numpy Generator and return float64 samples at 16 kHz
in the int16 range; draw() takes the planner's random.Random. Both keep the corpus
deterministic for a seed."""

import numpy as np

RATE = 16000
KINDS = ["silence", "white", "brown", "pink", "hum", "music"]


def _white(rng, n):
    return rng.standard_normal(n)


def _brown(rng, n):
    x = np.cumsum(rng.standard_normal(n))
    return x - np.convolve(x, np.ones(801) / 801, mode="same")  # remove the drift


def _pink(rng, n):
    """1/f power spectrum, shaped in the frequency domain."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(len(spec), dtype=np.float64)
    f[0] = 1.0
    return np.fft.irfft(spec / np.sqrt(f), n)


def _hum(rng, n):
    """Mains hum: 50 or 60 Hz and a few harmonics with random amplitudes, plus hiss."""
    t = np.arange(n) / RATE
    f0 = rng.choice([50.0, 60.0])
    x = sum(rng.uniform(0.1, 1.0) / h * np.sin(2 * np.pi * h * f0 * t + rng.uniform(0, 6.3))
            for h in range(1, 7))
    return x + 0.02 * rng.standard_normal(n)


def _music(rng, n):
    """Chords of harmonic tones with plucked envelopes, changing every 0.15-0.6 s, and on
    half the clips a drum-like noise burst on each change: tonal, rhythmic, not speech."""
    x = np.zeros(n)
    drums = rng.random() < 0.5
    pos = 0
    while pos < n:
        length = min(int(rng.uniform(0.15, 0.6) * RATE), n - pos)
        t = np.arange(length) / RATE
        env = np.minimum(t / 0.01, 1.0) * np.exp(-t * rng.uniform(2, 8))
        for _ in range(rng.integers(1, 4)):
            f0 = 440.0 * 2 ** ((rng.integers(40, 85) - 69) / 12)
            tone = sum(rng.uniform(0.2, 1.0) * h ** -1.2 * np.sin(2 * np.pi * h * f0 * t)
                       for h in range(1, 6) if h * f0 < RATE / 2)
            x[pos:pos + length] += env * tone
        if drums:
            burst = min(length, int(0.04 * RATE))
            x[pos:pos + burst] += (rng.standard_normal(burst)
                                   * np.exp(-np.arange(burst) / (0.008 * RATE)) * 2.0)
        pos += length
    return x


def make(kind, seconds, level_dbfs, rng):
    """`seconds` of `kind` at RMS `level_dbfs` (ignored for silence)."""
    n = int(round(seconds * RATE))
    if kind == "silence" or n == 0:
        return np.zeros(n)
    x = {"white": _white, "brown": _brown, "pink": _pink, "hum": _hum, "music": _music}[kind](rng, n)
    rms = np.sqrt(np.mean(x ** 2))
    return x * (32767.0 * 10 ** (level_dbfs / 20) / max(rms, 1e-12))


def draw(rng, seconds):
    """A random non-speech segment spec: (kind, seconds, level dBFS)."""
    kind = rng.choice(KINDS)
    level = rng.uniform(-75, -20) if kind != "music" else rng.uniform(-45, -15)
    return (kind, round(seconds, 3), round(level, 1))
