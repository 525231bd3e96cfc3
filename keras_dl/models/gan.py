"""Generative adversarial networks whose training loops override `train_step`: GAN losses, the WGAN-GP gradient
penalty, `GAN` (with `DCGAN`, `ConditionalGAN` and `WGANGP` on top), `CycleGAN`, and builders of their networks.

Every model trains with `fit` (callbacks, `jit_compile`, `tf.distribute`), keeps one optimizer per player
(`model.optimizer` is the generator's, `model.discriminator_optimizer` the discriminator's), and saves both
optimizers' state and its noise generator's state in `.keras` files and `BackupAndRestore` backups.
"""

import keras
import tensorflow as tf
from keras import ops
from keras import tree

from keras_dl import _checks
from keras_dl._layers import scale_for_replicas

# --------------------------------------------------------------------------------------------------------------------
# Losses. Logits are the discriminator's unbounded outputs (`D(x) = sigmoid(logit)` for the probabilistic losses,
# the critic's value for the Wasserstein loss); every loss averages over all elements (a patch map too) in float32.


def _mean(x):
    return ops.mean(ops.cast(x, "float32"))


def _float32(x):
    return ops.cast(x, "float32")


def minimax_discriminator_loss(real_logits, fake_logits):
    """The original GAN's discriminator loss (Goodfellow et al. 2014): `-E[log D(x)] - E[log(1 - D(G(z)))]`.

    Computed from logits as `E[softplus(-real)] + E[softplus(fake)]` (no `log(0)`).

    Example:
    >>> round(float(minimax_discriminator_loss(np.array([0.0]), np.array([0.0]))), 4)  # 2 log 2
    1.3863
    """
    return _mean(ops.softplus(-_float32(real_logits))) + _mean(ops.softplus(_float32(fake_logits)))


def minimax_generator_loss(fake_logits):
    """The original, saturating generator loss: `E[log(1 - D(G(z)))]` (= `-E[softplus(fake)]`), minimised.

    Its gradient vanishes when the discriminator rejects the samples confidently (early training); see
    `non_saturating_generator_loss`.
    """
    return -_mean(ops.softplus(_float32(fake_logits)))


def non_saturating_discriminator_loss(real_logits, fake_logits):
    """The non-saturating GAN's discriminator loss: the same as `minimax_discriminator_loss`."""
    return minimax_discriminator_loss(real_logits, fake_logits)


def non_saturating_generator_loss(fake_logits):
    """The non-saturating generator loss (Goodfellow et al. 2014, section 3): `-E[log D(G(z))]` (= `E[softplus(-fake)]`).

    Example:
    >>> round(float(non_saturating_generator_loss(np.array([0.0, 0.0]))), 4)  # log 2
    0.6931
    """
    return _mean(ops.softplus(-_float32(fake_logits)))


def hinge_discriminator_loss(real_logits, fake_logits):
    """The hinge discriminator loss (Lim & Ye 2017; SAGAN): `E[relu(1 - real)] + E[relu(1 + fake)]`."""
    return _mean(ops.relu(1.0 - _float32(real_logits))) + _mean(ops.relu(1.0 + _float32(fake_logits)))


def hinge_generator_loss(fake_logits):
    """The hinge generator loss: `-E[fake]`."""
    return -_mean(fake_logits)


def wasserstein_discriminator_loss(real_logits, fake_logits):
    """The Wasserstein critic loss (Arjovsky et al. 2017): `E[critic(G(z))] - E[critic(x)]`.

    Only meaningful with a Lipschitz constraint on the critic: `gradient_penalty` (WGAN-GP).
    """
    return _mean(fake_logits) - _mean(real_logits)


def wasserstein_generator_loss(fake_logits):
    """The Wasserstein generator loss: `-E[critic(G(z))]`."""
    return -_mean(fake_logits)


def least_squares_discriminator_loss(real_logits, fake_logits):
    """The least-squares discriminator loss (LSGAN, Mao et al. 2017, a=0, b=c=1): `(E[(real - 1)^2] + E[fake^2]) / 2`.

    Example:
    >>> float(least_squares_discriminator_loss(np.array([1.0]), np.array([2.0])))
    2.0
    """
    return 0.5 * (_mean(ops.square(_float32(real_logits) - 1.0)) + _mean(ops.square(_float32(fake_logits))))


def least_squares_generator_loss(fake_logits):
    """The least-squares generator loss (LSGAN): `E[(fake - 1)^2] / 2`."""
    return 0.5 * _mean(ops.square(_float32(fake_logits) - 1.0))


LOSSES = {
    "minimax": (minimax_discriminator_loss, minimax_generator_loss),
    "non_saturating": (non_saturating_discriminator_loss, non_saturating_generator_loss),
    "hinge": (hinge_discriminator_loss, hinge_generator_loss),
    "wasserstein": (wasserstein_discriminator_loss, wasserstein_generator_loss),
    "least_squares": (least_squares_discriminator_loss, least_squares_generator_loss),
}


