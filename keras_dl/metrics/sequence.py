"""Sequence losses and metrics for encoder-decoders: tfa.seq2seq's `sequence_loss`, exact match."""

import keras
from keras import ops


def sequence_loss(logits, targets, weights, average_across_timesteps=True, average_across_batch=True,
                  sum_over_timesteps=False, sum_over_batch=False):
    """Weighted cross-entropy of a sequence of logits, reduced as tfa.seq2seq's `sequence_loss`.

    The per-position cross-entropy is multiplied by `weights` (0 on padding), then:
    `average_across_*` sums over the axis and divides by the sum of the weights there;
    `sum_over_*` sums over the axis and divides by the number of non-zero weights there
    (both axes with both flags: a scalar; one axis: a vector over the other; none: `[batch, time]`).

    Args:
        logits: `[batch, time, vocabulary]`.
        targets: int `[batch, time]`.
        weights: `[batch, time]` (a mask as 0/1 floats, or any weights).
        average_across_timesteps, average_across_batch, sum_over_timesteps, sum_over_batch: the
            reduction; an axis cannot be both averaged and summed.

    Returns:
        the loss, of rank 0, 1 or 2.

    Example:
    >>> logits = np.log(np.array([[[0.5, 0.5], [0.9, 0.1]]], "float32"))
    >>> round(float(sequence_loss(logits, np.array([[0, 0]]), np.array([[1.0, 0.0]]))), 4)  # -log 0.5
    0.6931
    """
    logits, targets = ops.convert_to_tensor(logits), ops.convert_to_tensor(targets)
    weights = ops.convert_to_tensor(weights)
    if len(logits.shape) != 3 or len(targets.shape) != 2 or len(weights.shape) != 2:
        raise ValueError(f"`logits` must be [batch, time, vocabulary] and `targets` and `weights` [batch, time], "
                         f"got shapes {tuple(logits.shape)}, {tuple(targets.shape)}, {tuple(weights.shape)}.")
    axes, averaged = _reduction(average_across_timesteps, average_across_batch, sum_over_timesteps, sum_over_batch)
    crossent = keras.losses.sparse_categorical_crossentropy(targets, logits, from_logits=True)
    weights = ops.cast(weights, crossent.dtype)
    crossent = crossent * weights
    if not axes:
        return crossent
    denominator = ops.sum(weights if averaged else ops.cast(weights != 0, crossent.dtype), axis=axes)
    return ops.divide_no_nan(ops.sum(crossent, axis=axes), denominator)


def _reduction(average_across_timesteps, average_across_batch, sum_over_timesteps, sum_over_batch):
    """(the axes to reduce, whether they are averaged rather than summed), for the reductions tfa.seq2seq defines."""
    for axis, average, total in (("timesteps", average_across_timesteps, sum_over_timesteps),
                                 ("batch", average_across_batch, sum_over_batch)):
        if average and total:
            raise ValueError(f"`average_across_{axis}` and `sum_over_{axis}` cannot both be set.")
    average = (average_across_batch, average_across_timesteps)
    total = (sum_over_batch, sum_over_timesteps)
    axes = tuple(axis for axis in (0, 1) if average[axis] or total[axis])
    if any(average) and any(total):
        raise ValueError("Average over one axis and sum over the other is not a reduction tfa.seq2seq defines; "
                         "use the same kind on both axes, or one axis only.")
    return axes, any(average)


