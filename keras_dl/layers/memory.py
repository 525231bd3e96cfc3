"""Explicit memory: the Neural Turing Machine (Graves et al. 2014) as a Keras RNN cell."""

import keras
from keras import ops

from keras_dl import _checks
from keras_dl.layers.cells import LSTMCell

_EPSILON = 1e-6


def _circular_shift(weights, shift):
    """`weights` rolled by `shift` positions along the last axis, with slices (LiteRT has no ROLL)."""
    if shift == 0:
        return weights
    return ops.concatenate([weights[:, -shift:], weights[:, :-shift]], axis=-1)


def address(memory, previous_weights, key, strength, gate, shift, sharpening):
    """One head's weighting over the memory rows (Graves et al. 2014, section 3.3).

    Content (softmax of `strength` times the cosine similarity of `key` with each row), then
    interpolation with the previous weighting by `gate`, a circular convolution with the `shift`
    distribution over offsets `-s..s`, and sharpening `w^sharpening / sum(w^sharpening)`.

    Args:
        memory: `[batch, rows, width]`.
        previous_weights: `[batch, rows]`.
        key: `[batch, width]`; strength, gate, sharpening: `[batch, 1]` (`>= 0`, `[0, 1]`, `>= 1`).
        shift: `[batch, 2 s + 1]`, a distribution over the offsets `-s, ..., s`.

    Returns:
        `[batch, rows]` weights summing to 1.
    """
    similarity = ops.squeeze(ops.matmul(memory, ops.expand_dims(key, -1)), -1) / (
        ops.norm(memory, axis=-1) * ops.norm(key, axis=-1, keepdims=True) + _EPSILON)
    content = ops.softmax(strength * similarity, axis=-1)
    gated = gate * content + (1.0 - gate) * previous_weights
    reach = (shift.shape[-1] - 1) // 2
    shifted = sum(shift[:, i:i + 1] * _circular_shift(gated, offset)
                  for i, offset in enumerate(range(-reach, reach + 1)))
    # Divided by the largest weight first: the largest power is then 1, so no row underflows to 0 / 0.
    shifted = shifted + _EPSILON
    sharpened = ops.power(shifted / ops.max(shifted, axis=-1, keepdims=True), sharpening)
    return sharpened / ops.sum(sharpened, axis=-1, keepdims=True)