def gradient_penalty(critic, real, fake, conditions=None, weight=1.0, seed=None, epsilon=1e-12, training=True):
    """The WGAN-GP gradient penalty (Gulrajani et al. 2017): `weight * E[(||grad critic(x_hat)|| - 1)^2]`.

    `x_hat = u real + (1 - u) fake` with `u ~ U(0, 1)` drawn once per example (the paper's uniform, not a
    normal). The norm is `sqrt(sum(grad^2) + epsilon)`: finite, with a finite gradient, where the critic's
    gradient is exactly 0 (`tf.norm`'s gradient there is NaN). Call it inside the critic's `GradientTape`: the
    penalty is differentiable in the critic's weights (a second-order gradient).

    Args:
        critic: a callable (Keras model or function) from a batch of examples to scores.
        real, fake: batches of the same shape `[batch, ...]`.
        conditions: `None`, or a tensor or list of tensors passed through to a conditional critic, which is then
            called as `critic([x_hat, *conditions])` (the gradient is only taken with respect to `x_hat`).
        weight: the penalty's coefficient (the paper's lambda = 10).
        seed: an int, a `keras.random.SeedGenerator` (inside `train_step`), or `None` (Keras' global generator).
        epsilon: added to the squared norm inside the square root.
        training: passed to a Keras critic.

    Returns a float32 scalar.

    Example:
    >>> w = np.array([3.0, 4.0], "float32")  # A linear critic: its gradient is w everywhere, ||w|| = 5.
    >>> real, fake = np.ones((4, 2), "float32"), np.zeros((4, 2), "float32")
    >>> round(float(gradient_penalty(lambda x: ops.sum(x * w, axis=-1), real, fake, weight=10.0, seed=1)), 3)
    160.0
    """
    real, fake = _float32(real), _float32(fake)
    if tuple(real.shape) != tuple(fake.shape):
        raise ValueError(f"`real` and `fake` must have the same shape, got {tuple(real.shape)} and "
                         f"{tuple(fake.shape)}.")
    weight = _checks.non_negative_float("weight", weight)
    epsilon = _checks.positive_float("epsilon", epsilon)
    shape = (ops.shape(real)[0],) + (1,) * (len(real.shape) - 1)
    u = keras.random.uniform(shape, 0.0, 1.0, dtype="float32", seed=seed)
    interpolates = u * real + (1.0 - u) * fake
    extra = [] if conditions is None else tree.flatten(conditions)
    with tf.GradientTape() as tape:
        tape.watch(interpolates)
        inputs = [interpolates, *extra] if extra else interpolates
        scores = critic(inputs, training=training) if isinstance(critic, keras.layers.Layer) else critic(inputs)
        total = ops.sum(_float32(scores))
    # ZERO, not None, for a critic that ignores its input (a constant critic has gradient 0, not "no gradient").
    gradients = _float32(tape.gradient(total, interpolates, unconnected_gradients=tf.UnconnectedGradients.ZERO))
    squared = ops.sum(ops.reshape(ops.square(gradients), (ops.shape(gradients)[0], -1)), axis=1)
    return weight * ops.mean(ops.square(ops.sqrt(squared + epsilon) - 1.0))


# --------------------------------------------------------------------------------------------------------------------
# Models.


def _copy_optimizer(optimizer):
    return optimizer.__class__.from_config(optimizer.get_config())


def _regularization(network):
    """The sum of a network's weight and activity regularisation losses (0 without any), in float32."""
    return ops.cast(ops.sum(network.losses), "float32") if network.losses else 0.0


def _built(name, network, input_shape=None):
    if not isinstance(network, keras.layers.Layer):
        raise TypeError(f"`{name}` must be a Keras model or layer, got {network!r} ({type(network).__name__}).")
    if not network.built:
        if input_shape is None:
            raise ValueError(f"`{name}` must be built (a functional model, or call it once on a batch).")
        network.build(input_shape)
    return network


class _TwoPlayerModel(keras.Model):
    """What `GAN` and `CycleGAN` share: two optimizers in `compile` (and in saved files), trackers, updates."""

    _compile_arguments = ("run_eagerly", "steps_per_execution", "jit_compile", "auto_scale_loss")

    def _default_optimizer(self):
        return keras.optimizers.Adam(2e-4, beta_1=0.5)

    def _generator_variables(self):
        raise NotImplementedError

    def _discriminator_variables(self):
        raise NotImplementedError

    @property
    def metrics(self):
        return list(self._trackers.values())

    def compile(self, optimizer=None, generator_optimizer=None, discriminator_optimizer=None, **kwargs):
        """Configures training with one optimizer per player.

        Args:
            optimizer: one optimizer (instance, name or config) for both players: the generator takes it, the
                discriminator a copy (`from_config`), so their states stay separate.
            generator_optimizer, discriminator_optimizer: one each (instead of `optimizer`); a missing one is the
                model's default (Adam, see the class).
            **kwargs: `run_eagerly`, `steps_per_execution`, `jit_compile`, `auto_scale_loss` as in
                `keras.Model.compile`. Under `mixed_float16` both optimizers are wrapped in a `LossScaleOptimizer`
                (unless `auto_scale_loss=False`).

        `model.optimizer` is then the generator's optimizer and `model.discriminator_optimizer` the
        discriminator's; both are built at once, so their state exists for `load_weights` and `BackupAndRestore`.
        """
        unknown = sorted(set(kwargs) - set(self._compile_arguments))
        if unknown:
            raise ValueError(f"`compile` takes optimizers and {self._compile_arguments}, got {unknown}: the model "
                             f"defines its own losses and metrics (`{type(self).__name__}(...)`).")
        if optimizer is not None:
            if generator_optimizer is not None or discriminator_optimizer is not None:
                raise ValueError("Pass either `optimizer` or `generator_optimizer`/`discriminator_optimizer`, "
                                 "not both.")
            generator_optimizer = keras.optimizers.get(optimizer)
            discriminator_optimizer = _copy_optimizer(generator_optimizer)
        generator_optimizer = (self._default_optimizer() if generator_optimizer is None
                               else keras.optimizers.get(generator_optimizer))
        discriminator_optimizer = (self._default_optimizer() if discriminator_optimizer is None
                                   else keras.optimizers.get(discriminator_optimizer))
        if generator_optimizer is discriminator_optimizer:
            raise ValueError("`generator_optimizer` and `discriminator_optimizer` must be two optimizers: one "
                             "optimizer's slots and step count cannot serve both players.")
        super().compile(optimizer=generator_optimizer, **kwargs)
        # Keras wraps `self.optimizer` under mixed_float16; the discriminator's optimizer gets the same treatment.
        if (kwargs.get("auto_scale_loss", True) and self.dtype_policy.name == "mixed_float16"
                and not isinstance(discriminator_optimizer, keras.optimizers.LossScaleOptimizer)):
            discriminator_optimizer = keras.optimizers.LossScaleOptimizer(discriminator_optimizer,
                                                                        name="discriminator_loss_scale_optimizer")
        self.discriminator_optimizer = discriminator_optimizer
        self._compile_kwargs = dict(kwargs)
        # Built now on each player's variables: BackupAndRestore (and Keras' symbolic build) would otherwise build
        # `model.optimizer` on all the model's variables, and loading needs both optimizers' variables to exist.
        self.optimizer.build(self._generator_variables())
        self.discriminator_optimizer.build(self._discriminator_variables())

    def get_compile_config(self):
        if not self.compiled:
            return {}
        return {"generator_optimizer": keras.saving.serialize_keras_object(self.optimizer),
                "discriminator_optimizer": keras.saving.serialize_keras_object(self.discriminator_optimizer),
                **self._compile_kwargs}

    def compile_from_config(self, config):
        config = dict(config)
        self.compile(generator_optimizer=keras.saving.deserialize_keras_object(config.pop("generator_optimizer")),
                     discriminator_optimizer=keras.saving.deserialize_keras_object(
                         config.pop("discriminator_optimizer")),
                     **config)

    def _check_compiled(self):
        if not self.compiled or getattr(self, "discriminator_optimizer", None) is None:
            raise ValueError(f"{type(self).__name__} must be compiled before training: `model.compile()` (default "
                             f"optimizers) or `model.compile(optimizer)`.")

    def _apply(self, optimizer, tape, scaled_loss, variables):
        optimizer.apply(tape.gradient(scaled_loss, variables), variables)

    def _scaled(self, optimizer, loss):
        return scale_for_replicas(optimizer, loss)

    def _update_trackers(self, **values):
        for name, value in values.items():
            self._trackers[name].update_state(value)


