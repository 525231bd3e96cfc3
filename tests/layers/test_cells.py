import re

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_dl.layers import ClockworkCell
from keras_dl.layers import CoarseFineGRUCell
from keras_dl.layers import DelayCell
from keras_dl.layers import ElmanCell
from keras_dl.layers import GRUCell
from keras_dl.layers import LeakyCell
from keras_dl.layers import LSTMCell
from keras_dl.layers import OrthogonalCell
from keras_dl.layers import UnitInterval
from keras_dl.layers import state_sizes
from keras_dl.sparsity import ConstantSparsity
from keras_dl.sparsity import MagnitudePruning
from keras_dl.sparsity import prune_low_magnitude

T, D, H = 6, 3, 5

CELLS = {
    "elman": lambda **kw: ElmanCell(H, **kw),
    "irnn": lambda **kw: ElmanCell(H, irnn=True, **kw),
    "lstm": lambda **kw: LSTMCell(H, **kw),
    "lstm_peephole": lambda **kw: LSTMCell(H, peepholes=True, **kw),
    "lstm_layer_norm": lambda **kw: LSTMCell(H, layer_norm=True, **kw),
    "lstm_cifg_peephole_ln": lambda **kw: LSTMCell(H, coupled=True, peepholes=True, layer_norm=True, **kw),
    "gru_reset_after": lambda **kw: GRUCell(H, reset_after=True, **kw),
    "gru_reset_before": lambda **kw: GRUCell(H, reset_after=False, **kw),
    "leaky_fixed": lambda **kw: LeakyCell(H, time_constants=4.0, **kw),
    "leaky_range_learned": lambda **kw: LeakyCell(H, time_constants=(1.0, 50.0), learn_time_constants=True, seed=3, **kw),
    "clockwork": lambda **kw: ClockworkCell(H, periods=(1, 2, 3, 4, 6), **kw),
    "orthogonal": lambda **kw: OrthogonalCell(H, negative_eigenvalues=2, **kw),
    "delay": lambda **kw: DelayCell(H, delays=(3, 1), **kw),
}


def sigmoid(v):
    return 1 / (1 + np.exp(-v))


def layer_norm(v, norm):
    gamma, beta = (np.asarray(w) for w in norm.weights)
    mean, var = v.mean(-1, keepdims=True), v.var(-1, keepdims=True)
    return (v - mean) / np.sqrt(var + norm.epsilon) * gamma + beta


