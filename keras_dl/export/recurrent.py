"""Recurrent layers in the forms LiteRT runs with built-in ops: unrolled, `WHILE`, fused LSTM.

Keras' recurrent layers run their steps in a `while` loop over TensorLists; traced with an
unknown batch size (Keras' default signature) their element shape is dynamic, and the TFLite
converter keeps them as Flex (SELECT_TF_OPS) kernels. Here every `keras.layers.RNN` of a
model (`LSTM`, `GRU`, `SimpleRNN`, `RNN(cell)` with any cell, the halves of `Bidirectional`)
gets, for as long as a conversion traces it, a loop that converts to built-in ops, on the
model's own weights: nothing is copied or rebuilt. Keras' `RNN.call` still does everything around the
loop (initial states, per-sequence cell hooks, output selection), so only the loop changes,
and it keeps Keras' exact semantics for masks, `go_backwards` and `zero_output_for_mask`.
"""

import contextlib
import inspect
import uuid

import keras
import numpy as np
import tensorflow as tf
from keras import tree

from keras_dl import _checks
from keras_dl._layers import sublayers
from keras_dl.layers.cells import LSTMCell

FUSED_LSTM = "UNIDIRECTIONAL_SEQUENCE_LSTM"


def input_structure(model):
    """A model's symbolic inputs in the structure its call takes (one tensor, or a dict or list of
    them), or `None` for a subclassed model, which has none."""
    if not getattr(model, "inputs", None):
        return None
    # `input` keeps a functional model's structure; a Sequential model has only `inputs`.
    return model.inputs[0] if isinstance(model, keras.Sequential) else model.input


def recurrent_layers(model):
    """Every `keras.layers.RNN` inside `model`, at any depth (Bidirectional's halves included)."""
    return [layer for layer in sublayers(model) if isinstance(layer, keras.layers.RNN)]


def run_loop(step, sequences, initial_state, mask=None, go_backwards=False, zero_output_for_mask=False,
             return_sequences=True, unroll=True):
    """Keras' recurrent loop (`keras.src.backend.tensorflow.rnn`) in a form with LiteRT built-in ops only.

    `unroll=True` writes one copy of the step per time step (the length must be static);
    `unroll=False` writes a `tf.while_loop` whose outputs go to a TensorArray with a
    static element shape, which converts to LiteRT's built-in `WHILE` and runs any length
    (the batch size must be static).

    Args:
        step: `(x_t, states) -> (output_t, new_states)`, `states` shaped as `initial_state`.
        sequences: `[batch, time, ...]`.
        initial_state: list (possibly nested) of `[batch, ...]` tensors.
        mask: optional `[batch, time]`; masked steps keep the states and repeat the
            previous output (or output zeros with `zero_output_for_mask`), as in Keras.
        go_backwards: run from the last step to the first; outputs stay in processing order.
        zero_output_for_mask: see `mask`.
        return_sequences: whether `outputs` holds every step or only the last.
        unroll: see above.

    Returns:
        `(last_output, outputs, new_states)` as Keras' `backend.rnn` returns them.
    """
    xs = tf.transpose(sequences, [1, 0, *range(2, len(sequences.shape))])
    if mask is not None:
        mask = tf.transpose(tf.cast(mask, tf.bool))
    if go_backwards:
        xs = tf.reverse(xs, [0])
        mask = None if mask is None else tf.reverse(mask, [0])

    def advance(x, m, prev_output, flat_states):
        output, new_states = step(x, tree.pack_sequence_as(initial_state, list(flat_states)))
        new_states = tree.flatten(new_states)
        if m is None:
            return output, tuple(new_states)
        kept = tf.zeros_like(output) if zero_output_for_mask or prev_output is None else prev_output
        output = tf.where(_expand_like(m, output), output, kept)
        return output, tuple(tf.where(_expand_like(m, s), n, s) for n, s in zip(new_states, flat_states))

    flat_states = tuple(tree.flatten(initial_state))
    if unroll:
        if xs.shape[0] is None:
            raise ValueError("Unrolling a recurrent layer needs a static number of time steps; pass `timesteps`.")
        outputs, output = [], None
        for t in range(xs.shape[0]):
            output, flat_states = advance(xs[t], None if mask is None else mask[t], output, flat_states)
            outputs.append(output)
        stacked = tf.stack(outputs) if return_sequences else output[None]
    else:
        # One step outside the loop gives the output's static shape (LiteRT needs it for the
        # TensorArray); the converter drops it as dead code.
        output_spec, _ = step(xs[0], initial_state)
        length = tf.shape(xs)[0]
        carry = (tf.constant(0), tf.zeros_like(output_spec), *flat_states)
        if return_sequences:
            carry += (tf.TensorArray(output_spec.dtype, size=length, element_shape=output_spec.shape),)

        def body(t, prev_output, *rest):
            states, written = (rest[:-1], rest[-1]) if return_sequences else (rest, None)
            output, states = advance(tf.gather(xs, t), None if mask is None else tf.gather(mask, t),
                                     prev_output, states)
            return (t + 1, output, *states) + ((written.write(t, output),) if return_sequences else ())

        carry = tf.while_loop(lambda t, *_: t < length, body, carry)
        output = carry[1]
        flat_states = carry[2 : 2 + len(flat_states)]
        stacked = carry[-1].stack() if return_sequences else output[None]
        if return_sequences:
            stacked.set_shape(xs.shape[:1] + stacked.shape[1:])  # a static length stays static for the next layer
    outputs = tf.transpose(stacked, [1, 0, *range(2, len(stacked.shape))])
    return output, outputs, tree.pack_sequence_as(initial_state, list(flat_states))


