"""WaveNet (van den Oord et al. 2016) over mu-law codes, with its cached single-step model (Paine et al. 2016)."""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from keras_dl import _checks
from keras_dl.layers.causal_conv import CausalConv1D
from keras_dl.layers.causal_conv import WaveNetBlock
from keras_dl.layers.distributions import DiscretizedLogisticLikelihood

OUTPUTS = ("categorical", "logistic_mixture")


@keras.saving.register_keras_serializable(package="keras_dl")
class WaveNet(keras.Model):
    """WaveNet: a stack of gated, dilated causal convolutions predicting each next mu-law sample.

    A sample code (`mu_law_encode`, 256 levels) is embedded (an embedding is a one-hot times
    a matrix), passed through a causal convolution and `num_layers` `WaveNetBlock`s whose
    dilations cycle through `1, 2, 4, ..., 2 ** (dilation_cycle - 1)`. Their skip outputs
    are summed, then ReLU -> 1x1 -> ReLU -> 1x1 gives the output at each step: 256 logits
    (`output="categorical"`), or a discretised mixture of logistics (`"logistic_mixture"`,
    PixelCNN++'s `DiscretizedLogisticLikelihood` over the codes, TFP), returned as the
    log-probabilities of the 256 levels so that both outputs train with
    `SparseCategoricalCrossentropy(from_logits=True)`, report bits per sample with
    `keras_dl.metrics.BitsPerCharacter` and sample the same way.

    Output `t` depends on inputs `t - receptive_field + 1 .. t` only. `step_model()` runs one
    step from queues of each convolution's past inputs (`dilation * (kernel_size - 1)` each),
    so a generated sample costs O(layers), not O(receptive field); see
    `keras_dl.decoding.generate_cached` (fast) and `generate_naive` (the whole window each
    sample), which draw the same samples.

    Args:
        levels: number of sample codes (256 for mu = 255).
        residual_channels: channels of the residual stream (the embedding's width).
        skip_channels: channels of each block's skip output.
        head_channels: width of the 1x1 layer between the skip sum and the output.
        num_layers: number of `WaveNetBlock`s.
        dilation_cycle: dilations are `2 ** (i % dilation_cycle)` for block `i`.
        kernel_size: taps of every causal convolution (WaveNet: 2).
        output: `"categorical"` or `"logistic_mixture"`.
        num_mixtures: logistics in the mixture for `output="logistic_mixture"`.
        global_condition_dim: width of a global conditioning vector, if any.
        local_condition_dim: width of local conditioning frames, if any.
        hop_length: samples per local conditioning frame (frames are upsampled by repetition).

    Call arguments:
        inputs: int `[batch, T]` codes (each position predicts the next code), or with
            conditions a dict `{"samples", "global_condition": [batch, global_condition_dim],
            "local_condition": [batch, frames, local_condition_dim]}`; frame `t // hop_length`
            conditions step `t` (frames * hop_length >= T).

    Returns from a call float `[batch, T, levels]` logits of each next code.

    Example:
    >>> from keras_dl.data import mu_law_dataset, sum_of_sines
    >>> from keras_dl.decoding import generate_cached
    >>> from keras_dl.metrics import BitsPerCharacter
    >>> model = WaveNet(residual_channels=8, skip_channels=8, head_channels=8, num_layers=4, dilation_cycle=4)
    >>> model.receptive_field
    17
    >>> model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    ...               metrics=[BitsPerCharacter(name="bits_per_sample")])
    >>> history = model.fit(mu_law_dataset(sum_of_sines(64, 65), 16), steps_per_epoch=2, verbose=0)
    >>> len(generate_cached(model.step_model(), 16, seed=0))
    16
    """

    def __init__(self, levels=256, residual_channels=32, skip_channels=64, head_channels=64, num_layers=10,
                 dilation_cycle=10, kernel_size=2, output="categorical", num_mixtures=10, global_condition_dim=None,
                 local_condition_dim=None, hop_length=1, **kwargs):
        super().__init__(**kwargs)
        self.levels = _checks.positive_int("levels", levels)
        self.residual_channels = _checks.positive_int("residual_channels", residual_channels)
        self.skip_channels = _checks.positive_int("skip_channels", skip_channels)
        self.head_channels = _checks.positive_int("head_channels", head_channels)
        self.num_layers = _checks.positive_int("num_layers", num_layers)
        self.dilation_cycle = _checks.positive_int("dilation_cycle", dilation_cycle)
        self.kernel_size = _checks.positive_int("kernel_size", kernel_size)
        if self.kernel_size < 2:
            raise ValueError(f"`kernel_size` must be >= 2 (a kernel of 1 sees no past), got {kernel_size}.")
        if output not in OUTPUTS:
            raise ValueError(f"`output` must be one of {OUTPUTS}, got {output!r}.")
        self.output_type = output
        self.num_mixtures = _checks.positive_int("num_mixtures", num_mixtures)
        self.global_condition_dim = None if global_condition_dim is None else _checks.positive_int(
            "global_condition_dim", global_condition_dim)
        self.local_condition_dim = None if local_condition_dim is None else _checks.positive_int(
            "local_condition_dim", local_condition_dim)
        self.hop_length = _checks.positive_int("hop_length", hop_length)
        self.dilations = [2 ** (i % self.dilation_cycle) for i in range(self.num_layers)]
        self.embedding = keras.layers.Embedding(self.levels, residual_channels, name="embedding")
        self.input_conv = CausalConv1D(residual_channels, kernel_size, name="input_conv")
        self.blocks = [WaveNetBlock(residual_channels, skip_channels, dilation, kernel_size,
                                    residual=i < self.num_layers - 1, name=f"block_{i}")
                       for i, dilation in enumerate(self.dilations)]
        self.head = keras.layers.Dense(head_channels, activation="relu", name="head")
        if self.output_type == "categorical":
            self.likelihood = None
            self.output_dense = keras.layers.Dense(self.levels, name="logits")
        else:
            self.likelihood = DiscretizedLogisticLikelihood(self.levels, self.num_mixtures)
            self.output_dense = keras.layers.Dense(3 * self.num_mixtures, name="mixture")

    @property
    def receptive_field(self):
        """How many inputs each output reads: `(kernel_size - 1) * (1 + sum(dilations)) + 1`."""
        return (self.kernel_size - 1) * (1 + sum(self.dilations)) + 1

    @property
    def queue_names(self):
        """Names of the step model's queue states, one per convolution, input convolution first."""
        return [f"queue_{i:02d}" for i in range(self.num_layers + 1)]

    def _conv_layers(self):
        return [self.input_conv] + [block.conv for block in self.blocks]

    def build(self, input_shape):
        shape = input_shape["samples"] if isinstance(input_shape, dict) else input_shape
        batch = tuple(shape[:1])
        self.embedding.build(batch + (None,))
        stream = batch + (None, self.residual_channels)
        self.input_conv.build(stream)
        global_shape = batch + (self.global_condition_dim,) if self.global_condition_dim else None
        local_shape = batch + (None, self.local_condition_dim) if self.local_condition_dim else None
        for block in self.blocks:
            block.build(stream, global_condition_shape=global_shape, local_condition_shape=local_shape)
        self.head.build(batch + (None, self.skip_channels))
        self.output_dense.build(batch + (None, self.head_channels))
        super().build(input_shape)

    def _split_inputs(self, inputs):
        conditions = {}
        if isinstance(inputs, dict):
            unknown = set(inputs) - {"samples", "global_condition", "local_condition"}
            if "samples" not in inputs or unknown:
                raise ValueError(f"`inputs` as a dict must hold 'samples' and the conditions "
                                 f"('global_condition', 'local_condition'), got keys {sorted(inputs)}.")
            conditions = {k: v for k, v in inputs.items() if k != "samples"}
            inputs = inputs["samples"]
        for name, dim in (("global_condition", self.global_condition_dim),
                          ("local_condition", self.local_condition_dim)):
            if (name in conditions) != (dim is not None):
                raise ValueError(f"`inputs[{name!r}]` is needed for, and only for, a WaveNet with `{name}_dim` set "
                                 f"(it is {dim}); got keys {sorted(conditions) or 'none'}.")
        return inputs, conditions.get("global_condition"), conditions.get("local_condition")

    def _head(self, skips):
        params = self.output_dense(self.head(ops.relu(skips)))
        if self.likelihood is None:
            return params
        return ops.cast(self._level_log_probs(params), self.compute_dtype)

    def _level_log_probs(self, params):
        """log P(code) of every code under the mixture whose parameters are `params` (`[..., 3 * mixtures]`)."""
        # The likelihood's per-value distribution; batch shape [..., 1] (one channel).
        distribution = self.likelihood._pointwise(tf.cast(params, tf.float32))
        rank = len(params.shape)
        codes = tf.reshape(tf.range(self.levels, dtype=tf.float32), [self.levels] + [1] * rank)
        log_probs = distribution.log_prob(codes)[..., 0]  # [levels, ...]
        return tf.transpose(log_probs, list(range(1, rank)) + [0])

    def call(self, inputs, training=False):
        samples, global_condition, local_condition = self._split_inputs(inputs)
        samples = _checks.token_ids("samples", samples)
        if local_condition is not None:
            length = ops.shape(samples)[1]
            local_condition = ops.repeat(local_condition, self.hop_length, axis=1)[:, :length]
        x = self.input_conv(self.embedding(samples))
        skips = 0
        for block in self.blocks:
            outputs = block(x, global_condition=global_condition, local_condition=local_condition)
            if block.residual:
                x, skip = outputs
            else:
                skip = outputs
            skips = skips + skip
        return self._head(skips)

    def step(self, sample, queues, global_condition=None, local_condition=None):
        """One step of `call`: `sample` int `[batch]`, `queues` a list (one per convolution, `queue_names`
        order) of `[batch, queue_length, residual_channels]`, the conditions at this step (`local_condition`
        `[batch, local_condition_dim]`, the frame of this step). Returns `(logits [batch, levels], new_queues)`."""
        x, queue = self.input_conv.step(self.embedding(sample), queues[0])
        new_queues, skips = [queue], 0
        for block, queue in zip(self.blocks, queues[1:]):
            residual, skip, queue = block.step(x, queue, global_condition, local_condition)
            x = residual if residual is not None else x
            new_queues.append(queue)
            skips = skips + skip
        return self._head(skips), new_queues

    def initial_queues(self, batch_size=1):
        """Zero queues (the state before the first sample) as a dict name -> float32 array."""
        return {name: np.zeros((batch_size, conv.queue_length, self.residual_channels), np.float32)
                for name, conv in zip(self.queue_names, self._conv_layers())}

    def step_model(self, batch_size=1):
        """Functional single-step model sharing this model's weights, for fast generation and LiteRT.

        Inputs `{"sample": int32[batch] (the previous code), "queue_00", "queue_01", ...:
        float32 [batch, dilation * (kernel_size - 1), residual_channels]}` (and
        `"global_condition"`, `"local_condition"` `[batch, dim]` where the model has them);
        outputs `{"logits": [batch, levels], "queue_..": the queues moved on by one step}`.
        Run from zero queues (`initial_queues`), it gives `call`'s outputs one step at a time.
        """
        if not self.built:
            self.build((None, None))
        inputs = {"sample": keras.Input((), batch_size=batch_size, dtype="int32", name="sample")}
        for name, dim in (("global_condition", self.global_condition_dim),
                          ("local_condition", self.local_condition_dim)):
            if dim is not None:
                inputs[name] = keras.Input((dim,), batch_size=batch_size, name=name)
        for name, conv in zip(self.queue_names, self._conv_layers()):
            inputs[name] = keras.Input((conv.queue_length, self.residual_channels), batch_size=batch_size, name=name)
        outputs = _WaveNetStep(self, name=f"{self.name}_step_layer")(inputs)
        # Keras' export passes a dict input as a list in sorted key order: build it in that order.
        return keras.Model(dict(sorted(inputs.items())), outputs, name=f"{self.name}_step")

    def get_config(self):
        config = super().get_config()
        config.update(levels=self.levels, residual_channels=self.residual_channels, skip_channels=self.skip_channels,
                      head_channels=self.head_channels, num_layers=self.num_layers,
                      dilation_cycle=self.dilation_cycle, kernel_size=self.kernel_size, output=self.output_type,
                      num_mixtures=self.num_mixtures, global_condition_dim=self.global_condition_dim,
                      local_condition_dim=self.local_condition_dim, hop_length=self.hop_length)
        return config


class _WaveNetStep(keras.layers.Layer):
    """`WaveNet.step` as a layer, so the step model is a functional model with the queues as named inputs."""

    def __init__(self, wavenet, **kwargs):
        super().__init__(**kwargs)
        # The model itself stays untracked: exporting would also trace its default signature, which Keras
        # guesses as float inputs. Its layers are tracked, so the step model holds (and exports) the weights.
        object.__setattr__(self, "_wavenet", wavenet)
        self.parts = [wavenet.embedding, wavenet.input_conv, *wavenet.blocks, wavenet.head, wavenet.output_dense]

    def call(self, inputs):
        names = self._wavenet.queue_names
        logits, new_queues = self._wavenet.step(inputs["sample"], [inputs[name] for name in names],
                                                inputs.get("global_condition"), inputs.get("local_condition"))
        return {"logits": logits, **dict(zip(names, new_queues))}
