import keras
import numpy as np
import pytest

from keras_dl.layers import ElmanCell
from keras_dl.layers import GRUCell
from keras_dl.layers import LSTMCell
from keras_dl.models import RecurrentNetwork

U, D = 2, 1


def two_step_model(omega_weight=1.0):
    """tanh Elman RNN, 2 units, 1 input, readout of the last step, MSE; fixed weights."""
    model = RecurrentNetwork(ElmanCell(U), output_dim=1, omega_weight=omega_weight)
    model.build((None, 2, D))
    model.cell.kernel.assign([[0.7, -0.4]])
    model.cell.recurrent_kernel.assign([[0.9, -0.3], [0.5, 1.2]])
    model.cell.bias.assign([0.1, -0.2])
    model.head.kernel.assign([[1.5], [-0.8]])
    model.head.bias.assign([0.05])
    model.compile(keras.optimizers.SGD(0.1), "mse")
    return model


def hand_omega(x, y, model):
    """Omega of the 2-step case, written out: g_2 = dE/dh_2, g_1 = (g_2 * (1 - h_2^2)) W^T."""
    u, w, b = (np.asarray(v, np.float64) for v in (model.cell.kernel, model.cell.recurrent_kernel, model.cell.bias))
    a, c = np.asarray(model.head.kernel, np.float64)[:, 0], float(np.asarray(model.head.bias)[0])
    h0 = np.zeros(U)
    h1 = np.tanh(x[0] * u[0] + h0 @ w + b)
    h2 = np.tanh(x[1] * u[0] + h1 @ w + b)
    g2 = 2 * (h2 @ a + c - y) * a
    g1 = (g2 * (1 - h2 ** 2)) @ w.T
    # Step k -> k+1 carries g_{k+1} back through dh_{k+1}/dh_k = diag(1 - h_{k+1}^2) W^T (row convention).
    carried = {1: (g1 * (1 - h1 ** 2)) @ w.T, 2: g1}
    return sum((np.linalg.norm(carried[k]) / np.linalg.norm(g) - 1) ** 2 for k, g in ((1, g1), (2, g2)))


def test_omega_of_a_two_step_case_equals_the_hand_computed_value():
    model = two_step_model()
    x, y = np.array([0.3, -1.1]), 0.4
    assert model.omega(x.reshape(1, 2, 1).astype(np.float32), np.array([[y]], np.float32)) == pytest.approx(
        hand_omega(x, y, model), rel=1e-5)


def test_with_weight_zero_the_step_equals_a_plain_keras_step():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(8, 5, D)).astype(np.float32), rng.normal(size=(8, 1)).astype(np.float32)
    ours = two_step_model(omega_weight=0.0)
    inputs = keras.Input((None, D))
    plain = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.RNN(ElmanCell(U))(inputs)))
    plain.set_weights(ours.get_weights())
    plain.compile(keras.optimizers.SGD(0.1), "mse")
    logs = ours.train_on_batch(x, y, return_dict=True)
    expected = plain.train_on_batch(x, y, return_dict=True)
    assert logs["loss"] == pytest.approx(expected["loss"]) and logs["omega"] == 0.0
    for mine, theirs in zip(ours.get_weights(), plain.get_weights()):
        np.testing.assert_allclose(mine, theirs, atol=1e-7)


def test_omega_term_changes_the_update_and_training_on_it_lowers_it():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(16, 20, D)).astype(np.float32), rng.normal(size=(16, 1)).astype(np.float32)
    keras.utils.set_random_seed(0)
    model = RecurrentNetwork(ElmanCell(8, recurrent_initializer=keras.initializers.Orthogonal(0.3)), output_dim=1,
                             omega_weight=1.0)
    model.compile(keras.optimizers.SGD(0.05), "mse")
    model.build((None, 20, D))
    before = model.omega(x, y)
    plain = RecurrentNetwork.from_config(dict(model.get_config(), omega_weight=0.0))
    plain.build((None, 20, D))
    plain.set_weights(model.get_weights())
    plain.compile(keras.optimizers.SGD(0.05), "mse")
    plain.train_on_batch(x, y)
    model.train_on_batch(x, y)
    assert not np.allclose(model.cell.recurrent_kernel, plain.cell.recurrent_kernel)
    model.fit(x, y, batch_size=16, epochs=30, verbose=0)
    # A contracting recurrence (gain 0.3) shrinks the error signal each step back; Omega pushes that back to 1.
    assert model.omega(x, y) < 0.5 * before


@pytest.mark.parametrize("cell, sequences", [(GRUCell(4), True), (ElmanCell(4, irnn=True), False)])
def test_predictions_of_the_omega_pass_equal_the_models(cell, sequences):
    model = RecurrentNetwork(cell, output_dim=3, return_sequences=sequences, omega_weight=0.5)
    model.compile("adam", "mse")
    x = np.random.default_rng(2).normal(size=(2, 6, D)).astype(np.float32)
    y = np.zeros((2, 6, 3) if sequences else (2, 3), np.float32)
    y_pred, _, omega = model.predict_and_omega(x, y)
    np.testing.assert_allclose(np.asarray(y_pred), np.asarray(model(x)), atol=1e-6)
    assert float(omega) >= 0.0


def test_round_trip_and_bad_arguments(tmp_path):
    model = RecurrentNetwork(GRUCell(4), output_dim=2, return_sequences=True, omega_weight=0.25)
    model.build((None, 3, D))
    model.save(str(tmp_path / "m.keras"))
    loaded = keras.models.load_model(str(tmp_path / "m.keras"))
    x = np.ones((1, 3, D), np.float32)
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)))
    assert loaded.omega_weight == 0.25
    with pytest.raises(ValueError, match="`omega_weight` needs a cell with one state tensor, its output"):
        RecurrentNetwork(LSTMCell(4), output_dim=1, omega_weight=1.0)
    with pytest.raises(ValueError, match="`omega_weight` needs a cell without dropout"):
        RecurrentNetwork(ElmanCell(4, dropout=0.1), output_dim=1, omega_weight=1.0)
    with pytest.raises(ValueError, match="`omega_weight`"):
        RecurrentNetwork(ElmanCell(4), output_dim=1, omega_weight=-1.0)
