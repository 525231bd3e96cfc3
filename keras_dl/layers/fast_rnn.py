"""Whole-sequence LSTM and GRU layers with a hand-derived backward pass.

Where the time goes in a recurrent layer on CPU: the input projection can be done for
all steps at once, but autodiff through a `while` loop also accumulates the recurrent
weight gradient step by step, `T` small matrix products. These layers compute the
input projection in one product before the loop and, in a `tf.custom_gradient`, run
the backward recurrence for the per-step gate gradients only, then form the recurrent
weight gradient in one `[H, T*B] x [T*B, G*H]` product after the loop (as cuDNN and
oneDNN do). Under `jit_compile=True` XLA fuses each step's element-wise work.

Weights use Keras' layouts (`keras.layers.LSTM` / `GRU` with `reset_after=True`), so
`set_weights` moves them between these layers, Keras' and keras_dl's cells. Masked
inputs and inference (where the loop's forward pass is all there is) run
`keras.layers.RNN` over the same keras_dl cell.
"""

import keras
import tensorflow as tf

from keras_dl import _checks
from keras_dl.layers.cells import GRUCell
from keras_dl.layers.cells import LSTMCell
from keras_dl.layers.cells import state_sizes


def _lstm_scan(xw, recurrent_kernel, h0, c0):
    """Forward LSTM loop; returns the start and `[T, B, 6H]` per-step h, c and the four gates."""
    units = recurrent_kernel.shape[0]

    def step(acc, z_in):
        h, c = acc[:, :units], acc[:, units : 2 * units]
        i, f, g, o = tf.split(z_in + tf.matmul(h, recurrent_kernel), 4, axis=-1)
        i, f, g, o = tf.sigmoid(i), tf.sigmoid(f), tf.tanh(g), tf.sigmoid(o)
        c = f * c + i * g
        return tf.concat([o * tf.tanh(c), c, i, f, g, o], axis=-1)

    start = tf.concat([h0, c0, tf.zeros([tf.shape(h0)[0], 4 * units], h0.dtype)], axis=-1)
    return start, tf.scan(step, xw, initializer=start)


def lstm_sequence(xw, recurrent_kernel, h0, c0):
    """LSTM over time-major projected inputs `xw` `[T, B, 4H]` (bias included); returns `(hs, h_T, c_T)`."""
    units = recurrent_kernel.shape[0]

    @tf.custom_gradient
    def run(xw, recurrent_kernel, h0, c0):
        start, acc = _lstm_scan(xw, recurrent_kernel, h0, c0)
        hs = acc[..., :units]

        def grad(d_hs, d_h_last, d_c_last):
            previous = tf.concat([start[None], acc[:-1]], axis=0)

            def back(carry, elems):
                d_h_out, current, before = elems
                c, i, f, g, o = tf.split(current[:, units:], 5, axis=-1)
                d_h = d_h_out + carry[:, :units]
                tanh_c = tf.tanh(c)
                d_c = carry[:, units : 2 * units] + d_h * o * (1.0 - tanh_c * tanh_c)
                d_z = tf.concat([d_c * g * i * (1.0 - i), d_c * before[:, units : 2 * units] * f * (1.0 - f),
                                 d_c * i * (1.0 - g * g), d_h * tanh_c * o * (1.0 - o)], axis=-1)
                return tf.concat([tf.matmul(d_z, recurrent_kernel, transpose_b=True), d_c * f, d_z], axis=-1)

            # The final state's gradients enter the recurrence at the last step.
            last = tf.concat([d_h_last, d_c_last, tf.zeros([tf.shape(d_h_last)[0], 4 * units], xw.dtype)], axis=-1)
            back_acc = tf.scan(back, (d_hs, acc, previous), initializer=last, reverse=True)
            d_z = back_acc[..., 2 * units :]
            d_recurrent = tf.matmul(tf.reshape(previous[..., :units], [-1, units]),
                                    tf.reshape(d_z, [-1, 4 * units]), transpose_a=True)
            return d_z, d_recurrent, back_acc[0, :, :units], back_acc[0, :, units : 2 * units]

        return (hs, acc[-1, :, :units], acc[-1, :, units : 2 * units]), grad

    return run(xw, recurrent_kernel, h0, c0)


