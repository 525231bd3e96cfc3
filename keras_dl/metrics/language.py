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
    >>> metric = BitsPerCharacter()
    >>> metric.update_state(np.array([[3, 7]]), np.zeros((1, 2, 256)))  # uniform logits over 256 bytes
    >>> round(float(metric.result()), 4)
    8.0
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


def streamed_bits_per_character(step, tokens, units):
    """Bits per character of a step model streamed over `tokens`, one token at a time from a zero state.

    Scores what a device runs: `step` is any callable with the step-model interface
    `{"token": int32[1], "state": float32[1, units]} -> {"logits", "state"}`, such as a
    Keras `step_model()` or a `TFLiteModel` of an exported (quantised, sparse) step file.
    Token t predicts token t + 1, so `len(tokens) - 1` predictions are scored.

    Example:
    >>> from keras_dl.export import TFLiteModel, export_tflite
    >>> from keras_dl.models import RNNLanguageModel
    >>> lm = RNNLanguageModel(embedding_dim=8, units=16)
    >>> step = TFLiteModel(export_tflite(lm.step_model(), "step.tflite"))
    >>> bits = streamed_bits_per_character(step, list(b"def f(x):"), 16)
    >>> 7.5 < bits < 8.5  # an untrained model is close to uniform: 8 bits
    True
    """
    tokens = np.asarray(tokens)
    if tokens.ndim != 1 or tokens.size < 2:
        raise ValueError(f"`tokens` must be a 1-D sequence of at least 2 tokens, got shape {tokens.shape}.")
    state = np.zeros((1, units), np.float32)
    nats = 0.0
    for token, target in zip(tokens[:-1], tokens[1:]):
        out = step({"token": np.array([token], np.int32), "state": state})
        logits = np.asarray(out["logits"], np.float64)[0]
        state = np.asarray(out["state"])
        top = logits.max()
        nats += top + np.log(np.exp(logits - top).sum()) - logits[target]
    return float(nats / (tokens.size - 1) / math.log(2.0))