def cell_step(layer):
    """`(x_t, states) -> (output_t, new_states)` of a recurrent layer's cell at inference, as `run_loop` takes it."""
    def step(x, states):
        output, new_states = layer.cell(x, states, training=False)
        return output, new_states if tree.is_nested(new_states) else [new_states]

    return step


def _expand_like(mask_t, tensor):
    return tf.reshape(mask_t, [-1] + [1] * (len(tensor.shape) - 1))


def lstm_fusion_blocker(layer, sequences, mask, initial_state):
    """Why `layer` cannot become LiteRT's fused LSTM op on these inputs, or `None` if it can."""
    cell = layer.cell
    if isinstance(cell, keras.layers.LSTMCell):
        functions = (keras.activations.serialize(cell.activation), keras.activations.serialize(cell.recurrent_activation))
        if functions != ("tanh", "sigmoid"):
            return f"activations {functions}; the fused op computes tanh and sigmoid"
    elif isinstance(cell, LSTMCell):
        options = [name for name in ("peepholes", "layer_norm", "coupled") if getattr(cell, name)]
        if options:
            return f"{'/'.join(options)} (the converter fuses only the plain LSTM)"
    else:
        return "not an LSTM"
    if mask is not None:
        return "it receives a mask (LiteRT's fused LSTM has no mask input)"
    if layer.return_state:
        return "return_state=True (the converter does not give the fused op's final states)"
    if sequences.shape[0] is None:
        return "the batch size is not static (pass `batch_size`)"
    if any(np.any(tf.get_static_value(s) != 0) for s in initial_state):
        # LiteRT's LSTM kernel writes its final state into its state inputs: a state tensor that
        # is also used elsewhere (another layer's output, a model output) would be overwritten.
        return "an initial state is given (the fused op overwrites its state inputs)"
    if sequences.shape[1] is None:
        # Seen with TF 2.21: at run-time lengths the fused op's output reaches a WHILE loop after
        # it with wrong values (0.7 off), so variable-length files keep the loop.
        return "the length is not static (pass `timesteps`)"
    if sequences.dtype != tf.float32:
        return f"compute dtype {sequences.dtype.name} (the fused op is float32)"
    return None


def _fused_lstm_function(go_backwards):
    # The converter recognises this function by its `api_implements` prefix "lstm_" and its
    # signature (tf_keras' `standard_lstm`): six tensor arguments, five results of which only
    # the first two may be used, `time_major` and `go_backwards` attributes. It replaces the
    # body with one UNIDIRECTIONAL_SEQUENCE_LSTM op; the body runs in Keras and is exact.
    attributes = {"api_implements": f"lstm_{uuid.uuid4()}", "api_preferred_device": "CPU",
                  "time_major": False, "go_backwards": go_backwards}

    @tf.function(autograph=False, experimental_attributes=attributes)
    def lstm(inputs, init_h, init_c, kernel, recurrent_kernel, bias):
        def step(x, states):
            i, f, g, o = tf.split(tf.matmul(x, kernel) + tf.matmul(states[0], recurrent_kernel) + bias, 4, axis=-1)
            c = tf.sigmoid(f) * states[1] + tf.sigmoid(i) * tf.tanh(g)
            h = tf.sigmoid(o) * tf.tanh(c)
            return h, [h, c]

        # Fusion needs a static length, so the body (what Keras runs) can always unroll.
        last, outputs, (h, c) = run_loop(step, inputs, [init_h, init_c], go_backwards=go_backwards)
        return last, outputs, h, c, tf.constant(0.0)

    return lstm


