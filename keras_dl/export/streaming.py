"""Single-step (streaming) twins of causal sequence models, with the recurrent state as explicit inputs and outputs."""

import copy

import keras
import tensorflow as tf
from keras import tree

from keras_dl._layers import sublayers
from keras_dl.export.recurrent import cell_step
from keras_dl.export.recurrent import input_structure
from keras_dl.export.recurrent import patched
from keras_dl.export.recurrent import recurrent_layers
from keras_dl.export.recurrent import run_loop

# Layers that compute each time step from that step alone (on the last axis), so a model
# made of them and of forward recurrent layers is causal and can run one step at a time.
PER_STEP_LAYERS = (
    keras.layers.InputLayer, keras.layers.Embedding, keras.layers.Dense, keras.layers.EinsumDense,
    keras.layers.TimeDistributed, keras.layers.Activation, keras.layers.ReLU, keras.layers.LeakyReLU,
    keras.layers.PReLU, keras.layers.ELU, keras.layers.Softmax, keras.layers.Dropout, keras.layers.GaussianNoise,
    keras.layers.GaussianDropout, keras.layers.AlphaDropout, keras.layers.LayerNormalization,
    keras.layers.BatchNormalization, keras.layers.UnitNormalization, keras.layers.RMSNormalization,
    keras.layers.Rescaling, keras.layers.Masking, keras.layers.Identity, keras.layers.Add, keras.layers.Subtract,
    keras.layers.Multiply, keras.layers.Average, keras.layers.Maximum, keras.layers.Minimum,
    keras.layers.Concatenate,
)


# Element-wise `keras.ops` calls in a functional model (an Embedding's mask is a NotEqual): per step
# whatever the shapes.
PER_STEP_OPS = {"Add", "Subtract", "Multiply", "Divide", "TrueDivide", "Negative", "Abs", "Square", "Sqrt", "Exp",
                "Log", "Tanh", "Sigmoid", "Relu", "Maximum", "Minimum", "Cast", "Equal", "NotEqual", "Greater",
                "GreaterEqual", "Less", "LessEqual", "LogicalAnd", "LogicalOr", "LogicalNot"}
# Reductions (a Masking layer's mask is an Any): per step along the feature axes only.
PER_STEP_REDUCTIONS = {"Any", "All", "Sum", "Mean", "Max", "Min", "Prod"}


def _acts_on_features(operation):
    """Whether a layer's or op's `axis` (if it has one; `None` is every axis) leaves the batch and time axes alone."""
    axis = getattr(operation, "axis", -1)
    return axis is not None and all(a == -1 or a >= 2 for a in (axis if isinstance(axis, (list, tuple)) else [axis]))


def _check_causal(model, per_step_layers):
    """Raises naming the first layer (or op) of `model` that does not act on each step alone."""
    for operation in getattr(model, "operations", []):
        kind = type(operation).__name__
        if isinstance(operation, keras.layers.Layer) or kind in PER_STEP_OPS or (
                kind in PER_STEP_REDUCTIONS and _acts_on_features(operation)):
            continue
        raise ValueError(f"Operation {operation.name!r} ({kind}) is not known to act on each time step alone, so "
                         f"`streaming_model` cannot make a step model of the model. Wrap per-step computations in "
                         f"layers and pass them as `per_step_layers`.")
    per_step = set()  # sublayers of recurrent and TimeDistributed layers: they run inside one step
    for layer in sublayers(model)[1:]:
        if id(layer) in per_step:
            continue
        if isinstance(layer, keras.layers.Bidirectional):
            raise ValueError(f"Layer {layer.name!r} (Bidirectional) reads the whole sequence, including the future: "
                             f"it has no step form. Export the sequence model (`export_tflite`) instead.")
        if isinstance(layer, keras.layers.RNN) and layer.go_backwards:
            raise ValueError(f"Layer {layer.name!r} runs backwards in time (`go_backwards=True`): a step model "
                             f"cannot see the future. Export the sequence model instead.")
        if isinstance(layer, (keras.layers.RNN, keras.layers.TimeDistributed)):
            per_step.update(id(sub) for sub in sublayers(layer))
            continue
        if not _acts_on_features(layer):
            raise ValueError(f"Layer {layer.name!r} ({type(layer).__name__}) works along axis {layer.axis}, not only "
                             f"along the features: it mixes time steps (or batch rows).")
        if isinstance(layer, (keras.Model, *per_step_layers)):
            continue
        raise ValueError(
            f"Layer {layer.name!r} ({type(layer).__name__}) is not known to act on each time step alone (pooling, "
            f"convolutions, attention and reshapes mix steps), so `streaming_model` cannot make a step model of "
            f"it. If it does act per step, pass `per_step_layers=({type(layer).__name__},)`."
        )


