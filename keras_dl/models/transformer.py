"""Transformer language model and encoder-decoder, with cached step-by-step decoding for beam search.

Both models train with `fit` (teacher forcing) and decode with `keras_dl.decoding.beam_search`:
`decode_step(tokens, state) -> (logits, state)` runs every decoder block on one position over
a fixed-size key/value cache (`TransformerDecoderBlock.call_step`), so a step costs one
position's work instead of re-running the growing prefix, and the whole search compiles
with XLA. The state is a dict of `[batch, ...]` tensors (beam search tiles and reorders it
row by row); every row is at the same position, `state["index"]`.

Decoding past `max_length` (the cache's size): eagerly a `ValueError`, in a `tf.function` an
`InvalidArgumentError` from a `tf.debugging` assertion; under XLA (`jit_compile=True`), where
assertions are dropped, the step clamps to the last cache slot, so keep beam search's
`max_length` within the model's.
"""

import math

import keras
import tensorflow as tf
from keras import ops

from keras_dl import _checks
from keras_dl.layers.transformer import SinusoidalPositionEncoding
from keras_dl.layers.transformer import TransformerDecoderBlock
from keras_dl.layers.transformer import TransformerEncoderBlock


def _check_bool(name, value):
    if not isinstance(value, bool):
        raise TypeError(f"`{name}` must be a bool, got {value!r} ({type(value).__name__}).")
    return value


def _check_length(name, tokens, max_length, argument):
    if tokens.shape[1] is not None and tokens.shape[1] > max_length:
        raise ValueError(f"`{name}` has {tokens.shape[1]} steps, more than `{argument}`={max_length}.")


def _checked_position(index, max_length):
    """The step's position (every row is at the same one), checked against the cache's size where it can be."""
    position = ops.cast(index[0], "int32")
    message = f"decode_step: decoding past `max_length`={max_length}, the positions the key/value cache holds"
    if tf.executing_eagerly():  # Eager beam search too: Keras' while_loop runs its body eagerly.
        if int(position) >= max_length:
            raise ValueError(f"{message} (step {int(position)}).")
        return position
    # A graph: checked when it runs (an XLA cluster drops the assertion; slice_update then clamps).
    check = tf.debugging.assert_less(position, tf.constant(max_length, "int32"), message=message)
    with tf.control_dependencies([check]):
        return tf.identity(position)


class _Transformer(keras.Model):
    """The arguments and pieces that both models share."""

    def __init__(self, num_layers, num_heads, key_dim, ff_dim, dropout, norm_first, embedding_dim, **kwargs):
        super().__init__(**kwargs)
        self.num_layers = _checks.positive_int("num_layers", num_layers)
        self.num_heads = _checks.positive_int("num_heads", num_heads)
        self.key_dim = _checks.positive_int("key_dim", key_dim)
        self.ff_dim = _checks.positive_int("ff_dim", ff_dim)
        self.dropout = _checks.non_negative_float("dropout", dropout, below=1.0)
        self.norm_first = _check_bool("norm_first", norm_first)
        self.embedding_dim = (self.num_heads * self.key_dim if embedding_dim is None
                              else _checks.positive_int("embedding_dim", embedding_dim))
        self.embedding_dropout = keras.layers.Dropout(self.dropout, name="embedding_dropout")

    def _blocks(self, cls, prefix):
        return [cls(self.num_heads, self.key_dim, self.ff_dim, dropout=self.dropout, norm_first=self.norm_first,
                    name=f"{prefix}_{i}") for i in range(self.num_layers)]

    def _final_norm(self, name):
        # Pre-norm blocks leave their last residual sum unnormalised.
        return keras.layers.LayerNormalization(epsilon=1e-5, name=name) if self.norm_first else None

    def _embed(self, embedding, position, tokens, training, start_index=0):
        x = embedding(tokens)
        x = x * ops.cast(math.sqrt(self.embedding_dim), x.dtype)  # Vaswani et al.: embeddings scaled by sqrt(d).
        return self.embedding_dropout(position(x, start_index=start_index), training=training)

    def _decoder_step(self, embedding, position, blocks, norm, tokens, state, max_length, memory_mask=None):
        if not self.built:
            raise ValueError(f"{self.name}: build the model (or call it once) before `decode_step`.")
        tokens = ops.convert_to_tensor(tokens)
        _checks.token_ids("tokens", tokens, rank=1)
        if not isinstance(state, dict) or not {"index", "caches"} <= set(state):
            raise ValueError(f"`state` must be the dict of `{'initial_cache' if memory_mask is None else 'initial_state'}`"
                             f", got {type(state).__name__}.")
        position_index = _checked_position(state["index"], max_length)
        x = self._embed(embedding, position, ops.expand_dims(tokens, 1), False, start_index=position_index)
        caches = []
        for block, cache in zip(blocks, state["caches"]):
            x, cache = block.call_step(x, cache, position_index, memory_mask=memory_mask)
            caches.append(cache)
        if norm is not None:
            x = norm(x)
        return self.head(x)[:, 0], {**state, "index": state["index"] + 1, "caches": caches}

    def _common_config(self):
        return {"num_layers": self.num_layers, "num_heads": self.num_heads, "key_dim": self.key_dim,
                "ff_dim": self.ff_dim, "dropout": self.dropout, "norm_first": self.norm_first,
                "embedding_dim": self.embedding_dim}


