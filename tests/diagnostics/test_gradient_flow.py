import glob

import keras
import matplotlib.image
import numpy as np
import pytest
import tensorflow as tf

from keras_dl.diagnostics import GradientFlowMonitor
from keras_dl.diagnostics import gradient_norms_through_time
from keras_dl.diagnostics import plot_gradient_norms
from keras_dl.diagnostics import plot_sequential_jacobian
from keras_dl.diagnostics import plot_spectral_radii
from keras_dl.diagnostics import recurrent_spectral_radii
from keras_dl.diagnostics import sequential_jacobian
from keras_dl.diagnostics import spectral_radius
from keras_dl.diagnostics import state_and_weight_gradients
from keras_dl.layers import ElmanCell
from keras_dl.layers import GRUCell
from keras_dl.layers import LSTMCell
from keras_dl.layers import OrthogonalCell

T, D, U = 12, 3, 5


def _readout(y_true, y_pred):
    """L = y (the model's scalar output), so dL/dh_T is the readout vector g."""
    return y_pred[:, 0]


def linear_rnn(w, u, g):
    """h_t = h_{t-1} W + x_t U (Keras' row convention), y = h_T g."""
    inputs = keras.Input((T, D))
    rnn = keras.layers.RNN(ElmanCell(U, activation="linear", use_bias=False))
    readout = keras.layers.Dense(1, use_bias=False)
    model = keras.Model(inputs, readout(rnn(inputs)))
    rnn.cell.kernel.assign(u)
    rnn.cell.recurrent_kernel.assign(w)
    readout.kernel.assign(g[:, None])
    return model


@pytest.fixture
def weights():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(U, U)).astype(np.float32)
    w *= 0.9 / spectral_radius(w)
    return w, rng.normal(size=(D, U)).astype(np.float32), rng.normal(size=U).astype(np.float32)


def test_linear_rnn_state_gradients_are_powers_of_the_recurrent_matrix(weights):
    w, u, g = weights
    x = np.random.default_rng(1).normal(size=(1, T, D)).astype(np.float32)
    norms = gradient_norms_through_time(linear_rnn(w, u, g), x, np.zeros((1, 1)), loss=_readout)
    # dL/dh_k = g^T (W^T)^(T-k) in the row convention, whose norm is ||W^(T-k) g||.
    expected = [np.linalg.norm(np.linalg.matrix_power(w.astype(np.float64), T - k) @ g) for k in range(1, T + 1)]
    np.testing.assert_allclose(norms, expected, atol=1e-5)


@pytest.mark.parametrize("a", [0.5, 1.5])
def test_scaled_identity_makes_gradients_decay_or_grow_as_a_power(weights, a):
    _, u, g = weights
    x = np.random.default_rng(2).normal(size=(1, T, D)).astype(np.float32)
    norms = gradient_norms_through_time(linear_rnn(a * np.eye(U, dtype=np.float32), u, g), x, np.zeros((1, 1)), loss=_readout)
    np.testing.assert_allclose(norms, np.linalg.norm(g) * a ** (T - np.arange(1, T + 1)), rtol=1e-5)


def test_sequential_jacobian_of_a_linear_rnn(weights):
    w, u, g = weights
    x = np.random.default_rng(3).normal(size=(2, T, D)).astype(np.float32)
    jacobian = sequential_jacobian(linear_rnn(w, u, g), x)
    # y = sum_k x_k U W^(T-k) g, so dy/dx_k = U W^(T-k) g for every example.
    expected = [np.linalg.norm(u @ np.linalg.matrix_power(w.astype(np.float64), T - k) @ g) for k in range(1, T + 1)]
    np.testing.assert_allclose(jacobian, [expected, expected], rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("cell", [lambda: LSTMCell(U), lambda: keras.layers.GRUCell(U)])
def test_unrolled_cell_reproduces_the_models_own_weight_gradients(cell):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((T, D))
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.RNN(cell(), return_sequences=True)(inputs)))
    model.compile("sgd", "mse")
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(4, T, D)).astype(np.float32), rng.normal(size=(4, T, 2)).astype(np.float32)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(keras.losses.mean_squared_error(y, model(x)))
    expected = float(tf.linalg.global_norm(tape.gradient(loss, model.trainable_weights)))
    norms, global_norm = state_and_weight_gradients(model, x, y)
    assert global_norm == pytest.approx(expected, rel=1e-5)
    assert norms.shape == (T,) and np.all(norms > 0)


def test_spectral_radius_matches_numpy():
    m = np.random.default_rng(5).normal(size=(7, 7))
    assert spectral_radius(m) == pytest.approx(np.max(np.abs(np.linalg.eigvals(m))))
    with pytest.raises(ValueError, match="`matrix` must be square"):
        spectral_radius(np.ones((2, 3)))