@keras.saving.register_keras_serializable(package="keras_dl")
class GAN(_TwoPlayerModel):
    """A generative adversarial network: a generator from latents to examples and a discriminator (or critic).

    `model(latents)` is the generator (so `model.predict(z)` samples, and the model exports like the generator);
    `fit` trains both players. Each training step takes one batch of real examples and makes `n_critic`
    discriminator updates, each against a fresh batch of fakes (as many as the real examples, from new latents)
    and every one on the *same* real batch, then one generator update on new latents. So one epoch of N batches
    makes N generator updates and `n_critic * N` discriminator updates (`model.optimizer.iterations` and
    `model.discriminator_optimizer.iterations`). Latents are `N(0, I)` from the model's own
    `keras.random.SeedGenerator`, which the model saves: a seeded model trains reproducibly, and a resumed one
    continues the same noise. A dataset of `(examples, labels)` trains the plain GAN on the examples.

    Trackers (logged by `fit`): `d_loss` (mean over the step's discriminator updates, without the penalty),
    `g_loss`, `gradient_penalty` (when `gradient_penalty_weight > 0`, unweighted), `d_real`, `d_fake` (the mean
    discriminator output, logit or critic value, on real and fake examples).

    Args:
        generator: a Keras model from latents `[batch, latent_dim]` to examples.
        discriminator: a Keras model from examples to logits (`[batch, 1]`, or any shape: losses average it).
        latent_dim: width of the latents; must match the generator's input.
        loss: `"non_saturating"` (default), `"minimax"`, `"hinge"`, `"wasserstein"` or `"least_squares"`: the
            pair of `*_discriminator_loss` / `*_generator_loss` functions of this module.
        n_critic: discriminator updates per generator update.
        gradient_penalty_weight: weight of `gradient_penalty` in the discriminator's loss (0: none).
        seed: seed of the model's noise (latents and the penalty's interpolation weights).

    Call arguments:
        latents: `[batch, latent_dim]`.
        training: the generator's training mode (batch statistics).

    Example:
    >>> model = GAN(mlp_generator(4, output_dim=2, units=8), mlp_discriminator(2, units=8), latent_dim=4, seed=0)
    >>> model.compile(keras.optimizers.Adam(1e-3))
    >>> history = model.fit(np.random.normal(size=(64, 2)), batch_size=16, epochs=1, verbose=0)
    >>> sorted(history.history)
    ['d_fake', 'd_loss', 'd_real', 'g_loss']
    >>> model.generate(3, seed=0).shape
    TensorShape([3, 2])
    """

    def __init__(self, generator, discriminator, latent_dim, loss="non_saturating", n_critic=1,
                 gradient_penalty_weight=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.latent_dim = _checks.positive_int("latent_dim", latent_dim)
        if loss not in LOSSES:
            raise ValueError(f"`loss` must be one of {sorted(LOSSES)}, got {loss!r}.")
        self.loss_name = loss
        self.n_critic = _checks.positive_int("n_critic", n_critic)
        self.gradient_penalty_weight = _checks.non_negative_float("gradient_penalty_weight", gradient_penalty_weight)
        if seed is not None:
            seed = _checks.non_negative_int("seed", seed)
        self.seed = seed
        self.generator = _built("generator", generator, self._latent_shape())
        self._check_latent_dim()
        self.discriminator = _built("discriminator", discriminator, self._example_shape())
        self.seed_generator = keras.random.SeedGenerator(seed)
        penalty = ["gradient_penalty"] if self.gradient_penalty_weight else []
        names = ["d_loss", "g_loss", *penalty, "d_real", "d_fake"]
        self._trackers = {name: keras.metrics.Mean(name=name) for name in names}
        self.build(self._latent_shape())

    def build(self, input_shape):
        # The networks are built above; Keras records the shape of the latents here (`export` reads it).
        pass

    # Hooks ConditionalGAN overrides.
    def _latent_shape(self):
        return (None, self.latent_dim)

    def _example_shape(self):
        return self.generator.compute_output_shape(self._latent_shape())

    def _check_latent_dim(self):
        inputs = getattr(self.generator, "inputs", None)
        if inputs:
            width = inputs[0].shape[-1]
            if width is not None and width != self.latent_dim:
                raise ValueError(f"`latent_dim` must match the generator's latent input width {width}, got "
                                 f"{self.latent_dim}.")

    def _unpack(self, data):
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        return x, None

    def _generate(self, latents, conditions, training):
        return self.generator(latents, training=training)

    def _discriminate(self, examples, conditions, training):
        return self.discriminator(examples, training=training)

    def _generator_variables(self):
        return self.generator.trainable_variables

    def _discriminator_variables(self):
        return self.discriminator.trainable_variables

    def call(self, latents, training=False):
        return self._generate(latents, None, training)

    def _latents(self, batch):
        seed = self.seed_generator.next()
        context = tf.distribute.get_replica_context()
        if context is not None and context.num_replicas_in_sync > 1:
            # Replicas share the generator's state: without this each would draw the same latents.
            seed = tf.random.experimental.stateless_fold_in(seed, context.replica_id_in_sync_group)
        return tf.random.stateless_normal((batch, self.latent_dim), seed=seed, dtype="float32")

    # Keras saves no SeedGenerator state: the model keeps its own next to its (networks') weights, so `.keras`
    # files and BackupAndRestore resume the noise where it was.
    def save_own_variables(self, store):
        super().save_own_variables(store)
        store["seed_generator_state"] = self.seed_generator.state

    def load_own_variables(self, store):
        if "seed_generator_state" in store:
            self.seed_generator.state.assign(store["seed_generator_state"])
        super().load_own_variables({key: store[key] for key in store.keys() if key != "seed_generator_state"})

    def _discriminator_losses(self, real, fake, conditions, training):
        real_logits = self._discriminate(real, conditions, training)
        fake_logits = self._discriminate(fake, conditions, training)
        d_loss = LOSSES[self.loss_name][0](real_logits, fake_logits)
        values = {"d_loss": d_loss, "d_real": _mean(real_logits), "d_fake": _mean(fake_logits)}
        if self.gradient_penalty_weight:
            values["gradient_penalty"] = gradient_penalty(self.discriminator, real, fake, conditions,
                                                          seed=self.seed_generator, training=training)
        return values

    def _discriminator_total(self, values):
        total = values["d_loss"] + _regularization(self.discriminator)
        if self.gradient_penalty_weight:
            total = total + self.gradient_penalty_weight * values["gradient_penalty"]
        return total

    def train_step(self, data):
        self._check_compiled()
        real, conditions = self._unpack(data)
        batch = ops.shape(real)[0]
        d_variables, g_variables = self._discriminator_variables(), self._generator_variables()
        for _ in range(self.n_critic):
            fake = ops.stop_gradient(self._generate(self._latents(batch), conditions, training=True))
            with tf.GradientTape() as tape:
                values = self._discriminator_losses(real, fake, conditions, training=True)
                scaled = self._scaled(self.discriminator_optimizer, self._discriminator_total(values))
            self._apply(self.discriminator_optimizer, tape, scaled, d_variables)
            self._update_trackers(**values)
        latents = self._latents(batch)
        with tf.GradientTape() as tape:
            fake = self(latents if conditions is None else [latents, conditions], training=True)
            fake_logits = self._discriminate(fake, conditions, training=True)
            g_loss = LOSSES[self.loss_name][1](fake_logits)
            scaled = self._scaled(self.optimizer, g_loss + _regularization(self.generator))
        self._apply(self.optimizer, tape, scaled, g_variables)
        self._update_trackers(g_loss=g_loss)
        return {m.name: m.result() for m in self.metrics}

    def test_step(self, data):
        real, conditions = self._unpack(data)
        fake = self._generate(self._latents(ops.shape(real)[0]), conditions, training=False)
        values = self._discriminator_losses(real, fake, conditions, training=False)
        values["g_loss"] = LOSSES[self.loss_name][1](self._discriminate(fake, conditions, False))
        self._update_trackers(**values)
        return {m.name: m.result() for m in self.metrics}

    def generate(self, num_samples, seed=None):
        """`num_samples` examples from latents `N(0, I)`: seeded by `seed` (an int) or, with `None`, by Keras'
        global generator (the model's own noise generator, which training uses, is left as it is)."""
        num_samples = _checks.positive_int("num_samples", num_samples)
        latents = keras.random.normal((num_samples, self.latent_dim), dtype="float32", seed=seed)
        return self._generate(latents, None, training=False)

    def get_config(self):
        return {**super().get_config(), "generator": keras.saving.serialize_keras_object(self.generator),
                "discriminator": keras.saving.serialize_keras_object(self.discriminator),
                "latent_dim": self.latent_dim, "loss": self.loss_name, "n_critic": self.n_critic,
                "gradient_penalty_weight": self.gradient_penalty_weight, "seed": self.seed}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for name in ("generator", "discriminator"):
            if name in config:
                config[name] = keras.saving.deserialize_keras_object(config[name])
        return cls(**config)


@keras.saving.register_keras_serializable(package="keras_dl")
class ConditionalGAN(GAN):
    """A conditional GAN (Mirza & Osindero 2014): generator and discriminator both see the examples' labels.

    Trains on `(examples, labels)` batches (int labels `[batch]`); each batch's fakes are generated for the real
    batch's labels. The networks take `[latents, labels]` and `[examples, labels]` (the builders of this module
    with `num_labels` embed the labels and feed them in); a gradient penalty passes the labels through to the critic.
    Otherwise as `GAN`.

    Call arguments:
        inputs: `[latents [batch, latent_dim], labels [batch]]`.
        training: the generator's training mode.

    Example:
    >>> generator = mlp_generator(4, output_dim=2, units=8, num_labels=3)
    >>> discriminator = mlp_discriminator(2, units=8, num_labels=3)
    >>> model = ConditionalGAN(generator, discriminator, latent_dim=4, seed=0)
    >>> model.compile()
    >>> x, y = np.random.normal(size=(32, 2)), np.random.randint(0, 3, 32)
    >>> _ = model.fit(x, y, batch_size=16, verbose=0)
    >>> model.generate(labels=[0, 1, 2, 2], seed=0).shape
    TensorShape([4, 2])
    """

    def _latent_shape(self):
        return [(None, self.latent_dim), (None,)]

    def _example_shape(self):
        return [self.generator.compute_output_shape(self._latent_shape()), (None,)]

    def _unpack(self, data):
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        if y is None:
            raise ValueError("ConditionalGAN trains on `(examples, labels)` batches, got examples without labels.")
        return x, y

    def _generate(self, latents, conditions, training):
        return self.generator([latents, conditions], training=training)

    def _discriminate(self, examples, conditions, training):
        return self.discriminator([examples, conditions], training=training)

    def call(self, inputs, training=False):
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            raise ValueError(f"ConditionalGAN takes `[latents, labels]`, got {type(inputs).__name__}.")
        return self._generate(inputs[0], inputs[1], training)

    def generate(self, num_samples=None, labels=None, seed=None):
        """Examples for `labels` (int `[n]`, or one int repeated `num_samples` times), latents seeded as in
        `GAN.generate`."""
        if labels is None:
            raise ValueError("`labels` must be given: the class of each example to generate.")
        labels = ops.convert_to_tensor(labels, "int32")
        if len(labels.shape) == 0:
            labels = ops.full((_checks.positive_int("num_samples", num_samples),), labels, "int32")
        elif num_samples is not None and num_samples != labels.shape[0]:
            raise ValueError(f"`num_samples` ({num_samples}) must be the number of `labels` ({labels.shape[0]}).")
        latents = keras.random.normal((labels.shape[0], self.latent_dim), dtype="float32", seed=seed)
        return self._generate(latents, labels, training=False)


def _has_batch_normalization(network):
    return any(isinstance(layer, keras.layers.BatchNormalization) for layer in network._flatten_layers())


@keras.saving.register_keras_serializable(package="keras_dl")
class WGANGP(GAN):
    """WGAN-GP (Gulrajani et al. 2017): the Wasserstein loss with a gradient penalty, `n_critic` critic updates
    per generator update, and the paper's Adam(1e-4, beta_1=0.5, beta_2=0.9) as the default optimizers.

    The critic must not use batch normalization (it mixes the examples of a batch, and the penalty is on each
    example's own gradient): use `mlp_discriminator` or `dcgan_discriminator(..., normalization="layer")` (or
    `None`). Otherwise as `GAN` (with `loss="wasserstein"`).

    Args:
        generator, discriminator, latent_dim: as in `GAN` (the discriminator is the critic).
        n_critic: critic updates per generator update (the paper's 5).
        gradient_penalty_weight: the paper's lambda (10).
        **kwargs: `seed` and Keras model arguments.

    Example:
    >>> model = WGANGP(mlp_generator(4, output_dim=2, units=8), mlp_discriminator(2, units=8), latent_dim=4)
    >>> model.compile()
    >>> logs = model.train_on_batch(np.random.normal(size=(16, 2)), return_dict=True)
    >>> int(model.discriminator_optimizer.iterations), int(model.optimizer.iterations)
    (5, 1)
    """

    def __init__(self, generator, discriminator, latent_dim, n_critic=5, gradient_penalty_weight=10.0, **kwargs):
        if isinstance(discriminator, keras.layers.Layer) and _has_batch_normalization(discriminator):
            raise ValueError("`discriminator` (the critic) must not use BatchNormalization under a gradient "
                             "penalty: use layer normalization or none.")
        super().__init__(generator, discriminator, latent_dim, loss="wasserstein", n_critic=n_critic,
                         gradient_penalty_weight=gradient_penalty_weight, **kwargs)

    def _default_optimizer(self):
        return keras.optimizers.Adam(1e-4, beta_1=0.5, beta_2=0.9)

    def get_config(self):
        config = super().get_config()
        del config["loss"]
        return config


@keras.saving.register_keras_serializable(package="keras_dl")
class DCGAN(GAN):
    """DCGAN (Radford et al. 2016) for images of `image_shape`: `dcgan_generator` and `dcgan_discriminator`.

    Strided (transposed) convolutions and no pooling; batch normalization in both networks except the
    generator's output and the discriminator's input layer; ReLU in the generator with a tanh output (images in
    [-1, 1]); LeakyReLU(0.2) in the discriminator; Adam(2e-4, beta_1=0.5) by default.

    Args:
        image_shape: `(height, width, channels)`, sides a multiple of 2 (e.g. `(28, 28, 1)`, `(8, 8, 1)`,
            `(64, 64, 3)`): the generator starts at the sides halved until they are odd or 4 or less.
        latent_dim: width of the latents (the paper's 100).
        filters: channels of the widest-resolution convolution (doubled at each halving).
        **kwargs: `loss`, `n_critic`, `gradient_penalty_weight`, `seed` of `GAN`, and Keras model arguments.

    Example:
    >>> model = DCGAN((8, 8, 1), latent_dim=8, filters=4)
    >>> model(np.zeros((2, 8), "float32")).shape
    TensorShape([2, 8, 8, 1])
    """

    def __init__(self, image_shape, latent_dim=100, filters=64, **kwargs):
        super().__init__(dcgan_generator(latent_dim, image_shape, filters), dcgan_discriminator(image_shape, filters),
                         latent_dim, **kwargs)
        self.image_shape, self.filters = _image_shape("image_shape", image_shape), filters

    def get_config(self):
        config = super().get_config()
        del config["generator"], config["discriminator"]
        return {**config, "image_shape": self.image_shape, "filters": self.filters}


@keras.saving.register_keras_serializable(package="keras_dl")
class CycleGAN(_TwoPlayerModel):
    """CycleGAN (Zhu et al. 2017): unpaired translation between domains A and B by two generators and two
    discriminators, with least-squares adversarial losses and cycle-consistency and identity L1 losses.

    Trains on `(a_images, b_images)` batches (`fit(a, b)`, or a dataset of pairs drawn independently). Each step
    updates both generators at once on `MSE(D_B(G_AB(a)), 1) + MSE(D_A(G_BA(b)), 1) + cycle_weight * (|G_BA(G_AB(a))
    - a| + |G_AB(G_BA(b)) - b|) + cycle_weight * identity_weight * (|G_AB(b) - b| + |G_BA(a) - a|)` (means of
    absolute values), then both discriminators at once on `least_squares_discriminator_loss` against this step's
    fakes (the paper's history of 50 fakes is left out). `model.optimizer` updates the generators,
    `model.discriminator_optimizer` the discriminators; Adam(2e-4, beta_1=0.5) by default.

    Trackers: `g_loss` (the generators' total), `d_loss` (both discriminators'), `cycle_loss`, `identity_loss`
    (unweighted; the latter when `identity_weight > 0`).

    Args:
        generator_ab, generator_ba: Keras models from images of one domain to the other's (`cyclegan_generator`).
        discriminator_a, discriminator_b: Keras models from images to logits, e.g. PatchGAN maps
            (`cyclegan_discriminator`).
        cycle_weight: the paper's lambda (10).
        identity_weight: the identity loss' weight relative to `cycle_weight` (the reference code's 0.5).

    Call arguments:
        a_images: images of domain A; the model returns `generator_ab(a_images)` (`model.generator_ba` goes back).
        training: the generator's training mode.

    Example:
    >>> nets = [cyclegan_generator((8, 8, 1), filters=2, residual_blocks=1) for _ in range(2)]
    >>> nets += [cyclegan_discriminator((8, 8, 1), filters=2) for _ in range(2)]
    >>> model = CycleGAN(*nets)
    >>> model.compile()
    >>> a, b = np.random.uniform(-1, 1, (2, 4, 8, 8, 1))
    >>> sorted(model.train_on_batch(a, b, return_dict=True))
    ['cycle_loss', 'd_loss', 'g_loss', 'identity_loss']
    """

    def __init__(self, generator_ab, generator_ba, discriminator_a, discriminator_b, cycle_weight=10.0,
                 identity_weight=0.5, **kwargs):
        super().__init__(**kwargs)
        self.generator_ab = _built("generator_ab", generator_ab)
        self.generator_ba = _built("generator_ba", generator_ba)
        self.discriminator_a = _built("discriminator_a", discriminator_a)
        self.discriminator_b = _built("discriminator_b", discriminator_b)
        self.cycle_weight = _checks.non_negative_float("cycle_weight", cycle_weight)
        self.identity_weight = _checks.non_negative_float("identity_weight", identity_weight)
        shapes = {}
        for name, generator in (("generator_ab", generator_ab), ("generator_ba", generator_ba)):
            if len(getattr(generator, "inputs", None) or []) != 1:
                raise ValueError(f"`{name}` must be a functional model with one input (images), got {generator!r}.")
            shapes[name] = tuple(generator.inputs[0].shape), tuple(generator.output.shape)
            if self.identity_weight and shapes[name][0] != shapes[name][1]:
                raise ValueError(f"`identity_weight` > 0 needs generators whose outputs have their inputs' shape; "
                                 f"`{name}` maps {shapes[name][0]} to {shapes[name][1]}.")
        names = ["g_loss", "d_loss", "cycle_loss"] + (["identity_loss"] if self.identity_weight else [])
        self._trackers = {name: keras.metrics.Mean(name=name) for name in names}
        self.build(shapes["generator_ab"][0])

    def build(self, input_shape):
        # The networks are built above; Keras records the shape of domain A's images here (`export` reads it).
        pass

    def _generator_variables(self):
        return self.generator_ab.trainable_variables + self.generator_ba.trainable_variables

    def _discriminator_variables(self):
        return self.discriminator_a.trainable_variables + self.discriminator_b.trainable_variables

    def call(self, a_images, training=False):
        return self.generator_ab(a_images, training=training)

    def _unpack(self, data):
        a, b, _ = keras.utils.unpack_x_y_sample_weight(data)
        if b is None:
            raise ValueError("CycleGAN trains on `(a_images, b_images)` batches, got one domain only.")
        return _float32(a), _float32(b)

    def _generator_losses(self, a, b, training):
        fake_b, fake_a = self(a, training=training), self.generator_ba(b, training=training)
        # The paper's least-squares generator loss: E[(D(G(x)) - 1)^2], twice LSGAN's `least_squares_generator_loss`.
        adversarial = (_mean(ops.square(_float32(self.discriminator_b(fake_b, training=training)) - 1.0))
                       + _mean(ops.square(_float32(self.discriminator_a(fake_a, training=training)) - 1.0)))
        cycle = (_mean(ops.abs(_float32(self.generator_ba(fake_b, training=training)) - a))
                 + _mean(ops.abs(_float32(self.generator_ab(fake_a, training=training)) - b)))
        values = {"cycle_loss": cycle}
        total = adversarial + self.cycle_weight * cycle
        if self.identity_weight:
            identity = (_mean(ops.abs(_float32(self.generator_ab(b, training=training)) - b))
                        + _mean(ops.abs(_float32(self.generator_ba(a, training=training)) - a)))
            values["identity_loss"] = identity
            total = total + self.cycle_weight * self.identity_weight * identity
        values["g_loss"] = total
        return values, fake_a, fake_b

    def _discriminator_loss(self, a, b, fake_a, fake_b, training):
        return (least_squares_discriminator_loss(self.discriminator_a(a, training=training),
                                                 self.discriminator_a(fake_a, training=training))
                + least_squares_discriminator_loss(self.discriminator_b(b, training=training),
                                                   self.discriminator_b(fake_b, training=training)))

    def train_step(self, data):
        self._check_compiled()
        a, b = self._unpack(data)
        with tf.GradientTape() as tape:
            values, fake_a, fake_b = self._generator_losses(a, b, training=True)
            scaled = self._scaled(self.optimizer, values["g_loss"])
        self._apply(self.optimizer, tape, scaled, self._generator_variables())
        fake_a, fake_b = ops.stop_gradient(fake_a), ops.stop_gradient(fake_b)
        with tf.GradientTape() as tape:
            d_loss = self._discriminator_loss(a, b, fake_a, fake_b, training=True)
            scaled = self._scaled(self.discriminator_optimizer, d_loss)
        self._apply(self.discriminator_optimizer, tape, scaled, self._discriminator_variables())
        self._update_trackers(d_loss=d_loss, **values)
        return {m.name: m.result() for m in self.metrics}

    def test_step(self, data):
        a, b = self._unpack(data)
        values, fake_a, fake_b = self._generator_losses(a, b, training=False)
        self._update_trackers(d_loss=self._discriminator_loss(a, b, fake_a, fake_b, training=False), **values)
        return {m.name: m.result() for m in self.metrics}

    def get_config(self):
        return {**super().get_config(),
                **{name: keras.saving.serialize_keras_object(getattr(self, name))
                   for name in ("generator_ab", "generator_ba", "discriminator_a", "discriminator_b")},
                "cycle_weight": self.cycle_weight, "identity_weight": self.identity_weight}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for name in ("generator_ab", "generator_ba", "discriminator_a", "discriminator_b"):
            config[name] = keras.saving.deserialize_keras_object(config[name])
        return cls(**config)


# --------------------------------------------------------------------------------------------------------------------
# Networks.


def _image_shape(name, image_shape):
    shape = tuple(image_shape) if isinstance(image_shape, (list, tuple)) else None
    if shape is None or len(shape) != 3 or not all(isinstance(s, int) and s > 0 for s in shape):
        raise ValueError(f"`{name}` must be (height, width, channels) of positive ints, got {image_shape!r}.")
    return shape


def _halvings(image_shape):
    """How often DCGAN's networks halve the sides: until a side is odd or 4 or less."""
    height, width, _ = image_shape
    n = 0
    while height % 2 == 0 and width % 2 == 0 and min(height, width) > 4:
        height, width, n = height // 2, width // 2, n + 1
    if n == 0 and height % 2 == 0 and width % 2 == 0:
        n = 1
    if n == 0:
        raise ValueError(f"`image_shape` must have even height and width, got {image_shape}.")
    return n


def _label_input(num_labels, units, name):
    """An int label input and its embedding flattened to `[batch, units]`."""
    labels = keras.Input((), dtype="int32", name="labels")
    embedded = keras.layers.Embedding(_checks.positive_int("num_labels", num_labels), units,
                                      name=f"{name}_embedding")(labels)
    return labels, embedded


def dcgan_generator(latent_dim, image_shape, filters=64, num_labels=None, name="generator"):
    """DCGAN's generator: latents `[batch, latent_dim]` -> images `image_shape` in [-1, 1].

    A bias-free Dense projection to the smallest resolution (batch norm, ReLU), then stride-2 transposed 4x4
    convolutions doubling the sides (batch norm and ReLU after each, except the last, which has tanh and no
    batch norm). With `num_labels`, the model takes `[latents, labels]` and concatenates a label embedding (of
    width `latent_dim`) to the latents.

    Example:
    >>> dcgan_generator(100, (28, 28, 1)).output.shape
    (None, 28, 28, 1)
    """
    latent_dim = _checks.positive_int("latent_dim", latent_dim)
    image_shape = _image_shape("image_shape", image_shape)
    filters = _checks.positive_int("filters", filters)
    n = _halvings(image_shape)
    height, width, channels = image_shape[0] >> n, image_shape[1] >> n, image_shape[2]
    widths = [filters * 2 ** (n - 1 - i) for i in range(n)]
    latents = keras.Input((latent_dim,), name="latents")
    inputs, h = latents, latents
    if num_labels is not None:
        labels, embedded = _label_input(num_labels, latent_dim, name)
        inputs, h = [latents, labels], keras.layers.Concatenate()([latents, embedded])
    h = keras.layers.Dense(height * width * widths[0], use_bias=False)(h)
    h = keras.layers.Reshape((height, width, widths[0]))(h)
    h = keras.layers.ReLU()(keras.layers.BatchNormalization()(h))
    for units in widths[1:]:
        h = keras.layers.Conv2DTranspose(units, 4, strides=2, padding="same", use_bias=False)(h)
        h = keras.layers.ReLU()(keras.layers.BatchNormalization()(h))
    images = keras.layers.Conv2DTranspose(channels, 4, strides=2, padding="same", activation="tanh")(h)
    return keras.Model(inputs, images, name=name)


_NORMALIZATIONS = ("batch", "layer", None)


def dcgan_discriminator(image_shape, filters=64, num_labels=None, normalization="batch", logit_bias=True,
                        name="discriminator"):
    """DCGAN's discriminator: images `image_shape` -> logits `[batch, 1]`.

    Stride-2 4x4 convolutions (as many as `dcgan_generator` has), LeakyReLU(0.2), normalization after each but
    the first, then a Dense logit. `normalization="batch"` is DCGAN's; `"layer"` (over each example) or `None`
    make a WGAN-GP critic, best with `logit_bias=False` (the Wasserstein loss ignores a constant added to the
    critic, so that bias never gets a gradient). With `num_labels`, the model takes `[images, labels]` and
    appends a label embedding as one more image channel.

    Example:
    >>> dcgan_discriminator((8, 8, 1), filters=4).output.shape
    (None, 1)
    """
    image_shape = _image_shape("image_shape", image_shape)
    filters = _checks.positive_int("filters", filters)
    if normalization not in _NORMALIZATIONS:
        raise ValueError(f"`normalization` must be one of {_NORMALIZATIONS}, got {normalization!r}.")
    n = _halvings(image_shape)
    images = keras.Input(image_shape, name="images")
    inputs, h = images, images
    if num_labels is not None:
        labels, embedded = _label_input(num_labels, image_shape[0] * image_shape[1], name)
        plane = keras.layers.Reshape(image_shape[:2] + (1,))(embedded)
        inputs, h = [images, labels], keras.layers.Concatenate()([images, plane])
    for i in range(n):
        normalized = i > 0 and normalization is not None
        h = keras.layers.Conv2D(filters * 2 ** i, 4, strides=2, padding="same", use_bias=not normalized)(h)
        if normalized:
            norm = (keras.layers.BatchNormalization() if normalization == "batch"
                    else keras.layers.LayerNormalization(axis=(-3, -2, -1)))
            h = norm(h)
        h = keras.layers.LeakyReLU(0.2)(h)
    logits = keras.layers.Dense(1, use_bias=logit_bias)(keras.layers.Flatten()(h))
    return keras.Model(inputs, logits, name=name)


def mlp_generator(latent_dim, output_dim=2, units=128, num_layers=3, num_labels=None, name="generator"):
    """A multilayer-perceptron generator for low-dimensional data (the 8- and 25-Gaussian mixtures): latents
    `[batch, latent_dim]` -> points `[batch, output_dim]`, `num_layers` ReLU layers of `units` and a linear output.
    With `num_labels`, the model takes `[latents, labels]` and concatenates a label embedding to the latents.

    Example:
    >>> mlp_generator(2).output.shape
    (None, 2)
    """
    latent_dim = _checks.positive_int("latent_dim", latent_dim)
    latents = keras.Input((latent_dim,), name="latents")
    inputs, h = latents, latents
    if num_labels is not None:
        labels, embedded = _label_input(num_labels, latent_dim, name)
        inputs, h = [latents, labels], keras.layers.Concatenate()([latents, embedded])
    for _ in range(_checks.positive_int("num_layers", num_layers)):
        h = keras.layers.Dense(_checks.positive_int("units", units), activation="relu")(h)
    return keras.Model(inputs, keras.layers.Dense(_checks.positive_int("output_dim", output_dim))(h), name=name)


def mlp_discriminator(input_dim=2, units=128, num_layers=3, num_labels=None, logit_bias=True, name="discriminator"):
    """A multilayer-perceptron discriminator (or WGAN-GP critic: no batch norm): points `[batch, input_dim]` ->
    logits `[batch, 1]`, `num_layers` LeakyReLU(0.2) layers of `units`. With `num_labels`, the model takes
    `[points, labels]` and concatenates a label embedding (of width `units`) to the points. `logit_bias=False`
    for a Wasserstein critic (as in `dcgan_discriminator`).

    Example:
    >>> mlp_discriminator(2).output.shape
    (None, 1)
    """
    points = keras.Input((_checks.positive_int("input_dim", input_dim),), name="points")
    inputs, h = points, points
    if num_labels is not None:
        labels, embedded = _label_input(num_labels, units, name)
        inputs, h = [points, labels], keras.layers.Concatenate()([points, embedded])
    for _ in range(_checks.positive_int("num_layers", num_layers)):
        h = keras.layers.LeakyReLU(0.2)(keras.layers.Dense(_checks.positive_int("units", units))(h))
    return keras.Model(inputs, keras.layers.Dense(1, use_bias=logit_bias)(h), name=name)


def _instance_norm():
    return keras.layers.GroupNormalization(groups=-1)  # One group per channel: instance normalization.


def cyclegan_generator(image_shape, filters=64, residual_blocks=9, downsamplings=2, output_channels=None,
                       name=None):
    """CycleGAN's ResNet generator: images `image_shape` -> images with `output_channels` (default: the same) in
    [-1, 1].

    A 7x7 convolution of `filters`, `downsamplings` stride-2 3x3 convolutions (doubling the filters),
    `residual_blocks` residual blocks, as many stride-2 transposed convolutions, and a 7x7 convolution with tanh;
    instance normalization (`GroupNormalization(groups=-1)`) and ReLU after every convolution but the last. Zero
    "same" padding stands in for the paper's reflection padding. Height and width must be multiples of
    `2 ** downsamplings`.

    Example:
    >>> cyclegan_generator((32, 32, 3), filters=8, residual_blocks=2).output.shape
    (None, 32, 32, 3)
    """
    image_shape = _image_shape("image_shape", image_shape)
    filters = _checks.positive_int("filters", filters)
    downsamplings = _checks.non_negative_int("downsamplings", downsamplings)
    if image_shape[0] % 2 ** downsamplings or image_shape[1] % 2 ** downsamplings:
        raise ValueError(f"`image_shape` must have sides that are multiples of 2 ** downsamplings = "
                         f"{2 ** downsamplings}, got {image_shape}.")

    def conv(h, units, kernel, strides=1, transpose=False):
        layer = keras.layers.Conv2DTranspose if transpose else keras.layers.Conv2D
        h = layer(units, kernel, strides=strides, padding="same", use_bias=False)(h)
        return keras.layers.ReLU()(_instance_norm()(h))

    images = keras.Input(image_shape, name="images")
    h = conv(images, filters, 7)
    for i in range(downsamplings):
        h = conv(h, filters * 2 ** (i + 1), 3, strides=2)
    width = filters * 2 ** downsamplings
    for _ in range(_checks.non_negative_int("residual_blocks", residual_blocks)):
        r = conv(h, width, 3)
        r = _instance_norm()(keras.layers.Conv2D(width, 3, padding="same", use_bias=False)(r))
        h = keras.layers.Add()([h, r])
    for i in reversed(range(downsamplings)):
        h = conv(h, filters * 2 ** i, 3, strides=2, transpose=True)
    outputs = keras.layers.Conv2D(output_channels or image_shape[2], 7, padding="same", activation="tanh")(h)
    return keras.Model(images, outputs, name=name)


def cyclegan_discriminator(image_shape, filters=64, num_layers=3, name=None):
    """CycleGAN's PatchGAN discriminator: images -> a map of logits `[batch, h, w, 1]`, one per image patch.

    `num_layers` stride-2 4x4 convolutions (filters doubling from `filters`, at most 8x), a stride-1 one, and a
    4x4 convolution to one logit; LeakyReLU(0.2), and instance normalization after every convolution but the
    first and the last. With the defaults on 256x256 images each logit sees a 70x70 patch.

    Example:
    >>> cyclegan_discriminator((32, 32, 3), filters=8).output.shape
    (None, 4, 4, 1)
    """
    image_shape = _image_shape("image_shape", image_shape)
    filters = _checks.positive_int("filters", filters)
    images = keras.Input(image_shape, name="images")
    h = keras.layers.LeakyReLU(0.2)(keras.layers.Conv2D(filters, 4, strides=2, padding="same")(images))
    for i in range(1, _checks.positive_int("num_layers", num_layers) + 1):
        strides = 2 if i < num_layers else 1
        h = keras.layers.Conv2D(filters * min(2 ** i, 8), 4, strides=strides, padding="same", use_bias=False)(h)
        h = keras.layers.LeakyReLU(0.2)(_instance_norm()(h))
    return keras.Model(images, keras.layers.Conv2D(1, 4, padding="same")(h), name=name)