def numpy_reference(cell, x):
    """The cells' equations, written again in NumPy, run over a whole sequence."""
    W = np.asarray(cell.kernel)
    if isinstance(cell, OrthogonalCell):
        A = np.asarray(cell.skew) - np.asarray(cell.skew).T
        d = np.r_[np.ones(H - cell.negative_eigenvalues), -np.ones(cell.negative_eigenvalues)]
        U = np.linalg.solve(np.eye(H) + A, np.eye(H) - A) * d
    else:
        U = np.asarray(cell.recurrent_kernel)
    b = np.asarray(cell.bias) if cell.use_bias else np.zeros(cell.bias_shape())
    h = np.zeros((x.shape[0], H))
    c = np.zeros((x.shape[0], H))
    outputs = []
    past = lambda d: outputs[-d] if len(outputs) >= d else np.zeros_like(h)  # noqa: E731  h_{t-d}
    for t in range(x.shape[1]):
        xt = x[:, t]
        if isinstance(cell, ElmanCell):
            act = np.maximum(0, xt @ W + h @ U + b) if cell.irnn else np.tanh(xt @ W + h @ U + b)
            h = act
        elif isinstance(cell, LSTMCell):
            xw, hu = xt @ W, h @ U
            if cell.layer_norm:
                xw, hu = layer_norm(xw, cell.kernel_norm), layer_norm(hu, cell.recurrent_norm)
            z = xw + hu + b
            p = np.asarray(cell.peephole_weights) if cell.peepholes else np.zeros((3, H))
            if cell.coupled:
                zf, zg, zo = np.split(z, 3, axis=-1)
                f = sigmoid(zf + p[1] * c)
                i = 1 - f
            else:
                zi, zf, zg, zo = np.split(z, 4, axis=-1)
                i, f = sigmoid(zi + p[0] * c), sigmoid(zf + p[1] * c)
            c = f * c + i * np.tanh(zg)
            o = sigmoid(zo + p[2] * c)
            h = o * np.tanh(layer_norm(c, cell.state_norm) if cell.layer_norm else c)
        elif isinstance(cell, GRUCell):
            Wz, Wr, Wh = np.split(W, 3, axis=-1)
            Uz, Ur, Uh = np.split(U, 3, axis=-1)
            if cell.reset_after:
                (bz, br, bh), (rz, rr, rh) = np.split(b[0], 3), np.split(b[1], 3)
                z = sigmoid(xt @ Wz + bz + h @ Uz + rz)
                r = sigmoid(xt @ Wr + br + h @ Ur + rr)
                cand = np.tanh(xt @ Wh + bh + r * (h @ Uh + rh))
            else:
                bz, br, bh = np.split(b, 3)
                z = sigmoid(xt @ Wz + h @ Uz + bz)
                r = sigmoid(xt @ Wr + h @ Ur + br)
                cand = np.tanh(xt @ Wh + (r * h) @ Uh + bh)
            h = z * h + (1 - z) * cand
        elif isinstance(cell, LeakyCell):
            alpha = np.asarray(cell.leak)
            h = (1 - alpha) * h + alpha * np.tanh(xt @ W + h @ U + b)
        elif isinstance(cell, DelayCell):
            blocks = np.split(U, len(cell.delays), axis=0)
            h = np.tanh(xt @ W + sum(past(d) @ block for d, block in zip(cell.delays, blocks)) + b)
        elif isinstance(cell, OrthogonalCell):
            h = np.tanh(xt @ W + h @ U + b)
        elif isinstance(cell, ClockworkCell):
            period = np.repeat(cell.periods, H // len(cell.periods))
            allowed = period[:, None] >= period[None, :]  # From a slower-or-equal module only.
            due = t % period == 0
            h = np.where(due, np.tanh(xt @ W + h @ (U * allowed) + b), h)
        outputs.append(h)
    return np.stack(outputs, axis=1)


def randomise(cell, seed=0):
    """Replaces every weight by random values (leak rates in (0, 1]), so no term can hide behind a zero."""
    rng = np.random.default_rng(seed)
    for w in cell.weights:
        value = rng.uniform(0.05, 1.0, w.shape) if w.name == "leak" else rng.normal(0, 0.6, w.shape)
        w.assign(value.astype(w.dtype))


def built(make, seed=0, dtype=None, **kwargs):
    cell = make(dtype=dtype, **kwargs)
    layer = keras.layers.RNN(cell, return_sequences=True, dtype=dtype)
    layer.build((None, T, D))
    randomise(cell, seed)
    return cell, layer


@pytest.fixture
def x():
    return np.random.default_rng(42).normal(size=(4, T, D)).astype(np.float32)


@pytest.mark.parametrize("use_bias", [True, False])
@pytest.mark.parametrize("name", CELLS)
def test_cell_matches_its_numpy_equations(name, use_bias, x):
    cell, layer = built(CELLS[name], use_bias=use_bias)
    assert (cell.bias is None) != use_bias
    np.testing.assert_allclose(np.asarray(layer(x)), numpy_reference(cell, x.astype(np.float64)), atol=1e-5)


@pytest.mark.parametrize("reset_after", [True, False])
def test_gru_matches_keras_gru_on_the_same_weights(reset_after, x):
    ours, theirs = GRUCell(H, reset_after=reset_after), keras.layers.GRUCell(H, reset_after=reset_after)
    ours_layer, theirs_layer = keras.layers.RNN(ours, return_sequences=True), keras.layers.RNN(theirs, return_sequences=True)
    ours_layer.build((None, T, D)), theirs_layer.build((None, T, D))
    randomise(theirs)
    ours.set_weights(theirs.get_weights())
    np.testing.assert_allclose(np.asarray(ours_layer(x)), np.asarray(theirs_layer(x)), atol=1e-6)


@pytest.mark.parametrize("reset_after", [True, False])
def test_gru_sharing_a_keras_cells_weights_computes_like_it(reset_after, x):
    theirs = keras.layers.GRUCell(H, reset_after=reset_after)
    theirs_layer = keras.layers.RNN(theirs, return_sequences=True)
    theirs_layer.build((None, T, D))
    twin_layer = keras.layers.RNN(GRUCell.sharing_weights(theirs), return_sequences=True)
    randomise(theirs)  # After sharing: the twin sees every later change of the variables.
    np.testing.assert_allclose(np.asarray(twin_layer(x)), np.asarray(theirs_layer(x)), atol=1e-6)
    assert twin_layer.cell.recurrent_kernel is theirs.recurrent_kernel
    for name, value, default in (("activation", "relu", "tanh"), ("recurrent_activation", "hard_sigmoid", "sigmoid")):
        cell = keras.layers.GRUCell(H, **{name: value})
        cell.build((None, D))
        with pytest.raises(ValueError, match=f"`cell` must use {name}='{default}' to share its weights with a GRUCell, "
                                             f"got '{value}'"):
            GRUCell.sharing_weights(cell)


@pytest.mark.parametrize("make", [lambda: keras.layers.GRUCell(H, use_bias=False), lambda: GRUCell(H)])
def test_gru_shares_a_cell_without_bias_and_its_own_kind(make, x):
    """Keras' cell without a bias, and a keras_dl GRUCell (no activation attributes: tanh and sigmoid)."""
    cell = make()
    layer = keras.layers.RNN(cell, return_sequences=True)
    layer.build((None, T, D))
    randomise(cell)
    twin = GRUCell.sharing_weights(cell)
    assert twin.use_bias == cell.use_bias and twin.kernel is cell.kernel
    np.testing.assert_allclose(np.asarray(keras.layers.RNN(twin, return_sequences=True)(x)), np.asarray(layer(x)),
                               atol=1e-6)


def test_lstm_matches_keras_lstm_and_starts_with_the_forget_bias(x):
    ours, theirs = LSTMCell(H, forget_bias=1.0), keras.layers.LSTMCell(H)
    ours_layer, theirs_layer = keras.layers.RNN(ours, return_sequences=True), keras.layers.RNN(theirs, return_sequences=True)
    ours_layer.build((None, T, D)), theirs_layer.build((None, T, D))
    np.testing.assert_array_equal(np.asarray(ours.bias), np.asarray(theirs.bias))  # Both: 1 on f, 0 elsewhere.
    randomise(theirs)
    ours.set_weights(theirs.get_weights())
    np.testing.assert_allclose(np.asarray(ours_layer(x)), np.asarray(theirs_layer(x)), atol=1e-6)


def v1_lstm_outputs(kernel, recurrent_kernel, bias, peepholes, x):
    """TensorFlow's own v1 `LSTMCell` (`tf.compat.v1.nn.rnn_cell`, kept in tf_keras) run over `x` with these weights.

    Its kernel maps `[x; h]` to gates `[i, j, f, o]` (`j` is the candidate); keras_dl's maps `x` and `h` separately
    to `[i, f, g, o]`. Its peepholes: `i` and `f` see `c_{t-1}`, `o` sees `c_t` (Gers & Schmidhuber 2000).
    """
    from tf_keras.src.layers.rnn import legacy_cells

    units = recurrent_kernel.shape[0]

    def reorder(m):  # [i, f, g, o] -> [i, g, f, o]
        i, f, g, o = np.split(m, 4, axis=-1)
        return np.concatenate([i, g, f, o], axis=-1)

    cell = legacy_cells.LSTMCell(units, use_peepholes=peepholes is not None, forget_bias=0.0)
    state = legacy_cells.LSTMStateTuple(tf.zeros((x.shape[0], units)), tf.zeros((x.shape[0], units)))
    cell(x[:, 0], state)  # builds: kernel, bias, then w_f_diag, w_i_diag, w_o_diag
    weights = [reorder(np.concatenate([kernel, recurrent_kernel])), reorder(bias)]
    if peepholes is not None:
        weights += [peepholes[1], peepholes[0], peepholes[2]]
    cell.set_weights(weights)
    outputs = []
    for t in range(x.shape[1]):
        h, state = cell(x[:, t], state)
        outputs.append(np.asarray(h))
    return np.stack(outputs, axis=1), np.asarray(state.c)


@pytest.mark.parametrize("peepholes", [False, True])
def test_lstm_matches_tensorflows_v1_lstm_cell(peepholes, x):
    cell = LSTMCell(H, peepholes=peepholes)
    layer = keras.layers.RNN(cell, return_sequences=True, return_state=True)
    layer.build((None, T, D))
    randomise(cell)
    h_seq, _, c_last = layer(x)
    expected_h, expected_c = v1_lstm_outputs(np.asarray(cell.kernel), np.asarray(cell.recurrent_kernel),
                                             np.asarray(cell.bias),
                                             np.asarray(cell.peephole_weights) if peepholes else None, x)
    np.testing.assert_allclose(np.asarray(h_seq), expected_h, atol=1e-5)
    np.testing.assert_allclose(np.asarray(c_last), expected_c, atol=1e-5)


def test_coupled_lstm_is_tensorflows_v1_lstm_with_the_input_gate_tied_to_minus_the_forget_gate(x):
    """CIFG (Greff et al. 2017) sets i = 1 - f = sigmoid(-z_f): a full LSTM whose input-gate weights, bias and
    peephole are minus the forget gate's computes the same thing."""
    cell = LSTMCell(H, coupled=True, peepholes=True)
    layer = keras.layers.RNN(cell, return_sequences=True, return_state=True)
    layer.build((None, T, D))
    randomise(cell)
    h_seq, _, c_last = layer(x)

    def with_input_gate(m):  # [f, g, o] -> [i = -f, f, g, o]
        f = np.split(m, 3, axis=-1)[0]
        return np.concatenate([-f, m], axis=-1)

    peepholes = np.asarray(cell.peephole_weights).copy()
    peepholes[0] = -peepholes[1]  # The coupled cell's i-peephole row is unused; i sees c through -f's.
    expected_h, expected_c = v1_lstm_outputs(with_input_gate(np.asarray(cell.kernel)),
                                             with_input_gate(np.asarray(cell.recurrent_kernel)),
                                             with_input_gate(np.asarray(cell.bias)), peepholes, x)
    np.testing.assert_allclose(np.asarray(h_seq), expected_h, atol=1e-5)
    np.testing.assert_allclose(np.asarray(c_last), expected_c, atol=1e-5)


def test_layer_norm_lstm_follows_ba_et_al_on_a_two_unit_example_worked_unit_by_unit():
    """Ba, Kiros & Hinton (2016), eqs. 20-22, in scalars: the summed inputs of all gates are normalised
    separately for `x W` and `h U`, and `c_t` only where it enters `h_t`: `h_t = o * tanh(LN(c_t))`.
    Keras' LayerNormalization adds epsilon = 1e-3 to the variance; gains 1 and shifts 0 at initialisation."""
    import math

    cell = LSTMCell(2, layer_norm=True, forget_bias=0.0)
    cell.build((None, 1))
    # One input feature, 2 units; gates [i, f, g, o] each two columns.
    W = [[0.5, -0.3, 0.8, 0.1, -0.6, 0.4, 0.2, -0.9]]
    U = [[0.3, 0.2, -0.4, 0.7, 0.1, -0.5, 0.6, 0.0], [-0.2, 0.9, 0.5, -0.1, 0.3, 0.8, -0.7, 0.4]]
    b = [0.1, 0.0, -0.1, 0.2, 0.0, 0.3, -0.2, 0.1]
    cell.kernel.assign(np.array(W, np.float32))
    cell.recurrent_kernel.assign(np.array(U, np.float32))
    cell.bias.assign(np.array(b, np.float32))

    def ln(values):
        mean = sum(values) / len(values)
        variance = sum((v - mean) ** 2 for v in values) / len(values)
        return [(v - mean) / math.sqrt(variance + 1e-3) for v in values]

    def sigmoid(v):
        return 1 / (1 + math.exp(-v))

    h, c = [0.4, -0.3], [0.5, -1.0]  # a non-zero state, so h U and the cell matter
    x = 1.5
    xw = ln([x * W[0][k] for k in range(8)])
    hu = ln([h[0] * U[0][k] + h[1] * U[1][k] for k in range(8)])
    z = [xw[k] + hu[k] + b[k] for k in range(8)]
    c_new = [sigmoid(z[2 + u]) * c[u] + sigmoid(z[u]) * math.tanh(z[4 + u]) for u in range(2)]
    c_norm = ln(c_new)
    h_new = [sigmoid(z[6 + u]) * math.tanh(c_norm[u]) for u in range(2)]

    out, (h_out, c_out) = cell(np.array([[x]], np.float32), [np.array([h], np.float32), np.array([c], np.float32)])
    np.testing.assert_allclose(np.asarray(out)[0], h_new, atol=1e-6)
    np.testing.assert_allclose(np.asarray(h_out)[0], h_new, atol=1e-6)
    np.testing.assert_allclose(np.asarray(c_out)[0], c_new, atol=1e-6)  # carried un-normalised


def test_forget_bias_survives_building_inside_a_subclassed_model():
    class Model(keras.Model):
        def __init__(self):
            super().__init__()
            self.cell = LSTMCell(3, coupled=True, forget_bias=2.0)
            self.rnn = keras.layers.RNN(self.cell)
            self.head = keras.layers.Dense(1)

        def call(self, inputs):
            return self.head(self.rnn(inputs))

    model = Model()
    model(np.zeros((1, 2, 4), np.float32))
    np.testing.assert_array_equal(np.asarray(model.cell.bias), [2, 2, 2, 0, 0, 0, 0, 0, 0])


def test_leaky_cell_with_tau_one_is_the_elman_cell(x):
    leaky, leaky_layer = built(lambda **kw: LeakyCell(H, time_constants=1.0, **kw))
    leaky.leak.assign(np.ones(H, np.float32))  # randomise() drew leak rates too; tau = 1 is the point here.
    elman, elman_layer = built(lambda **kw: ElmanCell(H, **kw))
    elman.set_weights(leaky.get_weights()[:3])
    np.testing.assert_allclose(np.asarray(leaky_layer(x)), np.asarray(elman_layer(x)), atol=1e-6)


def test_leaky_time_constants_are_sampled_in_range_and_trainable_only_when_asked():
    fixed = LeakyCell(64, time_constants=(2.0, 200.0), seed=0)
    fixed.build((None, D))
    tau = 1 / np.asarray(fixed.leak)
    assert tau.min() >= 2.0 - 1e-4 and tau.max() <= 200.0 + 1e-2
    assert tau.max() / tau.min() > 20  # Spread over the range, not one value.
    assert not any(w is fixed.leak for w in fixed.trainable_weights)
    learned = LeakyCell(4, time_constants=3.0, learn_time_constants=True)
    learned.build((None, D))
    assert any(w is learned.leak for w in learned.trainable_weights)
    np.testing.assert_allclose(np.asarray(learned.tau), 3.0, rtol=1e-6)


def test_slow_leaky_units_change_little_per_step(x):
    cell, layer = built(lambda **kw: LeakyCell(H, time_constants=1000.0, **kw))
    cell.leak.assign(np.full(H, 1e-3, np.float32))  # randomise() drew leak rates too.
    out = np.asarray(layer(x))
    assert np.abs(np.diff(out, axis=1)).max() <= 1.0 / 1000 + 1e-6  # |f| <= 1, leak 1/1000.


def test_irnn_starts_as_identity_recurrence_with_relu():
    cell = ElmanCell(4, irnn=True)
    cell.build((None, 2))
    np.testing.assert_array_equal(np.asarray(cell.recurrent_kernel), np.eye(4))
    assert abs(np.asarray(cell.kernel)).max() < 0.01
    assert cell.activation is keras.activations.relu


def test_clockwork_modules_hold_their_state_between_ticks(x):
    cell, layer = built(lambda **kw: ClockworkCell(8, periods=(1, 2, 4, 8), **kw))
    out = np.asarray(keras.layers.RNN(cell, return_sequences=True)(np.tile(x, (1, 3, 1))))  # 18 steps.
    for module, period in enumerate((1, 2, 4, 8)):
        block = out[:, :, 2 * module : 2 * module + 2]
        changed = np.abs(np.diff(block, axis=1)).max(axis=(0, 2)) > 0  # changed[t - 1]: step t updated it.
        expected = np.array([t % period == 0 for t in range(1, 18)])
        np.testing.assert_array_equal(changed, expected)


def test_clockwork_fast_modules_do_not_drive_slow_ones():
    cell, layer = built(lambda **kw: ClockworkCell(6, periods=(1, 3), **kw))
    x = np.random.default_rng(0).normal(size=(2, 7, D)).astype(np.float32)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(x) ** 2)
    grad = tape.gradient(loss, cell.recurrent_kernel.value).numpy()
    assert np.all(grad[:3, 3:] == 0)  # From the period-1 module to the period-3 module: no connection.
    assert np.all(grad[3:, :3] != 0) and np.all(grad[:3, :3] != 0)