def test_recurrent_spectral_radii_per_gate_and_for_orthogonal_cells():
    inputs = keras.Input((T, D))
    gru = keras.layers.RNN(GRUCell(U))
    orthogonal = keras.layers.RNN(OrthogonalCell(U))
    model = keras.Model(inputs, [gru(inputs), orthogonal(inputs)])
    rows = recurrent_spectral_radii(model)
    kernel = np.asarray(gru.cell.recurrent_kernel)
    by_gate = {(row["cell"], row["gate"]): row["spectral_radius"] for row in rows}
    for index, gate in enumerate("zrh"):
        assert by_gate[(gru.cell.name, gate)] == pytest.approx(spectral_radius(kernel[:, index * U:(index + 1) * U]))
    assert by_gate[(orthogonal.cell.name, "W")] == pytest.approx(1.0, abs=1e-5)


def test_monitor_logs_gradient_flow_to_tensorboard(tmp_path):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((T, D))
    model = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.RNN(ElmanCell(U))(inputs)))
    model.compile("adam", "mse")
    rng = np.random.default_rng(6)
    x, y = rng.normal(size=(16, T, D)).astype(np.float32), rng.normal(size=(16, 1)).astype(np.float32)
    monitor = GradientFlowMonitor(str(tmp_path), x[:4], y[:4], every_n_steps=2)
    model.fit(x, y, batch_size=4, epochs=1, verbose=0, callbacks=[monitor])  # 4 steps: measured after 2 and 4.
    assert [step for step, _, _ in monitor.history] == [2, 4]
    logged = {}  # tag -> {step: value}, read back from the event files
    for path in glob.glob(str(tmp_path / "gradient_flow" / "events.*")):
        for record in tf.data.TFRecordDataset(path):
            event = tf.compat.v1.Event.FromString(record.numpy())
            for value in event.summary.value:
                logged.setdefault(value.tag, {})[event.step] = tf.make_ndarray(value.tensor)
    assert {tag: sorted(steps) for tag, steps in logged.items()} == {
        f"gradient_flow/{name}": [2, 4]
        for name in ("global_norm", "first_step", "last_step", "first_over_last", "through_time")}
    # The last measurement is of the weights as they are now, so it can be recomputed independently.
    norms = gradient_norms_through_time(model, x[:4], y[:4])
    with tf.GradientTape() as tape:
        loss = keras.losses.MeanSquaredError()(y[:4], model(x[:4]))
    weight_norm = np.sqrt(sum(np.sum(np.square(g)) for g in tape.gradient(loss, model.trainable_weights)))
    at = {tag.split("/")[1]: steps[4] for tag, steps in logged.items()}
    assert at["global_norm"] == pytest.approx(weight_norm, rel=1e-5)
    assert at["first_step"] == pytest.approx(norms[0], rel=1e-5) and at["last_step"] == pytest.approx(norms[-1], rel=1e-5)
    assert at["first_over_last"] == pytest.approx(norms[0] / norms[-1], rel=1e-5)
    assert norms[0] != pytest.approx(norms[-1], rel=1e-3)  # so swapping first and last would be caught
    png = at["through_time"][2]  # a summary image is [width, height, encoded PNG]
    assert tf.image.decode_png(png).shape[-1] in (3, 4) and len(png) > 1000
    assert logged["gradient_flow/global_norm"][2] != pytest.approx(at["global_norm"])  # measured again after training


def test_plots_are_written(tmp_path, weights):
    curves = {"a": [1.0, 0.5, 0.25], "b": [1.0, 2.0, 4.0]}
    for plot, path in ((plot_gradient_norms, "norms.png"), (plot_sequential_jacobian, "jacobian.png")):
        image = matplotlib.image.imread(plot(str(tmp_path / path), curves))
        assert np.unique(image.reshape(-1, image.shape[-1]), axis=0).shape[0] > 10
        with pytest.raises(ValueError, match="`curves`"):
            plot(str(tmp_path / "x.png"), {"a": []})
    rows = [{"cell": "gru", "gate": g, "spectral_radius": r} for g, r in zip("zrh", (0.9, 1.1, 1.3))]
    assert matplotlib.image.imread(plot_spectral_radii(str(tmp_path / "radii.png"), rows)).shape[0] > 100
    with pytest.raises(ValueError, match="`rows`"):
        plot_spectral_radii(str(tmp_path / "x.png"), [])


def test_bad_models_are_named(weights):
    inputs = keras.Input((T, D))
    two = keras.Model(inputs, [keras.layers.RNN(ElmanCell(U))(inputs), keras.layers.RNN(ElmanCell(U))(inputs)])
    x, y = np.zeros((1, T, D), np.float32), np.zeros((1, U), np.float32)
    with pytest.raises(ValueError, match="`layer` must name"):
        gradient_norms_through_time(two, x, y, loss="mse")
    backwards = keras.Sequential([inputs, keras.layers.RNN(ElmanCell(U), go_backwards=True)])
    with pytest.raises(ValueError, match="go_backwards"):
        gradient_norms_through_time(backwards, x, y, loss="mse")
    with pytest.raises(ValueError, match="`loss` is needed"):
        gradient_norms_through_time(keras.Sequential([inputs, keras.layers.RNN(ElmanCell(U))]), x, y)
    with pytest.raises(ValueError, match="`x` must have shape"):
        sequential_jacobian(linear_rnn(*weights), np.zeros((T, D)))
