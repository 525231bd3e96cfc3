"""Causal dilated convolutions and WaveNet's gated residual block, each with a one-step form over its past inputs.

The step forms are what fast WaveNet generation (Paine et al. 2016) caches: a layer with
kernel size `k` and dilation `d` reads its inputs `0, d, ..., (k - 1) d` steps back, so it
needs only a queue of its last `d (k - 1)` inputs, not the whole receptive field. One
generated sample then costs one step of each layer instead of a pass over the receptive field.
"""

import keras
from keras import ops

from keras_dl import _checks


@keras.saving.register_keras_serializable(package="keras_dl")
class CausalConv1D(keras.layers.Conv1D):
    """`keras.layers.Conv1D` with causal padding, plus its one-step form over a queue of past inputs.

    Output `t` reads inputs `t - (kernel_size - 1) * dilation_rate, ..., t - dilation_rate, t`
    (zeros before the start): it never sees the future. `step` computes one output from the
    current input and its `kernel_size - 1` past taps (which a ring of its last `queue_length`
    inputs, `keras_dl.decoding.ConvQueues`, keeps); fed from zero taps at the start, it gives
    the sequence form's outputs one at a time.

    Args:
        filters: number of output channels.
        kernel_size: int, taps per output.
        dilation_rate: int, steps between taps.
        **kwargs: the other arguments of `keras.layers.Conv1D` (`activation`, `use_bias`,
            initializers, regularizers, ...); `padding` can only be `"causal"`, `strides` 1,
            `groups` 1 and `data_format` `"channels_last"`.

    Call arguments:
        inputs: float `[batch, time, channels]`.

    Returns from a call float `[batch, time, filters]`.

    Example:
    >>> from keras_dl.decoding import ConvQueues
    >>> conv = CausalConv1D(4, kernel_size=2, dilation_rate=8)
    >>> x = np.random.default_rng(0).normal(size=(1, 20, 3)).astype("float32")
    >>> y = conv(x)
    >>> queues = ConvQueues([8], kernel_size=2, channels=3)   # a ring of the last 8 inputs
    >>> for t in range(20):
    ...     y_t = conv.step(x[:, t], queues.taps()[:, 0])
    ...     queues.push(x[:, t][:, None])
    >>> bool(np.allclose(y_t, y[:, -1], atol=1e-5)), conv.queue_length
    (True, 8)
    """

    def __init__(self, filters, kernel_size, dilation_rate=1, **kwargs):
        # What the step form assumes; Conv1D's config lists them, so `from_config` passes them back.
        fixed = {"padding": ("causal",), "strides": (1, (1,), [1]), "groups": (1,),
                 "data_format": ("channels_last", None)}
        for name, allowed in fixed.items():
            given = kwargs.pop(name, allowed[0])
            if given not in allowed:
                raise ValueError(f"`{name}` of a CausalConv1D must be {allowed[0]!r}, got {given!r}.")
        super().__init__(filters, kernel_size, dilation_rate=dilation_rate, padding="causal", **kwargs)

    @property
    def queue_length(self):
        """How many past inputs the step form needs kept: `dilation_rate * (kernel_size - 1)`."""
        return self.dilation_rate[0] * (self.kernel_size[0] - 1)

    def step(self, inputs, taps=None):
        """One output from the current input and the past inputs it reads.

        Args:
            inputs: float `[batch, channels]`, the input at step `t`.
            taps: float `[batch, kernel_size - 1, channels]`, the inputs at `t - (kernel_size - 1)
                * dilation_rate, ..., t - dilation_rate` (oldest first; zeros before the start), as
                `keras_dl.decoding.ConvQueues` keeps them; `None` when `kernel_size` is 1.

        Returns:
            float `[batch, filters]`, the sequence form's output at step `t`.
        """
        k = self.kernel_size[0]
        if k > 1 and taps is None:
            raise ValueError(f"`taps` of shape [batch, {k - 1}, channels] are needed: layer {self.name!r} reads "
                             f"{k - 1} past inputs.")
        window = ops.expand_dims(inputs, 1) if k == 1 else ops.concatenate([taps, ops.expand_dims(inputs, 1)], 1)
        kernel = ops.cast(self.kernel, self.compute_dtype)
        # One matrix product ([k * channels] -> filters): a FULLY_CONNECTED op on LiteRT, which its
        # int8 and sparse kernels run.
        flat = ops.reshape(window, (-1, k * kernel.shape[1]))
        outputs = ops.matmul(flat, ops.reshape(kernel, (-1, self.filters)))
        if self.use_bias:
            outputs = outputs + ops.cast(self.bias, self.compute_dtype)
        if self.activation is not None:
            outputs = self.activation(outputs)
        return outputs