def test_orthogonal_cell_stays_orthogonal_through_100_optimizer_steps():
    cell = OrthogonalCell(16, negative_eigenvalues=3)
    model = keras.Sequential([keras.Input((10, 3)), keras.layers.RNN(cell), keras.layers.Dense(1)])
    model.compile(keras.optimizers.Adam(0.05), "mse")
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(32, 10, 3)).astype(np.float32), rng.normal(size=(32, 1)).astype(np.float32)
    for _ in range(100):
        model.train_on_batch(x, y)
    assert np.abs(np.asarray(cell.skew)).max() > 0.1  # It really moved away from Q = D.
    q = np.asarray(cell.recurrent_matrix())
    np.testing.assert_allclose(q.T @ q, np.eye(16), atol=1e-5)
    np.testing.assert_allclose(np.abs(np.linalg.eigvals(q)), 1.0, atol=1e-5)
    # A Cayley transform has determinant 1, so det(Q) = det(D) = (-1) ** negative_eigenvalues.
    assert np.linalg.det(q) == pytest.approx(-1.0, abs=1e-4)


def test_orthogonal_cell_never_reuses_a_stale_matrix(x):
    cell, layer = built(CELLS["orthogonal"])
    layer(x)
    randomise(cell, seed=5)  # New weights after a call: the next call must solve for Q again.
    np.testing.assert_allclose(np.asarray(layer(x)), numpy_reference(cell, x.astype(np.float64)), atol=1e-5)


