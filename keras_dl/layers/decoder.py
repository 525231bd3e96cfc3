"""An RNN cell with attention over a memory: the Keras 3 successor of tfa.seq2seq's `AttentionWrapper`.

Keras 3's `RNN` passes a cell nothing but its inputs and states, so the memory (the encoder
outputs), its keys and its mask travel as states: `get_initial_state(memory=...)` builds
them once per source batch, every step reads them and hands them on unchanged. The cell
therefore runs in `keras.layers.RNN`, under masks, in a `while_loop` decoder and under beam
search (which tiles and reorders every state tensor) without special cases.
"""

import keras
from keras import ops

from keras_dl import _checks
from keras_dl.layers.cells import state_sizes


@keras.saving.register_keras_serializable(package="keras_dl")
class AttentionDecoderCell(keras.layers.Layer):
    """Wraps any RNN cell with an attention mechanism over a memory (Bahdanau et al. 2015; Luong et al. 2015).

    Each step: the wrapped cell reads the input (with input feeding, concatenated with the
    previous step's attention vector); the mechanism scores the memory against the cell's
    output; the context is the alignment-weighted sum of the memory; the attention vector is
    `tanh(W [cell_output; context])` with `attention_layer_size`, else the context itself. The
    step outputs the attention vector (`output_attention=True`, Luong) or the cell output
    (`False`, Bahdanau).

    Args:
        cell: any Keras RNN cell (Keras' or keras_dl's); without dropout (as in Keras'
            `StackedRNNCells`, the per-sequence dropout masks of a wrapped cell are not set up).
        attention: an `AttentionMechanism` (`BahdanauAttention`, `LuongAttention`, monotonic ones).
        attention_layer_size: width of the attention vector (`None`: the context, memory depth wide).
        output_attention: output the attention vector (Luong) rather than the cell output (Bahdanau).
        input_feeding: feed the previous attention vector to the cell with the input (Luong et al. 3.3).
        alignment_history: also output each step's alignments: the step output becomes
            `[output; alignments]`, split by `split_alignments` (memory length wide, so only where
            shapes are traced from values: eagerly, in a `tf.function` or a subclassed model).
        memory_depth: depth of the memory; recorded by the first `get_initial_state(memory=...)`,
            so it is only given when the cell is built before it sees a memory.

    Call arguments:
        inputs: `[batch, features]`.
        states: the wrapped cell's states, then attention `[batch, attention size]`, alignments
            `[batch, memory_time]`, memory `[batch, memory_time, memory_depth]`, keys `[batch,
            memory_time, key_depth]` and the memory mask `[batch, memory_time]` (1 = a real position).
        training: passed to the cell and the mechanism (monotonic attention's noise).

    Example:
    >>> from keras_dl.layers import LuongAttention
    >>> memory = np.random.normal(size=(2, 7, 6)).astype("float32")
    >>> memory_mask = np.arange(7) < np.array([[7], [4]])
    >>> cell = AttentionDecoderCell(keras.layers.LSTMCell(8), LuongAttention(), attention_layer_size=5)
    >>> initial_state = cell.get_initial_state(memory=memory, memory_mask=memory_mask)
    >>> decoder = keras.layers.RNN(cell, return_sequences=True)
    >>> decoder(np.zeros((2, 3, 4), "float32"), initial_state=initial_state).shape
    TensorShape([2, 3, 5])
    """

    def __init__(self, cell, attention, attention_layer_size=None, output_attention=True, input_feeding=True,
                 alignment_history=False, memory_depth=None, **kwargs):
        super().__init__(**kwargs)
        if not hasattr(cell, "state_size") or not callable(cell):
            raise TypeError(f"`cell` must be an RNN cell (with `state_size` and `call`), got {cell!r}.")
        if not hasattr(attention, "alignments") or not hasattr(attention, "keys"):
            raise TypeError(f"`attention` must be an AttentionMechanism, got {attention!r}.")
        if getattr(cell, "dropout", 0) or getattr(cell, "recurrent_dropout", 0):
            raise ValueError("`cell` must not use dropout inside AttentionDecoderCell (its dropout masks are "
                             "not set up per sequence); put dropout on the decoder's inputs or outputs instead.")
        self.cell = cell
        self.attention = attention
        self.attention_layer_size = (None if attention_layer_size is None
                                     else _checks.positive_int("attention_layer_size", attention_layer_size))
        self.output_attention = bool(output_attention)
        self.input_feeding = bool(input_feeding)
        self.alignment_history = bool(alignment_history)
        self.memory_depth = None if memory_depth is None else _checks.positive_int("memory_depth", memory_depth)
        self._cell_states = len(state_sizes(cell))
        self.attention_layer = None
        if self.attention_layer_size:
            self.attention_layer = keras.layers.Dense(self.attention_layer_size, use_bias=False,
                                                      activation="tanh", name="attention_layer")

    @property
    def _cell_output_size(self):
        size = getattr(self.cell, "output_size", None)
        return size if isinstance(size, int) else state_sizes(self.cell)[0]

    @property
    def attention_size(self):
        """Width of the attention vector."""
        if self.attention_layer_size:
            return self.attention_layer_size
        if self.memory_depth is None:
            raise ValueError("AttentionDecoderCell does not know its memory depth yet: call "
                             "`get_initial_state(memory=...)` first, or pass `memory_depth`.")
        return self.memory_depth

    @property
    def state_size(self):
        # The wrapped cell's: the attention and memory states follow from the memory, unknown when Keras' RNN
        # reads this (at construction); it reads it again only for a functional model's `return_state` shapes.
        return state_sizes(self.cell)

    @property
    def output_size(self):
        if self.alignment_history:
            raise ValueError("With `alignment_history=True` the step output is memory-length wide, which a "
                             "functional model cannot know in advance; run the decoder eagerly or in a "
                             "subclassed model.")
        return self.attention_size if self.output_attention else self._cell_output_size

    def build(self, input_shape):
        if len(input_shape) != 2 or input_shape[-1] is None:
            raise ValueError(f"AttentionDecoderCell expects inputs of shape [batch, features] per step, got "
                             f"{tuple(input_shape)}.")
        batch, features = input_shape
        cell_input = features + (self.attention_size if self.input_feeding else 0)
        if not self.cell.built:
            self.cell.build((batch, cell_input))
        query_shape = (batch, self._cell_output_size)
        if not self.attention.built:
            self.attention.build([query_shape, (batch, None, self.memory_depth)])
        if self.attention_layer is not None:
            self.attention_layer.build((batch, self._cell_output_size + self.memory_depth))

    def get_initial_state(self, batch_size=None, memory=None, memory_mask=None, cell_state=None):
        """The decoder's first states: the cell's (`cell_state`, else its zeros), and the memory's.

        Args:
            batch_size: ignored (the memory's batch size is used); Keras' `RNN` passes it.
            memory: `[batch, memory_time, memory_depth]` encoder outputs.
            memory_mask: `[batch, memory_time]` (bool or 0/1), `None` for all positions.
            cell_state: the wrapped cell's initial states (e.g. the encoder's final states).
        """
        if memory is None:
            raise ValueError("AttentionDecoderCell needs its memory: pass "
                             "`initial_state=cell.get_initial_state(memory=encoder_outputs, memory_mask=...)` "
                             "to the RNN.")
        if isinstance(memory, keras.KerasTensor):
            raise ValueError("AttentionDecoderCell.get_initial_state needs a memory tensor, got a symbolic "
                             "KerasTensor: the memory's keys are computed here, which a functional model cannot "
                             "record. Run the decoder in a subclassed model's `call` (as keras_dl.models.Seq2Seq "
                             "does) or eagerly.")
        return self._memory_states(memory, memory_mask, cell_state)

    def _memory_states(self, memory, memory_mask=None, cell_state=None):
        """`get_initial_state`'s work, symbolic inputs included: for export-only functional models
        (`Seq2Seq.encoder_model`), which are never saved and so never need the keys node recorded."""
        memory = ops.convert_to_tensor(memory)
        if len(memory.shape) != 3 or memory.shape[-1] is None:
            raise ValueError(f"`memory` must be [batch, memory_time, memory_depth] with a known depth, got shape "
                             f"{tuple(memory.shape)}.")
        if self.memory_depth is None:
            self.memory_depth = int(memory.shape[-1])
        elif memory.shape[-1] != self.memory_depth:
            raise ValueError(f"`memory` depth {memory.shape[-1]} does not match this cell's memory_depth "
                             f"{self.memory_depth}.")
        dtype = self.compute_dtype
        memory = ops.cast(memory, dtype)
        batch = ops.shape(memory)[0]
        if memory_mask is None:
            memory_mask = ops.ones_like(memory[:, :, 0])
        else:
            memory_mask = ops.convert_to_tensor(memory_mask)
            if len(memory_mask.shape) != 2 or any(
                    None not in (m, n) and m != n for m, n in zip(memory_mask.shape, memory.shape[:2])):
                raise ValueError(f"`memory_mask` must be [batch, memory_time] = {tuple(memory.shape[:2])}, got "
                                 f"shape {tuple(memory_mask.shape)}.")
            memory_mask = ops.cast(memory_mask, dtype)
        if not self.attention.built:
            self.attention.build([(None, self._cell_output_size), tuple(memory.shape)])
        def zeros(size):  # [batch, size], also for a symbolic batch size
            return ops.zeros_like(memory[:, 0, :1]) + ops.zeros((1, size), dtype)

        if cell_state is None:
            make_state = getattr(self.cell, "get_initial_state", None)
            cell_state = (make_state(batch_size=batch) if make_state and batch is not None
                          else [zeros(size) for size in state_sizes(self.cell)])
        cell_state = list(cell_state) if isinstance(cell_state, (list, tuple)) else [cell_state]
        if len(cell_state) != self._cell_states:
            raise ValueError(f"`cell_state` must hold the wrapped cell's {self._cell_states} state tensors, got "
                             f"{len(cell_state)}.")
        alignments = self.attention.initial_alignments(memory)
        attention = zeros(self.attention_size)
        return [*cell_state, attention, alignments, memory, self.attention.keys(memory), memory_mask]

    def call(self, inputs, states, training=False):
        cell_states = list(states[:self._cell_states])
        attention, alignments, memory, keys, memory_mask = states[self._cell_states:]
        cell_inputs = ops.concatenate([inputs, attention], axis=-1) if self.input_feeding else inputs
        cell_output, new_cell_states = self.cell(cell_inputs, cell_states, training=training)
        new_cell_states = list(new_cell_states) if isinstance(new_cell_states, (list, tuple)) else [new_cell_states]
        alignments = self.attention.alignments(cell_output, keys, memory_mask > 0.5, alignments, training=training)
        alignments = ops.cast(alignments, memory.dtype)
        context = ops.sum(ops.expand_dims(alignments, -1) * memory, axis=1)
        if self.attention_layer is not None:
            attention = self.attention_layer(ops.concatenate([cell_output, context], axis=-1))
        else:
            attention = context
        output = attention if self.output_attention else cell_output
        if self.alignment_history:
            output = ops.concatenate([output, alignments], axis=-1)
        return output, [*new_cell_states, attention, alignments, memory, keys, memory_mask]

    def split_alignments(self, outputs):
        """`(outputs, alignments)` from an `alignment_history=True` decoder's outputs (`[..., width + memory_time]`)."""
        if not self.alignment_history:
            raise ValueError("`split_alignments` needs `alignment_history=True`.")
        width = self.attention_size if self.output_attention else self._cell_output_size
        return outputs[..., :width], outputs[..., width:]

    def get_config(self):
        return {**super().get_config(), "cell": keras.saving.serialize_keras_object(self.cell),
                "attention": keras.saving.serialize_keras_object(self.attention),
                "attention_layer_size": self.attention_layer_size, "output_attention": self.output_attention,
                "input_feeding": self.input_feeding, "alignment_history": self.alignment_history,
                "memory_depth": self.memory_depth}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["cell"] = keras.saving.deserialize_keras_object(config["cell"])
        config["attention"] = keras.saving.deserialize_keras_object(config["attention"])
        return cls(**config)