@keras.saving.register_keras_serializable(package="keras_dl")
class TransformerLM(_Transformer):
    """A decoder-only Transformer language model: embeddings + sinusoidal positions -> causal blocks -> logits.

    `call` gives next-token logits for every position of a sequence (trains with `fit` on
    `(tokens, next_tokens)`); `initial_cache(batch_size)` and `decode_step(tokens, state)`
    decode one position at a time over a key/value cache, for `keras_dl.decoding.beam_search`.

    Args:
        vocabulary_size: number of tokens.
        max_length: longest sequence, and the positions a decoding cache holds.
        num_layers: decoder blocks.
        num_heads: attention heads per block.
        key_dim: size of each head.
        ff_dim: width of the feed-forward hidden layers.
        dropout: dropout rate in training (embeddings, attention, feed-forward, residuals).
        norm_first: pre-norm blocks and a final LayerNorm (True) or post-norm blocks (False).
        embedding_dim: the model's width (default `num_heads * key_dim`).

    Call arguments:
        tokens: int `[batch, time]`, `time <= max_length`.
        training: Python bool.

    Example:
    >>> from keras_dl.decoding import beam_search
    >>> model = TransformerLM(vocabulary_size=12, max_length=8, num_layers=1, num_heads=2, key_dim=4, ff_dim=16)
    >>> model(np.zeros((2, 8), "int32")).shape
    TensorShape([2, 8, 12])
    >>> best = beam_search(model.decode_step, model.initial_cache(2), start_tokens=np.array([1, 2]), end_token=0,
    ...                    beam_width=3, max_length=8)
    >>> best["tokens"].shape
    TensorShape([2, 3, 8])
    """

    def __init__(self, vocabulary_size, max_length, num_layers=2, num_heads=4, key_dim=16, ff_dim=256, dropout=0.0,
                 norm_first=False, embedding_dim=None, **kwargs):
        super().__init__(num_layers, num_heads, key_dim, ff_dim, dropout, norm_first, embedding_dim, **kwargs)
        self.vocabulary_size = _checks.positive_int("vocabulary_size", vocabulary_size)
        self.max_length = _checks.positive_int("max_length", max_length)
        self.embedding = keras.layers.Embedding(self.vocabulary_size, self.embedding_dim, name="embedding")
        self.position_encoding = SinusoidalPositionEncoding(self.max_length, name="position_encoding")
        self.blocks = self._blocks(TransformerDecoderBlock, "decoder_block")
        self.final_norm = self._final_norm("final_norm")
        self.head = keras.layers.Dense(self.vocabulary_size, name="logits")

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) != 2:
            raise ValueError(f"`tokens` must be [batch, time], got shape {input_shape}.")
        hidden = input_shape + (self.embedding_dim,)
        self.embedding.build(input_shape)
        self.position_encoding.build(hidden)
        for block in self.blocks:
            block.build(hidden)
        if self.final_norm is not None:
            self.final_norm.build(hidden)
        self.head.build(hidden)
        super().build(input_shape)

    def call(self, tokens, training=None):
        _checks.token_ids("tokens", tokens, rank=2)
        _check_length("tokens", tokens, self.max_length, "max_length")
        x = self._embed(self.embedding, self.position_encoding, tokens, training)
        for block in self.blocks:
            x = block(x, training=training)
        if self.final_norm is not None:
            x = self.final_norm(x)
        return self.head(x)

    def initial_cache(self, batch_size):
        """The decoding state before the first token: `{"index": zeros int32 [batch_size], "caches": [...]}`.

        `caches` holds one `TransformerDecoderBlock.initial_cache` per block (empty, `max_length`
        positions); `index` is the position of the next token, the same in every row.
        """
        if not self.built:
            self.build((None, None))
        return {"index": ops.zeros((batch_size,), "int32"),
                "caches": [block.initial_cache(batch_size, self.max_length) for block in self.blocks]}

    def decode_step(self, tokens, state):
        """Next-token logits after int `tokens` `[n]` at position `state["index"]`: `(logits [n, vocabulary], state)`.

        Equal to `call`'s logits at that position on the whole prefix. `state` comes from
        `initial_cache` or the previous step. See the module's notes on `max_length`.
        """
        return self._decoder_step(self.embedding, self.position_encoding, self.blocks, self.final_norm, tokens, state,
                                  self.max_length)

    def get_config(self):
        return {**super().get_config(), "vocabulary_size": self.vocabulary_size, "max_length": self.max_length,
                **self._common_config()}


