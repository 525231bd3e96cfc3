"""The receptive field of one output pixel, measured by gradients (a PixelCNN's blind spot), and its plot."""

import numpy as np
import tensorflow as tf

from keras_dl import _checks


def receptive_field(model, image_shape, pixel, num_samples=4, seed=0):
    """How much one output pixel depends on each input pixel: `|d logits[pixel] / d image|`, as a `[H, W]` map.

    The gradient of the sum of the output's values at `pixel` (all its channels) with respect to the input
    image, in absolute value, summed over the input's channels and over `num_samples` random images
    (uniform in [0, 1]; several, so that a path a ReLU happens to close for one image still shows). An
    input pixel the output cannot see has exactly 0; for a causal image model every pixel at or after
    `pixel` in raster order must (mask type A), and a plain PixelCNN also shows its blind spot.

    Args:
        model: callable `images [n, H, W, C] -> outputs [n, H, W, K]` (a conditional model: wrap it, e.g.
            `lambda x: model([x, labels])`).
        image_shape: `(H, W, C)` of the input.
        pixel: `(row, column)` of the output pixel.
        num_samples: random images the gradients are summed over.
        seed: seed of those images.

    Returns:
        NumPy float64 `[H, W]`, >= 0.

    Example:
    >>> from keras_dl.layers import MaskedConv2D
    >>> field = receptive_field(MaskedConv2D(2, 3, mask_type="A"), (4, 4, 1), (2, 2))
    >>> (field > 0).astype(int)  # the 3x3 kernel's rows above and left of the centre
    array([[0, 0, 0, 0],
           [0, 1, 1, 1],
           [0, 1, 0, 0],
           [0, 0, 0, 0]])
    """
    if not isinstance(image_shape, (list, tuple)) or len(image_shape) != 3:
        raise ValueError(f"`image_shape` must be (height, width, channels), got {image_shape!r}.")
    height, width, _ = (_checks.positive_int("image_shape", s) for s in image_shape)
    if not isinstance(pixel, (list, tuple)) or len(pixel) != 2:
        raise ValueError(f"`pixel` must be (row, column), got {pixel!r}.")
    row = _checks.non_negative_int("pixel row", pixel[0], below=height)
    column = _checks.non_negative_int("pixel column", pixel[1], below=width)
    num_samples = _checks.positive_int("num_samples", num_samples)
    images = tf.constant(np.random.default_rng(seed).random((num_samples, *image_shape)), tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(images)
        outputs = model(images)
        if len(outputs.shape) != 4 or tuple(outputs.shape[1:3]) != (height, width):
            raise ValueError(f"`model` must map images to [batch, {height}, {width}, channels], got shape "
                             f"{tuple(outputs.shape)}.")
        target = tf.reduce_sum(tf.cast(outputs[:, row, column], tf.float32))
    gradients = tape.gradient(target, images)
    return np.abs(np.asarray(gradients, np.float64)).sum(axis=(0, 3))


def plot_receptive_field(path, field, pixel, title=None):
    """Draws a receptive-field map (`receptive_field`'s) into a PNG, atomically: black where the output pixel
    sees nothing, brighter where it depends more (log scale), the output pixel outlined in red.

    Example:
    >>> field = np.tril(np.ones((6, 6)), -1)
    >>> plot_receptive_field("field.png", field, (3, 2), title="lower triangle")
    'field.png'
    """
    from keras_dl.diagnostics.plots import _png
    from keras_dl.diagnostics.plots import _write
    from keras_dl.diagnostics.plots import plt

    field = np.asarray(field, np.float64)
    if field.ndim != 2 or not np.all(np.isfinite(field)) or np.any(field < 0):
        raise ValueError(f"`field` must be a [H, W] map of finite values >= 0, got shape {field.shape}.")
    seen = field > 0
    shown = np.zeros_like(field)
    if seen.any():  # Log scale: gradients span orders of magnitude; what is seen at all stays visible.
        logs = np.log10(field[seen])
        low = logs.min()
        shown[seen] = 0.25 + 0.75 * (logs - low) / max(logs.max() - low, 1e-12)
    fig, ax = plt.subplots(figsize=(4, 4), dpi=100)
    ax.imshow(shown, cmap="magma", vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.add_patch(plt.Rectangle((pixel[1] - 0.5, pixel[0] - 0.5), 1, 1, fill=False, edgecolor="red", linewidth=2))
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title)
    return _write(path, _png(fig))