def _tflite_inner_loop(layer, name, unroll, fused_lstm, report):
    """A replacement for `layer.inner_loop` (Keras' `RNN.inner_loop` signature) that converts to built-ins."""
    fused = []  # the layer's fused-LSTM function, made on first use

    def inner_loop(sequences, initial_state, mask, training=False):
        if tree.is_nested(mask):
            mask = mask[0]
        # A loop of unknown length is never unrolled: Keras' SavedModel writer also traces the
        # layers at unknown shapes, apart from the exported signature (`export_tflite` checks
        # `unroll=True` against the signature).
        loop_unrolled = sequences.shape[1] is not None and unroll is not False
        why = lstm_fusion_blocker(layer, sequences, mask, initial_state)
        if why is None and not fused_lstm:
            why = "not asked for (`fused_lstm=False`; by default with `sparse=True`)"
        if why is None:
            cell = layer.cell
            if not fused:
                fused.append(_fused_lstm_function(layer.go_backwards))
            weights = [tf.convert_to_tensor(w) for w in (cell.kernel, cell.recurrent_kernel)]
            bias = tf.convert_to_tensor(cell.bias) if cell.use_bias else tf.zeros([4 * cell.units], sequences.dtype)
            # Tensors, not variables: the converter's fusion expects read values as arguments.
            last, outputs, h, c, _ = fused[0](sequences, *initial_state, *weights, bias)
            report.setdefault(name, {"layer": name, "form": FUSED_LSTM, "not_fused_because": None})
            return last, outputs, [h, c]
        # The first trace is the exported signature's; later ones (Keras' SavedModel writer) are not reported.
        report.setdefault(name, {"layer": name, "form": "unrolled" if loop_unrolled else "WHILE",
                                 "not_fused_because": None if why == "not an LSTM" else why})

        return run_loop(cell_step(layer), sequences, initial_state, mask, go_backwards=layer.go_backwards,
                        zero_output_for_mask=layer.zero_output_for_mask,
                        return_sequences=layer.return_sequences, unroll=loop_unrolled)

    return inner_loop


@contextlib.contextmanager
def patched(layers, name, make):
    """Sets `layer.<name> = make(layer)` on each instance for the block, then restores what was there."""
    replacements = [make(layer) for layer in layers]
    saved = [(layer, layer.__dict__.get(name)) for layer in layers]
    try:
        for layer, replacement in zip(layers, replacements):
            setattr(layer, name, replacement)
        yield
    finally:
        for layer, previous in saved:
            if previous is None:
                delattr(layer, name)
            else:
                setattr(layer, name, previous)


