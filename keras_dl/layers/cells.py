"""Recurrent cells for `keras.layers.RNN`: Elman/IRNN, LSTM variants, GRU, leaky integrators.

Every cell follows the Keras 3 cell contract (`state_size`, `output_size`,
`call(inputs, states, training)`, `get_initial_state`), so it works inside
`keras.layers.RNN`, `Bidirectional` and `StackedRNNCells`, with masking. Gate layouts
match Keras' own cells (LSTM `[i, f, c, o]`, GRU `[z, r, h]`), so weights move between them.
"""

import math

import keras
import numpy as np
from keras import ops

# DropoutRNNCell is Keras' own variational-dropout mixin (one mask per sequence); it is
# not exported under keras.layers, so it is imported from its module.
from keras.src.layers.rnn.dropout_rnn_cell import DropoutRNNCell

from keras_dl import _checks
from keras_dl.sparsity.pruning import PrunableWeight


def state_sizes(cell):
    """The state widths of any Keras RNN cell, as a list (`state_size` may be an int or a list)."""
    return list(cell.state_size) if isinstance(cell.state_size, (list, tuple)) else [cell.state_size]


def _register(cls):
    return keras.saving.register_keras_serializable(package="keras_dl")(cls)


@_register
class UnitInterval(keras.constraints.Constraint):
    """Clips weights into `[min_value, 1]` (leak rates `1 / tau` of leaky units)."""

    def __init__(self, min_value=1e-3):
        self.min_value = float(min_value)

    def __call__(self, w):
        return ops.clip(w, self.min_value, 1.0)

    def get_config(self):
        return {"min_value": self.min_value}


class RecurrentCell(DropoutRNNCell, keras.layers.Layer):
    """Base of keras_dl's cells: units, input/recurrent kernels, bias, variational dropout.

    Subclasses set `gates` (how many `units`-wide blocks the kernels hold) and
    implement `step(x, states)`, where `x` is the input after dropout.
    """

    gates = 1

    def __init__(self, units, use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros", kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, dropout=0.0, recurrent_dropout=0.0, seed=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.units = _checks.positive_int("units", units)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.recurrent_initializer = keras.initializers.get(recurrent_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_constraint = keras.constraints.get(kernel_constraint)
        self.recurrent_constraint = keras.constraints.get(recurrent_constraint)
        self.bias_constraint = keras.constraints.get(bias_constraint)
        self.dropout = _checks.non_negative_float("dropout", dropout, below=1.0)
        self.recurrent_dropout = _checks.non_negative_float("recurrent_dropout", recurrent_dropout, below=1.0)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed=seed)

    @property
    def state_size(self):
        return self.units

    @property
    def output_size(self):
        return self.units

    def build(self, input_shape):
        if len(input_shape) != 2 or input_shape[-1] is None:
            raise ValueError(
                f"{type(self).__name__} expects inputs of shape [batch, features] per step with a known "
                f"feature size, got {tuple(input_shape)}."
            )
        width = self.gates * self.units
        self.kernel = self.add_weight(shape=(input_shape[-1], width), initializer=self.kernel_initializer,
                                      constraint=self.kernel_constraint, name="kernel")
        self.build_recurrent()
        self.bias = self.add_weight(shape=self.bias_shape(), initializer=self.initial_bias,
                                    constraint=self.bias_constraint, name="bias") if self.use_bias else None

    def build_recurrent(self):
        """Creates the recurrent weights; cells with a parameterised recurrence override it."""
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, self.gates * self.units), initializer=self.recurrent_initializer,
            constraint=self.recurrent_constraint, name="recurrent_kernel",
        )

    def prunable_weights(self):
        """The input and recurrent matrices, pruned gate by gate (see `keras_dl.sparsity`)."""
        return [PrunableWeight("kernel", "kernel_constraint", self.gates),
                PrunableWeight("recurrent_kernel", "recurrent_constraint", self.gates, recurrent=True)]

    def bias_shape(self):
        return (self.gates * self.units,)

    # Initial values go through initializers, never through `assign` in `build`: a
    # subclassed model may build its layers in a stateless scope that drops assignments.
    def initial_bias(self, shape, dtype=None):
        return self.bias_initializer(shape, dtype)

    def call(self, inputs, states, training=False):
        states = list(states) if isinstance(states, (list, tuple)) else [states]
        sizes = state_sizes(self)
        if len(states) != len(sizes) or any(s.shape[-1] not in (None, n) for s, n in zip(states, sizes)):
            raise ValueError(
                f"`states` of {type(self).__name__} must be {len(sizes)} tensor(s) of widths {sizes}, got shapes "
                f"{[tuple(s.shape) for s in states]}."
            )
        if training and self.dropout > 0:
            inputs = inputs * self.get_dropout_mask(inputs)
        if training and self.recurrent_dropout > 0:
            states[0] = states[0] * self.get_recurrent_dropout_mask(states[0])
        return self.step(inputs, states)

    def get_initial_state(self, batch_size=None):
        return [ops.zeros((batch_size, size), dtype=self.compute_dtype) for size in state_sizes(self)]

    def get_config(self):
        config = super().get_config()
        config.update(
            units=self.units,
            use_bias=self.use_bias,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            recurrent_initializer=keras.initializers.serialize(self.recurrent_initializer),
            bias_initializer=keras.initializers.serialize(self.bias_initializer),
            kernel_constraint=keras.constraints.serialize(self.kernel_constraint),
            recurrent_constraint=keras.constraints.serialize(self.recurrent_constraint),
            bias_constraint=keras.constraints.serialize(self.bias_constraint),
            dropout=self.dropout,
            recurrent_dropout=self.recurrent_dropout,
            seed=self.seed,
        )
        return config


