"""Numeric checks of an exported model against its Keras source."""

import keras
import numpy as np
from keras import tree

from keras_dl._layers import sublayers
from keras_dl.export.recurrent import input_structure
from keras_dl.export.tflite import TFLiteModel


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


def verify_tflite(model, tflite_model, lengths=(1, 7, 50), padding=None, steps=50, token_range=None, seed=0):
    """Compares a Keras model with its `.tflite` export on random inputs: sequences of several
    lengths (and padded batches), or a stream of steps for a step model.

    A step model is one whose inputs include its own state outputs (as `streaming_model`
    makes them): both sides start from zero states, run `steps` random steps and each
    carries its own state, so differences that compound through the recurrence are caught.
    Otherwise each length of `lengths` is run once (a fixed-length file runs its own length).

    Args:
        model: the Keras model that was exported.
        tflite_model: a `.tflite` path or a `TFLiteModel`.
        lengths: sequence lengths to try on a file that accepts any length.
        padding: `None`, `"post"` or `"pre"`: zero-pad each batch row to a random length
            (zeros are what `Masking` and `Embedding(mask_zero=True)` mask).
        steps: number of steps for a step model.
        token_range: integer inputs are drawn from `[0, token_range)`; by default the
            vocabulary of the model's first `Embedding`, else 2.
        seed: seed of the random inputs.

    Returns:
        `{"max_abs_diff": largest |Keras - LiteRT| over every output, "argmax_agreement":
        fraction of positions whose argmax over the last axis of the first output agrees,
        "lengths": the lengths (or number of steps) checked}`.

    Example:
    >>> from keras_dl.export import export_tflite
    >>> model = keras.Sequential([keras.Input((None, 4)), keras.layers.Masking(), keras.layers.LSTM(8)])
    >>> report = verify_tflite(model, export_tflite(model, "m.tflite"), padding="post")
    >>> report["max_abs_diff"] < 1e-5, report["lengths"]
    (True, [1, 7, 50])
    """
    if padding not in (None, "post", "pre"):
        raise ValueError(f"`padding` must be None, 'post' or 'pre', got {padding!r}.")
    tflite = tflite_model if isinstance(tflite_model, TFLiteModel) else TFLiteModel(tflite_model)
    details = tflite.runner.get_input_details()
    if token_range is None:
        embeddings = [layer for layer in sublayers(model) if isinstance(layer, keras.layers.Embedding)]
        token_range = embeddings[0].input_dim if embeddings else 2
    rng = np.random.default_rng(seed)

    def random_inputs(length):
        arrays = {}
        for name, d in details.items():
            shape = [int(n) for n in d["shape"]]
            if length is not None and len(shape) > 1 and int(d["shape_signature"][1]) == -1:
                shape[1] = length  # Only a time axis of any length: a static one (a condition's width) stays.
            if np.issubdtype(d["dtype"], np.integer):
                # Token 0 is reserved for padding when padding is asked for.
                arrays[name] = rng.integers(1 if padding else 0, token_range, shape).astype(d["dtype"])
            else:
                arrays[name] = rng.normal(size=shape).astype(d["dtype"])
            if padding and length is not None:
                for row, kept in enumerate(rng.integers(1, length + 1, shape[0])):
                    arrays[name][row, kept:] = 0
                    if padding == "pre":
                        arrays[name][row] = np.roll(arrays[name][row], length - kept, axis=0)
        return arrays

    # A state is an input fed back from the output of the same name, shape and dtype (WaveRNN's
    # step takes the coarse byte "coarse" and returns coarse logits "coarse": not a state).
    outputs = tflite.runner.get_output_details()
    state_names = [name for name, d in details.items() if name in outputs
                   and list(outputs[name]["shape"]) == list(d["shape"]) and outputs[name]["dtype"] == d["dtype"]]
    worst, agree, count = 0.0, 0, 0
    if state_names:
        inputs = random_inputs(None)
        keras_states = {name: np.zeros_like(inputs[name]) for name in state_names}
        tflite_states = dict(keras_states)
        checked = [steps]
        runs = range(steps)
    else:
        dynamic = any(int(n) == -1 for d in details.values() for n in d["shape_signature"][1:2])
        first = [int(n) for n in next(iter(details.values()))["shape"]]
        # A fixed-shape file runs once at its own shapes; "lengths" reports its time axis (None without one).
        checked = list(lengths) if dynamic else [first[1] if len(first) > 1 else None]
        runs = checked
    for run in runs:
        if state_names:
            inputs = {**random_inputs(None), **keras_states}
            expected = model(inputs)
            actual = tflite({**inputs, **tflite_states})
            keras_states = {name: np.asarray(expected[name]) for name in state_names}
            tflite_states = {name: actual[name] for name in state_names}
        else:
            inputs = random_inputs(run)
            expected = model(_keras_structure(model, inputs))
            actual = tflite(inputs)
        pairs = _output_pairs(expected, actual, state_names)
        for e, a in pairs:
            if e.shape != a.shape:  # broadcasting would hide a file that returns the wrong length
                raise ValueError(f"LiteRT returned an output of shape {a.shape} where Keras returns {e.shape}.")
        # np.max, not max(): a NaN must come through, not lose every comparison.
        worst = float(np.max([worst] + [np.max(np.abs(e - a)) for e, a in pairs]))
        first_expected, first_actual = pairs[0]
        agree += int(np.sum(np.argmax(first_expected, -1) == np.argmax(first_actual, -1)))
        count += int(np.prod(first_expected.shape[:-1]))
    return {"max_abs_diff": worst, "argmax_agreement": agree / max(count, 1), "lengths": checked}


def _keras_structure(model, arrays):
    """The arrays (keyed by input name) in the structure the Keras model's call takes."""
    inputs = getattr(model, "inputs", None)
    if not inputs or len(inputs) == len(arrays) == 1:
        (array,) = arrays.values()
        return array
    if sorted(t.name for t in inputs) != sorted(arrays):
        raise ValueError(f"`tflite_model` takes the inputs {sorted(arrays)}, `model` {sorted(t.name for t in inputs)}: "
                         f"was the file exported from this model?")
    return tree.map_structure(lambda t: arrays[t.name], input_structure(model))


def _output_pairs(expected, actual, state_names):
    """(Keras, LiteRT) arrays of every non-state output, matched by name (dicts) or by order."""
    if isinstance(expected, dict):
        names = [name for name in expected if name not in state_names]
        return [(np.asarray(expected[name]), actual[name]) for name in names]
    # Keras' LiteRT export names unnamed outputs output_0, output_1, ... in flattened order.
    ordered = sorted(actual, key=lambda name: int(name.rsplit("_", 1)[-1]))
    return [(np.asarray(e), actual[name]) for e, name in zip(tree.flatten(expected), ordered)]
