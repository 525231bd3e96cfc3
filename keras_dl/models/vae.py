"""The variational autoencoder: an ELBO-maximising `train_step`, β-VAE, conditional VAE, IAF posterior, IWAE bound."""

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
from keras import ops

from keras_dl import _checks
from keras_dl._layers import scale_for_replicas
from keras_dl.layers.distributions import LikelihoodMean
from keras_dl.layers.distributions import get_likelihood
from keras_dl.layers.latent import GaussianSample
from keras_dl.layers.latent import InverseAutoregressiveFlow

tfd = tfp.distributions
_KL = ("analytic", "monte_carlo")


@keras.saving.register_keras_serializable(package="keras_dl")
class VAE(keras.Model):
    """Variational autoencoder (Kingma & Welling 2014) trained by maximising the evidence lower bound.

    `log p(x) >= ELBO = E_q[log p(x | z)] - KL(q(z | x) || p(z))` (Jensen's inequality), with
    `q(z | x) = N(mean, diag(exp(log_variance)))` from the encoder, optionally made richer by an
    inverse autoregressive flow, the prior `p(z) = N(0, I)`, and `p(x | z)` a `tfp.distributions`
    likelihood over the decoder's output. `train_step` minimises `-(E_q[log p(x|z)] - beta KL)`
    with one reparameterised sample per example (`GaussianSample`); the KL is analytic for the
    Gaussian posterior and a Monte-Carlo estimate `log q(z|x) - log p(z)` at the same sample
    otherwise (`kl="monte_carlo"`, required with a flow).

    Args:
        encoder: a Keras model/layer `x -> [mean, log_variance]` (two outputs, or one `[batch, 2 L]`
            tensor split in halves), plus a third output, a context for the flow, when `flow` is set.
            Conditional: it takes `[x, condition]`.
        decoder: `z -> parameters of p(x | z)` (`likelihood.params_per_channel` values per data
            channel on the last axis). Conditional: it takes `[z, condition]`.
        likelihood: a `keras_dl.layers` likelihood or its name: `"bernoulli"` (binarised data, logits),
            `"gaussian"`, `"categorical"` (256 levels), `"logistic_mixture"`.
        beta: weight of the KL term (β-VAE, Higgins et al. 2017); the `elbo` tracker is the true
            ELBO (beta 1) whatever its value.
        kl: `"analytic"` or `"monte_carlo"`.
        flow: an `InverseAutoregressiveFlow` on the posterior sample, or None (mean field).
        conditional: the data are `(x, condition)` (Keras' `x, y`): a conditional VAE (Sohn et al.
            2015). Unconditional, a `y` in the data is ignored, so labelled datasets work as they are.
        seed: seed of the posterior noise.

    Call arguments:
        inputs: `x`, or `[x, condition]` when conditional.
        training: sample `z` (otherwise the posterior mean is decoded).

    Returns the reconstruction: the mean of `p(x | z)` in data space.

    Example:
    >>> encoder = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2 * 2)])
    >>> decoder = keras.Sequential([keras.Input((2,)), keras.layers.Dense(4)])
    >>> vae = VAE(encoder, decoder, likelihood="bernoulli")
    >>> vae.compile(keras.optimizers.Adam(1e-3))
    >>> x = np.random.default_rng(0).integers(0, 2, (8, 4)).astype("float32")
    >>> sorted(vae.fit(x, epochs=1, verbose=0).history)
    ['elbo', 'kl', 'loss', 'reconstruction']
    >>> vae.iwae_bound(x, num_samples=10).shape
    (8,)
    """

    def __init__(self, encoder, decoder, likelihood="bernoulli", beta=1.0, kl="analytic", flow=None,
                 conditional=False, seed=None, **kwargs):
        super().__init__(**kwargs)
        if kl not in _KL:
            raise ValueError(f"`kl` must be one of {_KL}, got {kl!r}.")
        if flow is not None and not isinstance(flow, InverseAutoregressiveFlow):
            raise TypeError(f"`flow` must be an InverseAutoregressiveFlow or None, got {type(flow).__name__}.")
        if flow is not None and kl == "analytic":
            raise ValueError("`kl='analytic'` has no closed form with a `flow`: use kl='monte_carlo'.")
        self.encoder, self.decoder, self.flow = encoder, decoder, flow
        self.likelihood = get_likelihood(likelihood)
        self.beta = _checks.non_negative_float("beta", beta)
        self.kl, self.conditional, self.seed = kl, bool(conditional), seed
        self.sampler = GaussianSample(seed=seed)
        self.trackers = {name: keras.metrics.Mean(name=name) for name in ("loss", "elbo", "reconstruction", "kl")}
        if getattr(encoder, "outputs", None):
            self.build()

    def build(self, input_shape=None):
        """Builds the flow and the sampler from the encoder's output shapes.

        `fit` never calls the model (`train_step` calls its parts), so a functional or Sequential
        encoder and decoder build the whole VAE at construction; `.keras` files then load into a
        built model whatever was or was not called before saving.
        """
        if not getattr(self.encoder, "outputs", None):  # A subclassed encoder: the parts build when first called.
            self.built = True
            return
        decoded = self.decoder.outputs[0].shape[-1] if getattr(self.decoder, "outputs", None) else None
        data = self.encoder.inputs[0].shape[-1]
        if decoded is not None and data is not None and self.likelihood.data_channels(decoded) != data:
            raise ValueError(f"`decoder` gives {decoded} parameters per position: the {type(self.likelihood).__name__} "
                             f"`likelihood` needs {self.likelihood.params_per_channel} per data channel, and the "
                             f"encoder's input has {data} channels.")
        outputs = [tuple(t.shape) for t in self.encoder.outputs]
        latent = outputs[0] if len(outputs) > 1 else (*outputs[0][:-1], outputs[0][-1] // 2)
        if self.flow is not None and not self.flow.built:
            self.flow.build([latent, outputs[2]] if len(outputs) > 2 else latent)
        self.sampler.build([latent, latent])
        self.built = True

    @property
    def metrics(self):
        return list(self.trackers.values())

    @property
    def latent_dim(self):
        return int(self.decoder.inputs[0].shape[-1])

    def _split_data(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        if sample_weight is not None:
            raise ValueError("VAE does not take `sample_weight`.")
        if self.conditional and y is None:
            raise ValueError("A conditional VAE trains on `(x, condition)`: pass the condition as `y`.")
        return x, (y if self.conditional else None)

    def _inputs(self, inputs):
        if not self.conditional:
            return inputs, None
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            raise ValueError("A conditional VAE is called on `[x, condition]`.")
        return inputs

    def _with(self, tensor, condition):
        # Tensors, not arrays: Keras refuses a list input that mixes the two.
        return tensor if condition is None else [ops.convert_to_tensor(tensor), ops.convert_to_tensor(condition)]

    def encode(self, x, condition=None, training=False):
        """The posterior's `(mean, log_variance, context)` (`context` None without a flow)."""
        outputs = self.encoder(self._with(x, condition), training=training)
        if isinstance(outputs, (list, tuple)):
            mean, log_variance, *context = outputs
        else:
            mean, log_variance = ops.split(outputs, 2, axis=-1)
            context = []
        if self.flow is None and context:
            raise ValueError("The encoder gives a context (a third output) but the VAE has no `flow`.")
        return mean, log_variance, (context[0] if context else None)

    def _posterior(self, mean, log_variance):
        mean, log_variance = ops.cast(mean, "float32"), ops.cast(log_variance, "float32")
        return tfd.Independent(tfd.Normal(mean, ops.exp(0.5 * log_variance)), reinterpreted_batch_ndims=1)

    def _latent(self, mean, log_variance, context, sample):
        """A posterior sample (the mean unless `sample`) through the flow; `(z, log q(z | x))`."""
        z = self.sampler([mean, log_variance], training=sample)
        log_q = self._posterior(mean, log_variance).log_prob(ops.cast(z, "float32"))
        if self.flow is not None:
            z, log_det = self.flow(self._with(z, context) if context is not None else z)
            log_q = log_q - ops.cast(log_det, "float32")
        return z, log_q

    def _prior(self, z):
        return tfd.Independent(tfd.Normal(ops.zeros_like(z), 1.0), reinterpreted_batch_ndims=1)

    def call(self, inputs, training=None):
        x, condition = self._inputs(inputs)
        mean, log_variance, context = self.encode(x, condition, training=training)
        z, _ = self._latent(mean, log_variance, context, sample=training)
        params = self.decoder(self._with(z, condition), training=training)
        return ops.cast(self.likelihood.mean(params), self.compute_dtype)

    def posterior_latent(self, x, condition=None):
        """The latent a VAE decodes for `x` at inference: the posterior mean, through the flow if any."""
        self._check_condition(condition)
        mean, log_variance, context = self.encode(x, condition)
        return self._latent(mean, log_variance, context, sample=False)[0]

    def _terms(self, x, condition, kl=None, training=False):
        """Per-example `log p(x | z)` and KL estimate (float32), one posterior sample each; `training` is the
        networks' mode (dropout, batch statistics)."""
        mean, log_variance, context = self.encode(x, condition, training=training)
        z, log_q = self._latent(mean, log_variance, context, sample=True)
        log_likelihood = self.likelihood.log_prob(x, self.decoder(self._with(z, condition), training=training))
        z = ops.cast(z, "float32")
        if (kl or self.kl) == "analytic" and self.flow is None:
            divergence = tfd.kl_divergence(self._posterior(mean, log_variance), self._prior(z))
        else:
            divergence = log_q - self._prior(z).log_prob(z)
        return log_likelihood, divergence

    def _update_trackers(self, loss, log_likelihood, divergence):
        self.trackers["loss"].update_state(loss)
        self.trackers["elbo"].update_state(ops.mean(log_likelihood - divergence))
        self.trackers["reconstruction"].update_state(-ops.mean(log_likelihood))
        self.trackers["kl"].update_state(ops.mean(divergence))
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def train_step(self, data):
        x, condition = self._split_data(data)
        # The noise of step i follows from the seed and i, so a run resumed by BackupAndRestore (which does
        # not keep generator states) draws what the uninterrupted one did.
        state = self.sampler.seed_generator.state
        state.assign(ops.stack([state[0], ops.cast(self.optimizer.iterations, state.dtype)]))
        with tf.GradientTape() as tape:
            log_likelihood, divergence = self._terms(x, condition, training=True)
            loss = -ops.mean(log_likelihood - self.beta * divergence)
            if self.losses:  # The networks' weight and activity regularisers.
                loss = loss + ops.cast(ops.sum(self.losses), "float32")
            scaled = scale_for_replicas(self.optimizer, loss)
        gradients = tape.gradient(scaled, self.trainable_weights)
        self.optimizer.apply(gradients, self.trainable_weights)
        return self._update_trackers(loss, log_likelihood, divergence)

    def test_step(self, data):
        x, condition = self._split_data(data)
        log_likelihood, divergence = self._terms(x, condition)
        return self._update_trackers(-ops.mean(log_likelihood - self.beta * divergence), log_likelihood, divergence)

    def _batches(self, x, condition, batch_size):
        batch_size = _checks.positive_int("batch_size", batch_size)
        x = np.asarray(x, "float32")
        condition = None if condition is None else np.asarray(condition)
        if condition is not None and len(condition) != len(x):
            raise ValueError(f"`condition` must have one row per example ({len(x)}), got {len(condition)}.")
        for start in range(0, len(x), batch_size):
            yield x[start:start + batch_size], None if condition is None else condition[start:start + batch_size]

    def _check_condition(self, condition):
        if self.conditional and condition is None:
            raise ValueError("A conditional VAE needs `condition`.")
        if not self.conditional and condition is not None:
            raise ValueError("`condition` is only for a conditional VAE.")

    def elbo(self, x, condition=None, kl=None, batch_size=256):
        """Per-example ELBO in nats (NumPy `[N]`), one posterior sample each (`kl` overrides the model's)."""
        self._check_condition(condition)
        if kl is not None and kl not in _KL:
            raise ValueError(f"`kl` must be one of {_KL}, got {kl!r}.")
        values = []
        for batch, batch_condition in self._batches(x, condition, batch_size):
            log_likelihood, divergence = self._terms(batch, batch_condition, kl=kl)
            values.append(np.asarray(log_likelihood - divergence))
        return np.concatenate(values)

    def iwae_bound(self, x, condition=None, num_samples=100, batch_size=4096):
        """Per-example importance-weighted bound (Burda et al. 2016) in nats (NumPy `[N]`).

        `log (1/k) sum_i p(x, z_i) / q(z_i | x)` with `k = num_samples` posterior samples: a lower
        bound on `log p(x)` that is never below the ELBO in expectation and tightens as `k` grows;
        with `k = 1` it is the ELBO with a Monte-Carlo KL. `batch_size` bounds the rows decoded at once
        (examples times samples), so large `k` and 256-way likelihoods fit in memory.
        """
        self._check_condition(condition)
        k = _checks.positive_int("num_samples", num_samples)
        examples = max(1, _checks.positive_int("batch_size", batch_size) // k)
        values = []
        for batch, batch_condition in self._batches(x, condition, examples):
            mean, log_variance, context = self.encode(batch, batch_condition)
            repeat = lambda t: None if t is None else ops.repeat(t, k, axis=0)  # noqa: E731
            z, log_q = self._latent(repeat(mean), repeat(log_variance), repeat(context), sample=True)
            z32 = ops.cast(z, "float32")
            log_weights = (self.likelihood.log_prob(repeat(batch), self.decoder(self._with(z, repeat(batch_condition))))
                           + self._prior(z32).log_prob(z32) - log_q)
            log_weights = ops.reshape(log_weights, (-1, k))
            values.append(np.asarray(ops.logsumexp(log_weights, axis=1) - np.log(k)))
        return np.concatenate(values)

    def generate(self, num_samples, condition=None, seed=None, mean=True):
        """Samples `x ~ p(x | z)`, `z ~ N(0, I)`: the likelihood's mean (`mean=True`) or a draw from it."""
        self._check_condition(condition)
        num_samples = _checks.positive_int("num_samples", num_samples)
        if condition is not None:
            if len(condition) != num_samples:
                raise ValueError(f"`condition` must have `num_samples`={num_samples} rows, got {len(condition)}.")
        generator = keras.random.SeedGenerator(seed)
        z = keras.random.normal((num_samples, self.latent_dim), seed=generator)
        params = self.decoder(self._with(z, condition))
        if mean:
            return self.likelihood.mean(params)
        return self.likelihood.sample(params, seed=tf.cast(generator.next(), tf.int32))

    def decoder_model(self):
        """A functional model `latents (, condition) -> mean of p(x | z)` for export (TFLite, SavedModel)."""
        inputs = [keras.Input(tuple(t.shape[1:]), dtype=t.dtype, name=name)
                  for t, name in zip(self.decoder.inputs, ("latents", "condition"))]
        params = self.decoder(inputs if self.conditional else inputs[0])
        return keras.Model(inputs if self.conditional else inputs[0], LikelihoodMean(self.likelihood)(params))

    def get_config(self):
        return {**super().get_config(),
                "encoder": keras.saving.serialize_keras_object(self.encoder),
                "decoder": keras.saving.serialize_keras_object(self.decoder),
                "likelihood": keras.saving.serialize_keras_object(self.likelihood),
                "beta": self.beta, "kl": self.kl,
                "flow": None if self.flow is None else keras.saving.serialize_keras_object(self.flow),
                "conditional": self.conditional, "seed": self.seed}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("encoder", "decoder", "flow"):
            if config.get(key) is not None:
                config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)