@keras.saving.register_keras_serializable(package="keras_dl")
class TransformerSeq2Seq(_Transformer):
    """A Transformer encoder-decoder (Vaswani et al. 2017) with sinusoidal positions; token 0 is source padding.

    `call` runs the encoder over the source and the decoder over the target shifted right
    (teacher forcing) and gives logits for every target position; padding (id 0) in the
    source is masked out of every attention over it. `encode`, `initial_state` and
    `decode_step` decode one target position at a time for `keras_dl.decoding.beam_search`;
    the encoder runs once, in `initial_state`, which also projects its outputs into each
    block's cross-attention keys and values.

    Trailing padding in `target_in` needs no mask (causal attention: real positions never see
    it); leave it out of the loss with `sample_weight` (or `keras_dl.metrics.SequenceLoss`).

    Args:
        source_vocabulary_size, target_vocabulary_size: numbers of tokens.
        max_source_length, max_target_length: longest source and target sequences (the latter is
            the decoding cache's size).
        num_layers: encoder blocks and decoder blocks (as many of each).
        num_heads, key_dim, ff_dim, dropout, norm_first, embedding_dim: as `TransformerLM`'s.

    Call arguments:
        inputs: `{"source": int [batch, source_time], "target_in": int [batch, target_time]}`.
        training: Python bool.

    Example:
    >>> from keras_dl.decoding import beam_search
    >>> model = TransformerSeq2Seq(10, 12, max_source_length=6, max_target_length=5, num_layers=1, num_heads=2,
    ...                            key_dim=4, ff_dim=16)
    >>> source = np.array([[3, 4, 5, 0, 0, 0], [6, 7, 8, 9, 2, 0]])
    >>> model({"source": source, "target_in": np.ones((2, 5), "int32")}).shape
    TensorShape([2, 5, 12])
    >>> best = beam_search(model.decode_step, model.initial_state(source), start_tokens=np.array([1, 1]), end_token=2,
    ...                    beam_width=3, max_length=5)
    >>> best["tokens"].shape
    TensorShape([2, 3, 5])
    """

    def __init__(self, source_vocabulary_size, target_vocabulary_size, max_source_length, max_target_length,
                 num_layers=2, num_heads=4, key_dim=16, ff_dim=256, dropout=0.0, norm_first=False, embedding_dim=None,
                 **kwargs):
        super().__init__(num_layers, num_heads, key_dim, ff_dim, dropout, norm_first, embedding_dim, **kwargs)
        self.source_vocabulary_size = _checks.positive_int("source_vocabulary_size", source_vocabulary_size)
        self.target_vocabulary_size = _checks.positive_int("target_vocabulary_size", target_vocabulary_size)
        self.max_source_length = _checks.positive_int("max_source_length", max_source_length)
        self.max_target_length = _checks.positive_int("max_target_length", max_target_length)
        self.source_embedding = keras.layers.Embedding(self.source_vocabulary_size, self.embedding_dim,
                                                       name="source_embedding")
        self.target_embedding = keras.layers.Embedding(self.target_vocabulary_size, self.embedding_dim,
                                                       name="target_embedding")
        self.source_position_encoding = SinusoidalPositionEncoding(self.max_source_length,
                                                                   name="source_position_encoding")
        self.target_position_encoding = SinusoidalPositionEncoding(self.max_target_length,
                                                                   name="target_position_encoding")
        self.encoder_blocks = self._blocks(TransformerEncoderBlock, "encoder_block")
        self.decoder_blocks = self._blocks(TransformerDecoderBlock, "decoder_block")
        self.encoder_norm = self._final_norm("encoder_norm")
        self.decoder_norm = self._final_norm("decoder_norm")
        self.head = keras.layers.Dense(self.target_vocabulary_size, name="logits")

    @staticmethod
    def _split(inputs, what="inputs"):
        if not isinstance(inputs, dict) or set(inputs) != {"source", "target_in"}:
            got = sorted(inputs) if isinstance(inputs, dict) else type(inputs).__name__
            raise ValueError(f"`{what}` must be a dict with keys 'source' and 'target_in', got {got}.")
        return inputs["source"], inputs["target_in"]

    def build(self, input_shape):
        source_shape, target_shape = (tuple(s) for s in self._split(input_shape, "input_shape"))
        for name, shape in (("source", source_shape), ("target_in", target_shape)):
            if len(shape) != 2:
                raise ValueError(f"`{name}` must be [batch, time], got shape {shape}.")
        source_hidden = source_shape + (self.embedding_dim,)
        target_hidden = target_shape + (self.embedding_dim,)
        self.source_embedding.build(source_shape)
        self.target_embedding.build(target_shape)
        self.source_position_encoding.build(source_hidden)
        self.target_position_encoding.build(target_hidden)
        for block in self.encoder_blocks:
            block.build(source_hidden)
        for block in self.decoder_blocks:
            block.build(target_hidden, source_hidden)
        for norm, hidden in ((self.encoder_norm, source_hidden), (self.decoder_norm, target_hidden)):
            if norm is not None:
                norm.build(hidden)
        self.head.build(target_hidden)
        super().build(input_shape)

    def encode(self, source, training=None):
        """The encoder outputs and padding mask of int `source` `[batch, time]`: `(memory [batch, time, d], mask)`."""
        source = ops.convert_to_tensor(source)
        _checks.token_ids("source", source, rank=2)
        _check_length("source", source, self.max_source_length, "max_source_length")
        memory_mask = ops.not_equal(source, 0)
        x = self._embed(self.source_embedding, self.source_position_encoding, source, training)
        for block in self.encoder_blocks:
            x = block(x, mask=memory_mask, training=training)
        if self.encoder_norm is not None:
            x = self.encoder_norm(x)
        return x, memory_mask

    def call(self, inputs, training=None):
        source, target = self._split(inputs)
        _checks.token_ids("target_in", target, rank=2)
        _check_length("target_in", target, self.max_target_length, "max_target_length")
        memory, memory_mask = self.encode(source, training=training)
        x = self._embed(self.target_embedding, self.target_position_encoding, target, training)
        for block in self.decoder_blocks:
            x = block(x, memory=memory, memory_mask=memory_mask, training=training)
        if self.decoder_norm is not None:
            x = self.decoder_norm(x)
        return self.head(x)

    def initial_state(self, source):
        """The decoding state for int `source` `[batch, time]`: the encoder runs here, once.

        Returns `{"index": zeros int32 [batch], "memory_mask": bool [batch, time], "caches": [...]}`,
        `caches` holding one `TransformerDecoderBlock.initial_cache` per decoder block: empty
        self-attention keys and values for `max_target_length` positions, and the memory's
        cross-attention keys and values.
        """
        if not self.built:
            self.build({"source": (None, None), "target_in": (None, None)})
        memory, memory_mask = self.encode(source)
        batch_size = ops.shape(memory)[0]
        return {"index": ops.zeros((batch_size,), "int32"), "memory_mask": memory_mask,
                "caches": [block.initial_cache(batch_size, self.max_target_length, memory=memory)
                           for block in self.decoder_blocks]}

    def decode_step(self, tokens, state):
        """Next-token logits after int `tokens` `[n]` at target position `state["index"]`: `(logits, state)`.

        Equal to `call`'s logits at that position with the whole target prefix. `state` comes from
        `initial_state` or the previous step.
        """
        if not isinstance(state, dict) or "memory_mask" not in state:
            raise ValueError(f"`state` must be the dict of `initial_state`, got {type(state).__name__}.")
        return self._decoder_step(self.target_embedding, self.target_position_encoding, self.decoder_blocks,
                                  self.decoder_norm, tokens, state, self.max_target_length,
                                  memory_mask=state["memory_mask"])

    def get_config(self):
        return {**super().get_config(), "source_vocabulary_size": self.source_vocabulary_size,
                "target_vocabulary_size": self.target_vocabulary_size, "max_source_length": self.max_source_length,
                "max_target_length": self.max_target_length, **self._common_config()}