@keras.saving.register_keras_serializable(package="keras_dl")
class NTMCell(keras.layers.Layer):
    """Neural Turing Machine cell (Graves et al. 2014): an LSTM controller with read and write heads on a memory.

    At each step the controller reads `[x_t, r_{t-1}]`; each head turns the controller's output into
    a key, key strength, interpolation gate, shift distribution and sharpening exponent and
    addresses the memory (`address`). Read heads read `r = w M` from the memory as it was; then
    write heads erase and add, `M <- M (1 - w e^T) + w a^T`. The output is a linear map of
    `[controller output, reads]`. The memory starts at a small constant (Collier & Beel 2018 found it
    trains most reliably) and the head weightings on row 0.

    Args:
        units: controller (LSTM) size.
        output_dim: size of each step's output.
        memory_size: number of memory rows `N`.
        memory_width: width of each row `M`.
        read_heads, write_heads: number of each kind of head.
        shift_range: largest offset `s` of the circular shift (offsets `-s..s`).

    Call arguments:
        inputs: `[batch, features]`.
        states: controller `[h, c]`, memory `[batch, N * M]`, reads `[batch, read_heads * M]`,
            head weightings `[batch, (read_heads + write_heads) * N]`.

    Example:
    >>> keras.utils.set_random_seed(0)
    >>> ntm = keras.layers.RNN(NTMCell(32, output_dim=8, memory_size=16, memory_width=6), return_sequences=True)
    >>> ntm(np.zeros((2, 5, 8), "float32")).shape
    TensorShape([2, 5, 8])
    """

    def __init__(self, units, output_dim, memory_size=128, memory_width=20, read_heads=1, write_heads=1,
                 shift_range=1, **kwargs):
        super().__init__(**kwargs)
        self.units = _checks.positive_int("units", units)
        self.output_dim = _checks.positive_int("output_dim", output_dim)
        self.memory_size = _checks.positive_int("memory_size", memory_size)
        self.memory_width = _checks.positive_int("memory_width", memory_width)
        self.read_heads = _checks.positive_int("read_heads", read_heads)
        self.write_heads = _checks.non_negative_int("write_heads", write_heads)
        self.shift_range = _checks.non_negative_int("shift_range", shift_range, below=self.memory_size)
        self.controller = LSTMCell(units, name="controller")
        # Per head: key, strength, gate, shift distribution, sharpening; a write head adds erase and add vectors.
        self._addressing = memory_width + 3 + 2 * shift_range + 1
        self.head_parameters = keras.layers.Dense(
            (read_heads + write_heads) * self._addressing + write_heads * 2 * memory_width, name="head_parameters")
        self.output_layer = keras.layers.Dense(output_dim, name="output_layer")

    @property
    def state_size(self):
        heads = self.read_heads + self.write_heads
        return [self.units, self.units, self.memory_size * self.memory_width, self.read_heads * self.memory_width,
                heads * self.memory_size]

    @property
    def output_size(self):
        return self.output_dim

    def build(self, input_shape):
        if len(input_shape) != 2 or input_shape[-1] is None:
            raise ValueError(f"NTMCell expects inputs of shape [batch, features] per step with a known feature "
                             f"size, got {tuple(input_shape)}.")
        self.controller.build((input_shape[0], input_shape[-1] + self.read_heads * self.memory_width))
        self.head_parameters.build((input_shape[0], self.units))
        self.output_layer.build((input_shape[0], self.units + self.read_heads * self.memory_width))

    def get_initial_state(self, batch_size=None):
        dtype = self.compute_dtype
        heads = self.read_heads + self.write_heads
        first_row = ops.tile(ops.cast(ops.arange(self.memory_size) == 0, dtype)[None], (batch_size, heads))
        return [ops.zeros((batch_size, self.units), dtype), ops.zeros((batch_size, self.units), dtype),
                ops.full((batch_size, self.memory_size * self.memory_width), _EPSILON, dtype),
                ops.zeros((batch_size, self.read_heads * self.memory_width), dtype), first_row]

    def _head(self, parameters, memory, previous):
        width, reach = self.memory_width, self.shift_range
        key = ops.tanh(parameters[:, :width])
        strength = ops.softplus(parameters[:, width:width + 1])
        gate = ops.sigmoid(parameters[:, width + 1:width + 2])
        shift = ops.softmax(parameters[:, width + 2:width + 3 + 2 * reach], axis=-1)
        sharpening = 1.0 + ops.softplus(parameters[:, width + 3 + 2 * reach:width + 4 + 2 * reach])
        return address(memory, previous, key, strength, gate, shift, sharpening)

    def call(self, inputs, states, training=False):
        h, c, memory, reads, weightings = states
        n, width = self.memory_size, self.memory_width
        output, (h, c) = self.controller(ops.concatenate([inputs, reads], axis=-1), [h, c], training=training)
        parameters = self.head_parameters(output)
        memory = ops.reshape(memory, (-1, n, width))
        # Addressing in float32: sharpening powers of small weights underflow in float16.
        memory32, parameters32 = ops.cast(memory, "float32"), ops.cast(parameters, "float32")
        weightings32 = ops.cast(weightings, "float32")
        new_weightings, new_reads = [], []
        for i in range(self.read_heads + self.write_heads):
            head = parameters32[:, i * self._addressing:(i + 1) * self._addressing]
            new_weightings.append(self._head(head, memory32, weightings32[:, i * n:(i + 1) * n]))
        for w in new_weightings[:self.read_heads]:  # Reads see the memory before this step's writes.
            new_reads.append(ops.sum(ops.expand_dims(w, -1) * memory32, axis=1))
        vectors = parameters32[:, (self.read_heads + self.write_heads) * self._addressing:]
        for i, w in enumerate(new_weightings[self.read_heads:]):
            erase = ops.sigmoid(vectors[:, 2 * i * width:(2 * i + 1) * width])
            add = ops.tanh(vectors[:, (2 * i + 1) * width:(2 * i + 2) * width])
            w = ops.expand_dims(w, -1)
            memory32 = memory32 * (1.0 - w * ops.expand_dims(erase, 1)) + w * ops.expand_dims(add, 1)
        dtype = inputs.dtype
        reads = ops.cast(ops.concatenate(new_reads, axis=-1), dtype)
        outputs = self.output_layer(ops.concatenate([output, reads], axis=-1))
        memory = ops.cast(ops.reshape(memory32, (-1, n * width)), dtype)
        weightings = ops.cast(ops.concatenate(new_weightings, axis=-1), dtype)
        return outputs, [h, c, memory, reads, weightings]

    def get_config(self):
        return {**super().get_config(), "units": self.units, "output_dim": self.output_dim,
                "memory_size": self.memory_size, "memory_width": self.memory_width, "read_heads": self.read_heads,
                "write_heads": self.write_heads, "shift_range": self.shift_range}