def test_delays_carry_the_gradient_across_long_gaps():
    """|d h_20 / d x_0| through 20 contracting steps, against 2 hops of a 10-step delay."""
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=(1, 21, D)).astype(np.float32))

    def input_gradient(delays):
        cell = DelayCell(8, delays=delays, recurrent_initializer=keras.initializers.RandomNormal(stddev=0.1), seed=0)
        layer = keras.layers.RNN(cell)
        with tf.GradientTape() as tape:
            tape.watch(x)
            out = tf.reduce_sum(layer(x))
        return float(tf.norm(tape.gradient(out, x)[0, 0]))

    plain, skipping = input_gradient((1,)), input_gradient((1, 10))
    assert 0 < plain < 1e-8  # Vanished, but not underflowed: the ratio below is a real one.
    assert skipping > 1e6 * plain


@pytest.mark.parametrize("name", CELLS)
def test_gradients_match_finite_differences(name):
    cell, layer = built(CELLS[name], seed=1, dtype="float64")
    assert all(w.dtype == "float64" for w in cell.weights)
    x = np.random.default_rng(7).normal(size=(2, 4, D))
    weights = np.random.default_rng(8).normal(size=(2, 4, H))
    variable = cell.skew if isinstance(cell, OrthogonalCell) else cell.recurrent_kernel

    def loss():
        return tf.reduce_sum(layer(x) * weights)

    with tf.GradientTape() as tape:
        value = loss()
    grad = tape.gradient(value, variable.value).numpy()
    base = variable.numpy().copy()
    eps = 1e-6
    for index in [(0, 0), (H - 1, variable.shape[1] - 1), (2, variable.shape[1] // 2)]:
        plus, minus = base.copy(), base.copy()
        plus[index] += eps
        minus[index] -= eps
        variable.assign(plus)
        up = float(loss())
        variable.assign(minus)
        down = float(loss())
        variable.assign(base)
        assert grad[index] == pytest.approx((up - down) / (2 * eps), rel=1e-5, abs=1e-8)


@pytest.mark.parametrize("name", CELLS)
def test_masked_padding_gives_the_unpadded_result(name, x):
    cell, _ = built(CELLS[name])
    last = keras.layers.RNN(cell)
    lengths = [T, 3, 1, 4]
    padded = x.copy()
    mask = np.arange(T)[None, :] < np.array(lengths)[:, None]
    padded[~mask] = 0.0
    masked = np.asarray(last(padded, mask=mask))
    for row, n in enumerate(lengths):
        np.testing.assert_allclose(masked[row], np.asarray(last(x[row : row + 1, :n]))[0], atol=1e-6)


@pytest.mark.parametrize("name", ["lstm_cifg_peephole_ln", "gru_reset_before", "leaky_range_learned"])
def test_bidirectional_halves_are_the_forward_and_reversed_passes(name, x):
    bi = keras.layers.Bidirectional(keras.layers.RNN(CELLS[name](), return_sequences=True))
    out = np.asarray(bi(x))
    forward = np.asarray(bi.forward_layer(x))
    backward = np.asarray(bi.backward_layer(x))[:, ::-1]  # go_backwards=True: it reads x from the end.
    np.testing.assert_allclose(out[..., :H], forward, atol=1e-6)
    np.testing.assert_allclose(out[..., H:], backward, atol=1e-6)


def test_stacked_cells_equal_two_layers_in_sequence(x):
    first, _ = built(CELLS["lstm_peephole"])
    second = GRUCell(H)
    stacked = keras.layers.RNN(keras.layers.StackedRNNCells([first, second]), return_sequences=True)
    out = np.asarray(stacked(x))
    expected = keras.layers.RNN(second, return_sequences=True)(keras.layers.RNN(first, return_sequences=True)(x))
    np.testing.assert_allclose(out, np.asarray(expected), atol=1e-6)


@pytest.mark.parametrize("name", CELLS)
def test_keras_file_round_trip(name, x, tmp_path):
    cell, _ = built(CELLS[name], dropout=0.1, recurrent_dropout=0.2)
    model = keras.Sequential([keras.Input((T, D)), keras.layers.RNN(cell, return_sequences=True)])
    randomise(cell)
    path = str(tmp_path / "cell.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    loaded_cell = loaded.layers[0].cell
    assert type(loaded_cell) is type(cell) and loaded_cell.get_config() == cell.get_config()
    np.testing.assert_array_equal(np.asarray(loaded(x)), np.asarray(model(x)))


def random_batch(seed):
    """8 sequences and targets for one training step of an RNN of H units."""
    rng = np.random.default_rng(seed)
    return rng.normal(size=(8, T, D)).astype(np.float32), rng.normal(size=(8, H)).astype(np.float32)


# Gates of each cell's input and recurrent matrices (LSTM [i, f, c, o], CIFG [f, c, o], GRU [z, r, h]).
GATES = {"lstm": 4, "lstm_peephole": 4, "lstm_layer_norm": 4, "lstm_cifg_peephole_ln": 3, "gru_reset_after": 3,
         "gru_reset_before": 3}


@pytest.mark.parametrize("name", CELLS)
def test_pruning_reaches_each_matrix_gate_by_gate_keeps_each_units_own_past_and_survives_a_reload(name, tmp_path):
    cell = CELLS[name]()
    keras.utils.set_random_seed(0)
    inputs = keras.Input((T, D))
    model = keras.Model(inputs, keras.layers.RNN(cell)(inputs))
    prune_low_magnitude(model, ConstantSparsity(0.6, 0, frequency=1), keep_recurrent_diagonal=True)
    model.compile("sgd", "mse")
    model.train_on_batch(*random_batch(0))
    gates = GATES.get(name, 1)
    kernel = np.asarray(cell.kernel).reshape(D, gates, H)
    n = D * H  # per gate: tfmot's count keeps round(0.4 n) of n
    np.testing.assert_array_equal((kernel == 0).sum(axis=(0, 2)), [n - round(0.4 * n)] * gates)
    if name == "orthogonal":  # Q = Cayley(skew - skew^T) is dense whatever skew's zeros: skew stays dense.
        off_diagonal = np.asarray(cell.skew)[~np.eye(H, dtype=bool)]  # its diagonal cancels in skew - skew^T
        assert np.all(off_diagonal != 0) and cell.skew.constraint is None
    else:
        # [units, gates * units], or DelayCell's [delays * units, units]: square [H, H] blocks, one per gate or delay.
        recurrent = np.asarray(cell.recurrent_kernel)
        blocks = recurrent.reshape(-1, H, gates, H).transpose(0, 2, 1, 3).reshape(-1, H, H)
        assert len(blocks) == (len(cell.delays) if name == "delay" else gates)
        assert np.all(blocks[:, np.arange(H), np.arange(H)] != 0)  # each unit's own past is kept ...
        zeros, m = (recurrent == 0).reshape(-1, gates, H).sum(axis=(0, 2)), recurrent.size // gates
        # ... and only there: the gate loses its count less the diagonal entries among them that come back.
        assert np.all((zeros >= m - round(0.4 * m) - len(blocks) // gates * H) & (zeros <= m - round(0.4 * m))), zeros
    model.save(tmp_path / "pruned.keras")
    loaded = keras.models.load_model(tmp_path / "pruned.keras").layers[1].cell
    def tail(path):  # a weight's owner and name; the paths' prefixes differ once loaded
        return "/".join(path.split("/")[-2:])

    loaded_weights = {tail(w.path): w for w in loaded.weights}
    for weight in cell.weights:
        again = loaded_weights[tail(weight.path)]
        assert isinstance(again.constraint, MagnitudePruning) == isinstance(weight.constraint, MagnitudePruning)
        np.testing.assert_array_equal(np.asarray(again), np.asarray(weight))
    assert sum(isinstance(w.constraint, MagnitudePruning) for w in loaded.weights) == (1 if name == "orthogonal" else 2)


@pytest.mark.parametrize("name", CELLS)
def test_each_matrix_and_the_bias_obey_their_constraints(name):
    cell = CELLS[name](kernel_constraint="non_neg", recurrent_constraint="non_neg", bias_constraint="non_neg")
    model = keras.Sequential([keras.Input((T, D)), keras.layers.RNN(cell)])
    model.compile(keras.optimizers.SGD(10.0), "mse")  # a step large enough to push entries below zero
    model.train_on_batch(*random_batch(1))
    recurrent = cell.skew if name == "orthogonal" else cell.recurrent_kernel
    for weight in (cell.kernel, recurrent, cell.bias):
        assert np.asarray(weight).min() >= 0 and np.asarray(weight).max() > 0, weight.path


def test_keep_recurrent_diagonal_names_a_recurrent_matrix_without_square_blocks():
    class Tall(GRUCell):
        def build_recurrent(self):
            self.recurrent_kernel = self.add_weight(shape=(self.units + 1, 3 * self.units), name="recurrent_kernel",
                                                    constraint=self.recurrent_constraint)

    inputs = keras.Input((T, D))
    model = keras.Model(inputs, keras.layers.RNN(Tall(4, name="tall"), name="rnn")(inputs))
    message = ("`keep_recurrent_diagonal`: rnn/tall/recurrent_kernel of shape (5, 12) is not a stack of square [4, 4] "
               "blocks per gate, so it has no recurrent diagonal to keep (layer 'tall').")
    with pytest.raises(ValueError, match=re.escape(message)):
        prune_low_magnitude(model, ConstantSparsity(0.5, 0), keep_recurrent_diagonal=True)
    prune_low_magnitude(model, ConstantSparsity(0.5, 0))  # without it, any shape is fine


def test_unit_interval_clips_into_min_value_and_one_and_round_trips():
    constraint = UnitInterval(0.01)
    w = np.array([-1.0, 0.0, 0.005, 0.01, 0.5, 1.0, 3.0], np.float32)
    np.testing.assert_array_equal(np.asarray(constraint(w)), np.float32([0.01, 0.01, 0.01, 0.01, 0.5, 1, 1]))
    np.testing.assert_array_equal(np.asarray(UnitInterval()(w)), np.float32([1e-3, 1e-3, 0.005, 0.01, 0.5, 1, 1]))
    again = keras.constraints.deserialize(keras.constraints.serialize(constraint))
    assert type(again) is UnitInterval and again.get_config() == {"min_value": 0.01}


def test_coarse_fine_gru_hides_the_current_coarse_byte_from_the_coarse_half_only(x):
    cell, layer = built(lambda **kw: CoarseFineGRUCell(2 * H, **kw))
    reference, reference_layer = built(lambda **kw: GRUCell(2 * H, **kw))
    mask = np.ones((D, 3 * 2 * H), np.float32)
    mask[-1] = np.tile(np.r_[np.zeros(H), np.ones(H)], 3)  # last input row: zero for the coarse half in each gate
    reference.set_weights([np.asarray(cell.kernel) * mask] + [np.asarray(w) for w in cell.weights[1:]])
    np.testing.assert_allclose(np.asarray(layer(x)), np.asarray(reference_layer(x)), atol=1e-6)
    state = [np.zeros((4, 2 * H), np.float32)]
    other = x[:, 0].copy()
    other[:, -1] += 1.0  # only the current coarse byte changes
    a, b = (np.asarray(cell(v, state)[0]) for v in (x[:, 0], other))
    np.testing.assert_array_equal(a[:, :H], b[:, :H])
    assert np.all(np.abs(a[:, H:] - b[:, H:]) > 1e-6)
    half, half_layer = built(lambda **kw: CoarseFineGRUCell(2 * H, **kw), dtype="mixed_float16")
    half.set_weights(cell.get_weights())  # the mask in float16 too: 7.3e-4 from float32, measured
    np.testing.assert_allclose(np.asarray(half_layer(x), np.float32), np.asarray(layer(x)), atol=2e-3)
    with pytest.raises(ValueError, match=r"`units` of CoarseFineGRUCell must be even \(a coarse and a fine half\), got 5\."):
        CoarseFineGRUCell(5)


@pytest.mark.parametrize("dropout, recurrent_dropout", [(0.5, 0.0), (0.0, 0.5)])
def test_dropout_masks_are_random_in_training_and_off_in_inference(dropout, recurrent_dropout, x):
    cell, layer = built(CELLS["gru_reset_after"], dropout=dropout, recurrent_dropout=recurrent_dropout, seed=0)
    inference = np.asarray(layer(x))
    np.testing.assert_array_equal(inference, np.asarray(layer(x)))
    a, b = np.asarray(layer(x, training=True)), np.asarray(layer(x, training=True))
    assert not np.allclose(a, b) and not np.allclose(a, inference)
    # A cell stepped on its own, outside keras.layers.RNN, makes its masks from its own step.
    state = [np.random.default_rng(1).normal(size=(4, H)).astype(np.float32)]
    step = np.asarray(cell(x[:, 0], state)[0])
    assert not np.allclose(np.asarray(cell(x[:, 0], state, training=True)[0]), step)


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: ElmanCell(0), ValueError, "`units`"),
        (lambda: LSTMCell(4.5), TypeError, "`units`"),
        (lambda: GRUCell(4, dropout=1.0), ValueError, "`dropout`"),
        (lambda: LSTMCell(4, recurrent_dropout=-0.1), ValueError, "`recurrent_dropout`"),
        (lambda: LSTMCell(4, recurrent_dropout=1.0), ValueError, re.escape("`recurrent_dropout` must be in [0, 1.0)")),
        (lambda: LeakyCell(4, time_constants=0.5), ValueError, "`time_constants`"),
        (lambda: LeakyCell(4, time_constants=(10, 2)), ValueError, "`time_constants`"),
        (lambda: ClockworkCell(6, periods=(1, 0)), ValueError, "`periods`"),
        (lambda: OrthogonalCell(6, negative_eigenvalues=7), ValueError, "`negative_eigenvalues`"),
        (lambda: DelayCell(4, delays=(1, 0)), ValueError, "`delays`"),
        (lambda: DelayCell(4, delays=(2, 2)), ValueError, "`delays` must be distinct"),
        (lambda: ClockworkCell(6, periods=()), ValueError, "`periods`"),
        (lambda: ClockworkCell(6, periods=(1, 2, 4, 8)), ValueError, "`units` \\(6\\) must be divisible"),
        (lambda: LeakyCell(4, time_constants=(1, 2, 3)), ValueError, "`time_constants` must be a number >= 1 or a pair"),
        (lambda: LeakyCell(4, time_constants=(True, 5)), ValueError, "`time_constants` must be a number >= 1 or a pair"),
        (lambda: DelayCell(4, delays=3), ValueError, "`delays` must be a non-empty list of distinct positive ints, got 3"),
        (lambda: DelayCell(4, delays=()), ValueError, "`delays` must be a non-empty list"),
        *[(lambda n=n: OrthogonalCell(6, negative_eigenvalues=n), ValueError,
           re.escape(f"`negative_eigenvalues` must be an int in [0, units=6], got {n!r}.")) for n in (True, 2.0, -1)],
    ],
)
def test_bad_configuration_is_named(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_wrong_input_rank_and_state_shapes_are_named():
    with pytest.raises(ValueError, match=r"^GRUCell expects inputs of shape \[batch, features\]"):
        GRUCell(4)(np.zeros((2, 3, 5), np.float32), [np.zeros((2, 4), np.float32)])
    with pytest.raises(ValueError, match=r"`states` of LSTMCell must be 2 tensor\(s\) of widths \[4, 4\]"):
        LSTMCell(4)(np.zeros((2, 3), np.float32), [np.zeros((2, 4), np.float32)])
    with pytest.raises(ValueError, match="`states` of GRUCell"):
        keras.layers.RNN(GRUCell(8))(np.zeros((1, 4, 3), np.float32), initial_state=[np.zeros((1, 5), np.float32)])


# Each class with every argument of its own away from its default (activations: sigmoid, not tanh).
OWN_ARGUMENTS = {
    ElmanCell: dict(activation="sigmoid", irnn=True),
    LSTMCell: dict(forget_bias=3.0, peepholes=True, layer_norm=True, coupled=True),
    GRUCell: dict(reset_after=False),
    CoarseFineGRUCell: dict(reset_after=False),
    LeakyCell: dict(time_constants=[2.0, 30.0], learn_time_constants=True, activation="sigmoid"),
    ClockworkCell: dict(periods=[1, 3], activation="sigmoid"),
    OrthogonalCell: dict(negative_eigenvalues=2, activation="sigmoid"),
    DelayCell: dict(delays=[3, 1], activation="sigmoid"),
}


@pytest.mark.parametrize("cls", OWN_ARGUMENTS, ids=lambda cls: cls.__name__)
def test_from_config_rebuilds_every_argument_and_computes_the_same(cls, x):
    """Seeded random initialisers tell the weights apart, constraints show after a large step, the seed fixes
    the dropout masks, and each class's own arguments are in the config as given."""
    base = dict(kernel_initializer=keras.initializers.RandomNormal(0.0, 0.5, seed=1),
                recurrent_initializer=keras.initializers.RandomNormal(0.0, 0.5, seed=2),
                bias_initializer=keras.initializers.RandomUniform(-0.5, 0.5, seed=3), kernel_constraint="non_neg",
                recurrent_constraint="non_neg", bias_constraint="non_neg", dropout=0.2, recurrent_dropout=0.3, seed=11)
    cell = cls(6, **OWN_ARGUMENTS[cls], **base)
    config = cell.get_config()
    assert {key: config[key] for key in OWN_ARGUMENTS[cls]} == OWN_ARGUMENTS[cls]
    clone = cls.from_config(config)
    assert clone.get_config() == config
    y = np.random.default_rng(1).normal(size=(4, 6)).astype(np.float32)
    results = []
    for c in (cell, clone):
        keras.utils.set_random_seed(0)  # for LSTM peepholes, whose glorot_uniform has no seed argument
        model = keras.Sequential([keras.Input((T, D)), keras.layers.RNN(c)])
        initial = [np.asarray(w) for w in c.weights]
        keras.utils.set_random_seed(len(results) + 1)  # from here on, only the cell's own seed can match the masks
        model.compile(keras.optimizers.SGD(10.0), "mse")
        model.train_on_batch(x, y)
        results.append([*initial, *(np.asarray(w) for w in c.weights), np.asarray(model(x, training=True))])
    for ours, theirs in zip(*results, strict=True):
        np.testing.assert_array_equal(ours, theirs)
    no_bias = cls.from_config(cls(6, use_bias=False, **OWN_ARGUMENTS[cls]).get_config())
    no_bias.build((None, D))
    assert no_bias.bias is None and all(w.name != "bias" for w in no_bias.weights)


def test_weights_are_named_and_shaped_like_keras_own_cells():
    """The paths users see in summaries and sparsity reports; Keras' cells name their matrices the same."""
    def layout(cell):
        cell.build((None, D))
        return [(w.path, tuple(w.shape)) for w in cell.weights]

    base = lambda gates, bias=None: [("c/kernel", (D, gates * H)), ("c/recurrent_kernel", (H, gates * H)),  # noqa: E731
                                     ("c/bias", bias or (gates * H,))]
    assert layout(ElmanCell(H, name="c")) == base(1)
    assert [path for path, _ in layout(keras.layers.SimpleRNNCell(H, name="c"))] == [p for p, _ in base(1)]
    assert layout(GRUCell(H, name="c")) == base(3, (2, 3 * H))  # reset_after by default, as Keras' GRU
    assert layout(LSTMCell(H, peepholes=True, layer_norm=True, name="c")) == base(4) + [
        ("c/peephole_weights", (3, H)), ("c/kernel_norm/gamma", (4 * H,)), ("c/kernel_norm/beta", (4 * H,)),
        ("c/recurrent_norm/gamma", (4 * H,)), ("c/recurrent_norm/beta", (4 * H,)), ("c/state_norm/gamma", (H,)),
        ("c/state_norm/beta", (H,))]
    assert layout(LeakyCell(H, name="c")) == base(1) + [("c/leak", (H,))]
    assert layout(OrthogonalCell(H, name="c")) == [("c/kernel", (D, H)), ("c/skew", (H, H)), ("c/bias", (H,))]
    assert layout(DelayCell(H, delays=(1, 4), name="c")) == [("c/kernel", (D, H)), ("c/recurrent_kernel", (2 * H, H)),
                                                             ("c/bias", (H,))]


def test_defaults_start_as_documented():
    lstm = LSTMCell(H)
    lstm.build((None, D))  # forget bias 1 (Jozefowicz et al. 2015), the other gates 0
    np.testing.assert_array_equal(np.asarray(lstm.bias), np.r_[np.zeros(H), np.ones(H), np.zeros(2 * H)])
    leaky = LeakyCell(H)
    leaky.build((None, D))  # tau = 1: the Elman cell
    np.testing.assert_array_equal(np.asarray(leaky.leak), np.ones(H))
    for n in (0, H):  # S = 0, so Q = D: the identity, or minus it with every eigenvalue -1
        cell = OrthogonalCell(H) if n == 0 else OrthogonalCell(H, negative_eigenvalues=n)
        cell.build((None, D))
        np.testing.assert_array_equal(np.asarray(cell.recurrent_matrix()), np.eye(H) * (1 if n == 0 else -1))


# Largest |float16 - float32| output difference over the 6 steps, measured 2026-12-07 (IRNN's ReLU is unbounded).
HALF_ERROR = {"elman": 6.5e-4, "irnn": 2.2e-3, "lstm": 5.0e-4, "lstm_peephole": 7.3e-4, "lstm_layer_norm": 5.8e-4,
              "lstm_cifg_peephole_ln": 6.2e-4, "gru_reset_after": 8.3e-4, "gru_reset_before": 8.5e-4,
              "leaky_fixed": 6.6e-4, "leaky_range_learned": 6.6e-4, "clockwork": 6.7e-4, "orthogonal": 1.2e-3,
              "delay": 1.4e-3}


@pytest.mark.parametrize("name", CELLS)
def test_mixed_precision_computes_in_float16_close_to_float32(name, x):
    cell, layer = built(CELLS[name])
    half, half_layer = built(CELLS[name], dtype="mixed_float16")
    half.set_weights(cell.get_weights())
    out = half_layer(x)
    assert out.dtype == "float16" and all(w.dtype == "float32" for w in half.weights)
    assert [s.dtype for s in half.get_initial_state(2)] == ["float16"] * len(state_sizes(half))  # as Keras' cells
    # Within 2.5x the error measured on these weights (float16 keeps 11 significant bits, 4.9e-4 relative).
    np.testing.assert_allclose(np.asarray(out, np.float32), np.asarray(layer(x)), atol=2.5 * HALF_ERROR[name])


def test_learned_leak_rates_are_kept_in_the_unit_interval():
    cell = LeakyCell(H, time_constants=(1.0, 50.0), learn_time_constants=True, seed=0)
    model = keras.Sequential([keras.Input((T, D)), keras.layers.RNN(cell)])
    model.compile(keras.optimizers.SGD(1000.0), "mse")  # steps that throw the leak rates far out of [0, 1]
    rng = np.random.default_rng(0)
    for _ in range(3):  # three batches of one stream (the bounds reached were measured on these)
        model.train_on_batch(rng.normal(size=(8, T, D)).astype(np.float32), rng.normal(size=(8, H)).astype(np.float32))
    leak = np.asarray(cell.leak)
    assert leak.min() >= 1e-3 and leak.max() <= 1.0
    assert np.isclose(leak, 1e-3).any() and (leak == 1.0).any(), leak  # both bounds reached


def test_leaky_time_constants_follow_the_seed_whatever_floatx_and_the_config_keeps_what_was_given():
    def leak(seed, floatx="float32"):
        previous = keras.config.floatx()
        keras.config.set_floatx(floatx)
        try:
            cell = LeakyCell(16, time_constants=(1.0, 100.0), seed=seed, dtype="float32")
            cell.build((None, D))
        finally:
            keras.config.set_floatx(previous)
        return np.asarray(cell.leak)

    np.testing.assert_array_equal(leak(3), leak(3))
    np.testing.assert_array_equal(leak(3, "float64"), leak(3))
    assert not np.allclose(leak(3), leak(4))
    assert LeakyCell(H, time_constants=4.0).get_config()["time_constants"] == 4.0  # a number stays a number
    cell = LeakyCell(H, time_constants=(2, 8))
    cell.get_config()["time_constants"].append(9.0)  # the config is a copy
    assert cell.get_config()["time_constants"] == [2, 8]


def test_orthogonal_cell_solves_for_q_once_per_sequence_and_also_steps_on_its_own(x):
    cell, layer = built(CELLS["orthogonal"])
    expected = numpy_reference(cell, x.astype(np.float64))
    solve, calls = cell.recurrent_matrix, []
    cell.recurrent_matrix = lambda: calls.append(1) or solve()
    np.testing.assert_allclose(np.asarray(layer(x)), expected, atol=1e-5)
    assert len(calls) == 1  # for the T = 6 steps of the sequence
    h, [state] = cell(x[:, 0], [np.zeros((4, H), np.float32)])  # outside keras.layers.RNN: solved per call
    np.testing.assert_allclose(np.asarray(h), expected[:, 0], atol=1e-5)
    assert len(calls) == 2


def test_asking_to_prune_the_peepholes_says_why_they_are_not_prunable():
    cell = LSTMCell(4, peepholes=True, name="lstm")
    inputs = keras.Input((T, D))
    model = keras.Model(inputs, keras.layers.RNN(cell, name="rnn")(inputs))
    with pytest.raises(ValueError, match=re.escape(" rnn/lstm/peephole_weights is not prunable: three per-unit "
                                                   "(diagonal) gains, not a matrix product.")):
        prune_low_magnitude(model, ConstantSparsity(0.5, 0), weights=[cell.peephole_weights])
