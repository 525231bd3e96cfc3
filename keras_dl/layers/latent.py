"""Latent-variable layers: the reparameterised Gaussian sample and an inverse autoregressive flow."""

import keras
import numpy as np
from keras import ops

from keras_dl import _checks


@keras.saving.register_keras_serializable(package="keras_dl")
class GaussianSample(keras.layers.Layer):
    """Draws `z = mean + exp(log_variance / 2) * eps`, `eps ~ N(0, I)` (the reparameterisation trick).

    The noise enters as an input to a deterministic function of `mean` and `log_variance`, so
    gradients flow to both (Kingma & Welling 2014). Noise comes from the layer's own seeded
    Keras `SeedGenerator` (Keras does not save its state: `VAE` reseeds it from its seed and the
    training step, so a resumed run draws the same noise). In inference (`training=False`, e.g. `predict`
    or an exported graph) it returns `mean` unless `sample_at_inference=True`.

    Args:
        sample_at_inference: draw noise outside training too.
        seed: seed of the noise (default: drawn from Keras' global seed).

    Call arguments:
        inputs: `[mean, log_variance]`, two tensors of the same shape.
        training: whether to draw noise.

    Example:
    >>> sample = GaussianSample(seed=1)
    >>> mean, log_variance = np.zeros((2, 3), "float32"), np.zeros((2, 3), "float32")
    >>> sample([mean, log_variance]).shape, float(sample([mean, log_variance], training=False)[0, 0])
    (TensorShape([2, 3]), 0.0)
    """

    def __init__(self, sample_at_inference=False, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.sample_at_inference = bool(sample_at_inference)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=None):
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            raise ValueError("GaussianSample expects `[mean, log_variance]`.")
        mean, log_variance = inputs
        if not (training or self.sample_at_inference):
            return mean
        noise = keras.random.normal(ops.shape(mean), dtype=mean.dtype, seed=self.seed_generator)
        return mean + ops.exp(0.5 * log_variance) * noise

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "sample_at_inference": self.sample_at_inference, "seed": self.seed}


def made_masks(dim, units):
    """MADE's masks (Germain et al. 2015) for `dim` inputs -> `units` hidden -> `dim` outputs.

    Input `i` has degree `i + 1`; hidden unit `j` degree `j mod max(dim - 1, 1) + 1`. A hidden
    unit sees inputs of degree <= its own; output `i` sees hidden units of degree < `i + 1`, so
    output `i` depends on inputs `0 .. i - 1` only.
    """
    inputs = np.arange(1, dim + 1)
    hidden = np.arange(units) % max(dim - 1, 1) + 1
    return ((hidden[None, :] >= inputs[:, None]).astype("float32"),
            (inputs[None, :] > hidden[:, None]).astype("float32"))


@keras.saving.register_keras_serializable(package="keras_dl")
class InverseAutoregressiveFlow(keras.layers.Layer):
    """Inverse autoregressive flow (Kingma et al. 2016): a posterior richer than mean field.

    Each step runs a MADE network over `z` (and an optional context from the encoder) to get
    `m, s` where `m_i, s_i` depend on `z_<i` only, then `sigma = sigmoid(s + forget_bias)` and
    `z <- sigma * z + (1 - sigma) * m` (the paper's numerically stable form). The Jacobian is
    triangular, so `log |det| = sum log sigma`, and `log q(z_T) = log q(z_0) - log_det`. The
    variable order is reversed between steps, so every variable can depend on every other.

    Args:
        num_steps: flow steps.
        hidden_units: width of each step's MADE hidden layer.
        forget_bias: added to `s`; a positive value starts the flow near the identity.

    Call arguments:
        inputs: `z` `[batch, latent_dim]`, or `[z, context]` with `context` `[batch, c]`.

    Returns:
        `(z_T, log_det)`: the transformed sample and `sum log sigma` per example `[batch]`.

    Example:
    >>> flow = InverseAutoregressiveFlow(num_steps=2, hidden_units=8)
    >>> z, log_det = flow(np.zeros((4, 3), "float32"))
    >>> z.shape, log_det.shape
    (TensorShape([4, 3]), TensorShape([4]))
    """

    def __init__(self, num_steps=2, hidden_units=64, forget_bias=1.0, **kwargs):
        super().__init__(**kwargs)
        self.num_steps = _checks.positive_int("num_steps", num_steps)
        self.hidden_units = _checks.positive_int("hidden_units", hidden_units)
        self.forget_bias = float(forget_bias)

    def build(self, input_shape):
        has_context = isinstance(input_shape, (list, tuple)) and isinstance(input_shape[0], (list, tuple))
        z_shape = input_shape[0] if has_context else input_shape
        dim, units = z_shape[-1], self.hidden_units
        self.input_mask, self.output_mask = made_masks(dim, units)
        self.steps = []
        for step in range(self.num_steps):
            weights = {
                "kernel": self.add_weight(name=f"step{step}_kernel", shape=(dim, units)),
                "bias": self.add_weight(name=f"step{step}_bias", shape=(units,), initializer="zeros"),
                "output_kernel": self.add_weight(name=f"step{step}_output_kernel", shape=(units, 2 * dim)),
                "output_bias": self.add_weight(name=f"step{step}_output_bias", shape=(2 * dim,),
                                               initializer="zeros"),
            }
            if has_context:
                weights["context_kernel"] = self.add_weight(name=f"step{step}_context_kernel",
                                                            shape=(input_shape[1][-1], units))
            self.steps.append(weights)

    def call(self, inputs):
        z, context = inputs if isinstance(inputs, (list, tuple)) else (inputs, None)
        input_mask = ops.cast(self.input_mask, z.dtype)
        output_mask = ops.cast(ops.concatenate([self.output_mask, self.output_mask], axis=1), z.dtype)
        log_det = ops.zeros(ops.shape(z)[:1], dtype=z.dtype)
        for step, weights in enumerate(self.steps):
            if step:
                z = ops.flip(z, axis=-1)
            hidden = ops.matmul(z, weights["kernel"] * input_mask) + weights["bias"]
            if context is not None:
                hidden = hidden + ops.matmul(context, weights["context_kernel"])
            outputs = ops.matmul(ops.relu(hidden), weights["output_kernel"] * output_mask) + weights["output_bias"]
            m, s = ops.split(outputs, 2, axis=-1)
            sigma = ops.sigmoid(s + self.forget_bias)
            z = sigma * z + (1.0 - sigma) * m
            log_det = log_det + ops.sum(ops.log_sigmoid(s + self.forget_bias), axis=-1)
        if self.num_steps % 2 == 0:
            z = ops.flip(z, axis=-1)  # num_steps - 1 reversals: odd, so put the input's order back.
        return z, log_det

    def compute_output_shape(self, input_shape):
        z_shape = input_shape[0] if isinstance(input_shape[0], (list, tuple)) else input_shape
        return tuple(z_shape), tuple(z_shape[:1])

    def get_config(self):
        return {**super().get_config(), "num_steps": self.num_steps, "hidden_units": self.hidden_units,
                "forget_bias": self.forget_bias}
