"""Export of generative models' generators (a VAE's decoder, a GAN's generator): TFLite and SavedModel.

The latent noise is an input, never drawn inside the TFLite graph, so a phone can seed it and
LiteRT gives what Keras gives on the same latents. The SavedModel adds a `sample` signature
that draws the latents itself from a stateless seed (`tf.random.stateless_normal`), so a
server answers the same request with the same images.
"""

import keras
import tensorflow as tf

from keras_dl.export.saved_model import export_saved_model
from keras_dl.export.tflite import export_tflite


def generator_model(model):
    """The functional model `latents (, condition) -> sample in data space` of a generative model.

    A VAE's `decoder_model()` (the likelihood's mean of its decoder's output), a GAN's
    `generator`, a CycleGAN's `generator_ab` (images of domain A -> B), or a functional model
    given as it is.
    """
    if hasattr(model, "decoder_model"):
        return model.decoder_model()
    generator = getattr(model, "generator", getattr(model, "generator_ab", model))
    if not isinstance(generator, keras.Model) or not getattr(generator, "inputs", None):
        raise TypeError(f"`model` must be a VAE, a GAN or a functional generator, got {type(model).__name__} "
                        "without a functional generator.")
    return generator


class _Sampler(keras.Model):
    """`{"seed": int32[2], "num_samples" | "condition"} -> generator(stateless N(0, I) latents)` (export only)."""

    def __init__(self, generator, **kwargs):
        super().__init__(**kwargs)
        self.generator = generator
        self.latent_dim = int(generator.inputs[0].shape[-1])
        self.conditional = len(generator.inputs) > 1
        self.built = True  # Its only weights are the built generator's.

    def call(self, inputs):
        count = tf.shape(inputs["condition"])[0] if self.conditional else inputs["num_samples"]
        latents = tf.random.stateless_normal(tf.stack([count, self.latent_dim]), inputs["seed"])
        return self.generator([latents, inputs["condition"]] if self.conditional else latents)


def sample_latents(num_samples, latent_dim, seed):
    """The latents the SavedModel's `sample` signature draws for `seed` (two ints): N(0, I), `[num_samples, latent_dim]`."""
    return tf.random.stateless_normal([num_samples, latent_dim], tf.constant(seed, tf.int32))


def export_generator_tflite(model, path, **converter_options):
    """Writes the generator of a VAE or GAN as a `.tflite` file with built-in ops (latents are an input).

    `converter_options` (`quantization`, `batch_size`, ...) as in `export_tflite`.
    """
    return export_tflite(generator_model(model), path, **converter_options)


def export_generator_saved_model(model, path):
    """Writes a SavedModel with `serving_default` (latents (, condition) -> samples) and `sample`.

    `sample` takes `seed` (`int32[2]`) and `num_samples` (`int32` scalar), or `condition` in
    place of `num_samples` for a conditional generator (one sample per row), and draws the
    latents with `sample_latents`.
    """
    generator = generator_model(model)
    if len(generator.inputs[0].shape) != 2:
        raise ValueError(f"`model`'s generator takes {tuple(generator.inputs[0].shape)} inputs, not latents "
                         "[batch, latent_dim]: a `sample` signature needs a latent generator (export a CycleGAN's "
                         "translator with `export_saved_model`).")
    spec = {"seed": tf.TensorSpec([2], tf.int32, name="seed")}
    if len(generator.inputs) > 1:
        condition = generator.inputs[1]
        spec["condition"] = tf.TensorSpec([None, *condition.shape[1:]], condition.dtype, name="condition")
    else:
        spec["num_samples"] = tf.TensorSpec([], tf.int32, name="num_samples")
    return export_saved_model(path, {"generate": (generator, None), "sample": (_Sampler(generator, name="sampler"), [spec])})
