"""Bits wrong per sequence: the error measure of the NTM copy and associative-recall tasks (Graves et al. 2014)."""

import keras
from keras import ops


def bits_wrong(target, predicted_logits, weights=None):
    """Number of wrongly predicted bits of each sequence, counting only the weighted steps.

    A bit is predicted as 1 where `sigmoid(logit) > 0.5` (a logit above 0) and counts when it differs
    from the target on a step whose weight is non-zero.

    Args:
        target: 0/1 `[batch, time, bits]`.
        predicted_logits: `[batch, time, bits]`.
        weights: `[batch, time]`, non-zero on the steps that count (the recall phase); None: every step.

    Returns:
        `[batch]` float32 counts.
    """
    target = ops.convert_to_tensor(target)
    predicted_logits = ops.convert_to_tensor(predicted_logits)
    if len(target.shape) != 3 or tuple(predicted_logits.shape) != tuple(target.shape):
        raise ValueError(f"`target` and `predicted_logits` must both be [batch, time, bits], got shapes "
                         f"{tuple(target.shape)} and {tuple(predicted_logits.shape)}.")
    wrong = ops.not_equal(predicted_logits > 0, target > 0.5)
    if weights is not None:
        weights = ops.convert_to_tensor(weights)
        if tuple(weights.shape) != tuple(target.shape[:2]):
            raise ValueError(f"`weights` must be [batch, time] = {tuple(target.shape[:2])}, got shape "
                             f"{tuple(weights.shape)}.")
        wrong = ops.logical_and(wrong, ops.expand_dims(ops.not_equal(weights, 0), -1))
    return ops.sum(ops.cast(wrong, "float32"), axis=(1, 2))


def bits_wrong_per_sequence(target, predicted_logits, weights=None):
    """Mean over the batch of `bits_wrong`: the number of wrong bits per sequence in the weighted steps.

    Args:
        target: 0/1 `[batch, time, bits]`.
        predicted_logits: `[batch, time, bits]`; a bit is predicted as 1 where its sigmoid is above 0.5.
        weights: `[batch, time]`, non-zero on the steps that count (the recall phase); None: every step.

    Returns:
        a float32 scalar.

    Example:
    >>> target = np.array([[[1, 0], [1, 1], [0, 0]]], "float32")
    >>> logits = np.array([[[-2.0, 3.0], [1.0, -1.0], [5.0, 5.0]]], "float32")
    >>> float(bits_wrong_per_sequence(target, logits, np.array([[1, 1, 0]], "float32")))  # 2 + 1; step 3 ignored
    3.0
    """
    return ops.mean(bits_wrong(target, predicted_logits, weights))


@keras.saving.register_keras_serializable(package="keras_dl")
class BitsWrongPerSequence(keras.metrics.Mean):
    """Mean number of wrong bits per sequence (`bits_wrong`), over the steps `fit`'s `sample_weight` marks.

    The sample weights select the steps that count (the recall phase of `ntm_copy` or
    `associative_recall`); they do not weight the sequences, each of which counts once.

    Args:
        name, dtype: as in `keras.metrics.Mean`.

    Example:
    >>> metric = BitsWrongPerSequence()
    >>> target = np.array([[[1, 0], [1, 1]], [[0, 0], [0, 1]]], "float32")
    >>> logits = np.array([[[-1.0, 1.0], [1.0, 1.0]], [[1.0, 1.0], [-1.0, 1.0]]], "float32")
    >>> metric.update_state(target, logits, sample_weight=np.array([[1, 1], [0, 1]], "float32"))
    >>> float(metric.result())  # (2 + 0) / 2
    1.0
    """

    def __init__(self, name="bits_wrong", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self._direction = "down"

    def update_state(self, y_true, y_pred, sample_weight=None):
        return super().update_state(bits_wrong(y_true, y_pred, sample_weight))

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}