def _gru_scan(xw, recurrent_kernel, recurrent_bias, h0):
    """Forward GRU loop; returns the start and `[T, B, 5H]` per-step h, z, r, n and h U_n + b_n."""
    units = recurrent_kernel.shape[0]

    def step(acc, x_in):
        h = acc[:, :units]
        hu = tf.matmul(h, recurrent_kernel) + recurrent_bias
        z = tf.sigmoid(x_in[:, :units] + hu[:, :units])
        r = tf.sigmoid(x_in[:, units : 2 * units] + hu[:, units : 2 * units])
        n = tf.tanh(x_in[:, 2 * units :] + r * hu[:, 2 * units :])
        return tf.concat([z * h + (1.0 - z) * n, z, r, n, hu[:, 2 * units :]], axis=-1)

    start = tf.concat([h0, tf.zeros([tf.shape(h0)[0], 4 * units], h0.dtype)], axis=-1)
    return start, tf.scan(step, xw, initializer=start)


def gru_sequence(xw, recurrent_kernel, recurrent_bias, h0):
    """GRU (`reset_after=True`) over time-major `xw` `[T, B, 3H]` (input bias included); returns `(hs, h_T)`."""
    units = recurrent_kernel.shape[0]

    @tf.custom_gradient
    def run(xw, recurrent_kernel, recurrent_bias, h0):
        start, acc = _gru_scan(xw, recurrent_kernel, recurrent_bias, h0)
        hs = acc[..., :units]

        def grad(d_hs, d_h_last):
            previous = tf.concat([start[None], acc[:-1]], axis=0)

            def back(carry, elems):
                d_h_out, current, before = elems
                z, r, n, hn = tf.split(current[:, units:], 4, axis=-1)
                d_h = d_h_out + carry[:, :units]
                d_n = d_h * (1.0 - z) * (1.0 - n * n)
                d_z = d_h * (before[:, :units] - n) * z * (1.0 - z)
                d_r = d_n * hn * r * (1.0 - r)
                d_x = tf.concat([d_z, d_r, d_n], axis=-1)
                d_hu = tf.concat([d_z, d_r, d_n * r], axis=-1)
                d_h_prev = d_h * z + tf.matmul(d_hu, recurrent_kernel, transpose_b=True)
                return tf.concat([d_h_prev, d_x, d_hu], axis=-1)

            last = tf.concat([d_h_last, tf.zeros([tf.shape(d_h_last)[0], 6 * units], xw.dtype)], axis=-1)
            back_acc = tf.scan(back, (d_hs, acc, previous), initializer=last, reverse=True)
            d_x, d_hu = back_acc[..., units : 4 * units], back_acc[..., 4 * units :]
            d_recurrent = tf.matmul(tf.reshape(previous[..., :units], [-1, units]),
                                    tf.reshape(d_hu, [-1, 3 * units]), transpose_a=True)
            return d_x, d_recurrent, tf.reduce_sum(d_hu, axis=[0, 1]), back_acc[0, :, :units]

        return (hs, acc[-1, :, :units]), grad

    return run(xw, recurrent_kernel, recurrent_bias, h0)