@keras.saving.register_keras_serializable(package="keras_dl")
class StreamingStep(keras.layers.Layer):
    """Runs a sequence model on one time step, with each recurrent layer's state given and returned.

    The model's own layers run on a length-1 sequence: per-step layers as they are, each
    recurrent layer from the given state (instead of its initial state) for one step,
    with its mask if the model computes one. Built by `streaming_model`.

    Args:
        model: the causal sequence model whose weights it uses.
        step_outputs: which of the model's flattened outputs have a time axis to remove.

    Call arguments:
        inputs: the model's inputs, each without its time axis.
        states: flat list of recurrent states, in `recurrent_layers(model)` order.

    Returns `(outputs, new_states)`.
    """

    runs_recurrent_layers = True  # `tflite_recurrence` leaves its recurrent layers to it.

    def __init__(self, model, step_outputs, **kwargs):
        super().__init__(**kwargs)
        self.model = model
        self.step_outputs = list(step_outputs)

    def call(self, inputs, states):
        layers = recurrent_layers(self.model)
        given, final = {}, {}
        flat_states = list(states)
        for layer in layers:
            # Nested for stacked cells ([[h, c], [h]]): the inputs are flat, the layer takes the structure.
            structure = layer.get_initial_state(1)
            count = len(tree.flatten(structure))
            given[id(layer)] = tree.pack_sequence_as(structure, flat_states[:count])
            flat_states = flat_states[count:]

        def call_from_given_state(layer):
            original = type(layer).call

            def call(sequences, initial_state=None, mask=None, training=False):
                if id(layer) in final:
                    raise ValueError(f"Layer {layer.name!r} is called more than once in the model: a step model "
                                     f"carries one state per recurrent layer. Use one layer per call.")
                if initial_state is not None:
                    raise ValueError(f"Layer {layer.name!r} gets its initial state from the model (e.g. an encoder): "
                                     f"a step model carries every recurrent state as an input instead, so the "
                                     f"model is not streamable as it is.")
                return original(layer, sequences, initial_state=given[id(layer)], mask=mask, training=False)

            return call

        def one_step(layer):
            def inner_loop(sequences, initial_state, mask, training=False):
                if tree.is_nested(mask):
                    mask = mask[0]
                last, outputs, new_states = run_loop(cell_step(layer), sequences, initial_state, mask,
                                                     zero_output_for_mask=layer.zero_output_for_mask,
                                                     return_sequences=layer.return_sequences)
                final[id(layer)] = new_states
                return last, outputs, new_states

            return inner_loop

        sequences = tree.map_structure(lambda x: tf.expand_dims(x, 1), inputs)
        with patched(layers, "call", call_from_given_state), patched(layers, "inner_loop", one_step):
            outputs = self.model(sequences, training=False)
        flat = [tf.squeeze(o, 1) if has_time else o
                for o, has_time in zip(tree.flatten(outputs), self.step_outputs)]
        new_states = [s for layer in layers for s in tree.flatten(final[id(layer)])]
        return tree.pack_sequence_as(outputs, flat), new_states

    def get_config(self):
        config = super().get_config()
        config.update(model=keras.saving.serialize_keras_object(self.model), step_outputs=self.step_outputs)
        return config

    @classmethod
    def from_config(cls, config):
        # Keras' deserialisation consumes the dict it is given; the caller's config stays intact.
        return cls(**{**config, "model": keras.saving.deserialize_keras_object(copy.deepcopy(config["model"]))})


