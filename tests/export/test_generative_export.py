"""Generators of VAEs and GANs: TFLite with built-in ops equal to Keras; SavedModel `sample` signatures."""

import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_dl import export
from keras_dl import layers
from keras_dl import models

sys.path.insert(0, str(Path(__file__).parents[1] / "models"))
from test_vae import mlp_vae  # noqa: E402


def conv_vae():
    """A VAE with a transposed-convolution decoder over 8x8 images and a 2-logistic mixture likelihood."""
    x = keras.Input((8, 8, 1))
    h = keras.layers.Conv2D(4, 3, strides=2, padding="same", activation="relu")(x)
    encoder = keras.Model(x, keras.layers.Dense(4)(keras.layers.Flatten()(h)))
    z = keras.Input((2,))
    h = keras.layers.Reshape((4, 4, 2))(keras.layers.Dense(32, activation="relu")(z))
    decoder = keras.Model(z, keras.layers.Conv2DTranspose(6, 3, strides=2, padding="same")(h))
    return models.VAE(encoder, decoder, likelihood=layers.DiscretizedLogisticLikelihood(num_mixtures=2))


@pytest.mark.parametrize("make", [mlp_vae, lambda: mlp_vae(conditions=4), conv_vae],
                         ids=["vae", "conditional_vae", "conv_vae"])
def test_litert_equals_keras_on_the_same_latents(make, tmp_path):
    keras.utils.set_random_seed(0)
    model = make()
    path = export.export_generator_tflite(model, str(tmp_path / "generator.tflite"))
    ops = export.TFLiteModel(path).op_names
    assert not [op for op in ops if op.startswith("Flex") or op == "CUSTOM"], ops
    assert export.verify_tflite(export.generator_model(model), path)["max_abs_diff"] < 1e-5


@pytest.mark.parametrize("conditional", [False, True])
def test_saved_model_sample_signature_draws_the_documented_latents(conditional, tmp_path):
    keras.utils.set_random_seed(0)
    model = mlp_vae(conditions=4 if conditional else 0)
    export.export_generator_saved_model(model, str(tmp_path / "generator"))
    loaded = tf.saved_model.load(str(tmp_path / "generator"))
    assert sorted(loaded.signatures) == ["generate", "sample", "serving_default"]
    generator = export.generator_model(model)
    latents = export.sample_latents(3, model.latent_dim, [4, 5])
    if conditional:
        condition = tf.one_hot([0, 3, 1], 4)
        (served,) = loaded.signatures["sample"](seed=tf.constant([4, 5]), condition=condition).values()
        expected = generator([latents, condition])
    else:
        (served,) = loaded.signatures["sample"](seed=tf.constant([4, 5]), num_samples=tf.constant(3)).values()
        expected = generator(latents)
    np.testing.assert_allclose(served, expected, atol=1e-6)
    (again,) = loaded.signatures["generate"](**{"latents": latents, **(
        {"condition": condition} if conditional else {})}).values()
    np.testing.assert_allclose(again, expected, atol=1e-6)


def test_a_model_without_a_generator_is_refused():
    with pytest.raises(TypeError, match="functional generator"):
        export.generator_model(keras.layers.Dense(2))


def test_a_translator_gets_a_tflite_file_but_no_sample_signature(tmp_path):
    cycle = models.CycleGAN(*[models.cyclegan_generator((8, 8, 1), filters=2, residual_blocks=1, downsamplings=1)
                              for _ in range(2)],
                            *[models.cyclegan_discriminator((8, 8, 1), filters=2, num_layers=2) for _ in range(2)])
    path = export.export_generator_tflite(cycle, str(tmp_path / "a_to_b.tflite"))
    assert export.verify_tflite(cycle.generator_ab, path)["max_abs_diff"] < 1e-5
    with pytest.raises(ValueError, match="latent generator"):
        export.export_generator_saved_model(cycle, str(tmp_path / "never"))
    assert not (tmp_path / "never").exists()