class _FastRNN(keras.layers.Layer):
    """Shared plumbing of `LSTM` and `GRU`: arguments, weights, output selection, masking fallback."""

    def __init__(self, units, return_sequences=False, return_state=False, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.units = _checks.positive_int("units", units)
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.recurrent_initializer = keras.initializers.get(recurrent_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.supports_masking = True
        self.cell = self.make_cell()

    def build(self, input_shape):
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise ValueError(
                f"{type(self).__name__} expects inputs of shape [batch, time, features] with a known feature size, "
                f"got {tuple(input_shape)}."
            )
        # The cell owns the weights (Keras' layout); the fast path reads them directly.
        self.cell.build((input_shape[0], input_shape[-1]))
        self.fallback = keras.layers.RNN(self.cell, return_sequences=self.return_sequences,
                                         return_state=self.return_state, name=f"{self.name}_steps")

    def call(self, inputs, mask=None, initial_state=None, training=None):
        if not training or mask is not None:
            # Inference and masked inputs: Keras' step loop over the same cell (autodiff-exact).
            # Its forward pass is faster than the training path's, which keeps every gate.
            return self.fallback(inputs, mask=mask, initial_state=initial_state, training=training)
        batch = tf.shape(inputs)[0]
        states = initial_state or [tf.zeros([batch, size], self.compute_dtype) for size in state_sizes(self.cell)]
        xw = tf.transpose(tf.matmul(inputs, self.cell.kernel) + self.input_bias(), [1, 0, 2])
        hs, *final = self.run(xw, states)
        result = tf.transpose(hs, [1, 0, 2]) if self.return_sequences else final[0]
        return [result, *final] if self.return_state else result

    def compute_mask(self, inputs, mask=None):
        return mask if self.return_sequences else None

    def get_config(self):
        config = super().get_config()
        config.update(
            units=self.units, return_sequences=self.return_sequences, return_state=self.return_state,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            recurrent_initializer=keras.initializers.serialize(self.recurrent_initializer),
            bias_initializer=keras.initializers.serialize(self.bias_initializer),
        )
        return config


@keras.saving.register_keras_serializable(package="keras_dl")
class LSTM(_FastRNN):
    """Whole-sequence LSTM, a drop-in for `keras.layers.LSTM` (sigmoid/tanh, unit forget bias).

    Args:
        units: state size.
        return_sequences: return every step's output, not only the last.
        return_state: also return the final `h` and `c`.
        kernel_initializer, recurrent_initializer, bias_initializer: as in Keras.

    Call arguments:
        inputs: `[batch, time, features]`.
        mask: optional `[batch, time]` (masked steps keep the state; runs the step-by-step path).
        initial_state: optional `[h0, c0]`.

    Example:
    >>> model = keras.Sequential([keras.Input((100, 64)), LSTM(256, return_sequences=True)])
    >>> model.compile("adam", "mse", jit_compile=True)  # XLA fuses each step's element-wise work.
    """

    def make_cell(self):
        return LSTMCell(self.units, kernel_initializer=self.kernel_initializer,
                        recurrent_initializer=self.recurrent_initializer, bias_initializer=self.bias_initializer,
                        dtype=self.dtype_policy, name="cell")

    def input_bias(self):
        return self.cell.bias

    def run(self, xw, states):
        return lstm_sequence(xw, tf.convert_to_tensor(self.cell.recurrent_kernel), *states)


@keras.saving.register_keras_serializable(package="keras_dl")
class GRU(_FastRNN):
    """Whole-sequence GRU (`reset_after=True`, Keras' default), a drop-in for `keras.layers.GRU`.

    Args:
        units: state size.
        return_sequences: return every step's output, not only the last.
        return_state: also return the final `h`.
        kernel_initializer, recurrent_initializer, bias_initializer: as in Keras.

    Call arguments:
        inputs: `[batch, time, features]`.
        mask: optional `[batch, time]` (masked steps keep the state; runs the step-by-step path).
        initial_state: optional `[h0]`.

    Example:
    >>> model = keras.Sequential([keras.Input((100, 64)), GRU(256)])
    """

    def make_cell(self):
        return GRUCell(self.units, reset_after=True, kernel_initializer=self.kernel_initializer,
                       recurrent_initializer=self.recurrent_initializer, bias_initializer=self.bias_initializer,
                       dtype=self.dtype_policy, name="cell")

    def input_bias(self):
        return self.cell.bias[0]

    def run(self, xw, states):
        return gru_sequence(xw, tf.convert_to_tensor(self.cell.recurrent_kernel), self.cell.bias[1], *states)
