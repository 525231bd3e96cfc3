"""Masked and gated convolutions of PixelCNN (van den Oord et al. 2016a, "Pixel Recurrent Neural Networks"; 2016b,
"Conditional Image Generation with PixelCNN Decoders").

Pixels are generated in raster order (row by row, left to right) and, within a pixel, channel by
channel (R, then G, then B). A layer is causal when its output at pixel `(i, j)` (channel group `g`)
depends only on input pixels before `(i, j)` in that order, plus, at `(i, j)` itself, on the input
channel groups before `g` (mask type A: the first layer, which sees the data) or up to `g` (type B:
later layers, whose inputs at `(i, j)` already obey A).

- `MaskedConv2D`: a `Conv2D` whose kernel is multiplied by that mask. A stack of them has a *blind
  spot*: pixels above and to the right of the current one that no path reaches.
- `GatedPixelCNNBlock`: the gated block with a vertical stack (everything in the rows above) and a
  horizontal stack (the current row, to the left), which together have no blind spot; tanh x sigmoid
  gates, a residual horizontal stack, optional class conditioning. The stacks are plain convolutions
  over padded inputs, shifted by cropping, so they export to TFLite with built-in ops (PAD, CONV_2D,
  STRIDED_SLICE).
"""

import keras
import numpy as np
from keras import ops

from keras_dl import _checks

MASK_TYPES = ("A", "B")


def _check_mask_type(mask_type):
    if mask_type not in MASK_TYPES:
        raise ValueError(f"`mask_type` must be 'A' (excludes the current pixel) or 'B' (includes it), "
                         f"got {mask_type!r}.")
    return mask_type


