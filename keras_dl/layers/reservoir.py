"""Echo-state reservoir: a fixed random recurrence whose dynamics are set, not learned."""

import keras
import numpy as np
from keras import ops

from keras_dl import _checks
from keras_dl.layers.cells import RecurrentCell


def spectral_radius(matrix):
    """Largest absolute eigenvalue of a square matrix."""
    matrix = np.asarray(matrix, np.float64)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"`matrix` must be square, got shape {matrix.shape}.")
    return float(np.max(np.abs(np.linalg.eigvals(matrix))))


@keras.saving.register_keras_serializable(package="keras_dl")
class EchoStateCell(RecurrentCell):
    """Leaky echo-state reservoir cell (Jaeger 2001; Lukosevicius 2012, "A practical guide").

    `h_t = (1 - a) h_{t-1} + a tanh(x_t W_in + h_{t-1} W + b)`, where `W` is a fixed sparse
    random matrix scaled so its spectral radius (largest |eigenvalue|) is `spectral_radius`,
    `W_in` is uniform in `[-input_scaling, input_scaling]` and `b` uniform in
    `[-bias_scaling, bias_scaling]`. No weight is trainable: only a readout on top of the
    states is fitted, in closed form (see `EchoStateNetwork.fit_readout`).

    Args:
        units: reservoir size.
        spectral_radius: target spectral radius of `W`, > 0 (below 1 gives the echo-state
            property for most inputs).
        leak_rate: `a`, in (0, 1].
        input_scaling: range of the input weights, > 0.
        bias_scaling: range of the bias, >= 0.
        connectivity: fraction of non-zero entries of `W`, in (0, 1].
        seed: seed of the random weights.

    Call arguments:
        inputs: `[batch, features]`.
        states: `[h]`, `[batch, units]`.

    Example:
    >>> x = np.zeros((2, 10, 3), "float32")
    >>> states = keras.layers.RNN(EchoStateCell(50, spectral_radius=0.95), return_sequences=True)(x)
    >>> states.shape
    TensorShape([2, 10, 50])
    """

    def __init__(self, units, spectral_radius=0.9, leak_rate=1.0, input_scaling=1.0, bias_scaling=0.0,
                 connectivity=0.1, seed=None, **kwargs):
        for name in ("use_bias", "kernel_initializer", "recurrent_initializer", "bias_initializer"):
            kwargs.pop(name, None)  # Fixed by the reservoir's own construction (get_config round trip).
        super().__init__(units, seed=seed, **kwargs)
        if not spectral_radius > 0:
            raise ValueError(f"`spectral_radius` must be > 0, got {spectral_radius!r}.")
        if not 0 < leak_rate <= 1:
            raise ValueError(f"`leak_rate` must be in (0, 1], got {leak_rate!r}.")
        if not input_scaling > 0:
            raise ValueError(f"`input_scaling` must be > 0, got {input_scaling!r}.")
        if not 0 < connectivity <= 1:
            raise ValueError(f"`connectivity` must be in (0, 1], got {connectivity!r}.")
        self.spectral_radius = float(spectral_radius)
        self.leak_rate = float(leak_rate)
        self.input_scaling = float(input_scaling)
        self.bias_scaling = _checks.non_negative_float("bias_scaling", bias_scaling)
        self.connectivity = float(connectivity)

    def build(self, input_shape):
        # Keras' seeded random ops: `seed`, or with seed=None one drawn from Python's `random`,
        # which `keras.utils.set_random_seed` seeds. A local generator, so it adds no weight.
        seeds = keras.random.SeedGenerator(self.seed)

        def uniform(shape, low, high):
            return ops.convert_to_numpy(keras.random.uniform(shape, low, high, dtype="float64", seed=seeds))

        square = (self.units, self.units)
        reservoir = uniform(square, -1.0, 1.0) * (uniform(square, 0.0, 1.0) < self.connectivity)
        radius = spectral_radius(reservoir)
        if radius == 0:
            raise ValueError(f"`connectivity`={self.connectivity} left the {self.units}-unit reservoir without cycles; raise it.")
        # Through initializers, not assign (see RecurrentCell.initial_bias); they are left out of get_config.
        self.recurrent_initializer = keras.initializers.Constant(reservoir * (self.spectral_radius / radius))
        self.kernel_initializer = keras.initializers.Constant(
            uniform((input_shape[-1], self.units), -self.input_scaling, self.input_scaling))
        self.bias_initializer = keras.initializers.Constant(uniform((self.units,), -self.bias_scaling, self.bias_scaling))
        super().build(input_shape)
        for weight in (self.kernel, self.recurrent_kernel, self.bias):
            weight.trainable = False

    def step(self, x, states):
        h_prev = states[0]
        drive = ops.tanh(ops.matmul(x, self.kernel) + ops.matmul(h_prev, self.recurrent_kernel) + self.bias)
        h = (1.0 - self.leak_rate) * h_prev + self.leak_rate * drive
        return h, [h]

    def get_config(self):
        config = super().get_config()
        for name in ("use_bias", "kernel_initializer", "recurrent_initializer", "bias_initializer"):
            config.pop(name)
        config.update(spectral_radius=self.spectral_radius, leak_rate=self.leak_rate, input_scaling=self.input_scaling,
                      bias_scaling=self.bias_scaling, connectivity=self.connectivity)
        return config
