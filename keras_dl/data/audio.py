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


MU_LAW_LEVELS = 256  # mu = 255: WaveNet's 8-bit companded samples, 0 .. 255


def _mu(mu):
    mu = _checks.positive_int("mu", mu)
    if mu < 2:
        raise ValueError(f"`mu` must be >= 2 (mu + 1 levels), got {mu}.")
    return mu


def mu_law_encode(audio, mu=255):
    """Companded, quantised audio: `F(x) = sign(x) ln(1 + mu |x|) / ln(1 + mu)` on `mu + 1` levels (ITU-T G.711).

    WaveNet models its samples as a `mu + 1`-way categorical over these codes: the
    logarithmic spacing gives quiet sounds finer steps than loud ones.

    Args:
        audio: floats in `[-1, 1]` (any shape); values outside are clipped.
        mu: the companding constant; `mu + 1` levels (256 for `mu=255`).

    Returns:
        int32 array of codes in `[0, mu]`, the shape of `audio`; silence (0.0) is code `(mu + 1) // 2` (128).

    Example:
    >>> mu_law_encode(np.array([-1.0, 0.0, 0.01, 1.0]))
    array([  0, 128, 157, 255], dtype=int32)
    """
    mu = _mu(mu)
    x = np.clip(np.asarray(audio, np.float64), -1.0, 1.0)
    companded = np.sign(x) * np.log1p(mu * np.abs(x)) / np.log1p(mu)
    return np.floor((companded + 1.0) / 2.0 * mu + 0.5).astype(np.int32)


def mu_law_decode(codes, mu=255):
    """The audio value (in `[-1, 1]`, float32) each code of `mu_law_encode` stands for: `F^-1` of the level.

    Encoding the decoded values gives the codes back. With an even number of levels no
    code is exactly 0: codes 127 and 128 are -/+ 8.6e-5.

    Example:
    >>> mu_law_decode(np.array([0, 255]))
    array([-1.,  1.], dtype=float32)
    """
    mu = _mu(mu)
    codes = np.asarray(codes)
    if codes.size and (codes.min() < 0 or codes.max() > mu):
        raise ValueError(f"`codes` must be in [0, {mu}], got [{codes.min()}, {codes.max()}].")
    y = 2.0 * codes.astype(np.float64) / mu - 1.0
    return (np.sign(y) * np.expm1(np.abs(y) * np.log1p(mu)) / mu).astype(np.float32)


def pcm16_to_float(samples):
    """Unsigned 16-bit samples (`sum_of_sines`' `[0, 65535]`) as floats in `[-1, 1]`."""
    samples = np.asarray(samples)
    if samples.size and (samples.min() < 0 or samples.max() >= SAMPLE_LEVELS):
        raise ValueError(f"`samples` must be unsigned 16-bit values in [0, {SAMPLE_LEVELS - 1}], got "
                         f"[{samples.min()}, {samples.max()}].")
    return (samples.astype(np.float64) / ((SAMPLE_LEVELS - 1) / 2) - 1.0).astype(np.float32)


def mu_law_dataset(samples, batch_size, shuffle=True, repeat=True, seed=None, mu=255):
    """Teacher-forcing batches for `WaveNet`: `(previous codes, next codes)`, both int32 `[batch, T]`.

    Each row of `samples` (unsigned 16-bit, `[num, T + 1]`, as `sum_of_sines` gives) is one
    window, companded with `mu_law_encode`; the model reads its first `T` codes and predicts
    each one's successor (the last `T`).

    Example:
    >>> inputs, targets = next(iter(mu_law_dataset(sum_of_sines(64, 129, seed=0), 8)))
    >>> inputs.shape, targets.shape
    (TensorShape([8, 128]), TensorShape([8, 128]))
    """
    samples = np.asarray(samples)
    if samples.ndim != 2 or samples.shape[1] < 2:
        raise ValueError(f"`samples` must have shape [num_windows, T + 1] with T >= 1, got {samples.shape}.")
    codes = mu_law_encode(pcm16_to_float(samples), mu)
    ds = tf.data.Dataset.from_tensor_slices((codes[:, :-1], codes[:, 1:]))
    if shuffle:
        ds = ds.shuffle(len(codes), seed=seed)
    if repeat:
        ds = ds.repeat()
    return ds.batch(_checks.positive_int("batch_size", batch_size), drop_remainder=repeat).prefetch(tf.data.AUTOTUNE)
