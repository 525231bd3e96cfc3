"""Generated audio-like signals as 16-bit samples, and their coarse/fine (dual-softmax) targets."""

import numpy as np
import tensorflow as tf

from keras_dl import _checks

SAMPLE_LEVELS = 65536  # 16-bit samples, stored unsigned: 0 .. 65535


def sum_of_sines(num_signals, length, tones=3, sample_rate=16000, frequencies=(100.0, 2000.0), seed=None):
    """Audio-like signals: sums of `tones` sines with random frequencies, amplitudes and phases.

    Frequencies are log-uniform in `frequencies` (Hz) at `sample_rate`; amplitudes sum to
    at most 0.9 of full scale, so nothing clips.

    Returns:
        int32 array `[num_signals, length]` of unsigned 16-bit samples in `[0, 65535]`.

    Example:
    >>> samples = sum_of_sines(1000, 257, seed=0)
    """
    num_signals = _checks.positive_int("num_signals", num_signals)
    length = _checks.positive_int("length", length)
    tones = _checks.positive_int("tones", tones)
    low, high = frequencies
    if not 0 < low <= high < sample_rate / 2:
        raise ValueError(f"`frequencies` must satisfy 0 < low <= high < sample_rate / 2 = {sample_rate / 2}, "
                         f"got {frequencies}.")
    rng = np.random.default_rng(seed)
    freqs = np.exp(rng.uniform(np.log(low), np.log(high), (num_signals, tones, 1)))
    amplitudes = rng.dirichlet(np.ones(tones), num_signals)[..., None] * rng.uniform(0.3, 0.9, (num_signals, 1, 1))
    phases = rng.uniform(0, 2 * np.pi, (num_signals, tones, 1))
    t = np.arange(length) / sample_rate
    signal = np.sum(amplitudes * np.sin(2 * np.pi * freqs * t + phases), axis=1)  # in (-0.9, 0.9)
    return np.round((signal + 1.0) * (SAMPLE_LEVELS - 1) / 2).astype(np.int32)


def coarse_fine(samples):
    """Splits unsigned 16-bit samples into their high (coarse) and low (fine) bytes."""
    return samples // 256, samples % 256


def dual_softmax_dataset(samples, batch_size, shuffle=True, repeat=True, seed=None):
    """Teacher-forcing batches for `WaveRNN`: `(window, {"coarse", "fine"})`.

    Each row of `samples` (`[num, T + 1]`) is one window; the targets are the coarse and
    fine bytes of its last `T` samples (what the model predicts from the samples before).
    """
    samples = np.asarray(samples)
    if samples.ndim != 2 or samples.shape[1] < 2:
        raise ValueError(f"`samples` must have shape [num_windows, T + 1] with T >= 1, got {samples.shape}.")
    if samples.min() < 0 or samples.max() >= SAMPLE_LEVELS:
        raise ValueError(f"`samples` must be unsigned 16-bit values in [0, {SAMPLE_LEVELS - 1}], got "
                         f"[{samples.min()}, {samples.max()}].")
    coarse, fine = coarse_fine(samples[:, 1:])
    ds = tf.data.Dataset.from_tensor_slices((samples.astype(np.int32), {"coarse": coarse, "fine": fine}))
    if shuffle:
        ds = ds.shuffle(len(samples), seed=seed)
    if repeat:
        ds = ds.repeat()
    return ds.batch(_checks.positive_int("batch_size", batch_size), drop_remainder=repeat).prefetch(tf.data.AUTOTUNE)
