"""Language-model metrics in bits."""

import math

import keras
import numpy as np


def bits_per_character(y_true, y_pred):
    """Per-position cross-entropy in bits of `y_pred` logits against integer `y_true`."""
    nats = keras.losses.sparse_categorical_crossentropy(y_true, y_pred, from_logits=True)
    return nats / math.log(2.0)


@keras.saving.register_keras_serializable(package="keras_dl")
class BitsPerCharacter(keras.metrics.MeanMetricWrapper):
    """Mean cross-entropy in bits per token (bits per character for byte-level models).

    Expects integer targets and logits. Perplexity is `2 ** bpc`.

    Example:
    >>> model.compile(loss=..., metrics=[BitsPerCharacter()])
    """

    def __init__(self, name="bpc", dtype=None):
        super().__init__(fn=bits_per_character, name=name, dtype=dtype)
        self._direction = "down"

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


def unigram_bits_per_character(train_counts, eval_counts):
    """Cross-entropy in bits of `eval_counts` under the add-one-smoothed unigram of `train_counts`.

    This is the baseline a language model must beat: the best it can do without context.
    """
    train_counts = np.asarray(train_counts, np.float64)
    eval_counts = np.asarray(eval_counts, np.float64)
    if train_counts.shape != eval_counts.shape or train_counts.ndim != 1:
        raise ValueError(
            "`train_counts` and `eval_counts` must be 1-D histograms of one shape, got "
            f"{train_counts.shape} and {eval_counts.shape}."
        )
    if eval_counts.sum() <= 0:
        raise ValueError("`eval_counts` is empty.")
    p = (train_counts + 1.0) / (train_counts.sum() + train_counts.size)
    return float(-(eval_counts * np.log2(p)).sum() / eval_counts.sum())
