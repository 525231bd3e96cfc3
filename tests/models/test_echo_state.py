import keras
import numpy as np
import pytest

from keras_dl.models import EchoStateNetwork


def delayed_sine(n, length, delay, seed):
    """Input: sines of random frequency and phase; target: the input `delay` steps ago."""
    rng = np.random.default_rng(seed)
    t = np.arange(length + delay)
    s = np.sin(rng.uniform(0.1, 0.3, (n, 1)) * t + rng.uniform(0, 2 * np.pi, (n, 1)))
    return s[:, delay:, None].astype(np.float32), s[:, :-delay, None].astype(np.float32)


def test_reservoir_inside_the_model_keeps_its_spectral_radius():
    # A subclassed model builds its layers in a stateless scope: values set by assign would be lost.
    esn = EchoStateNetwork(100, 1, spectral_radius=0.6, input_scaling=0.4, seed=0)
    esn(np.zeros((1, 1, 2), np.float32))
    assert np.abs(np.linalg.eigvals(np.asarray(esn.cell.recurrent_kernel, np.float64))).max() == pytest.approx(0.6, rel=1e-5)
    assert 0.35 < np.abs(np.asarray(esn.cell.kernel)).max() <= 0.4


def test_ridge_readout_equals_least_squares_on_the_same_features():
    x, y = delayed_sine(4, 60, 3, 0)
    esn = EchoStateNetwork(40, 1, seed=1)
    ridge, washout = 1e-2, 10
    esn.fit_readout(x, y, ridge=ridge, washout=washout)
    states = np.asarray(esn.reservoir(x), np.float64)[:, washout:].reshape(-1, 40)
    features = np.concatenate([states, np.ones((len(states), 1))], axis=1)
    # Ridge as ordinary least squares on rows sqrt(ridge) * I appended (the bias is not penalised).
    penalty_rows = np.sqrt(ridge) * np.eye(41)[:40]
    a = np.concatenate([features, penalty_rows])
    b = np.concatenate([y[:, washout:].reshape(-1, 1), np.zeros((40, 1))])
    expected = np.linalg.lstsq(a, b, rcond=None)[0]
    np.testing.assert_allclose(np.asarray(esn.readout.kernel), expected[:-1], atol=1e-5)
    np.testing.assert_allclose(np.asarray(esn.readout.bias), expected[-1], atol=1e-5)


def test_esn_recalls_a_delayed_sine():
    x, y = delayed_sine(20, 300, 5, 0)
    x_test, y_test = delayed_sine(10, 300, 5, 1)
    esn = EchoStateNetwork(200, 1, spectral_radius=0.9, input_scaling=0.5, seed=0)
    esn.fit_readout(x, y, ridge=1e-6, washout=50)
    error = np.asarray(esn(x_test))[:, 50:] - y_test[:, 50:]
    nrmse = np.sqrt(np.mean(error**2)) / y_test[:, 50:].std()
    assert nrmse < 0.05  # Predicting the current input instead scores about 0.7.


def test_keras_fit_trains_only_the_readout(tmp_path):
    x, y = delayed_sine(16, 80, 2, 0)
    esn = EchoStateNetwork(50, 1, seed=2)
    esn.compile(keras.optimizers.Adam(0.01), "mse")
    esn(x[:1])
    reservoir = [np.asarray(w).copy() for w in esn.cell.weights]
    history = esn.fit(x, y, epochs=30, batch_size=8, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    for before, after in zip(reservoir, esn.cell.weights):
        np.testing.assert_array_equal(before, np.asarray(after))
    path = str(tmp_path / "esn.keras")
    esn.save(path)
    np.testing.assert_array_equal(np.asarray(keras.models.load_model(path)(x)), np.asarray(esn(x)))


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda esn, x, y: esn.fit_readout(x[0], y), r"`inputs` must have shape \[batch, time, features\]"),
        (lambda esn, x, y: esn.fit_readout(x, y[:, :-1]), "`targets` must have shape"),
        (lambda esn, x, y: esn.fit_readout(x, y, washout=20), "`washout`"),
        (lambda esn, x, y: esn.fit_readout(x, y, ridge=-1.0), "`ridge`"),
    ],
)
def test_bad_readout_arguments_are_named(call, match):
    x, y = delayed_sine(2, 20, 1, 0)
    with pytest.raises(ValueError, match=match):
        call(EchoStateNetwork(10, 1, seed=0), x, y)
