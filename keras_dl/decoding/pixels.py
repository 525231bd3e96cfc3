"""Pixel-by-pixel sampling of autoregressive image models (PixelCNN), in `keras_dl.decoding.sample`'s loop.

An image `[height, width, channels]` is a sequence of `height * width * channels` tokens in raster
order, channel by channel within a pixel (R, G, B). Each step writes the token drawn at the
previous step into the canvas, runs the model over the whole canvas and returns the logits of the
next value; `keras_dl.decoding.sample` draws it (temperature, top-k, top-p, Gumbel noise drawn from
the seed before the loop), so the loop is XLA-compilable and one seed repeats its draws.
"""

from keras import ops

from keras_dl import _checks
from keras_dl.decoding import search


def sample_pixels(logits_fn, image_shape, levels, num_samples, seed=None, temperature=1.0, top_k=None, top_p=None):
    """Draws `num_samples` images value by value from an autoregressive image model.

    Costs one call of `logits_fn` on the whole canvas per value (the plain PixelCNN sampler): wrap the
    call in `tf.function(jit_compile=True)` to compile the loop with XLA (`PixelCNN.sample` does).

    Args:
        logits_fn: `images [n, height, width, channels] (float, values k / (levels - 1)) -> logits [n, height,
            width, channels * p]`, with `p = levels` logits per channel, channel by channel, or `p = 1`
            Bernoulli logits when `levels` is 2. The logits at a position must depend only on the values
            before it (not yet drawn values are 0 in the canvas).
        image_shape: `(height, width, channels)`.
        levels: values per channel, >= 2 (2: binary images; 256: 8-bit images).
        num_samples: images to draw.
        seed: int seed of the draws (or a `keras.random.SeedGenerator`).
        temperature, top_k, top_p: as `keras_dl.decoding.sample`'s (temperature 0: the most probable value).

    Returns:
        float32 `[num_samples, height, width, channels]` with values `k / (levels - 1)`.

    Example:
    >>> def copy_previous(images):  # each value is the one before it, the first a coin flip
    ...     flat = ops.reshape(images, (-1, 6))
    ...     previous = ops.concatenate([ops.full((ops.shape(flat)[0], 1), 0.5), flat[:, :-1]], axis=1)
    ...     return ops.reshape(20.0 * (2.0 * previous - 1.0), (-1, 2, 3, 1))
    >>> images = np.asarray(sample_pixels(copy_previous, (2, 3, 1), levels=2, num_samples=8, seed=1))
    >>> bool(np.all(images == images[:, :1, :1]))  # every image one colour
    True
    """
    height, width, channels = (_checks.positive_int(name, value) for name, value in
                               zip(("height", "width", "channels"), _image_shape(image_shape)))
    levels = _checks.positive_int("levels", levels)
    if levels < 2:
        raise ValueError(f"`levels` must be >= 2, got {levels}.")
    num_samples = _checks.positive_int("num_samples", num_samples)
    length = height * width * channels
    positions = ops.arange(length, dtype="int32")

    def step(tokens, state):
        canvas, t = state
        value = ops.cast(tokens, "float32") / float(levels - 1)
        canvas = ops.where(positions[None, :] == (t - 1)[:, None], value[:, None], canvas)
        logits = ops.cast(logits_fn(ops.reshape(canvas, (-1, height, width, channels))), "float32")
        per_value = logits.shape[-1] // channels
        if per_value * channels != logits.shape[-1] or per_value not in (levels, 1) or (per_value == 1 and levels != 2):
            raise ValueError(f"`logits_fn` must give {channels} x {levels} logits per pixel"
                             f"{' (or one Bernoulli logit per channel)' if levels == 2 else ''}, got "
                             f"{logits.shape[-1]}.")
        logits = ops.take_along_axis(ops.reshape(logits, (-1, length, per_value)), t[:, None, None], axis=1)[:, 0]
        if per_value == 1:  # A Bernoulli logit l is the softmax over (0, l).
            logits = ops.concatenate([ops.zeros_like(logits), logits], axis=-1)
        return logits, (canvas, t + 1)

    state = (ops.zeros((num_samples, length), "float32"), ops.zeros((num_samples,), "int32"))
    drawn = search.sample(step, state, ops.zeros((num_samples,), "int32"), None, length, temperature=temperature,
                          top_k=top_k, top_p=top_p, seed=seed)
    return ops.reshape(ops.cast(drawn["tokens"], "float32") / float(levels - 1), (num_samples, height, width,
                                                                                    channels))


def _image_shape(image_shape):
    shape = tuple(image_shape) if isinstance(image_shape, (list, tuple)) else None
    if shape is None or len(shape) != 3:
        raise ValueError(f"`image_shape` must be (height, width, channels), got {image_shape!r}.")
    return shape

