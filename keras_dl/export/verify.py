"""Numeric checks of an exported model against its Keras source."""

import numpy as np


def max_step_logit_diff(keras_step, exported_step, tokens, units):
    """Max |logits| difference of two step models run over the same token sequence.

    Each model carries its own state from a zero state, so differences that compound
    through the recurrence are caught, not only those of a single step.

    Args:
        keras_step: Keras step model (`{"token", "state"} -> {"logits", "state"}`).
        exported_step: any callable with the same dict interface (e.g. `TFLiteModel`).
        tokens: sequence of int tokens to feed.
        units: state size.
    """
    keras_state = exported_state = np.zeros((1, units), np.float32)
    worst = 0.0
    for token in tokens:
        token = np.array([token], np.int32)
        expected = keras_step({"token": token, "state": keras_state})
        actual = exported_step({"token": token, "state": exported_state})
        keras_state, exported_state = np.asarray(expected["state"]), np.asarray(actual["state"])
        worst = max(worst, float(np.max(np.abs(np.asarray(expected["logits"]) - actual["logits"]))))
    return worst
