"""WaveNet (van den Oord et al. 2016) over mu-law codes, with its cached single-step model (Paine et al. 2016)."""

import keras
import tensorflow as tf
from keras import ops

from keras_dl import _checks
from keras_dl.decoding.queues import ConvQueues
from keras_dl.layers.causal_conv import CausalConv1D
from keras_dl.layers.causal_conv import WaveNetBlock
from keras_dl.layers.distributions import DiscretizedLogisticLikelihood

OUTPUTS = ("categorical", "logistic_mixture")
UPSAMPLINGS = ("repeat", "transposed")


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
    step from each convolution's past taps, which ring buffers of its last
    `dilation * (kernel_size - 1)` inputs keep (`queues()`), so a generated sample costs
    O(layers), not O(receptive field); see `keras_dl.decoding.generate_cached` (fast) and
    `generate_naive` (the whole window each sample), which draw the same samples.

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
        hop_length: samples per local conditioning frame.
        upsampling: how frames become one condition per sample: `"repeat"` (frame
            `t // hop_length` conditions step `t`) or `"transposed"` (a learned
            `Conv1DTranspose`, stride `hop_length`, kernel `2 * hop_length`: each step hears its
            frame and the neighbouring ones, as WaveNet vocoders upsample spectrograms).

    Call arguments:
        inputs: int `[batch, T]` codes (each position predicts the next code), or with
            conditions a dict `{"samples", "global_condition": [batch, global_condition_dim],
            "local_condition": [batch, frames, local_condition_dim]}` (frames * hop_length >= T),
            upsampled to the sample rate by `upsample_local_condition`.

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
    >>> len(generate_cached(model.step_model(), 16, model.queues(), seed=0))
    16
    """

    def __init__(self, levels=256, residual_channels=32, skip_channels=64, head_channels=64, num_layers=10,
                 dilation_cycle=10, kernel_size=2, output="categorical", num_mixtures=10, global_condition_dim=None,
                 local_condition_dim=None, hop_length=1, upsampling="repeat", **kwargs):
        super().__init__(**kwargs)
        self.levels = _checks.positive_int("levels", levels)
        if self.levels < 2:
            raise ValueError(f"`levels` must be >= 2, got {levels}.")
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
        if upsampling not in UPSAMPLINGS:
            raise ValueError(f"`upsampling` must be one of {UPSAMPLINGS}, got {upsampling!r}.")
        self.upsampling = upsampling
        self.upsampler = None
        if self.local_condition_dim is not None and upsampling == "transposed":
            self.upsampler = keras.layers.Conv1DTranspose(self.local_condition_dim, 2 * self.hop_length,
                                                          strides=self.hop_length, padding="same", name="upsampler")
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
    def conv_dilations(self):
        """The dilation of every causal convolution, in the step model's order: the input convolution's (1) first."""
        return [1] + self.dilations

    def build(self, input_shape):
        shape = input_shape["samples"] if isinstance(input_shape, dict) else input_shape
        batch = tuple(shape[:1])
        self.embedding.build(batch + (None,))
        stream = batch + (None, self.residual_channels)
        self.input_conv.build(stream)
        global_shape = batch + (self.global_condition_dim,) if self.global_condition_dim else None
        local_shape = batch + (None, self.local_condition_dim) if self.local_condition_dim else None
        if self.upsampler is not None and not self.upsampler.built:  # `upsample_local_condition` may have built it
            self.upsampler.build(local_shape)
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
            local_condition = self.upsample_local_condition(local_condition, ops.shape(samples)[1])
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

    def upsample_local_condition(self, local_condition, length):
        """Frames `[batch, frames, local_condition_dim]` -> one condition per sample `[batch, length, dim]`.

        What `call` does to its local condition; `step` (and `generate_cached`) take these rows one
        sample at a time. `frames * hop_length` must be at least `length`."""
        frames, dim = local_condition.shape[1], local_condition.shape[-1]
        if dim != self.local_condition_dim:
            raise ValueError(f"`local_condition` must have {self.local_condition_dim} channels (`local_condition_dim`), "
                             f"got shape {tuple(local_condition.shape)}.")
        if frames is not None and isinstance(length, int) and frames * self.hop_length < length:
            raise ValueError(f"`local_condition` has {frames} frames of {self.hop_length} samples (`hop_length`): too "
                             f"few for {length} samples; frames * hop_length must be >= the length.")
        if self.upsampler is None:
            upsampled = ops.repeat(local_condition, self.hop_length, axis=1)
        else:
            upsampled = self.upsampler(local_condition)
        return upsampled[:, :length]

    def step(self, sample, taps, global_condition=None, local_condition=None):
        """One step of `call`: `sample` int `[batch]`, `taps` float `[batch, convolutions, kernel_size - 1,
        residual_channels]` (each convolution's past inputs, `conv_dilations` order, as `queues()` keeps
        them) and the conditions at this step (`local_condition` `[batch, local_condition_dim]`, this sample's
        row of `upsample_local_condition`). Returns `(logits [batch, levels], pushed [batch, convolutions,
        residual_channels])`, each convolution's input at this step, for `ConvQueues.push`."""
        x = self.embedding(sample)
        pushed = [x]
        x = self.input_conv.step(x, taps[:, 0])
        skips = 0
        for i, block in enumerate(self.blocks, 1):
            pushed.append(x)
            residual, skip = block.step(x, taps[:, i], global_condition, local_condition)
            x = residual if residual is not None else x
            skips = skips + skip
        return self._head(skips), ops.stack(pushed, axis=1)

    def queues(self, batch_size=1):
        """Zero ring buffers of every convolution's past inputs (the state before the first sample) for `step`."""
        return ConvQueues(self.conv_dilations, self.kernel_size, self.residual_channels, batch_size)

    def step_model(self, batch_size=1):
        """Functional single-step model sharing this model's weights, for fast generation and LiteRT.

        Inputs `{"sample": int32[batch] (the previous code), "taps": float32 [batch,
        num_layers + 1, kernel_size - 1, residual_channels]}` (and `"global_condition"`,
        `"local_condition"` `[batch, dim]` where the model has them); outputs `{"logits":
        [batch, levels], "pushed": [batch, num_layers + 1, residual_channels]}`. The queues
        live outside the model (`queues()`, a `keras_dl.decoding.ConvQueues`): each step reads
        `kernel_size - 1` rows per convolution and writes one, so a step's cost and its inputs'
        size do not grow with the receptive field. Fed `queues.taps()` and pushing `"pushed"`
        back, it gives `call`'s outputs one step at a time (`keras_dl.decoding.generate_cached`).
        """
        if not self.built:
            self.build((None, None))
        inputs = {"sample": keras.Input((), batch_size=batch_size, dtype="int32", name="sample"),
                  "taps": keras.Input((self.num_layers + 1, self.kernel_size - 1, self.residual_channels),
                                      batch_size=batch_size, name="taps")}
        for name, dim in (("global_condition", self.global_condition_dim),
                          ("local_condition", self.local_condition_dim)):
            if dim is not None:
                inputs[name] = keras.Input((dim,), batch_size=batch_size, name=name)
        outputs = _WaveNetStep(self, name=f"{self.name}_step_layer")(inputs)
        # Keras' export passes a dict input as a list in sorted key order: build it in that order.
        return keras.Model(dict(sorted(inputs.items())), outputs, name=f"{self.name}_step")

    def get_config(self):
        config = super().get_config()
        config.update(levels=self.levels, residual_channels=self.residual_channels, skip_channels=self.skip_channels,
                      head_channels=self.head_channels, num_layers=self.num_layers,
                      dilation_cycle=self.dilation_cycle, kernel_size=self.kernel_size, output=self.output_type,
                      num_mixtures=self.num_mixtures, global_condition_dim=self.global_condition_dim,
                      local_condition_dim=self.local_condition_dim, hop_length=self.hop_length,
                      upsampling=self.upsampling)
        return config


class _WaveNetStep(keras.layers.Layer):
    """`WaveNet.step` as a layer, so the step model is a functional model with its inputs named."""

    def __init__(self, wavenet, **kwargs):
        super().__init__(**kwargs)
        # The model itself stays untracked: exporting would also trace its default signature, which Keras
        # guesses as float inputs. Its layers are tracked, so the step model holds (and exports) the weights.
        object.__setattr__(self, "_wavenet", wavenet)
        self.parts = [wavenet.embedding, wavenet.input_conv, *wavenet.blocks, wavenet.head, wavenet.output_dense]

    def call(self, inputs):
        logits, pushed = self._wavenet.step(inputs["sample"], inputs["taps"], inputs.get("global_condition"),
                                            inputs.get("local_condition"))
        return {"logits": logits, "pushed": pushed}
