"""Likelihoods p(x | params) from `tensorflow_probability` for VAEs and autoregressive models.

A likelihood turns a network's output (the distribution's parameters, `params_per_channel`
values per data channel on the last axis) into a `tfp.distributions` distribution over a whole
example (all non-batch axes are one event), and back into data space (`mean`, `sample`).
Data are floats in [0, 1]; the discrete likelihoods read them as `levels` equally spaced values
(`round(x * (levels - 1))`), so 8-bit images are `x = pixel / 255`.

Log-probabilities are computed in float32 whatever the layer's compute dtype (mixed precision).
"""

import keras
import tensorflow as tf
import tensorflow_probability as tfp
from keras import ops

from keras_dl import _checks

tfd = tfp.distributions


class Likelihood:
    """Base of the likelihoods: subclasses define `params_per_channel` and `_pointwise`.

    `_pointwise(params)` is the per-value distribution (batch shape = the data's shape);
    `distribution` makes every non-batch axis part of the event.
    """

    params_per_channel = 1

    def _pointwise(self, params):
        raise NotImplementedError

    def _to_values(self, x):
        """Data in [0, 1] as the distribution's support (identity for continuous likelihoods)."""
        return x

    def _to_data(self, values):
        return values

    def _split(self, params, count):
        """`[..., C * count]` -> `[..., C, count]` (the parameters of each channel together)."""
        params = tf.cast(params, tf.float32)
        channels = tf.shape(params)[-1] // count
        return tf.reshape(params, tf.concat([tf.shape(params)[:-1], [channels, count]], 0))

    def distribution(self, params):
        """The distribution of one example per batch row: `log_prob(values)` has shape `[batch]`."""
        pointwise = self._pointwise(params)
        return tfd.Independent(pointwise, reinterpreted_batch_ndims=len(params.shape) - 1)

    def log_prob(self, x, params):
        """log p(x | params) per example (float32 `[batch]`), `x` in data space ([0, 1])."""
        return self.distribution(params).log_prob(self._to_values(tf.cast(x, tf.float32)))

    def mean(self, params):
        """The distribution's mean in data space (what a VAE shows as its reconstruction)."""
        return self._to_data(self._pointwise(params).mean())

    def sample(self, params, seed):
        """One sample in data space; `seed` is a stateless seed (`[2]` int32 tensor)."""
        return self._to_data(tf.cast(self._pointwise(params).sample(seed=seed), tf.float32))

    def data_channels(self, params_channels):
        """Data channels given the parameter channels (checks that they divide)."""
        if params_channels % self.params_per_channel:
            raise ValueError(f"{type(self).__name__} needs {self.params_per_channel} parameters per data channel; "
                             f"the network gives {params_channels} on its last axis.")
        return params_channels // self.params_per_channel

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@keras.saving.register_keras_serializable(package="keras_dl")
class BernoulliLikelihood(Likelihood):
    """Bernoulli per value, parameterised by logits (binarised data).

    Example:
    >>> likelihood = BernoulliLikelihood()
    >>> float(likelihood.log_prob(tf.ones([1, 2]), tf.zeros([1, 2]))[0])  # 2 log(1/2)
    -1.3862943649291992
    """

    def _pointwise(self, params):
        return tfd.Bernoulli(logits=tf.cast(params, tf.float32), dtype=tf.float32)


@keras.saving.register_keras_serializable(package="keras_dl")
class GaussianLikelihood(Likelihood):
    """Normal per value: the network gives the mean, and the log scale too unless `scale` is fixed.

    For continuous data: on 8-bit images its densities are not comparable with the discrete
    likelihoods' probabilities (they differ by about `log 255` nats per value).

    Args:
        scale: a fixed standard deviation (> 0), or None to learn it: then the last axis holds
            `(mean, log_scale)` pairs, channel by channel (as the other likelihoods' parameters).
        min_log_scale: a learned log scale is floored here, so a value that never varies (a digit's
            background pixel) cannot drive its density to infinity.
    """

    def __init__(self, scale=None, min_log_scale=-7.0):
        if scale is not None:
            scale = _checks.positive_float("scale", scale)
        self.scale, self.min_log_scale = scale, float(min_log_scale)
        self.params_per_channel = 1 if scale is not None else 2

    def _pointwise(self, params):
        params = tf.cast(params, tf.float32)
        if self.scale is not None:
            return tfd.Normal(params, self.scale)
        loc, log_scale = tf.unstack(self._split(params, 2), axis=-1)
        return tfd.Normal(loc, tf.exp(tf.maximum(log_scale, self.min_log_scale)))

    def get_config(self):
        return {"scale": self.scale, "min_log_scale": self.min_log_scale}