def _causal_mask(kernel_size, in_channels, out_channels, mask_type, channel_groups):
    """The `[kh, kw, in, out]` 0/1 mask: rows above the centre, the centre row left of it, and at the centre the
    input groups before (A) or up to (B) each output group (PixelRNN, section 3.4)."""
    kh, kw = kernel_size
    mask = np.zeros((kh, kw, in_channels, out_channels), np.float32)
    mask[:kh // 2] = 1.0
    mask[kh // 2, :kw // 2] = 1.0
    in_group = np.arange(in_channels) // (in_channels // channel_groups)
    out_group = np.arange(out_channels) // (out_channels // channel_groups)
    allowed = in_group[:, None] < out_group[None, :] if mask_type == "A" else in_group[:, None] <= out_group[None, :]
    mask[kh // 2, kw // 2] = allowed.astype(np.float32)
    return mask


@keras.saving.register_keras_serializable(package="keras_dl")
class MaskedConv2D(keras.layers.Conv2D):
    """A 2-D convolution whose kernel is masked so that each output sees only earlier pixels (PixelCNN).

    The kernel is multiplied by a fixed 0/1 mask in every call (the stored kernel keeps its masked
    entries, which get no gradient). At the centre tap, the channels are split into `channel_groups`
    contiguous groups (3 for RGB: R, G, B): output group `g` sees input groups `< g` with mask type A
    and `<= g` with type B. With one group, A excludes the current pixel and B includes it. Padding is
    always "same" and strides 1, so the output has the input's height and width.

    Args:
        filters: output channels (a multiple of `channel_groups`).
        kernel_size: an odd int or a pair of odd ints.
        mask_type: `"A"` (first layer: the current pixel's own value is hidden) or `"B"` (later layers).
        channel_groups: groups of channels ordered within a pixel (1 for grey images, 3 for RGB); the input
            channels must be a multiple of it too.
        **kwargs: `keras.layers.Conv2D`'s other arguments (activation, initialisers, regularisers...).

    Call arguments:
        inputs: `[batch, height, width, channels]`.

    Example:
    >>> layer = MaskedConv2D(2, 3, mask_type="A")
    >>> x = np.zeros((1, 4, 4, 1), "float32")
    >>> x[0, 2, 2, 0] = 1.0  # one bright pixel
    >>> seen = np.asarray(layer(x))[0, ..., 0] != 0
    >>> bool(seen[2, 2]), bool(seen[2, 3]), bool(seen[3, 2])  # not itself; the pixels after it do
    (False, True, True)
    """

    def __init__(self, filters, kernel_size, mask_type="B", channel_groups=1, **kwargs):
        for name, default in (("strides", 1), ("dilation_rate", 1), ("groups", 1)):
            value = kwargs.pop(name, default)
            if value not in (1, (1, 1), [1, 1]):
                raise ValueError(f"MaskedConv2D's `{name}` must be 1, got {value!r}.")
        padding = kwargs.pop("padding", "same")
        if padding != "same":
            raise ValueError(f"MaskedConv2D's `padding` must be 'same' (outputs aligned with inputs), got {padding!r}.")
        data_format = kwargs.pop("data_format", None)
        if data_format not in (None, "channels_last"):
            raise ValueError(f"MaskedConv2D's `data_format` must be 'channels_last', got {data_format!r}.")
        self.mask_type = _check_mask_type(mask_type)
        self.channel_groups = _checks.positive_int("channel_groups", channel_groups)
        filters = _checks.positive_int("filters", filters)
        if filters % self.channel_groups:
            raise ValueError(f"`filters` must be a multiple of `channel_groups`={self.channel_groups}, got {filters}.")
        super().__init__(filters, kernel_size, padding="same", data_format="channels_last", **kwargs)
        if any(k % 2 == 0 for k in self.kernel_size):
            raise ValueError(f"`kernel_size` must be odd (a centre pixel), got {kernel_size!r}.")
        self._mask = None

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None or channels % self.channel_groups:
            raise ValueError(f"MaskedConv2D's input channels must be a multiple of `channel_groups`="
                             f"{self.channel_groups}, got input shape {tuple(input_shape)}.")
        super().build(input_shape)
        self._mask = _causal_mask(self.kernel_size, channels, self.filters, self.mask_type, self.channel_groups)

    def convolution_op(self, inputs, kernel):
        return super().convolution_op(inputs, kernel * ops.cast(self._mask, kernel.dtype))

    def get_config(self):
        return {**super().get_config(), "mask_type": self.mask_type, "channel_groups": self.channel_groups}


def _gate(x):
    """PixelCNN's gated activation: tanh of one half times the sigmoid of the other."""
    a, b = ops.split(x, 2, axis=-1)
    return ops.tanh(a) * ops.sigmoid(b)


@keras.saving.register_keras_serializable(package="keras_dl")
class GatedPixelCNNBlock(keras.layers.Layer):
    """One gated PixelCNN layer (van den Oord et al. 2016b) with a vertical and a horizontal stack: no blind spot.

    With `r = kernel_size // 2`, the vertical stack at `(i, j)` sees the input rows `i - r .. i - 1`,
    columns `j - r .. j + r` (mask type A: the first block, over the image) or the vertical features of
    rows `i - r .. i` (type B: those already lie strictly above the image's row `i`). The horizontal stack
    sees the current row: columns `j - r .. j - 1` of the image (A) or `j - r .. j` of the horizontal
    features (B). The vertical pre-activation also feeds the horizontal one through a 1x1 convolution;
    both go through `tanh(.) * sigmoid(.)`, and the horizontal output is a 1x1 convolution of its gate,
    added to the horizontal input (type B: a residual stack; type A has no residual, its input being the
    image itself). A condition vector (a one-hot class or an embedding) adds learned biases to both
    stacks' pre-activations (conditional PixelCNN).

    Args:
        filters: feature channels of both stacks' outputs.
        kernel_size: odd int >= 3, the `n` of the `n x n` vertical and `1 x n` horizontal receptive fields.
        mask_type: `"A"` (the first block: excludes the current pixel) or `"B"`.
        kernel_initializer: initialiser of every convolution.

    Call arguments:
        inputs: `[vertical, horizontal]` or `[vertical, horizontal, condition]`: features `[batch, height,
            width, channels]` (the image for both in the first block; a type-B block's horizontal input has
            `filters` channels) and a condition `[batch, condition_dim]`.

    Returns `[vertical, horizontal]`, each `[batch, height, width, filters]`.

    Example:
    >>> image = np.random.default_rng(0).random((1, 5, 5, 1)).astype("float32")
    >>> v, h = GatedPixelCNNBlock(4, mask_type="A")([image, image])
    >>> v, h = GatedPixelCNNBlock(4)([v, h])
    >>> tuple(h.shape)
    (1, 5, 5, 4)
    """

    def __init__(self, filters, kernel_size=3, mask_type="B", kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.filters = _checks.positive_int("filters", filters)
        self.kernel_size = _checks.positive_int("kernel_size", kernel_size)
        if self.kernel_size < 3 or self.kernel_size % 2 == 0:
            raise ValueError(f"`kernel_size` must be an odd int >= 3, got {kernel_size}.")
        self.mask_type = _check_mask_type(mask_type)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        r = self.kernel_size // 2
        # Type A: one row (column) fewer, and the output cropped by one: the rows above (columns left) only.
        tall = r if self.mask_type == "A" else r + 1
        conv = lambda units, size, name: keras.layers.Conv2D(  # noqa: E731
            units, size, kernel_initializer=self.kernel_initializer, dtype=self.dtype_policy, name=name)
        self.vertical = conv(2 * self.filters, (tall, self.kernel_size), "vertical")
        self.horizontal = conv(2 * self.filters, (1, tall), "horizontal")
        self.link = conv(2 * self.filters, 1, "vertical_to_horizontal")
        self.output_conv = conv(self.filters, 1, "horizontal_output")
        self.vertical_condition = self.horizontal_condition = None

    def build(self, input_shape):
        if not isinstance(input_shape, (list, tuple)) or len(input_shape) not in (2, 3) or not all(
                isinstance(s, (list, tuple)) for s in input_shape):
            raise ValueError("GatedPixelCNNBlock is called on [vertical, horizontal] or [vertical, horizontal, "
                             f"condition], got input shape {input_shape!r}.")
        v_shape, h_shape, *condition = [tuple(s) for s in input_shape]
        if len(v_shape) != 4 or len(h_shape) != 4:
            raise ValueError(f"The vertical and horizontal inputs must be [batch, height, width, channels], got "
                             f"{v_shape} and {h_shape}.")
        if self.mask_type == "B" and h_shape[-1] != self.filters:
            raise ValueError(f"A type-B block adds its output to its horizontal input, which must have `filters`="
                             f"{self.filters} channels, got {h_shape[-1]}.")
        r = self.kernel_size // 2
        pad = lambda s, rows, cols: (s[0], None if s[1] is None else s[1] + rows,  # noqa: E731
                                     None if s[2] is None else s[2] + cols, s[3])
        self.vertical.build(pad(v_shape, r, 2 * r))
        self.horizontal.build(pad(h_shape, 0, r))
        self.link.build((*v_shape[:3], 2 * self.filters))
        self.output_conv.build((*h_shape[:3], self.filters))
        if condition:
            if len(condition[0]) != 2:
                raise ValueError(f"The condition must be [batch, condition_dim], got shape {condition[0]}.")
            dense = lambda name: keras.layers.Dense(  # noqa: E731
                2 * self.filters, use_bias=False, kernel_initializer=self.kernel_initializer,
                dtype=self.dtype_policy, name=name)
            self.vertical_condition, self.horizontal_condition = dense("vertical_condition"), dense(
                "horizontal_condition")
            self.vertical_condition.build(condition[0])
            self.horizontal_condition.build(condition[0])
        self.built = True

    def call(self, inputs):
        v, h, *condition = inputs
        r = self.kernel_size // 2
        pre_v = self.vertical(ops.pad(v, [[0, 0], [r, 0], [r, r], [0, 0]]))
        pre_h = self.horizontal(ops.pad(h, [[0, 0], [0, 0], [r, 0], [0, 0]]))
        if self.mask_type == "A":  # Row i then holds the rows above i only; column j the columns left of j.
            pre_v, pre_h = pre_v[:, :-1], pre_h[:, :, :-1]
        if condition:
            c = condition[0]
            if self.vertical_condition is None:
                raise ValueError("This block was built without a condition: call it on [vertical, horizontal].")
            pre_v = pre_v + self.vertical_condition(c)[:, None, None, :]
            pre_h = pre_h + self.horizontal_condition(c)[:, None, None, :]
        pre_h = pre_h + self.link(pre_v)
        out_h = self.output_conv(_gate(pre_h))
        return [_gate(pre_v), h + out_h if self.mask_type == "B" else out_h]

    def compute_output_shape(self, input_shape):
        shape = (*tuple(input_shape[0])[:3], self.filters)
        return [shape, shape]

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "mask_type": self.mask_type,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer)}