@_register
class ElmanCell(RecurrentCell):
    """Simple (Elman) recurrence `h_t = f(x_t W + h_{t-1} U + b)`.

    With `irnn=True` it is the IRNN of Le, Jaitly & Hinton (2015): ReLU units, identity
    recurrent initialisation and input weights from N(0, 0.001), which keeps the
    through-time Jacobian close to the identity at the start of training.

    Args:
        units: state size.
        activation: `f`; `"tanh"` by default, `"relu"` with `irnn=True`.
        irnn: IRNN defaults for activation and initialisers (explicit arguments win).
        **kwargs: see `RecurrentCell` (initialisers, dropout, seed, ...).

    Call arguments:
        inputs: `[batch, features]`.
        states: `[h]`, each `[batch, units]`.
        training: applies dropout when True.

    Example:
    >>> rnn = keras.layers.RNN(ElmanCell(128, irnn=True), return_sequences=True)
    """

    def __init__(self, units, activation=None, irnn=False, **kwargs):
        self.irnn = bool(irnn)
        if self.irnn:
            kwargs.setdefault("recurrent_initializer", "identity")
            kwargs.setdefault("kernel_initializer", keras.initializers.RandomNormal(stddev=1e-3))
        super().__init__(units, **kwargs)
        self.activation = keras.activations.get(activation or ("relu" if self.irnn else "tanh"))

    def step(self, x, states):
        h = self.activation(ops.matmul(x, self.kernel) + ops.matmul(states[0], self.recurrent_kernel)
                            + (self.bias if self.use_bias else 0.0))
        return h, [h]

    def get_config(self):
        config = super().get_config()
        config.update(activation=keras.activations.serialize(self.activation), irnn=self.irnn)
        return config


