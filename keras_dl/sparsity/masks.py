"""Magnitude masks: zero exactly the requested fraction of smallest weights or blocks."""

from keras import ops

from keras_dl import _checks

# LiteRT's sparse FULLY_CONNECTED kernels are fast for blocks along the input dimension:
# 1x4 (float) and 1x16 (int8) in TFLite's [out, in] filter, i.e. these in Keras' [in, out] kernel.
LITERT_FLOAT_BLOCK = (4, 1)
LITERT_INT8_BLOCK = (16, 1)


def check_block_size(block_size, shape, name="weight"):
    """Validates a Keras-axes block `(rows, cols)` against a weight's shape; returns it as a tuple."""
    if not isinstance(block_size, (list, tuple)) or len(block_size) != 2:
        raise ValueError(f"`block_size` must be a pair (rows, cols) in Keras kernel axes, got {block_size!r}.")
    block = tuple(_checks.positive_int("block_size", b) for b in block_size)
    if block != (1, 1):
        if len(shape) != 2:
            raise ValueError(f"`block_size` {block} needs a 2-D weight; {name} has shape {tuple(shape)}.")
        if shape[0] % block[0] or shape[1] % block[1]:
            raise ValueError(
                f"`block_size` {block} does not divide {name} of shape {tuple(shape)} (rows are the input "
                f"dimension in Keras kernel axes; LiteRT wants {LITERT_FLOAT_BLOCK} for float, "
                f"{LITERT_INT8_BLOCK} for int8)."
            )
    return block


def magnitude_mask(weight, sparsity, block_size=(1, 1), groups=1):
    """0/1 mask of `weight`'s shape keeping exactly `max(round((1 - sparsity) * n), 1)` of its n blocks.

    Blocks are ranked by mean absolute value (tfmot's default pooling); ties go to the
    lower index, so the count is exact. With `groups > 1` the last axis is split into that
    many equal parts (an RNN kernel's gates) and each part is pruned on its own.

    Args:
        weight: tensor, rank >= 1.
        sparsity: fraction of zeros in [0, 1): a scalar, or one per group.
        block_size: `(rows, cols)` block in Keras kernel axes, for 2-D weights.
        groups: equal parts of the last axis pruned separately.
    """
    shape = tuple(weight.shape)
    if shape[-1] % groups:
        raise ValueError(f"`groups`={groups} does not divide the last axis of a weight of shape {shape}.")
    rows, cols = check_block_size(block_size, shape)
    w = ops.reshape(ops.abs(weight), (-1, shape[-1]))  # [rows, cols]; conv kernels flatten their spatial axes.
    n_rows, n_cols = w.shape[0], shape[-1] // groups
    if n_cols % cols:
        raise ValueError(f"`block_size` {block_size} does not divide a gate of width {n_cols} of a weight of shape {shape}.")
    # [groups, block rows, block cols] of block means.
    blocks = ops.reshape(w, (n_rows // rows, rows, groups, n_cols // cols, cols))
    blocks = ops.transpose(ops.mean(blocks, axis=(1, 4)), (1, 0, 2))
    scores = ops.reshape(blocks, (groups, -1))
    n = scores.shape[1]
    per_group = ops.broadcast_to(ops.reshape(ops.cast(sparsity, "float32"), (-1, 1)), (groups, 1))
    # tfmot's count: keep round(n * (1 - sparsity)) blocks, and never fewer than one.
    n_keep = ops.maximum(ops.round(float(n) * (1.0 - per_group)), 1.0)
    n_zero = ops.cast(n - n_keep, "int32")
    ranks = ops.argsort(ops.argsort(scores, axis=-1), axis=-1)  # 0 for the smallest block.
    keep = ops.cast(ranks >= n_zero, weight.dtype)
    keep = ops.reshape(keep, (groups, n_rows // rows, 1, n_cols // cols, 1))
    keep = ops.broadcast_to(keep, (groups, n_rows // rows, rows, n_cols // cols, cols))
    keep = ops.reshape(ops.transpose(keep, (1, 2, 0, 3, 4)), (n_rows, shape[-1]))
    return ops.reshape(keep, shape)
