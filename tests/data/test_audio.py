import numpy as np
import pytest

from keras_dl.data import audio_windows
from keras_dl.data import coarse_fine
from keras_dl.data import dual_softmax_dataset
from keras_dl.data import espeak_speech
from keras_dl.data import mu_law_dataset
from keras_dl.data import mu_law_decode
from keras_dl.data import mu_law_encode
from keras_dl.data import pcm16_to_float
from keras_dl.data import sum_of_sines


def test_sum_of_sines_is_a_seeded_unclipped_16_bit_signal():
    samples = sum_of_sines(50, 400, tones=2, frequencies=(200.0, 400.0), seed=7)
    assert samples.shape == (50, 400) and samples.dtype == np.int32
    np.testing.assert_array_equal(samples, sum_of_sines(50, 400, tones=2, frequencies=(200.0, 400.0), seed=7))
    # Amplitudes sum to at most 0.9 of full scale: nothing reaches the ends of the 16-bit range.
    assert samples.min() > 0.04 * 65535 and samples.max() < 0.96 * 65535
    # Tones of 200..400 Hz at 16 kHz: each signal changes sign (about its midpoint) 4..8 times per 160 samples.
    crossings = np.sum(np.diff(np.sign(samples[:, :160] - 32767.5), axis=1) != 0, axis=1)
    assert crossings.min() >= 2 and crossings.max() <= 10


def test_espeak_speech_is_seeded_voiced_audio_without_pauses():
    windows = espeak_speech(64, 1024, seed=1)
    assert windows.shape == (64, 1024) and windows.dtype == np.int32
    assert 0 <= windows.min() and windows.max() <= 65535
    np.testing.assert_array_equal(windows, espeak_speech(64, 1024, seed=1))
    assert not np.array_equal(windows[:8], espeak_speech(8, 1024, seed=2))
    audio = (windows - 32768) / 32768.0
    assert np.sqrt(np.mean(audio ** 2, axis=1)).min() >= 0.02  # quiet windows (pauses) are dropped
    # Speech, not noise or tones: most power below 4 kHz, and a voice's pitch period (70-400 Hz) in most windows.
    power = np.abs(np.fft.rfft(audio * np.hanning(1024), axis=1)) ** 2
    below = power[:, np.fft.rfftfreq(1024, 1 / 22050) < 4000].sum(1) / power.sum(1)
    correlation = np.array([np.correlate(x, x, "full")[1023:] for x in audio])
    periodicity = (correlation[:, 55:316] / correlation[:, :1]).max(1)
    # Measured: medians 0.96 and 0.80 (white noise: 0.5 and 0.08).
    assert np.median(below) > 0.8 and np.median(periodicity) > 0.5, (np.median(below), np.median(periodicity))


def test_audio_windows_gives_each_source_with_its_rate():
    sines, rate = audio_windows("sines", 3, 50, seed=4)
    assert rate == 16000
    np.testing.assert_array_equal(sines, sum_of_sines(3, 50, seed=4))
    speech, rate = audio_windows("speech", 2, 300, seed=4)
    assert rate == 22050
    np.testing.assert_array_equal(speech, espeak_speech(2, 300, seed=4))
    with pytest.raises(ValueError, match="`source`"):
        audio_windows("noise", 2, 10)


def test_espeak_speech_names_what_is_missing(monkeypatch):
    with pytest.raises(ValueError, match="`length`"):
        espeak_speech(4, 0)
    monkeypatch.setattr("shutil.which", lambda name: None)
    with pytest.raises(RuntimeError, match="apt-get install espeak-ng"):
        espeak_speech(4, 256)


def test_coarse_and_fine_bytes_rebuild_the_sample():
    samples = np.array([0, 255, 256, 40000, 65535])
    coarse, fine = coarse_fine(samples)
    np.testing.assert_array_equal(coarse * 256 + fine, samples)
    assert coarse.max() < 256 and fine.max() < 256


def test_dual_softmax_targets_are_the_next_samples_bytes():
    samples = sum_of_sines(3, 9, seed=0)
    window, targets = next(iter(dual_softmax_dataset(samples, 3, shuffle=False, repeat=False)))
    np.testing.assert_array_equal(window.numpy(), samples)
    np.testing.assert_array_equal(targets["coarse"].numpy() * 256 + targets["fine"].numpy(), samples[:, 1:])


def test_mu_law_is_g711_companding_on_256_levels():
    x = np.linspace(-1, 1, 2001)
    codes = mu_law_encode(x)
    # F(x) = sign(x) ln(1 + 255 |x|) / ln 256, then (F + 1) / 2 on 0..255, rounded.
    expected = np.floor((np.sign(x) * np.log(1 + 255 * np.abs(x)) / np.log(256) + 1) / 2 * 255 + 0.5)
    np.testing.assert_array_equal(codes, expected)
    assert codes.min() == 0 and codes.max() == 255 and np.all(np.diff(codes) >= 0)
    # Finer steps near silence than near full scale: 0.01 spans many codes, 0.98..0.99 at most one.
    assert mu_law_encode(0.01) - mu_law_encode(0.0) >= 25 and mu_law_encode(0.99) - mu_law_encode(0.98) <= 1
    np.testing.assert_array_equal(mu_law_encode(mu_law_decode(np.arange(256))), np.arange(256))
    # Decoding is the inverse of the companding at each level's centre.
    np.testing.assert_allclose(mu_law_decode(np.array([0, 64, 192, 255])),
                               [-1, -(256 ** (1 - 128 / 255) - 1) / 255, (256 ** (129 / 255) - 1) / 255, 1], rtol=1e-6)


def test_mu_law_dataset_pairs_each_code_with_the_next():
    samples = sum_of_sines(6, 33, seed=2)
    inputs, targets = next(iter(mu_law_dataset(samples, 6, shuffle=False, repeat=False)))
    codes = mu_law_encode(pcm16_to_float(samples))
    np.testing.assert_array_equal(inputs.numpy(), codes[:, :-1])
    np.testing.assert_array_equal(targets.numpy(), codes[:, 1:])
    assert pcm16_to_float(np.array([0, 65535])).tolist() == [-1.0, 1.0]


def test_mu_law_errors_name_the_argument():
    with pytest.raises(ValueError, match="`codes`"):
        mu_law_decode(np.array([256]))
    with pytest.raises(ValueError, match="`mu`"):
        mu_law_encode(0.0, mu=1)
    with pytest.raises(ValueError, match="`samples`"):
        mu_law_dataset(np.zeros((3, 1), np.int32), 2)
    with pytest.raises(ValueError, match="`samples`"):
        pcm16_to_float(np.array([70000]))