@_register
class LSTMCell(RecurrentCell):
    """LSTM cell (Hochreiter & Schmidhuber 1997; forget gate of Gers et al. 2000) with options.

    Gates `[i, f, c, o]` as in `keras.layers.LSTMCell`:
    `c_t = f * c_{t-1} + i * tanh(g)`, `h_t = o * tanh(c_t)`.

    Args:
        units: state size.
        forget_bias: initial forget-gate bias (1.0 keeps memory at the start, Jozefowicz et al. 2015).
        peepholes: gates see the cell (Gers & Schmidhuber 2000): `i` and `f` see `c_{t-1}`,
            `o` sees `c_t`, through per-unit (diagonal) weights.
        layer_norm: layer normalisation (Ba et al. 2016) of `x W` and of `h U` over all
            gates, and of `c_t` before the output `tanh` (the carried `c_t` is not normalised).
        coupled: coupled input-forget gate (CIFG, Greff et al. 2017): `i = 1 - f`, so the
            kernels hold three gates `[f, c, o]`.
        **kwargs: see `RecurrentCell`.

    Call arguments:
        inputs: `[batch, features]`.
        states: `[h, c]`, each `[batch, units]`.
        training: applies dropout when True.

    Example:
    >>> rnn = keras.layers.RNN(LSTMCell(256, peepholes=True, layer_norm=True))
    """

    def __init__(self, units, forget_bias=1.0, peepholes=False, layer_norm=False, coupled=False, **kwargs):
        super().__init__(units, **kwargs)
        self.forget_bias = float(forget_bias)
        self.peepholes = bool(peepholes)
        self.layer_norm = bool(layer_norm)
        self.coupled = bool(coupled)
        self.gates = 3 if self.coupled else 4
        if self.layer_norm:
            # Sublayers take the cell's dtype policy (float64, mixed precision) explicitly.
            self.kernel_norm = keras.layers.LayerNormalization(name="kernel_norm", dtype=self.dtype_policy)
            self.recurrent_norm = keras.layers.LayerNormalization(name="recurrent_norm", dtype=self.dtype_policy)
            self.state_norm = keras.layers.LayerNormalization(name="state_norm", dtype=self.dtype_policy)

    @property
    def state_size(self):
        return [self.units, self.units]

    def initial_bias(self, shape, dtype=None):
        forget = np.zeros(shape, np.float32)
        forget[slice(0, self.units) if self.coupled else slice(self.units, 2 * self.units)] = self.forget_bias
        return self.bias_initializer(shape, dtype) + ops.convert_to_tensor(forget, dtype=dtype)

    def build(self, input_shape):
        super().build(input_shape)
        if self.peepholes:
            self.unprunable_weights = {"peephole_weights": "three per-unit (diagonal) gains, not a matrix product"}
            self.peephole_weights = self.add_weight(
                shape=(3, self.units), initializer="glorot_uniform", name="peephole_weights"
            )
        if self.layer_norm:
            for norm in (self.kernel_norm, self.recurrent_norm):
                norm.build((None, self.gates * self.units))
            self.state_norm.build((None, self.units))

    def step(self, x, states):
        h_prev, c_prev = states
        xw, hu = ops.matmul(x, self.kernel), ops.matmul(h_prev, self.recurrent_kernel)
        if self.layer_norm:
            xw, hu = self.kernel_norm(xw), self.recurrent_norm(hu)
        z = xw + hu + (self.bias if self.use_bias else 0.0)
        if self.coupled:
            zf, zg, zo = ops.split(z, 3, axis=-1)
            zi = None
        else:
            zi, zf, zg, zo = ops.split(z, 4, axis=-1)
        if self.peepholes:
            zf = zf + c_prev * self.peephole_weights[1]
            if zi is not None:
                zi = zi + c_prev * self.peephole_weights[0]
        f = ops.sigmoid(zf)
        i = 1.0 - f if self.coupled else ops.sigmoid(zi)
        c = f * c_prev + i * ops.tanh(zg)
        if self.peepholes:
            zo = zo + c * self.peephole_weights[2]
        o = ops.sigmoid(zo)
        h = o * ops.tanh(self.state_norm(c) if self.layer_norm else c)
        return h, [h, c]

    def get_config(self):
        config = super().get_config()
        config.update(forget_bias=self.forget_bias, peepholes=self.peepholes, layer_norm=self.layer_norm,
                      coupled=self.coupled)
        return config


