import numpy as np

from keras_dl.data import coarse_fine
from keras_dl.data import dual_softmax_dataset
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
