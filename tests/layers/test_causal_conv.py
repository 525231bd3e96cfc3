import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_dl.decoding import ConvQueues
from keras_dl.layers import CausalConv1D
from keras_dl.layers import WaveNetBlock


def _dependencies(fn, x, t):
    """Input steps whose change moves output step `t` (nonzero gradient of a random projection of it)."""
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        outputs = fn(x)
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        projected = sum(tf.reduce_sum(o[:, t] * np.random.default_rng(t).normal(size=o.shape[-1])) for o in outputs)
    gradient = tape.gradient(projected, x).numpy()
    return set(np.flatnonzero(np.abs(gradient[0]).sum(-1)).tolist())


def _inputs(steps=24, channels=3, seed=0):
    return np.random.default_rng(seed).normal(size=(1, steps, channels)).astype(np.float32)


@pytest.mark.parametrize("kernel_size,dilation", [(2, 1), (2, 4), (3, 2)])
def test_causal_conv_reads_exactly_its_taps(kernel_size, dilation):
    keras.utils.set_random_seed(0)
    conv = CausalConv1D(4, kernel_size, dilation_rate=dilation)
    x = _inputs()
    for t in (0, 5, 23):
        taps = {t - j * dilation for j in range(kernel_size) if t - j * dilation >= 0}
        assert _dependencies(conv, x, t) == taps
    assert conv.queue_length == dilation * (kernel_size - 1)


def test_causal_conv_step_from_ring_taps_gives_the_sequence_outputs():
    keras.utils.set_random_seed(1)
    conv = CausalConv1D(5, 3, dilation_rate=3, activation="tanh")
    x = _inputs(30, 2)
    expected = np.asarray(conv(x))
    queues = ConvQueues([3], kernel_size=3, channels=2)
    for t in range(30):
        taps = queues.taps()[:, 0]
        # The taps are the inputs 6 and 3 steps back, oldest first (zeros before the start).
        for j, lag in enumerate((6, 3)):
            np.testing.assert_array_equal(taps[:, j], x[:, t - lag] if t >= lag else 0.0)
        np.testing.assert_allclose(np.asarray(conv.step(x[:, t], taps)), expected[:, t], atol=1e-6)
        queues.push(x[:, t][:, None])
    assert queues.time == 30


def test_causal_conv_refuses_what_its_step_form_cannot_do():
    with pytest.raises(ValueError, match="`padding`"):
        CausalConv1D(4, 2, padding="same")
    with pytest.raises(ValueError, match="`strides`"):
        CausalConv1D(4, 2, strides=2)
    with pytest.raises(ValueError, match="`taps`"):
        conv = CausalConv1D(4, 2)
        conv(_inputs())
        conv.step(_inputs()[:, 0])


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def test_block_is_the_gated_residual_formula():
    keras.utils.set_random_seed(2)
    block = WaveNetBlock(4, 6, dilation_rate=2, kernel_size=2)
    x, g = _inputs(12, 4), np.random.default_rng(3).normal(size=(1, 5)).astype(np.float32)
    local = np.random.default_rng(4).normal(size=(1, 12, 3)).astype(np.float32)
    residual, skip = (np.asarray(o) for o in block(x, global_condition=g, local_condition=local))
    kernel, bias = (np.asarray(w) for w in block.conv.weights)  # [2, 4, 8], [8]
    padded = np.concatenate([np.zeros((1, 2, 4), np.float32), x], axis=1)
    h = padded[:, :-2] @ kernel[0] + padded[:, 2:] @ kernel[1] + bias  # taps t - 2 and t
    h = h + (g @ np.asarray(block.global_dense.kernel))[:, None] + local @ np.asarray(block.local_dense.kernel)
    z = np.tanh(h[..., :4]) * _sigmoid(h[..., 4:])
    np.testing.assert_allclose(skip, z @ np.asarray(block.skip_dense.kernel) + np.asarray(block.skip_dense.bias),
                               atol=1e-5)
    np.testing.assert_allclose(
        residual, x + z @ np.asarray(block.residual_dense.kernel) + np.asarray(block.residual_dense.bias), atol=1e-5)


def test_block_outputs_depend_on_the_current_and_dilated_past_input_only():
    keras.utils.set_random_seed(3)
    block = WaveNetBlock(3, 5, dilation_rate=4)
    x = _inputs(20, 3)
    for t in (2, 9, 19):
        assert _dependencies(block, x, t) == {s for s in (t, t - 4) if s >= 0}


def test_conditions_change_the_outputs_where_they_are_given():
    keras.utils.set_random_seed(4)
    block = WaveNetBlock(3, 5, dilation_rate=1)
    x = _inputs(10, 3)
    g = np.ones((1, 2), np.float32)
    local = np.zeros((1, 10, 2), np.float32)
    base = [np.asarray(o) for o in block(x, global_condition=g, local_condition=local)]
    other_global = [np.asarray(o) for o in block(x, global_condition=-g, local_condition=local)]
    assert all(np.abs(a - b).min() > 0 for a, b in zip(base, other_global))  # every step moves
    local[:, 6] = 1.0
    other_local = [np.asarray(o) for o in block(x, global_condition=g, local_condition=local)]
    for a, b in zip(base, other_local):
        changed = np.flatnonzero(np.abs(a - b).max(-1)[0])
        assert changed.tolist() == [6]  # a local condition acts at its own step only


def test_block_step_equals_the_sequence_with_conditions():
    keras.utils.set_random_seed(5)
    block = WaveNetBlock(4, 3, dilation_rate=3, kernel_size=3)
    x, g = _inputs(16, 4), np.ones((1, 2), np.float32)
    local = np.random.default_rng(6).normal(size=(1, 16, 2)).astype(np.float32)
    residual, skip = (np.asarray(o) for o in block(x, global_condition=g, local_condition=local))
    queues = ConvQueues([3], kernel_size=3, channels=4)
    for t in range(16):
        r, s = block.step(x[:, t], queues.taps()[:, 0], g, local[:, t])
        queues.push(x[:, t][:, None])
        np.testing.assert_allclose(np.asarray(r), residual[:, t], atol=1e-5)
        np.testing.assert_allclose(np.asarray(s), skip[:, t], atol=1e-5)


def test_last_block_has_no_residual_output():
    block = WaveNetBlock(3, 5, residual=False)
    skip = block(_inputs(7, 3))
    assert skip.shape == (1, 7, 5) and block.residual_dense is None


def test_block_errors_name_the_argument():
    with pytest.raises(ValueError, match="`filters`"):
        WaveNetBlock(4, 5)(_inputs(7, 3))
    block = WaveNetBlock(3, 5)
    block(_inputs(7, 3))
    with pytest.raises(ValueError, match="`global_condition`"):
        block(_inputs(7, 3), global_condition=np.ones((1, 2), np.float32))
    with pytest.raises(ValueError, match="`skip_filters`"):
        WaveNetBlock(3, 0)
