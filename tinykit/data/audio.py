"""Audio clips to MFCC or log-mel features, in numpy (deterministic, no TensorFlow).

The recipe is the common keyword-spotting one: clips cut or zero-padded to a fixed length,
Hann-windowed frames, power spectrum, HTK mel filterbank, natural log, and for MFCC an
orthonormal DCT-II. With 1 s at 16 kHz, 40 ms windows and 20 ms steps that gives the
49x10 MFCC input of the MLPerf Tiny DS-CNN. A device must compute the same features.
"""

from __future__ import annotations

import functools

import numpy as np
from scipy.fft import dct

from tinykit.config import AudioConfig


def feature_shape(cfg: AudioConfig) -> tuple[int, int, int]:
    """(frames, coefficients, 1) that `features` returns for `cfg`."""
    length, frame, step = _sizes(cfg)
    frames = 1 + (length - frame) // step
    return frames, cfg.mfcc if cfg.features == "mfcc" else cfg.mel_bins, 1


def features(signal: np.ndarray, cfg: AudioConfig) -> np.ndarray:
    """Features of one mono clip (float samples in [-1, 1]) as float32 `feature_shape(cfg)`."""
    length, frame, step = _sizes(cfg)
    clip = np.zeros(length, np.float64)
    n = min(length, signal.shape[0])
    clip[:n] = signal[:n]
    count = 1 + (length - frame) // step
    index = np.arange(frame)[None, :] + step * np.arange(count)[:, None]
    n_fft = 1 << (frame - 1).bit_length()
    spectrum = np.fft.rfft(clip[index] * np.hanning(frame), n=n_fft)
    power = (spectrum.real**2 + spectrum.imag**2) / n_fft
    mel = power @ _mel_filters(cfg.sample_rate, n_fft, cfg.mel_bins).T
    log_mel = np.log(mel + 1e-6)
    out = dct(log_mel, type=2, norm="ortho", axis=-1)[:, : cfg.mfcc] if (
        cfg.features == "mfcc") else log_mel
    return out.astype(np.float32)[..., None]


def to_float(samples: np.ndarray) -> np.ndarray:
    """PCM samples of any integer or float dtype as float64 in [-1, 1], mixed to mono."""
    data = np.asarray(samples)
    if data.ndim == 2:
        data = data.mean(axis=1)
    if data.dtype == np.uint8:
        return (data.astype(np.float64) - 128.0) / 128.0
    if np.issubdtype(data.dtype, np.integer):
        return data.astype(np.float64) / float(np.iinfo(data.dtype).max + 1)
    return data.astype(np.float64)


def resample(signal: np.ndarray, rate: int, target: int) -> np.ndarray:
    """Polyphase resampling from `rate` to `target` Hz (no-op when equal)."""
    if rate == target:
        return signal
    from math import gcd

    from scipy.signal import resample_poly

    g = gcd(rate, target)
    return np.asarray(resample_poly(signal, target // g, rate // g))


def _sizes(cfg: AudioConfig) -> tuple[int, int, int]:
    length = int(round(cfg.sample_rate * cfg.clip_seconds))
    frame = max(2, int(round(cfg.sample_rate * cfg.frame_ms / 1000)))
    step = max(1, int(round(cfg.sample_rate * cfg.step_ms / 1000)))
    if frame > length:
        from tinykit.errors import ConfigError

        raise ConfigError(
            f"data.audio.frame_ms = {cfg.frame_ms:g} is longer than the clip "
            f"(data.audio.clip_seconds = {cfg.clip_seconds:g})"
        )
    return length, frame, step


@functools.lru_cache(maxsize=8)
def _mel_filters(sample_rate: int, n_fft: int, bins: int) -> np.ndarray:
    """Triangular HTK-mel filters from 20 Hz to Nyquist, shape (bins, n_fft // 2 + 1)."""
    def to_mel(hz: np.ndarray) -> np.ndarray:
        return 1127.0 * np.log1p(hz / 700.0)

    def to_hz(mel: np.ndarray) -> np.ndarray:
        return 700.0 * np.expm1(mel / 1127.0)

    edges = to_hz(np.linspace(to_mel(np.array(20.0)), to_mel(np.array(sample_rate / 2)),
                              bins + 2))
    freqs = np.linspace(0, sample_rate / 2, n_fft // 2 + 1)
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (freqs[None, :] - lower) / (centre - lower)
    falling = (upper - freqs[None, :]) / (upper - centre)
    return np.maximum(0.0, np.minimum(rising, falling))