@keras.saving.register_keras_serializable(package="keras_dl")
class WaveNetBlock(keras.layers.Layer):
    """WaveNet's residual block (van den Oord et al. 2016): dilated causal conv, gated tanh x sigmoid, 1x1 outputs.

    `z = tanh(W_f * x + V_f h) * sigmoid(W_g * x + V_g h)` where `*` is a causal dilated
    convolution of the block's input `x` and `h` the conditioning: a global vector (one per
    sequence, e.g. a speaker) and/or a local sequence at the sample rate (e.g. upsampled
    linguistic or spectrogram features), each projected (1x1, no bias) and added to both
    gates. `z` goes through two 1x1 convolutions: the skip output, and the residual output
    `x + W_r z`.

    Args:
        filters: residual channels (the input's channels and the residual output's).
        skip_filters: channels of the skip output.
        dilation_rate: int, the causal convolution's dilation.
        kernel_size: int, the causal convolution's taps (WaveNet: 2).
        residual: compute the residual output (the last block of a stack does without).
        kernel_initializer: initializer of every kernel.

    Call arguments:
        inputs: float `[batch, time, filters]`.
        global_condition: optional float `[batch, global_channels]`.
        local_condition: optional float `[batch, time, local_channels]`.

    Returns from a call `(residual [batch, time, filters], skip [batch, time, skip_filters])`,
    or only `skip` when `residual=False`. `step` is the same on one time step, from the
    convolution's past taps.

    Example:
    >>> block = WaveNetBlock(8, 16, dilation_rate=4)
    >>> residual, skip = block(np.zeros((2, 10, 8), "float32"), global_condition=np.ones((2, 3), "float32"))
    >>> residual.shape, skip.shape, block.queue_length
    (TensorShape([2, 10, 8]), TensorShape([2, 10, 16]), 4)
    """

    def __init__(self, filters, skip_filters, dilation_rate=1, kernel_size=2, residual=True,
                 kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.filters = _checks.positive_int("filters", filters)
        self.skip_filters = _checks.positive_int("skip_filters", skip_filters)
        self.dilation_rate = _checks.positive_int("dilation_rate", dilation_rate)
        self.kernel_size = _checks.positive_int("kernel_size", kernel_size)
        self.residual = bool(residual)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        init = dict(kernel_initializer=self.kernel_initializer)
        self.conv = CausalConv1D(2 * filters, kernel_size, dilation_rate, name="dilated_conv", **init)
        self.skip_dense = keras.layers.Dense(skip_filters, name="skip", **init)
        self.residual_dense = keras.layers.Dense(filters, name="residual", **init) if residual else None
        self.global_dense = self.local_dense = None

    @property
    def queue_length(self):
        """Past inputs the step form keeps: `dilation_rate * (kernel_size - 1)`."""
        return self.conv.queue_length

    def build(self, inputs_shape, global_condition_shape=None, local_condition_shape=None):
        if inputs_shape[-1] != self.filters:
            raise ValueError(f"`inputs` must have `filters`={self.filters} channels (the residual connection adds "
                             f"them), got shape {tuple(inputs_shape)}.")
        self.conv.build(inputs_shape)
        gated = tuple(inputs_shape[:-1]) + (self.filters,)
        self.skip_dense.build(gated)
        if self.residual_dense is not None:
            self.residual_dense.build(gated)
        # Condition projections exist once a block is built with that condition (so a saved model keeps them).
        if global_condition_shape is not None:
            self.global_dense = keras.layers.Dense(2 * self.filters, use_bias=False, name="global_condition",
                                                   kernel_initializer=self.kernel_initializer)
            self.global_dense.build(global_condition_shape)
        if local_condition_shape is not None:
            self.local_dense = keras.layers.Dense(2 * self.filters, use_bias=False, name="local_condition",
                                                  kernel_initializer=self.kernel_initializer)
            self.local_dense.build(local_condition_shape)

    def _gated(self, h, global_condition, local_condition, sequence):
        for name, condition, dense in (("global_condition", global_condition, self.global_dense),
                                       ("local_condition", local_condition, self.local_dense)):
            if condition is None:
                continue
            if dense is None:
                raise ValueError(f"`{name}` was given, but block {self.name!r} was built without it: a block's "
                                 f"conditions are fixed when it is first called.")
            projected = dense(condition)
            h = h + (ops.expand_dims(projected, 1) if sequence and name == "global_condition" else projected)
        return ops.tanh(h[..., : self.filters]) * ops.sigmoid(h[..., self.filters:])

    def _outputs(self, inputs, z):
        skip = self.skip_dense(z)
        if self.residual_dense is None:
            return None, skip
        return inputs + self.residual_dense(z), skip

    def call(self, inputs, global_condition=None, local_condition=None):
        z = self._gated(self.conv(inputs), global_condition, local_condition, sequence=True)
        residual, skip = self._outputs(inputs, z)
        return skip if residual is None else (residual, skip)

    def step(self, inputs, taps=None, global_condition=None, local_condition=None):
        """One step: `inputs` `[batch, filters]`, the convolution's past taps `[batch, kernel_size - 1, filters]`
        (see `CausalConv1D.step`) and the conditions at this step (`local_condition` `[batch, local_channels]`).
        Returns `(residual or None, skip)`."""
        h = self.conv.step(inputs, taps)
        return self._outputs(inputs, self._gated(h, global_condition, local_condition, sequence=False))

    def compute_output_shape(self, inputs_shape, global_condition_shape=None, local_condition_shape=None):
        skip = tuple(inputs_shape[:-1]) + (self.skip_filters,)
        return skip if not self.residual else (tuple(inputs_shape), skip)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "skip_filters": self.skip_filters,
                "dilation_rate": self.dilation_rate, "kernel_size": self.kernel_size, "residual": self.residual,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer)}