class _DiscreteLikelihood(Likelihood):
    def __init__(self, levels=256):
        self.levels = _checks.positive_int("levels", levels)
        if self.levels < 2:
            raise ValueError(f"`levels` must be >= 2, got {levels}.")

    def _to_values(self, x):
        return tf.round(tf.clip_by_value(x, 0.0, 1.0) * (self.levels - 1))

    def _to_data(self, values):
        return values / (self.levels - 1)

    def get_config(self):
        return {"levels": self.levels}


@keras.saving.register_keras_serializable(package="keras_dl")
class CategoricalLikelihood(_DiscreteLikelihood):
    """A softmax over `levels` values per channel (PixelRNN's 256-way output).

    Args:
        levels: number of values (256 for 8-bit images); the last axis holds `levels` logits per
            channel, channel by channel.
    """

    def __init__(self, levels=256):
        super().__init__(levels)
        self.params_per_channel = self.levels

    def _pointwise(self, params):
        return tfd.Categorical(logits=self._split(params, self.levels), dtype=tf.float32)

    def mean(self, params):
        probs = tf.nn.softmax(self._split(params, self.levels))
        return self._to_data(tf.reduce_sum(probs * tf.range(self.levels, dtype=tf.float32), -1))


@keras.saving.register_keras_serializable(package="keras_dl")
class DiscretizedLogisticLikelihood(_DiscreteLikelihood):
    """A mixture of logistics discretised to `levels` values (PixelCNN++, Salimans et al. 2017).

    Each channel's value `v` in `0..levels-1` has probability mass
    `sum_k pi_k (F_k(v + 1/2) - F_k(v - 1/2))` with the tails at 0 and `levels - 1` folded in
    (`tfd.QuantizedDistribution` over `tfd.Logistic`).

    Args:
        levels: number of values (256 for 8-bit images).
        num_mixtures: logistics per channel; the last axis holds `3 * num_mixtures` parameters per
            channel, channel by channel: mixture logits, locations (in data units, [0, 1]) and log
            scales (in data units).
    """

    def __init__(self, levels=256, num_mixtures=1):
        super().__init__(levels)
        self.num_mixtures = _checks.positive_int("num_mixtures", num_mixtures)
        self.params_per_channel = 3 * self.num_mixtures

    def _pointwise(self, params):
        logits, loc, log_scale = tf.split(self._split(params, self.params_per_channel), 3, axis=-1)
        top = float(self.levels - 1)
        # Scales below 1/e^7 of a level make the mass a step function with no gradient (PixelCNN++'s floor).
        scale = tf.exp(tf.maximum(log_scale + tf.math.log(top), -7.0))
        # QuantizedDistribution gives P(v) = F(v) - F(v - 1); the shift by 1/2 centres each bin on its value.
        logistic = tfd.QuantizedDistribution(tfd.Logistic(loc * top - 0.5, scale), low=0.0, high=top)
        return tfd.MixtureSameFamily(tfd.Categorical(logits=logits), logistic)

    def mean(self, params):
        logits, loc, _ = tf.split(self._split(params, self.params_per_channel), 3, axis=-1)
        return tf.clip_by_value(tf.reduce_sum(tf.nn.softmax(logits) * loc, -1), 0.0, 1.0)

    def get_config(self):
        return {"levels": self.levels, "num_mixtures": self.num_mixtures}


@keras.saving.register_keras_serializable(package="keras_dl")
class LikelihoodMean(keras.layers.Layer):
    """The mean of a `Likelihood` given its parameters: a decoder's output in data space (for export)."""

    def __init__(self, likelihood="bernoulli", **kwargs):
        super().__init__(**kwargs)
        self.likelihood = get_likelihood(likelihood)

    def call(self, params):
        return ops.cast(self.likelihood.mean(params), self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.likelihood.data_channels(input_shape[-1]))

    def get_config(self):
        return {**super().get_config(), "likelihood": keras.saving.serialize_keras_object(self.likelihood)}


LIKELIHOODS = {
    "bernoulli": BernoulliLikelihood,
    "gaussian": GaussianLikelihood,
    "categorical": CategoricalLikelihood,
    "logistic_mixture": DiscretizedLogisticLikelihood,
}


def get_likelihood(likelihood):
    """A `Likelihood` from itself, its name in `LIKELIHOODS` or its serialised config."""
    if isinstance(likelihood, Likelihood):
        return likelihood
    if isinstance(likelihood, str):
        if likelihood not in LIKELIHOODS:
            raise ValueError(f"`likelihood` must be one of {sorted(LIKELIHOODS)} or a Likelihood, got {likelihood!r}.")
        return LIKELIHOODS[likelihood]()
    if isinstance(likelihood, dict):
        return keras.saving.deserialize_keras_object(likelihood)
    raise TypeError(f"`likelihood` must be a name, a Likelihood or its config, got {type(likelihood).__name__}.")