@keras.saving.register_keras_serializable(package="keras_dl")
class SequenceLoss(keras.losses.Loss):
    """`sequence_loss` as a Keras loss: the weights are `fit`'s `sample_weight` and any mask on the logits.

    By default the sum of the cross-entropy over every non-padding position divided by their
    number (tfa's `SequenceLoss` defaults). Integer targets, logits.

    Args:
        average_across_timesteps, average_across_batch, sum_over_timesteps, sum_over_batch: as in
            `sequence_loss`; the result must be a scalar (both axes reduced).

    Example:
    >>> loss = SequenceLoss()
    >>> logits = np.log(np.array([[[0.5, 0.5], [0.9, 0.1]]], "float32"))
    >>> round(float(loss(np.array([[0, 0]]), logits, sample_weight=np.array([[1.0, 1.0]]))), 4)
    0.3993
    """

    def __init__(self, average_across_timesteps=False, average_across_batch=False, sum_over_timesteps=True,
                 sum_over_batch=True, name="sequence_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        if not ((average_across_timesteps or sum_over_timesteps) and (average_across_batch or sum_over_batch)):
            raise ValueError("SequenceLoss must reduce both axes to a scalar: set average_across_* or sum_over_* "
                             "for both timesteps and batch.")
        self.reduction_flags = {"average_across_timesteps": bool(average_across_timesteps),
                                "average_across_batch": bool(average_across_batch),
                                "sum_over_timesteps": bool(sum_over_timesteps), "sum_over_batch": bool(sum_over_batch)}
        _reduction(**self.reduction_flags)  # Rejects inconsistent flags now, not in fit.

    def __call__(self, y_true, y_pred, sample_weight=None):
        weights = ops.ones(ops.shape(y_true), y_pred.dtype)
        if sample_weight is not None:  # [batch] (one weight per sequence) or [batch, time]
            sample_weight = ops.cast(sample_weight, y_pred.dtype)
            weights = weights * (ops.expand_dims(sample_weight, -1) if len(sample_weight.shape) == 1 else sample_weight)
        mask = getattr(y_pred, "_keras_mask", None)
        if mask is not None:
            weights = ops.where(mask, weights, ops.zeros_like(weights))
        return sequence_loss(y_pred, y_true, weights, **self.reduction_flags)

    def get_config(self):
        return {"name": self.name, **self.reduction_flags}


def exact_match(y_true, y_pred, padding_token=None, mask=None):
    """1.0 for each sequence whose predicted tokens all equal the targets (`padding_token` positions ignored).

    Args:
        y_true: int `[batch, time]`.
        y_pred: int tokens `[batch, time]`, or logits `[batch, time, vocabulary]` (their argmax).
        padding_token: a target token that is not compared (None: every position is).
        mask: `[batch, time]`, False where not compared (the mask of a model's logits).

    Returns:
        `[batch]` floats, 0 or 1.
    """
    y_true = ops.convert_to_tensor(y_true)
    y_pred = ops.convert_to_tensor(y_pred)
    if len(y_pred.shape) == 3:
        y_pred = ops.argmax(y_pred, axis=-1)
    if len(y_true.shape) != 2 or tuple(y_pred.shape) != tuple(y_true.shape):
        raise ValueError(f"`y_pred` must be tokens [batch, time] or logits [batch, time, vocabulary] matching `y_true` "
                         f"[batch, time], got shapes {tuple(y_pred.shape)} and {tuple(y_true.shape)}.")
    same = ops.equal(ops.cast(y_pred, "int32"), ops.cast(y_true, "int32"))
    if padding_token is not None:
        same = ops.logical_or(same, ops.equal(ops.cast(y_true, "int32"), padding_token))
    if mask is not None:
        same = ops.logical_or(same, ops.logical_not(mask))
    return ops.cast(ops.all(same, axis=-1), "float32")


@keras.saving.register_keras_serializable(package="keras_dl")
class ExactMatch(keras.metrics.Mean):
    """Fraction of sequences predicted exactly (`exact_match`), e.g. a normalised date or a sum.

    Args:
        padding_token: a target token that is not compared (None: every position is). Positions
            masked in the logits (e.g. by `Embedding(mask_zero=True)`) are not compared either.

    Example:
    >>> metric = ExactMatch(padding_token=0)
    >>> metric.update_state(np.array([[4, 2, 0], [4, 2, 0]]), np.array([[4, 2, 9], [4, 3, 0]]))
    >>> float(metric.result())
    0.5
    """

    def __init__(self, padding_token=None, name="exact_match", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.padding_token = padding_token
        self._direction = "up"

    def update_state(self, y_true, y_pred, sample_weight=None):
        # One value per sequence: the logits' [batch, time] mask decides what is compared, it is no weight.
        mask = getattr(y_pred, "_keras_mask", None)
        return super().update_state(exact_match(y_true, y_pred, self.padding_token, mask), sample_weight)

    def get_config(self):
        return {"padding_token": self.padding_token, "name": self.name, "dtype": self.dtype}
