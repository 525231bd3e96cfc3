"""PixelCNN layers: causality measured by gradients (not by reading the mask), mask A vs B at the centre, RGB channel
groups, the blind spot of a masked stack and the gated stack without it, conditioning, errors."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_dl.diagnostics import receptive_field
from keras_dl.layers import GatedPixelCNNBlock
from keras_dl.layers import MaskedConv2D

H = W = 6


def seen_by(fn, shape, samples=4):
    """`[H, W, C_out, H, W, C_in]` bool: output channel at a pixel has a nonzero gradient wrt that input value (summed
    in absolute value over a few random images)."""
    x = tf.constant(np.random.default_rng(0).random((samples, *shape)), tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = fn(x)
    jacobian = tape.batch_jacobian(y, x)  # [n, H, W, C_out, H, W, C_in]
    return np.abs(np.asarray(jacobian)).sum(axis=0) > 0


def before(i, j):
    """`[H, W]` bool: pixels strictly before `(i, j)` in raster order."""
    order = np.arange(H * W).reshape(H, W)
    return order < order[i, j]


def window(i, j, size):
    r = size // 2
    mask = np.zeros((H, W), bool)
    mask[max(i - r, 0):i + r + 1, max(j - r, 0):j + r + 1] = True
    return mask


@pytest.mark.parametrize("mask_type", ["A", "B"])
def test_masked_conv_sees_exactly_the_earlier_pixels_of_its_window_and_the_centre_only_with_b(mask_type):
    keras.utils.set_random_seed(0)
    layer = MaskedConv2D(3, 5, mask_type=mask_type)
    seen = seen_by(layer, (H, W, 1))
    for i in range(H):
        for j in range(W):
            expected = before(i, j) & window(i, j, 5)
            expected[i, j] = mask_type == "B"
            for channel in range(3):
                np.testing.assert_array_equal(seen[i, j, channel, :, :, 0], expected, err_msg=f"{(i, j, channel)}")


@pytest.mark.parametrize("mask_type", ["A", "B"])
def test_channel_groups_order_r_before_g_before_b_at_the_current_pixel(mask_type):
    keras.utils.set_random_seed(0)
    layer = MaskedConv2D(6, 3, mask_type=mask_type, channel_groups=3)  # output channels 0-1: R, 2-3: G, 4-5: B
    seen = seen_by(layer, (H, W, 3))
    i, j = 3, 2
    for out in range(6):
        group = out // 2
        for c in range(3):
            assert seen[i, j, out, i, j, c] == (c < group if mask_type == "A" else c <= group), (out, c)
            # Every channel of an earlier pixel is seen, of a later one none.
            assert seen[i, j, out, i, j - 1, c] and seen[i, j, out, i - 1, j + 1, c]
            assert not seen[i, j, out, i, j + 1, c] and not seen[i, j, out, i + 1, j - 1, c]


def masked_stack(layers):
    """A mask-A 3x3 layer then `layers - 1` residual mask-B 3x3 layers, as the plain PixelCNN has."""
    first = MaskedConv2D(8, 3, mask_type="A")
    rest = [MaskedConv2D(8, 3) for _ in range(layers - 1)]

    def run(x):
        h = first(x)
        for conv in rest:
            h = h + conv(keras.ops.relu(h))
        return h

    return run


def gated_stack(layers, condition=None):
    blocks = [GatedPixelCNNBlock(8, mask_type="A" if i == 0 else "B") for i in range(layers)]

    def run(x):
        v, h = x, x
        for block in blocks:
            v, h = block([v, h] if condition is None else [v, h, condition])
        return h

    return run


def blind_spot(i, j):
    """The pixels of rows above that a stack of 3x3 masked convolutions cannot reach: more columns to the right
    than rows up."""
    rows, columns = np.mgrid[:H, :W]
    return (rows < i) & (columns - j > i - rows)


def test_a_masked_stack_has_exactly_the_blind_spot_and_the_gated_stack_sees_every_earlier_pixel():
    keras.utils.set_random_seed(0)
    masked, gated = masked_stack(6), gated_stack(6)  # 6 layers reach across a 6x6 image
    for i in range(H):
        for j in range(W):
            plain_field = receptive_field(masked, (H, W, 1), (i, j)) > 0
            gated_field = receptive_field(gated, (H, W, 1), (i, j)) > 0
            np.testing.assert_array_equal(plain_field, before(i, j) & ~blind_spot(i, j), err_msg=f"plain {(i, j)}")
            np.testing.assert_array_equal(gated_field, before(i, j), err_msg=f"gated {(i, j)}")
    # The specific pixels: above and right of (3, 2), (2, 4), (2, 5) and (1, 5) are the plain stack's blind spot.
    np.testing.assert_array_equal(np.argwhere(blind_spot(3, 2)), [[1, 5], [2, 4], [2, 5]])
    plain_field = receptive_field(masked, (H, W, 1), (3, 2))
    gated_field = receptive_field(gated, (H, W, 1), (3, 2))
    assert [plain_field[p] for p in [(1, 5), (2, 4), (2, 5)]] == [0.0, 0.0, 0.0]
    assert all(gated_field[p] > 0 for p in [(1, 5), (2, 4), (2, 5)])


def test_one_gated_block_of_type_a_sees_the_rows_above_its_window_and_the_pixels_left():
    keras.utils.set_random_seed(0)
    block = GatedPixelCNNBlock(4, kernel_size=5, mask_type="A")
    v_field = receptive_field(lambda x: block([x, x])[0], (H, W, 1), (3, 2)) > 0
    h_field = receptive_field(lambda x: block([x, x])[1], (H, W, 1), (3, 2)) > 0
    expected_v = np.zeros((H, W), bool)
    expected_v[1:3, 0:5] = True  # rows i-2..i-1, columns j-2..j+2
    np.testing.assert_array_equal(v_field, expected_v)
    expected_h = expected_v.copy()
    expected_h[3, 0:2] = True  # and the current row, columns j-2..j-1
    np.testing.assert_array_equal(h_field, expected_h)


def test_the_condition_biases_both_stacks_and_keeps_them_causal():
    keras.utils.set_random_seed(0)
    x = np.random.default_rng(1).random((2, H, W, 1)).astype("float32")
    one_hot = np.eye(3, dtype="float32")[[0, 2]]
    first, second = GatedPixelCNNBlock(4, mask_type="A"), GatedPixelCNNBlock(4)
    v, h = second(first([x, x, one_hot]) + [one_hot])
    v2, h2 = second(first([x, x, one_hot[::-1]]) + [one_hot[::-1]])
    assert not np.allclose(np.asarray(h), np.asarray(h2)) and not np.allclose(np.asarray(v), np.asarray(v2))
    field = receptive_field(gated_stack(6, condition=np.eye(3, dtype="float32")[[1] * 4]), (H, W, 1), (2, 3)) > 0
    np.testing.assert_array_equal(field, before(2, 3))


def test_round_trip_keeps_the_mask():
    keras.utils.set_random_seed(0)
    layer = MaskedConv2D(4, 3, mask_type="A", channel_groups=2, activation="relu")
    x = np.random.default_rng(0).random((1, 4, 4, 2)).astype("float32")
    y = layer(x)
    twin = MaskedConv2D.from_config(layer.get_config())
    twin.build(x.shape)
    twin.set_weights(layer.get_weights())
    np.testing.assert_allclose(np.asarray(twin(x)), np.asarray(y))
    assert twin.get_config() == layer.get_config()


@pytest.mark.parametrize("kwargs, match", [
    ({"mask_type": "C"}, "mask_type"),
    ({"kernel_size": 4}, "kernel_size"),
    ({"channel_groups": 0}, "channel_groups"),
    ({"filters": 4, "channel_groups": 3}, "multiple of `channel_groups`"),
    ({"padding": "valid"}, "padding"),
    ({"strides": 2}, "strides"),
])
def test_masked_conv_rejects_bad_arguments(kwargs, match):
    arguments = {"filters": 3, "kernel_size": 3, **kwargs}
    with pytest.raises(ValueError, match=match):
        MaskedConv2D(**arguments)


def test_masked_conv_rejects_inputs_that_do_not_split_into_the_channel_groups():
    with pytest.raises(ValueError, match="multiple of `channel_groups`=3"):
        MaskedConv2D(3, 3, channel_groups=3)(np.zeros((1, 4, 4, 2), "float32"))


def test_gated_block_rejects_bad_arguments_and_inputs():
    with pytest.raises(ValueError, match="kernel_size"):
        GatedPixelCNNBlock(4, kernel_size=1)
    with pytest.raises(ValueError, match="mask_type"):
        GatedPixelCNNBlock(4, mask_type="b")
    x = np.zeros((1, 4, 4, 2), "float32")
    with pytest.raises(ValueError, match="`filters`=4 channels"):
        GatedPixelCNNBlock(4)([x, x])
    with pytest.raises(ValueError, match="vertical, horizontal"):
        GatedPixelCNNBlock(4, mask_type="A")(x)
    with pytest.raises(ValueError, match="condition must be"):
        GatedPixelCNNBlock(4, mask_type="A")([x, x, x])
