"""The two exportable forms of a recurrent cell: a fixed-length sequence model and a single step."""

import keras

from keras_dl import _checks
from keras_dl.layers.cells import state_sizes


def recurrent_step_model(cell, input_dim, batch_size=1):
    """Functional model of one step of `cell`, sharing its weights, for streaming inference.

    Inputs `{"inputs": [batch, input_dim], "state_0": [batch, s0], ...}`, outputs
    `{"outputs": [batch, output_size], "state_0": ..., ...}`.

    Example:
    >>> export_tflite(recurrent_step_model(lstm_cell, 64), "lstm_step.tflite")
    """
    input_dim = _checks.positive_int("input_dim", input_dim)
    inputs = keras.Input((input_dim,), batch_size=batch_size, name="inputs")
    states = [keras.Input((size,), batch_size=batch_size, name=f"state_{i}") for i, size in enumerate(state_sizes(cell))]
    outputs, new_states = cell(inputs, states)
    named = {"outputs": outputs, **{f"state_{i}": s for i, s in enumerate(new_states)}}
    return keras.Model({t.name: t for t in [inputs, *states]}, named, name=f"{cell.name}_step")


def recurrent_sequence_model(cell, timesteps, input_dim, batch_size=1):
    """Functional model running `cell` over `timesteps` steps from a zero state, sharing its weights.

    The loop is unrolled: a fixed-length sequence then converts to TFLite built-in ops
    only (a `while` loop over a TensorList does not, see tensorflow/tensorflow#73254).

    Inputs `{"inputs": [batch, timesteps, input_dim]}`, outputs `{"outputs": [batch, timesteps, output_size]}`.
    """
    timesteps = _checks.positive_int("timesteps", timesteps)
    input_dim = _checks.positive_int("input_dim", input_dim)
    inputs = keras.Input((timesteps, input_dim), batch_size=batch_size, name="inputs")
    outputs = keras.layers.RNN(cell, return_sequences=True, unroll=True)(inputs)
    return keras.Model({"inputs": inputs}, {"outputs": outputs}, name=f"{cell.name}_sequence")
