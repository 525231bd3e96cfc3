"""sample_pixels on hand-made logit functions whose images are known in advance (eager: fast; XLA in test_pixelcnn)."""

import keras
import numpy as np
import pytest
from keras import ops

from keras_dl.decoding import sample_pixels


def counting(levels, shape, first=2):
    """Logits that make each value (raster order, channel by channel) the previous one + 1 mod `levels`."""
    height, width, channels = shape
    length = height * width * channels

    def logits_fn(images):
        codes = ops.reshape(images, (-1, length)) * (levels - 1)
        previous = ops.concatenate([ops.full((ops.shape(codes)[0], 1), first - 1.0), codes[:, :-1]], axis=1)
        target = ops.cast(ops.round(previous) + 1, "int32") % levels
        return ops.reshape(50.0 * ops.one_hot(target, levels), (-1, height, width, channels * levels))

    return logits_fn


def test_values_follow_raster_order_channel_by_channel_with_several_levels():
    seen, logits_fn = [], counting(4, (2, 3, 3))
    images = np.asarray(sample_pixels(lambda canvas: seen.append(np.asarray(canvas)) or logits_fn(canvas), (2, 3, 3),
                                      levels=4, num_samples=2, seed=0))
    assert images.shape == (2, 2, 3, 3) and images.dtype == np.float32
    expected = ((2 + np.arange(18)) % 4 / 3).reshape(2, 3, 3).astype(np.float32)
    np.testing.assert_array_equal(images, np.stack([expected] * 2))
    # The model sees the canvas as values k / 3 in [0, 1]: at the last step every value but the last one drawn.
    assert len(seen) == 18 and seen[-1].dtype == np.float32
    np.testing.assert_array_equal(seen[-1].reshape(2, -1)[:, :-1], images.reshape(2, -1)[:, :-1])
    assert not seen[-1].reshape(2, -1)[:, -1].any() and not seen[0].any()


def test_images_are_float32_whatever_floatx():
    # The canvas too: 1/3 in float16 is 0.33325, a value the model was not trained on.
    floatx, seen, logits_fn = keras.config.floatx(), [], counting(4, (2, 3, 3))
    keras.config.set_floatx("float16")
    try:
        images = np.asarray(sample_pixels(lambda canvas: seen.append(np.asarray(canvas)) or logits_fn(canvas), (2, 3, 3),
                                          levels=4, num_samples=2, seed=0))
    finally:
        keras.config.set_floatx(floatx)
    assert images.dtype == np.float32 and {canvas.dtype for canvas in seen} == {np.dtype("float32")}
    np.testing.assert_array_equal(seen[-1].reshape(2, -1)[:, :-1], images.reshape(2, -1)[:, :-1])
    np.testing.assert_array_equal(images[0], ((2 + np.arange(18)) % 4 / 3).reshape(2, 3, 3).astype(np.float32))


def test_a_bernoulli_logit_per_channel_for_binary_images():
    def copy_previous(images):  # the first value a coin flip, every later one the value before it
        flat = ops.reshape(images, (-1, 6))
        previous = ops.concatenate([ops.full((ops.shape(flat)[0], 1), 0.5), flat[:, :-1]], axis=1)
        return ops.reshape(40.0 * (2.0 * previous - 1.0), (-1, 1, 3, 2))

    images = np.asarray(sample_pixels(copy_previous, [1, 3, 2], levels=2, num_samples=32, seed=1)).reshape(32, 6)
    np.testing.assert_array_equal(images, np.repeat(images[:, :1], 6, axis=1))
    assert 0 < images[:, 0].sum() < 32  # the first value is drawn
    again = np.asarray(sample_pixels(copy_previous, (1, 3, 2), levels=2, num_samples=32, seed=1)).reshape(32, 6)
    np.testing.assert_array_equal(again, images)


def test_each_sampling_argument_reaches_the_sampler():
    fixed = np.random.default_rng(0).normal(size=(1, 2, 2, 5)).astype(np.float32)

    def logits_fn(images):  # the same flat-ish logits at every position, whatever the canvas
        return ops.tile(ops.convert_to_tensor(fixed), (ops.shape(images)[0], 1, 1, 1))

    def draw(**kwargs):
        return np.asarray(sample_pixels(logits_fn, (2, 2, 1), levels=5, num_samples=6, **kwargs))

    greedy = draw(temperature=0.0)
    np.testing.assert_array_equal(greedy, np.broadcast_to(np.argmax(fixed, -1)[..., None] / 4, greedy.shape))
    np.testing.assert_array_equal(draw(seed=3, top_k=1), greedy)
    np.testing.assert_array_equal(draw(seed=3, top_p=1e-6), greedy)
    drawn = draw(seed=3)
    np.testing.assert_array_equal(draw(seed=3, temperature=1.0), drawn)  # temperature 1 by default
    assert not np.array_equal(draw(seed=3, temperature=5.0), drawn)
    assert not np.array_equal(draw(seed=4), drawn) and not np.array_equal(drawn, greedy)


@pytest.mark.parametrize("kwargs, match", [
    ({"image_shape": (2, 2)}, r"^`image_shape` must be \(height, width, channels\), got \(2, 2\)\.$"),
    ({"image_shape": "2x2x1"}, r"^`image_shape` must be \(height, width, channels\), got '2x2x1'\.$"),
    ({"image_shape": "221"}, r"^`image_shape` must be \(height, width, channels\), got '221'\.$"),
    ({"image_shape": (0, 2, 1)}, r"^`height` must be a positive int, got 0\.$"),
    ({"image_shape": (2, 0, 1)}, r"^`width` must be a positive int, got 0\.$"),
    ({"image_shape": (2, 2, 0)}, r"^`channels` must be a positive int, got 0\.$"),
    ({"levels": 0}, r"^`levels` must be a positive int, got 0\.$"),
    ({"levels": 1}, r"^`levels` must be >= 2, got 1\.$"),
    ({"num_samples": 0}, r"^`num_samples` must be a positive int, got 0\.$"),
])
def test_bad_arguments_are_named_before_the_model_runs(kwargs, match):
    def logits_fn(images):
        raise AssertionError("the model ran")

    arguments = {"logits_fn": logits_fn, "image_shape": (2, 2, 1), "levels": 4, "num_samples": 1, **kwargs}
    with pytest.raises(ValueError, match=match):
        sample_pixels(**arguments)


@pytest.mark.parametrize("levels, per_pixel, match", [
    (4, 5, r"^`logits_fn` must give 1 x 4 logits per pixel, got 5\.$"),
    (4, 1, r"^`logits_fn` must give 1 x 4 logits per pixel, got 1\.$"),  # one logit is Bernoulli: 2 levels only
    (2, 3, r"^`logits_fn` must give 1 x 2 logits per pixel \(or one Bernoulli logit per channel\), got 3\.$"),
])
def test_logits_of_the_wrong_size_are_named(levels, per_pixel, match):
    def logits_fn(images):
        return ops.zeros((ops.shape(images)[0], 2, 2, per_pixel))

    with pytest.raises(ValueError, match=match):
        sample_pixels(logits_fn, (2, 2, 1), levels=levels, num_samples=1)


def test_three_channels_need_three_times_the_logits():
    with pytest.raises(ValueError, match=r"^`logits_fn` must give 3 x 4 logits per pixel, got 8\.$"):
        sample_pixels(lambda images: ops.zeros((1, 1, 1, 8)), (1, 1, 3), levels=4, num_samples=1)
