"""Generated audio as 16-bit samples (sums of sines; speech from espeak-ng), and its model targets."""

import os
import shutil
import subprocess
import tempfile
import wave

import numpy as np
import tensorflow as tf

from keras_dl import _checks

SAMPLE_LEVELS = 65536  # 16-bit samples, stored unsigned: 0 .. 65535
ESPEAK_SAMPLE_RATE = 22050  # espeak-ng's only output rate
# Common English words for random sentences, and espeak-ng voices (language + variant) to say them.
_WORDS = (
    "the of and to in is was he for it with as his on be at by had are but from or have an they which one you "
    "were her all she there would their we him been has when who will more no if out so said what up its about "
    "into than them can only other new some could time these two may then do first any my now such like our over "
    "man me even most made after also did many before must through back years where much your way well down "
    "should because each just those people how too little state good very make world still own see men work long "
    "get here between both life being under never day same another know while last might us great old year off "
    "come since against go came right used take three morning water voice river garden window evening music "
    "number house light winter summer paper letter street yellow silver quiet gentle sudden bright heavy").split()
_VOICES = ("en-us", "en-gb", "en-us+f3", "en-gb+f2", "en-us+m3", "en-gb-scotland", "en-gb-x-rp+f4", "en-us+m7")


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


def espeak_speech(num_signals, length, seed=None, min_rms=0.02):
    """Speech: windows of English sentences said by espeak-ng, as unsigned 16-bit samples at 22,050 Hz.

    Each utterance is a random sentence of 4-12 common English words in a random voice
    (8 English accents and variants), speed (130-190 words per minute) and pitch, synthesised
    by the `espeak-ng` program (Debian/Ubuntu: `apt-get install espeak-ng`); nothing is
    downloaded. Utterances are cut into consecutive windows of `length` samples from a random
    offset; windows quieter than `min_rms` of full scale (pauses) are dropped. The same seed
    and espeak-ng version give the same windows.

    Returns:
        int32 array `[num_signals, length]` of unsigned 16-bit samples in `[0, 65535]`, at
        `ESPEAK_SAMPLE_RATE` (22,050 Hz, espeak-ng's rate).

    Example:
    >>> windows = espeak_speech(8, 1024, seed=0)
    >>> windows.shape, bool(0 <= windows.min() < 32768 < windows.max() <= 65535)
    ((8, 1024), True)
    """
    num_signals = _checks.positive_int("num_signals", num_signals)
    length = _checks.positive_int("length", length)
    min_rms = _checks.non_negative_float("min_rms", min_rms)
    program = shutil.which("espeak-ng")
    if program is None:
        raise RuntimeError("espeak_speech needs the espeak-ng program on PATH (Debian/Ubuntu: "
                           "`apt-get install espeak-ng`).")
    rng = np.random.default_rng(seed)
    windows = []
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "utterance.wav")
        while len(windows) < num_signals:
            words = rng.choice(_WORDS, rng.integers(4, 13))
            voice = _VOICES[rng.integers(len(_VOICES))]
            speed, pitch = int(rng.integers(130, 191)), int(rng.integers(25, 76))
            subprocess.run([program, "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", path, " ".join(words)],
                           check=True, capture_output=True)
            with wave.open(path) as file:
                audio = np.frombuffer(file.readframes(file.getnframes()), "<i2").astype(np.int32)
            start = int(rng.integers(0, length))
            for offset in range(start, len(audio) - length + 1, length):
                window = audio[offset:offset + length]
                if np.sqrt(np.mean((window / 32768.0) ** 2)) >= min_rms:
                    windows.append(window + 32768)
    return np.stack(windows[:num_signals])


AUDIO_SOURCES = {"sines": 16000, "speech": ESPEAK_SAMPLE_RATE}  # name -> sample rate


def audio_windows(source, num_signals, length, seed=None):
    """Windows of `source` audio (`"sines"`: `sum_of_sines`; `"speech"`: `espeak_speech`) and their sample rate.

    Returns:
        `(samples, sample_rate)`: int32 `[num_signals, length]` unsigned 16-bit samples, and Hz.

    Example:
    >>> samples, rate = audio_windows("sines", 4, 100, seed=0)
    >>> samples.shape, rate
    ((4, 100), 16000)
    """
    if source not in AUDIO_SOURCES:
        raise ValueError(f"`source` must be one of {sorted(AUDIO_SOURCES)}, got {source!r}.")
    make = sum_of_sines if source == "sines" else espeak_speech
    return make(num_signals, length, seed=seed), AUDIO_SOURCES[source]


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
