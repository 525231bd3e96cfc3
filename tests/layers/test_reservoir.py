import keras
import numpy as np
import pytest

from keras_dl.layers import EchoStateCell


@pytest.mark.parametrize("radius", [0.5, 0.95, 1.3])
def test_reservoir_has_the_requested_spectral_radius(radius):
    cell = EchoStateCell(120, spectral_radius=radius, connectivity=0.2, seed=1)
    cell.build((None, 3))
    eigenvalues = np.linalg.eigvals(np.asarray(cell.recurrent_kernel, np.float64))
    assert np.abs(eigenvalues).max() == pytest.approx(radius, rel=1e-5)


def test_reservoir_is_sparse_fixed_and_scaled():
    cell = EchoStateCell(200, connectivity=0.1, input_scaling=0.3, bias_scaling=0.2, seed=0)
    cell.build((None, 4))
    assert np.mean(np.asarray(cell.recurrent_kernel) != 0) == pytest.approx(0.1, abs=0.01)
    assert 0.25 < np.abs(np.asarray(cell.kernel)).max() <= 0.3
    assert 0.15 < np.abs(np.asarray(cell.bias)).max() <= 0.2
    assert cell.trainable_weights == []


def test_reservoir_step_matches_its_equation():
    cell = EchoStateCell(30, spectral_radius=0.8, leak_rate=0.3, bias_scaling=0.5, seed=2)
    x = np.random.default_rng(0).normal(size=(2, 9, 4)).astype(np.float32)
    out = np.asarray(keras.layers.RNN(cell, return_sequences=True)(x))
    W, U, b = (np.asarray(w, np.float64) for w in (cell.kernel, cell.recurrent_kernel, cell.bias))
    h = np.zeros((2, 30))
    for t in range(9):
        h = 0.7 * h + 0.3 * np.tanh(x[:, t] @ W + h @ U + b)
        np.testing.assert_allclose(out[:, t], h, atol=1e-5)


def test_same_seed_same_reservoir_and_config_round_trip():
    a = EchoStateCell(40, seed=7, spectral_radius=0.7)
    b = EchoStateCell.from_config(a.get_config())
    a.build((None, 2)), b.build((None, 2))
    for wa, wb in zip(a.weights, b.weights):
        np.testing.assert_array_equal(np.asarray(wa), np.asarray(wb))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"spectral_radius": 0.0}, "`spectral_radius`"),
        ({"spectral_radius": -1.0}, "`spectral_radius`"),
        ({"leak_rate": 0.0}, "`leak_rate`"),
        ({"leak_rate": 1.5}, "`leak_rate`"),
        ({"input_scaling": 0.0}, "`input_scaling`"),
        ({"connectivity": 0.0}, "`connectivity`"),
        ({"bias_scaling": -0.1}, "`bias_scaling`"),
    ],
)
def test_bad_reservoir_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        EchoStateCell(10, **kwargs)