@contextlib.contextmanager
def tflite_recurrence(model, unroll=None, fused_lstm=True):
    """Within the block, every recurrent layer of `model` runs a loop LiteRT converts with built-in ops
    (and every `TimeDistributed` of unknown length folds time into the batch).

    Trace or export the model inside the block (`export_tflite` does). Outputs equal
    Keras' own loop's in Keras too, so the block may also wrap a numeric check.

    Args:
        model: any Keras model or layer.
        unroll: `None`: unrolled where the length is static, `WHILE` where it is not;
            `True`/`False` force one form on every loop that is not a fused LSTM.
        fused_lstm: let LSTM layers that allow it become LiteRT's fused
            `UNIDIRECTIONAL_SEQUENCE_LSTM` op.

    Yields:
        A dict layer name -> `{"layer", "form", "not_fused_because"}`, filled as the layers
        are traced: `form` is `"UNIDIRECTIONAL_SEQUENCE_LSTM"`, `"unrolled"` or `"WHILE"`.

    Example:
    >>> model = keras.Sequential([keras.Input((None, 8)), keras.layers.LSTM(16, name="lstm")])
    >>> with tflite_recurrence(model) as report:
    ...     model.export("m.tflite", format="litert", input_signature=[tf.TensorSpec([1, None, 8])], verbose=False)
    >>> report["lstm"]["form"]
    'WHILE'
    """
    # A streaming step (`StreamingStep`) runs its recurrent layers one step at a time itself.
    stepped = {id(sub) for layer in sublayers(model) if getattr(layer, "runs_recurrent_layers", False)
               for sub in sublayers(layer)}
    layers = [layer for layer in recurrent_layers(model) if id(layer) not in stepped]
    for layer in layers:
        if layer.stateful:
            raise ValueError(f"Layer {layer.name!r} is stateful: its state lives in variables between calls, which a "
                             f"TFLite file cannot update. Export a copy built with `stateful=False`, or a "
                             f"`streaming_model`, whose state is an explicit input and output.")
    report = {}
    distributed = [layer for layer in sublayers(model) if isinstance(layer, keras.layers.TimeDistributed)]
    with patched(layers, "inner_loop",
                 lambda layer: _tflite_inner_loop(layer, layer.name, unroll, fused_lstm, report)), \
            patched(distributed, "call", _folded_time_distributed):
        yield report


def _folded_time_distributed(wrapper):
    """`TimeDistributed.call` that folds time into the batch where the length is unknown.

    Keras maps the inner layer over an unknown number of steps with `vectorized_map`, which
    converts to a file that returns one step whatever the length; a reshape does the same
    work with built-in ops.
    """
    original = type(wrapper).call
    takes_mask = "mask" in inspect.signature(wrapper.layer.call).parameters
    takes_training = "training" in inspect.signature(wrapper.layer.call).parameters

    def call(inputs, training=None, mask=None):
        if inputs.shape[1] is not None:
            return original(wrapper, inputs, training=training, mask=mask)
        kwargs = {"training": training} if takes_training else {}
        if takes_mask and mask is not None:
            kwargs["mask"] = tf.reshape(mask, [-1])
        outputs = wrapper.layer.call(tf.reshape(inputs, tf.concat([[-1], tf.shape(inputs)[2:]], 0)), **kwargs)
        folded = tf.reshape(outputs, tf.concat([tf.shape(inputs)[:2], tf.shape(outputs)[1:]], 0))
        folded.set_shape(inputs.shape[:2] + outputs.shape[1:])
        return folded

    return call


def recurrent_step_model(cell, input_dim, batch_size=1):
    """Functional model of one step of `cell`, sharing its weights, for streaming inference.

    Inputs `{"inputs": [batch, input_dim], "state_0": [batch, s0], ...}`, outputs
    `{"outputs": [batch, output_size], "state_0": ..., ...}`.

    Example:
    >>> from keras_dl.export import export_tflite
    >>> step = recurrent_step_model(keras.layers.LSTMCell(16), input_dim=8)
    >>> path = export_tflite(step, "lstm_step.tflite")
    """
    input_dim = _checks.positive_int("input_dim", input_dim)
    inputs = keras.Input((input_dim,), batch_size=batch_size, name="inputs")
    states = [keras.Input((size,), batch_size=batch_size, name=f"state_{i}")
              for i, size in enumerate(tree.flatten(cell.state_size))]
    outputs, new_states = cell(inputs, states)
    named = {"outputs": outputs, **{f"state_{i}": s for i, s in enumerate(new_states)}}
    return keras.Model({t.name: t for t in [inputs, *states]}, named, name=f"{cell.name}_step")


def recurrent_sequence_model(cell, timesteps, input_dim, batch_size=1):
    """Functional model running `cell` over `timesteps` steps from a zero state, sharing its weights.

    Inputs `{"inputs": [batch, timesteps, input_dim]}`, outputs `{"outputs": [batch, timesteps, output_size]}`.
    `export_tflite` unrolls its loop (the length is static), or fuses a plain LSTM cell.
    """
    timesteps = _checks.positive_int("timesteps", timesteps)
    input_dim = _checks.positive_int("input_dim", input_dim)
    inputs = keras.Input((timesteps, input_dim), batch_size=batch_size, name="inputs")
    outputs = keras.layers.RNN(cell, return_sequences=True)(inputs)
    return keras.Model({"inputs": inputs}, {"outputs": outputs}, name=f"{cell.name}_sequence")