@_register
class GRUCell(RecurrentCell):
    """GRU cell (Cho et al. 2014) in both conventions, gates `[z, r, h]` as in `keras.layers.GRUCell`.

    `h_t = z * h_{t-1} + (1 - z) * h~`, with
    `h~ = tanh(x W_h + (r * h_{t-1}) U_h + b)` when `reset_after=False` (the paper), or
    `h~ = tanh(x W_h + b_x + r * (h_{t-1} U_h + b_h))` when `reset_after=True` (cuDNN's,
    with separate input and recurrent biases, bias shape `[2, 3 * units]`).

    Args:
        units: state size.
        reset_after: which convention (see above).
        **kwargs: see `RecurrentCell`.

    Call arguments:
        inputs: `[batch, features]`.
        states: `[h]`, `[batch, units]`.
        training: applies dropout when True.

    Example:
    >>> rnn = keras.layers.RNN(GRUCell(256, reset_after=False), return_sequences=True)
    """

    gates = 3

    def __init__(self, units, reset_after=True, **kwargs):
        super().__init__(units, **kwargs)
        self.reset_after = bool(reset_after)

    def bias_shape(self):
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    @classmethod
    def sharing_weights(cls, cell):
        """A `GRUCell` that computes with another GRU cell's own variables, e.g. Keras' `GRUCell`.

        The layouts match, so nothing is copied: training either cell changes both. Step
        models for export use it: its step graph converts to fewer and faster LiteRT ops
        than Keras' cell (one SPLIT per product instead of three STRIDED_SLICEs).

        Example:
        >>> gru = keras.layers.GRU(8)
        >>> gru.build((None, None, 4))
        >>> twin = GRUCell.sharing_weights(gru.cell)
        >>> twin.kernel is gru.cell.kernel
        True
        """
        for name, default in (("activation", "tanh"), ("recurrent_activation", "sigmoid")):
            function = getattr(cell, name, getattr(keras.activations, default))
            if keras.activations.serialize(function) != default:
                raise ValueError(f"`cell` must use {name}={default!r} to share its weights with a GRUCell, got "
                                 f"{keras.activations.serialize(function)!r}.")
        twin = cls(cell.units, reset_after=cell.reset_after, use_bias=cell.use_bias, name=f"{cell.name}_shared")
        twin.kernel, twin.recurrent_kernel, twin.bias = cell.kernel, cell.recurrent_kernel, cell.bias
        twin.built = True
        return twin

    def input_kernel(self):
        """The input matrix a step multiplies by; cells with structured input connections override it."""
        return self.kernel

    def step(self, x, states):
        h_prev = states[0]
        u = self.units
        x_bias = 0.0 if not self.use_bias else self.bias[0] if self.reset_after else self.bias
        xw = ops.matmul(x, self.input_kernel()) + x_bias
        if self.reset_after:
            h_bias = self.bias[1] if self.use_bias else 0.0
            # One split per product, not three slices: LiteRT runs a sparse int8 step at 1024
            # units about 2x faster with SPLIT than with three STRIDED_SLICEs.
            xz, xr, xh = ops.split(xw, 3, axis=-1)
            hz, hr, hh = ops.split(ops.matmul(h_prev, self.recurrent_kernel) + h_bias, 3, axis=-1)
            z = ops.sigmoid(xz + hz)
            r = ops.sigmoid(xr + hr)
            candidate = ops.tanh(xh + r * hh)
        else:
            hu = ops.matmul(h_prev, self.recurrent_kernel[:, : 2 * u])
            z = ops.sigmoid(xw[:, :u] + hu[:, :u])
            r = ops.sigmoid(xw[:, u : 2 * u] + hu[:, u:])
            candidate = ops.tanh(xw[:, 2 * u :] + ops.matmul(r * h_prev, self.recurrent_kernel[:, 2 * u :]))
        h = z * h_prev + (1.0 - z) * candidate
        return h, [h]

    def get_config(self):
        config = super().get_config()
        config.update(reset_after=self.reset_after)
        return config


