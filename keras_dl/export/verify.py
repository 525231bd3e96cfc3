"""Numeric checks of an exported model against its Keras source."""

import numpy as np


def compare_step_models(keras_step, exported_step, tokens, units):
    """Runs two step models over the same token sequence and compares their logits.

    Each model carries its own state from a zero state, so differences that compound
    through the recurrence are caught, not only those of a single step.

    Args:
        keras_step: Keras step model (`{"token", "state"} -> {"logits", "state"}`).
        exported_step: any callable with the same dict interface (e.g. `TFLiteModel`).
        tokens: sequence of int tokens to feed.
        units: state size.

    Returns:
        `{"max_abs_logit_diff": float, "argmax_agreement": fraction of steps whose most
        likely next token is the same}`.
    """
    keras_state = exported_state = np.zeros((1, units), np.float32)
    worst, agree = 0.0, 0
    for token in tokens:
        token = np.array([token], np.int32)
        expected = keras_step({"token": token, "state": keras_state})
        actual = exported_step({"token": token, "state": exported_state})
        keras_state, exported_state = np.asarray(expected["state"]), np.asarray(actual["state"])
        expected_logits = np.asarray(expected["logits"])
        worst = max(worst, float(np.max(np.abs(expected_logits - actual["logits"]))))
        agree += int(np.argmax(expected_logits) == np.argmax(actual["logits"]))
    return {"max_abs_logit_diff": worst, "argmax_agreement": agree / len(tokens)}
