"""PixelCNN: plain (masked convolutions) and gated (vertical and horizontal stacks), optionally class-conditional."""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from keras_dl import _checks
from keras_dl.decoding.pixels import sample_pixels
from keras_dl.layers.distributions import BernoulliLikelihood
from keras_dl.layers.distributions import CategoricalLikelihood
from keras_dl.layers.masked_conv import GatedPixelCNNBlock
from keras_dl.layers.masked_conv import MaskedConv2D


@keras.saving.register_keras_serializable(package="keras_dl")
class PixelCNN(keras.Model):
    """PixelCNN (van den Oord et al. 2016): `p(x) = prod_i p(x_i | x_<i)` over pixels in raster order.

    Plain (`gated=False`, "Pixel Recurrent Neural Networks"): a mask-A `first_kernel_size` convolution,
    `num_layers - 1` residual mask-B `kernel_size` convolutions (ReLU), then two mask-B 1x1 layers. Its
    receptive field has a blind spot above and right of each pixel. Gated (`gated=True`, "Conditional
    Image Generation with PixelCNN Decoders"): `num_layers` `GatedPixelCNNBlock`s (the first of type A),
    which have no blind spot, then two 1x1 layers. With several channels (RGB) the plain model masks
    channel groups (R, then G, then B) and the gated one adds a mask-A 1x1 convolution of the image to
    its logits, so that a pixel's G sees its R and B sees both.

    The output is logits of `p(x_i | x_<i)`: one Bernoulli logit per channel (`levels=2`, binarised images)
    or `levels` categorical logits per channel, channel by channel (256: 8-bit images). `fit` minimises
    the negative log-likelihood in nats per image (summed over pixels), logged as `nll` (`loss` adds any
    regularisers); data are images (also `(images, images)`, the target being ignored), and for a
    conditional model `(images, labels)` or `[images, labels]`.

    Args:
        image_shape: `(height, width, channels)` of the images.
        levels: values per channel: 2 (binary, Bernoulli logits) or more (categorical logits; 256 for
            8-bit images). Images are floats in [0, 1], read as `round(x * (levels - 1))`.
        filters: feature channels (a multiple of the image channels).
        num_layers: masked (plain) or gated layers, the first of type A.
        gated: the gated model (no blind spot) instead of the plain one.
        kernel_size: odd size of the later layers' kernels (the gated stacks' `n`).
        first_kernel_size: odd size of the first layer's kernel (7 in the papers).
        num_labels: classes to condition on (None: unconditional); a one-hot label biases every layer.

    Call arguments:
        inputs: images `[batch, height, width, channels]` in [0, 1], or `[images, labels]` (int `[batch]`)
            when conditional.

    Returns logits `[batch, height, width, channels * p]`, `p` 1 (levels 2) or `levels`.

    Example:
    >>> model = PixelCNN((6, 6, 1), levels=2, filters=8, num_layers=3, gated=True, first_kernel_size=3)
    >>> model.compile(keras.optimizers.Adam(1e-3))
    >>> images = (np.random.default_rng(0).random((8, 6, 6, 1)) > 0.5).astype("float32")
    >>> sorted(model.fit(images, epochs=1, verbose=0).history)
    ['loss', 'nll']
    >>> model.negative_log_likelihood(images).shape  # nats per image
    (8,)
    >>> model.sample(2, seed=0).shape
    (2, 6, 6, 1)
    """

    def __init__(self, image_shape, levels=2, filters=32, num_layers=6, gated=False, kernel_size=3,
                 first_kernel_size=7, num_labels=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(image_shape, (list, tuple)) or len(image_shape) != 3:
            raise ValueError(f"`image_shape` must be (height, width, channels), got {image_shape!r}.")
        self.image_shape = tuple(_checks.positive_int("image_shape", s) for s in image_shape)
        self.levels = _checks.positive_int("levels", levels)
        if self.levels < 2:
            raise ValueError(f"`levels` must be >= 2, got {levels}.")
        self.filters = _checks.positive_int("filters", filters)
        self.num_layers = _checks.positive_int("num_layers", num_layers)
        self.gated = bool(gated)
        self.kernel_size = _checks.positive_int("kernel_size", kernel_size)
        self.first_kernel_size = _checks.positive_int("first_kernel_size", first_kernel_size)
        for name, size in (("kernel_size", self.kernel_size), ("first_kernel_size", self.first_kernel_size)):
            if size % 2 == 0 or (self.gated and size < 3):
                raise ValueError(f"`{name}` must be odd{' and >= 3 (gated)' if self.gated else ''}, got {size}.")
        self.num_labels = None if num_labels is None else _checks.positive_int("num_labels", num_labels)
        channels = self.image_shape[-1]
        if self.filters % channels:
            raise ValueError(f"`filters` must be a multiple of the image's {channels} channels, got {filters}.")
        self.likelihood = BernoulliLikelihood() if self.levels == 2 else CategoricalLikelihood(self.levels)
        outputs = channels * self.likelihood.params_per_channel
        if self.gated:
            self.blocks = [GatedPixelCNNBlock(self.filters, self.first_kernel_size if i == 0 else self.kernel_size,
                                              mask_type="A" if i == 0 else "B", name=f"gated_{i}")
                           for i in range(self.num_layers)]
            self.head = [keras.layers.Conv2D(self.filters, 1, name="head_0"),
                         keras.layers.Conv2D(outputs, 1, name="head_1")]
            # The current pixel's earlier channels (R for G, R and G for B); the blocks see none of it.
            self.channel_link = (MaskedConv2D(outputs, 1, mask_type="A", channel_groups=channels, use_bias=False,
                                              name="channel_link") if channels > 1 else None)
        else:
            self.masked = [MaskedConv2D(self.filters, self.first_kernel_size if i == 0 else self.kernel_size,
                                        mask_type="A" if i == 0 else "B", channel_groups=channels, name=f"masked_{i}")
                           for i in range(self.num_layers)]
            self.head = [MaskedConv2D(self.filters, 1, channel_groups=channels, name="head_0"),
                         MaskedConv2D(outputs, 1, channel_groups=channels, name="head_1")]
            self.condition_biases = ([keras.layers.Dense(self.filters, use_bias=False, name=f"condition_{i}")
                                      for i in range(self.num_layers)] if self.num_labels else [])
        self.trackers = {name: keras.metrics.Mean(name=name) for name in ("loss", "nll")}
        # Compiled samplers, kept out of Keras' tracking (their seed generators are no weights of the model).
        object.__setattr__(self, "_samplers", {})
        # Every weight's shape follows from `image_shape`: built now, so that `fit`'s first trace creates none
        # (a first `fit` on wrong images would otherwise leave its traced function unable to build them later).
        self.build((None, *self.image_shape))

    def build(self, input_shape):
        images = ops.zeros((1, *self.image_shape))
        self.call(images if self.num_labels is None else [images, ops.zeros((1,), "int32")])
        self.built = True

    @property
    def metrics(self):
        return list(self.trackers.values())

    def make_train_function(self, force=False):
        # The optimizer's slots too are made before the first trace (see `__init__`). Done here rather than in an
        # overridden `compile`, which would keep `load_model` from compiling the model.
        if self.optimizer is not None and not self.optimizer.built:
            self.optimizer.build(self.trainable_variables)
        return super().make_train_function(force)

    def _split_inputs(self, inputs):
        if self.num_labels is None:
            if isinstance(inputs, (list, tuple)):
                raise ValueError("An unconditional PixelCNN is called on images, not a list.")
            return inputs, None
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            raise ValueError("A conditional PixelCNN (`num_labels` set) is called on [images, labels].")
        return inputs[0], inputs[1]

    def _check_images(self, images):
        if tuple(images.shape[1:]) != self.image_shape:
            raise ValueError(f"PixelCNN's images must be [batch, {', '.join(map(str, self.image_shape))}], got shape "
                             f"{tuple(images.shape)}.")

    def _values(self, images):
        """Images as the values the model reads: `round(x * (levels - 1)) / (levels - 1)`, x checked in [0, 1]."""
        x = tf.cast(images, "float32")
        message = "PixelCNN's images must be floats in [0, 1] (divide 8-bit pixels by 255)"
        with tf.control_dependencies([tf.debugging.assert_greater_equal(x, 0.0, message=message),
                                      tf.debugging.assert_less_equal(x, 1.0, message=message)]):
            rounded = tf.round(x * (self.levels - 1)) / (self.levels - 1)
            # The rounded values, with the identity's gradient: `receptive_field` differentiates through them.
            return x + tf.stop_gradient(rounded - x)

    def _one_hot(self, labels):
        labels = tf.cast(tf.reshape(labels, (-1,)), "int32")
        message = f"PixelCNN's labels must be ints in [0, {self.num_labels})"
        with tf.control_dependencies([tf.debugging.assert_non_negative(labels, message=message),
                                      tf.debugging.assert_less(labels, self.num_labels, message=message)]):
            return tf.one_hot(labels, self.num_labels, dtype=self.compute_dtype)

    def call(self, inputs):
        images, labels = self._split_inputs(inputs)
        self._check_images(images)
        x = 2.0 * ops.cast(self._values(images), self.compute_dtype) - 1.0
        condition = None if labels is None else self._one_hot(labels)
        if self.gated:
            v, h = x, x
            for block in self.blocks:
                v, h = block([v, h] if condition is None else [v, h, condition])
        else:
            h = None
            for i, conv in enumerate(self.masked):
                update = conv(x if i == 0 else ops.relu(h))
                if condition is not None:
                    update = update + self.condition_biases[i](condition)[:, None, None, :]
                h = update if i == 0 else h + update
        logits = self.head[1](ops.relu(self.head[0](ops.relu(h))))
        if self.gated and self.channel_link is not None:
            logits = logits + self.channel_link(x)
        return logits

    def log_prob(self, images, logits):
        """log p(images) in nats per image (float32 `[batch]`) given the model's `logits` for them."""
        return self.likelihood.log_prob(self._values(images), logits)

    def _split_data(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        if sample_weight is not None:
            raise ValueError("PixelCNN does not take `sample_weight`.")
        if self.num_labels is None:
            inputs, images = x, x
        elif isinstance(x, (list, tuple)):
            inputs, images = list(x), x[0]
        elif y is None:
            raise ValueError("A conditional PixelCNN trains on (images, labels): pass the labels as `y`.")
        else:
            inputs, images = [x, y], x
        # Checked here, before the first call builds any weight: a failed first trace then leaves nothing behind.
        self._check_images(images)
        return inputs, images

    def _update(self, loss, nll):
        self.trackers["loss"].update_state(loss)
        self.trackers["nll"].update_state(ops.mean(nll))
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def train_step(self, data):
        from keras_dl._layers import scale_for_replicas

        inputs, images = self._split_data(data)
        with tf.GradientTape() as tape:
            nll = -self.log_prob(images, self(inputs, training=True))
            loss = ops.mean(nll)
            if self.losses:
                loss = loss + ops.cast(ops.sum(self.losses), "float32")
            scaled = scale_for_replicas(self.optimizer, loss)
        gradients = tape.gradient(scaled, self.trainable_weights)
        self.optimizer.apply(gradients, self.trainable_weights)
        return self._update(loss, nll)

    def test_step(self, data):
        inputs, images = self._split_data(data)
        nll = -self.log_prob(images, self(inputs, training=False))
        return self._update(ops.mean(nll), nll)

    def _check_labels(self, labels, count):
        if self.num_labels is None:
            if labels is not None:
                raise ValueError("`labels` are only for a conditional PixelCNN (`num_labels` set).")
            return None
        if labels is None:
            raise ValueError("A conditional PixelCNN needs `labels`.")
        labels = np.asarray(labels)
        if labels.shape != (count,) or not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(f"`labels` must be {count} ints, got {labels.dtype} of shape {labels.shape}.")
        if labels.min() < 0 or labels.max() >= self.num_labels:
            raise ValueError(f"`labels` must be in [0, {self.num_labels}), got values {labels.min()}..{labels.max()}.")
        return labels.astype("int32")

    def negative_log_likelihood(self, images, labels=None, batch_size=256):
        """-log p(images) in nats per image (NumPy `[N]`), exact (no bound): a sum over every pixel's conditional.

        Divide by `height * width * channels * log(2)` for bits per dimension.
        """
        images = np.asarray(images, "float32")
        if images.ndim != 4 or images.shape[1:] != self.image_shape:
            raise ValueError(f"`images` must be [N, {', '.join(map(str, self.image_shape))}], got {images.shape}.")
        labels = self._check_labels(labels, len(images))
        batch_size = _checks.positive_int("batch_size", batch_size)
        values = []
        for start in range(0, len(images), batch_size):
            batch = images[start:start + batch_size]
            inputs = batch if labels is None else [batch, labels[start:start + batch_size]]
            values.append(np.asarray(-self.log_prob(batch, self(inputs))))
        return np.concatenate(values)

    def sample(self, num_samples, seed=None, labels=None, temperature=1.0):
        """Draws `num_samples` images pixel by pixel (`keras_dl.decoding.sample_pixels`), compiled with XLA.

        Args:
            num_samples: images to draw.
            seed: int; the same seed gives the same images (None: one from NumPy's global generator,
                which `keras.utils.set_random_seed` seeds).
            labels: ints `[num_samples]`, the classes of a conditional model.
            temperature: softmax temperature of each draw (0: the most probable value).

        Returns:
            NumPy float32 `[num_samples, height, width, channels]`, values `k / (levels - 1)`.
        """
        num_samples = _checks.positive_int("num_samples", num_samples)
        labels = self._check_labels(labels, num_samples)
        temperature = _checks.non_negative_float("temperature", temperature)
        seed = int(np.random.randint(0, 2 ** 31 - 1)) if seed is None else _checks.non_negative_int("seed", seed)
        key = (num_samples, temperature)
        if key not in self._samplers:
            generator = keras.random.SeedGenerator(0)

            def draw(labels):
                def logits_fn(images):
                    return self(images if labels is None else [images, labels])

                return sample_pixels(logits_fn, self.image_shape, self.levels, num_samples, seed=generator,
                                     temperature=temperature)

            # One compiled function per batch size, the seed set in its generator's state (not retraced per seed).
            # No autograph: the loop is `keras.ops.while_loop` already, and tracing then reads no source files.
            self._samplers[key] = (generator, tf.function(draw, jit_compile=True, autograph=False))
        generator, draw = self._samplers[key]
        generator.state.assign(ops.convert_to_tensor([seed, 0], generator.state.dtype))
        return np.asarray(draw(None if labels is None else ops.convert_to_tensor(labels)))

    def get_config(self):
        return {**super().get_config(), "image_shape": self.image_shape, "levels": self.levels,
                "filters": self.filters, "num_layers": self.num_layers, "gated": self.gated,
                "kernel_size": self.kernel_size, "first_kernel_size": self.first_kernel_size,
                "num_labels": self.num_labels}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