@_register
class CoarseFineGRUCell(GRUCell):
    """GRU cell with WaveRNN's split state: the last input reaches only the second half of the units.

    In WaveRNN (Kalchbrenner et al. 2018) a step reads `[c_{t-1}, f_{t-1}, c_t]`, the
    coarse and fine bytes of the previous 16-bit sample and the coarse byte of the current
    one. The first half of the state predicts `c_t`, so it must not see it: the input
    matrix's last row is masked to zero for those units in every gate. The second half
    sees `c_t` and predicts the fine byte `f_t`. The recurrent matrix stays full.

    Args:
        units: state size, even (coarse half first).
        **kwargs: see `GRUCell`.

    Example:
    >>> rnn = keras.layers.RNN(CoarseFineGRUCell(896), return_sequences=True)
    """

    def __init__(self, units, **kwargs):
        super().__init__(units, **kwargs)
        if self.units % 2:
            raise ValueError(f"`units` of CoarseFineGRUCell must be even (a coarse and a fine half), got {units}.")

    def build(self, input_shape):
        super().build(input_shape)
        mask = np.ones(tuple(self.kernel.shape), np.float32)
        for gate in range(3):
            mask[-1, gate * self.units : gate * self.units + self.units // 2] = 0.0
        self._input_mask = mask

    def input_kernel(self):
        return self.kernel * ops.convert_to_tensor(self._input_mask, self.compute_dtype)


@_register
class LeakyCell(RecurrentCell):
    """Leaky-integrator units: `s_t = (1 - 1/tau) s_{t-1} + (1/tau) f(x_t W + s_{t-1} U + b)`.

    Each unit has its own time constant `tau >= 1`: units with large `tau` change slowly
    and carry information over about `tau` steps (multi-timescale recurrent units,
    Jaeger et al. 2007; Mozer 1992). The leak rates `1/tau` are stored as the weight
    `leak` and can be trained (kept in `[1e-3, 1]`).

    Args:
        units: state size.
        time_constants: one `tau` for all units, or `(tau_min, tau_max)` to sample each
            unit's `tau` log-uniformly in that range at initialisation.
        learn_time_constants: train the leak rates with the other weights.
        activation: `f`.
        **kwargs: see `RecurrentCell`.

    Call arguments:
        inputs: `[batch, features]`.
        states: `[s]`, `[batch, units]`.
        training: applies dropout when True.

    Example:
    >>> rnn = keras.layers.RNN(LeakyCell(128, time_constants=(1, 100), learn_time_constants=True))
    """

    def __init__(self, units, time_constants=1.0, learn_time_constants=False, activation="tanh", **kwargs):
        super().__init__(units, **kwargs)
        bounds = tuple(time_constants) if isinstance(time_constants, (list, tuple)) else (time_constants,) * 2
        if len(bounds) != 2 or not all(isinstance(t, (int, float)) and not isinstance(t, bool) for t in bounds) \
                or not 1.0 <= bounds[0] <= bounds[1]:
            raise ValueError(
                f"`time_constants` must be a number >= 1 or a pair (tau_min, tau_max) with 1 <= tau_min <= tau_max, "
                f"got {time_constants!r}."
            )
        self.time_constants = time_constants if not isinstance(time_constants, (list, tuple)) else list(bounds)
        self._tau_bounds = tuple(float(t) for t in bounds)
        self.learn_time_constants = bool(learn_time_constants)
        self.activation = keras.activations.get(activation)

    def build(self, input_shape):
        super().build(input_shape)
        self.leak = self.add_weight(
            shape=(self.units,), initializer=self.initial_leak,
            trainable=self.learn_time_constants, constraint=UnitInterval(1e-3), name="leak",
        )

    def initial_leak(self, shape, dtype=None):
        """`1 / tau` for `tau` log-uniform in `time_constants`, drawn from Keras' seeded random ops."""
        low, high = (math.log(t) for t in self._tau_bounds)
        # With seed=None the initializer takes its seed from Python's `random`, which
        # `keras.utils.set_random_seed` seeds: reproducible either way.
        log_tau = keras.initializers.RandomUniform(low, high, seed=self.seed)(shape, "float32")
        return ops.cast(ops.exp(-log_tau), dtype)

    @property
    def tau(self):
        """Per-unit time constants, `1 / leak`."""
        return 1.0 / self.leak

    def step(self, x, states):
        s_prev = states[0]
        drive = self.activation(ops.matmul(x, self.kernel) + ops.matmul(s_prev, self.recurrent_kernel)
                                + (self.bias if self.use_bias else 0.0))
        s = (1.0 - self.leak) * s_prev + self.leak * drive
        return s, [s]

    def get_config(self):
        config = super().get_config()
        time_constants = list(self.time_constants) if isinstance(self.time_constants, list) else self.time_constants
        config.update(time_constants=time_constants, learn_time_constants=self.learn_time_constants,
                      activation=keras.activations.serialize(self.activation))
        return config


@_register
class ClockworkCell(RecurrentCell):
    """Clockwork RNN cell (Koutnik et al. 2014): modules that update only on their own ticks.

    The `units` are split into `len(periods)` equal modules. At step `t` (counted from 0)
    module `i` computes `f(x W_i + h U_i + b_i)` if `t % periods[i] == 0` and keeps its
    state otherwise, so a module of period `p` sees a gradient path `p` times shorter
    through time. Module `i` receives recurrent input only from modules `j` with
    `periods[j] >= periods[i]` (slow modules drive fast ones), as in the paper.

    The step counter is carried as a second state of width 1, so a streamed step model
    knows which modules are due.

    Args:
        units: state size, divisible by `len(periods)`.
        periods: positive int period of each module, e.g. `(1, 2, 4, 8)`.
        activation: `f`.
        **kwargs: see `RecurrentCell`.

    Call arguments:
        inputs: `[batch, features]`.
        states: `[h, t]`: `[batch, units]` and the step counter `[batch, 1]`.
        training: applies dropout when True.

    Example:
    >>> rnn = keras.layers.RNN(ClockworkCell(128, periods=(1, 2, 4, 8, 16, 32, 64, 128)))
    """

    def __init__(self, units, periods=(1, 2, 4, 8), activation="tanh", **kwargs):
        super().__init__(units, **kwargs)
        if not isinstance(periods, (list, tuple)) or not periods:
            raise ValueError(f"`periods` must be a non-empty list of positive ints, got {periods!r}.")
        self.periods = [_checks.positive_int("periods", p) for p in periods]
        if self.units % len(self.periods):
            raise ValueError(
                f"`units` ({self.units}) must be divisible by the number of `periods` ({len(self.periods)})."
            )
        self.activation = keras.activations.get(activation)
        module = self.units // len(self.periods)
        unit_periods = np.repeat(np.asarray(self.periods, np.float32), module)
        self._unit_periods = unit_periods
        # recurrent_kernel[from, to] is used only where the source is at least as slow as the target.
        self._recurrent_mask = (unit_periods[:, None] >= unit_periods[None, :]).astype(np.float32)

    @property
    def state_size(self):
        return [self.units, 1]

    def step(self, x, states):
        h_prev, t = states
        recurrent = self.recurrent_kernel * ops.convert_to_tensor(self._recurrent_mask, dtype=self.compute_dtype)
        candidate = self.activation(ops.matmul(x, self.kernel) + ops.matmul(h_prev, recurrent)
                                    + (self.bias if self.use_bias else 0.0))
        periods = ops.convert_to_tensor(self._unit_periods, dtype=self.compute_dtype)
        due = ops.cast(ops.equal(ops.mod(t, periods), 0.0), self.compute_dtype)
        h = due * candidate + (1.0 - due) * h_prev
        return h, [h, t + 1.0]

    def get_config(self):
        config = super().get_config()
        config.update(periods=list(self.periods), activation=keras.activations.serialize(self.activation))
        return config


@_register
class OrthogonalCell(RecurrentCell):
    """Recurrence through an exactly orthogonal matrix: `h_t = f(x_t W + h_{t-1} Q + b)`.

    `Q = (I + A)^-1 (I - A) D` is the scaled Cayley transform of a skew-symmetric
    `A = S - S^T` (Helfrich, Willmott & Ye 2018): whatever the optimiser does to the free
    weight `S`, `Q` stays orthogonal, every eigenvalue has modulus 1, and `h Q` neither
    shrinks nor grows the state, the linear part of the vanishing/exploding product.
    `D` is a fixed diagonal of +-1 with `negative_eigenvalues` entries -1, which lets `Q`
    reach matrices with eigenvalue -1 that the plain Cayley map cannot.

    Args:
        units: state size.
        negative_eigenvalues: number of -1 entries of `D`, in `[0, units]`.
        activation: `f`.
        **kwargs: see `RecurrentCell`; `recurrent_initializer` initialises `S` (zeros by
            default, so `Q = D` at the start).

    Call arguments:
        inputs: `[batch, features]`.
        states: `[h]`, `[batch, units]`.
        training: applies dropout when True.

    Example:
    >>> rnn = keras.layers.RNN(OrthogonalCell(128, negative_eigenvalues=32))
    """

    def __init__(self, units, negative_eigenvalues=0, activation="tanh", **kwargs):
        kwargs.setdefault("recurrent_initializer", "zeros")
        super().__init__(units, **kwargs)
        if isinstance(negative_eigenvalues, bool) or not isinstance(negative_eigenvalues, int) \
                or not 0 <= negative_eigenvalues <= self.units:
            raise ValueError(
                f"`negative_eigenvalues` must be an int in [0, units={self.units}], got {negative_eigenvalues!r}."
            )
        self.negative_eigenvalues = negative_eigenvalues
        self.activation = keras.activations.get(activation)

    unprunable_weights = {"skew": "the recurrence multiplies by Q = Cayley(skew - skew^T), which is dense whatever "
                                  "zeros skew has, so pruning skew saves nothing and only restricts Q"}

    def prunable_weights(self):
        return [PrunableWeight("kernel", "kernel_constraint", self.gates)]

    def build_recurrent(self):
        self.skew = self.add_weight(shape=(self.units, self.units), initializer=self.recurrent_initializer,
                                    constraint=self.recurrent_constraint, name="skew")
        self._sequence_q = None

    # keras.layers.RNN calls these two once per sequence, before and after its loop (they
    # exist for per-sequence dropout masks). Solving for Q there instead of at every step
    # makes training about 5x faster at 256 units; a cell stepped on its own solves per call.
    def get_recurrent_dropout_mask(self, step_input):
        if self._sequence_q is None:
            self._sequence_q = self.recurrent_matrix()
        return super().get_recurrent_dropout_mask(step_input)

    def reset_recurrent_dropout_mask(self):
        self._sequence_q = None
        super().reset_recurrent_dropout_mask()

    def recurrent_matrix(self):
        """The orthogonal matrix `Q` (a function of the weight `skew`)."""
        # Solved in the variable dtype: under mixed precision there is no float16/bfloat16 solve
        # on CPU, and half precision would lose Q's orthogonality.
        skew = ops.cast(self.skew, self.variable_dtype)
        a = skew - ops.transpose(skew)
        eye = ops.eye(self.units, dtype=self.variable_dtype)
        d = np.ones(self.units, np.float32)
        d[self.units - self.negative_eigenvalues :] = -1.0
        q = ops.solve(eye + a, eye - a) * ops.convert_to_tensor(d, dtype=self.variable_dtype)
        return ops.cast(q, self.compute_dtype)

    def step(self, x, states):
        q = self.recurrent_matrix() if self._sequence_q is None else self._sequence_q
        h = self.activation(ops.matmul(x, self.kernel) + ops.matmul(states[0], q)
                            + (self.bias if self.use_bias else 0.0))
        return h, [h]

    def get_config(self):
        config = super().get_config()
        config.update(negative_eigenvalues=self.negative_eigenvalues, activation=keras.activations.serialize(self.activation))
        return config


@_register
class DelayCell(RecurrentCell):
    """Recurrence from several delays: `h_t = f(x_t W + sum_d h_{t-d} U_d + b)`.

    Connections that skip `d - 1` steps (skip connections through time, Lin et al. 1996;
    El Hihi & Bengio 1996) give a gradient from step `t` back to step `t - T` a path of
    about `T / d` Jacobian factors instead of `T`, so it vanishes much more slowly.

    The state is a shift register of the last `max(delays)` hidden states, so the cell
    streams one step at a time and exports to TFLite like any other.

    Args:
        units: hidden size.
        delays: distinct positive ints, e.g. `(1, 8)`.
        activation: `f`.
        **kwargs: see `RecurrentCell`; the recurrent kernel stacks one `[units, units]`
            block per delay, in the order of `delays`.

    Call arguments:
        inputs: `[batch, features]`.
        states: `[buffer]`, `[batch, max(delays) * units]`: `h_{t-1}, h_{t-2}, ...` side by side.
        training: applies dropout when True.

    Example:
    >>> rnn = keras.layers.RNN(DelayCell(128, delays=(1, 10)), return_sequences=True)
    """

    def __init__(self, units, delays=(1, 2), activation="tanh", **kwargs):
        super().__init__(units, **kwargs)
        if not isinstance(delays, (list, tuple)) or not delays:
            raise ValueError(f"`delays` must be a non-empty list of distinct positive ints, got {delays!r}.")
        self.delays = [_checks.positive_int("delays", d) for d in delays]
        if len(set(self.delays)) != len(self.delays):
            raise ValueError(f"`delays` must be distinct, got {list(delays)}.")
        self.activation = keras.activations.get(activation)

    @property
    def state_size(self):
        return max(self.delays) * self.units

    def build_recurrent(self):
        self.recurrent_kernel = self.add_weight(
            shape=(len(self.delays) * self.units, self.units), initializer=self.recurrent_initializer,
            constraint=self.recurrent_constraint, name="recurrent_kernel",
        )

    def step(self, x, states):
        buffer = states[0]
        u = self.units
        delayed = ops.concatenate([buffer[:, (d - 1) * u : d * u] for d in self.delays], axis=-1)
        h = self.activation(ops.matmul(x, self.kernel) + ops.matmul(delayed, self.recurrent_kernel)
                            + (self.bias if self.use_bias else 0.0))
        return h, [ops.concatenate([h, buffer[:, : (max(self.delays) - 1) * u]], axis=-1)]

    def get_config(self):
        config = super().get_config()
        config.update(delays=list(self.delays), activation=keras.activations.serialize(self.activation))
        return config