def streaming_model(model, batch_size=1, step_inputs=None, per_step_layers=()):
    """A single-step model of a causal sequence model: one time step plus states in, outputs plus states out.

    What `RNNLanguageModel.step_model()` does, for any model built from forward recurrent
    layers (`keras.layers.RNN` with any cell, `LSTM`, `GRU`, `SimpleRNN`, keras_dl's) and
    layers that act on each step alone (`Embedding`, `Dense`, `TimeDistributed`,
    normalisation, element-wise merges, ...). It shares the model's weights, so training
    the model changes it. Run it in a loop, feeding each call's states to the next, from
    zero states (the recurrent layers' default initial state); exported with
    `export_tflite`, it streams on LiteRT with built-in ops.

    Args:
        model: a causal sequence model; every input has a time axis (axis 1).
        batch_size: the batch size of the step model's inputs (`None`: any).
        step_inputs: for a subclassed model, which has no symbolic inputs: its inputs
            for one step (`keras.Input`s without the time axis, same structure as the
            model's inputs). Taken from a functional model's inputs by default.
        per_step_layers: more layer classes that act on each step alone.

    Returns:
        A functional `keras.Model`. Inputs: the model's inputs without the time axis (same
        names) and one input per recurrent state, named `<layer>_state_<i>`. Outputs: a dict
        of the model's outputs for this step (`"outputs"` for a single output, the model's
        keys for a dict, `"outputs_<i>"` otherwise) and the new states under the same names
        as the state inputs.

    Raises:
        ValueError: naming the layer, for a layer that is not causal per step
            (`Bidirectional`, `go_backwards`, pooling, convolution, attention, ...).

    Example:
    >>> from keras_dl.export import export_tflite
    >>> model = keras.Sequential([keras.Input((None,), dtype="int32", name="tokens"), keras.layers.Embedding(16, 4),
    ...                           keras.layers.GRU(8, return_sequences=True, name="gru"), keras.layers.Dense(16)])
    >>> step = streaming_model(model)  # {"tokens", "gru_state_0"} -> {"outputs", "gru_state_0"}
    >>> path = export_tflite(step, "step.tflite")
    """
    _check_causal(model, PER_STEP_LAYERS + tuple(per_step_layers))
    if step_inputs is None:
        sequence_inputs = input_structure(model)
        if sequence_inputs is None:
            raise ValueError(f"`step_inputs` is needed for {type(model).__name__}, which has no symbolic inputs (a "
                             f"subclassed model): e.g. step_inputs=keras.Input((), dtype='int32', name='token').")
        step_inputs = tree.map_structure(
            lambda t: keras.Input(t.shape[2:], batch_size=batch_size, dtype=t.dtype, name=t.name), sequence_inputs)
    layers = recurrent_layers(model)
    states = {}
    for layer in layers:
        for i, state in enumerate(tree.flatten(layer.get_initial_state(1))):
            name = f"{layer.name}_state_{i}"
            states[name] = keras.Input(tuple(state.shape[1:]), batch_size=batch_size, dtype=state.dtype, name=name)
    step = StreamingStep(model, _has_time_axis(model, step_inputs), name=f"{model.name}_step_layer")
    outputs, new_states = step(step_inputs, list(states.values()))
    if isinstance(outputs, dict):
        named_outputs = outputs
    elif tree.is_nested(outputs):
        named_outputs = {f"outputs_{i}": o for i, o in enumerate(tree.flatten(outputs))}
    else:
        named_outputs = {"outputs": outputs}
    named_inputs = {t.name: t for t in tree.flatten(step_inputs)}
    # Keras' export passes a dict input as a list in sorted key order: build it in that order.
    inputs = dict(sorted({**named_inputs, **states}.items()))
    return keras.Model(inputs, {**named_outputs, **dict(zip(states, new_states))},
                       name=f"{model.name}_step")


def _has_time_axis(model, step_inputs):
    """For each flattened output of `model`, whether it has a time axis (found by calling it on lengths 2 and 3)."""
    def outputs_at(length):
        return tree.flatten(model.compute_output_spec(tree.map_structure(
            lambda t: keras.KerasTensor((t.shape[0], length, *t.shape[1:]), dtype=t.dtype), step_inputs)))

    return [len(a.shape) > 1 and a.shape[1] == 2 and b.shape[1] == 3 for a, b in zip(outputs_at(2), outputs_at(3))]
