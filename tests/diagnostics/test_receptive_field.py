"""Receptive fields by gradients: exact values on models with known gradients, the PNG, errors."""

import numpy as np
import pytest
import tensorflow as tf

from keras_dl.diagnostics import plot_receptive_field
from keras_dl.diagnostics import receptive_field


def test_the_map_is_the_absolute_gradient_summed_over_samples_and_channels():
    # Output (i, j) = 3 x(i, j, 0) - 2 x(i, j - 1, 1): gradient 3 at the pixel, |-2| at its left neighbour.
    def model(x):
        shifted = tf.pad(x[:, :, :-1, 1:2], [[0, 0], [0, 0], [1, 0], [0, 0]])
        return 3.0 * x[..., :1] - 2.0 * shifted

    field = receptive_field(model, (4, 5, 2), (1, 2), num_samples=3)
    expected = np.zeros((4, 5))
    expected[1, 2], expected[1, 1] = 3 * 3.0, 3 * 2.0
    np.testing.assert_allclose(field, expected)


def test_plot_writes_a_png(tmp_path):
    path = plot_receptive_field(str(tmp_path / "f.png"), np.tril(np.ones((5, 5)), -1), (2, 2), title="t")
    assert open(path, "rb").read(8) == b"\x89PNG\r\n\x1a\n"


def test_errors_name_the_argument():
    identity = lambda x: x  # noqa: E731
    with pytest.raises(ValueError, match="pixel row"):
        receptive_field(identity, (4, 4, 1), (4, 0))
    with pytest.raises(ValueError, match="`pixel`"):
        receptive_field(identity, (4, 4, 1), 3)
    with pytest.raises(ValueError, match="image_shape"):
        receptive_field(identity, (4, 4), (0, 0))
    with pytest.raises(ValueError, match="`model` must map images"):
        receptive_field(lambda x: tf.reduce_sum(x, axis=(1, 2)), (4, 4, 1), (0, 0))
    with pytest.raises(ValueError, match="`field`"):
        plot_receptive_field("x.png", -np.ones((3, 3)), (0, 0))
