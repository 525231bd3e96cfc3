"""Transformer blocks (Vaswani et al. 2017) on `keras.layers.MultiHeadAttention`, with a key/value cache.

`TransformerEncoderBlock` and `TransformerDecoderBlock` are self-attention (causal in the
decoder), cross-attention over encoder outputs (decoder, optional) and a position-wise
feed-forward network, each with a residual connection and layer normalisation after it
(`norm_first=False`, the paper's post-norm) or before it (`norm_first=True`, pre-norm).

A decoder block also runs one step at a time (`call_step`) over a fixed-size cache of the
keys and values of the positions before, as a decoder does when it generates: the cache has
static shapes, so the step runs inside `keras.ops.while_loop` (beam search) and under XLA.
A step's output equals the whole-sequence output at that position.
"""

import math

import keras
from keras import ops

from keras_dl import _checks


def _large_negative(dtype):
    """The masked score Keras' `Softmax` uses: exp() of it is 0 in `dtype`, and it is finite there."""
    return -3e4 if keras.backend.standardize_dtype(dtype) == "float16" else -1e9


def _check_bool(name, value):
    if not isinstance(value, bool):
        raise TypeError(f"`{name}` must be a bool, got {value!r} ({type(value).__name__}).")
    return value


def _check_sequence_shape(name, argument, shape):
    if len(shape) != 3:
        raise ValueError(f"{name}: `{argument}` must be [batch, time, depth], got shape {tuple(shape)}.")
    if shape[-1] is None:
        raise ValueError(f"{name}: the depth (last axis) of `{argument}` must be known, got shape {tuple(shape)}.")


def _key_padding_mask(mask):
    """A `[batch, time]` padding mask as `MultiHeadAttention`'s `[batch, 1, time]` attention mask over keys."""
    return None if mask is None else ops.expand_dims(ops.cast(mask, "bool"), 1)


def cached_attention(attention, query, key, value, attention_mask=None):
    """What `attention(query, ...)` computes, over keys and values that `attention` has already projected.

    A decoder that generates projects each position's key and value once, when the position
    is decoded, and keeps them in a cache; this runs the rest of `attention`'s computation
    (query projection, scaled dot products, masked softmax, output projection) with the
    layer's own weights, through its public `query_dense` and `output_dense` sublayers.
    No dropout: it is for inference.

    Args:
        attention: a built `keras.layers.MultiHeadAttention` with the default attention axis
            (over time) and no gate (`use_gate=False`).
        query: `[batch, query_time, query_depth]`, not projected.
        key: `[batch, key_time, num_heads, key_dim]`: `attention.key_dense(key_inputs)`.
        value: `[batch, key_time, num_heads, value_dim]`: `attention.value_dense(value_inputs)`.
        attention_mask: boolean, broadcastable to `[batch, query_time, key_time]`: True where a
            query position may attend to a key position.

    Returns:
        `(outputs [batch, query_time, output_depth], scores [batch, num_heads, query_time, key_time])`,
        the scores exactly 0 where the mask is False.

    Example:
    >>> attention = keras.layers.MultiHeadAttention(num_heads=2, key_dim=4)
    >>> x = np.random.default_rng(0).normal(size=(1, 3, 8)).astype("float32")
    >>> expected = attention(x, x)
    >>> outputs, _ = cached_attention(attention, x, attention.key_dense(x), attention.value_dense(x))
    >>> bool(np.allclose(outputs, expected, atol=1e-6))
    True
    """
    projected = attention.query_dense(query)
    # Scaled before the product, in the query's dtype, as MultiHeadAttention does.
    projected = ops.multiply(projected, ops.cast(1.0 / math.sqrt(float(attention.key_dim)), projected.dtype))
    scores = ops.einsum("bsnh,btnh->bnts", key, projected)
    if attention_mask is not None:
        mask = ops.expand_dims(ops.cast(attention_mask, "bool"), 1)
        scores = ops.where(mask, scores, ops.cast(_large_negative(scores.dtype), scores.dtype))
    scores = ops.softmax(scores, axis=-1)
    outputs = ops.einsum("bnts,bsnh->btnh", scores, value)
    return attention.output_dense(outputs), scores


@keras.saving.register_keras_serializable(package="keras_dl")
class SinusoidalPositionEncoding(keras.layers.Layer):
    """Adds the sinusoidal position encoding of Vaswani et al. (2017) to `[batch, time, depth]` inputs.

    `PE[pos, 2i] = sin(pos / max_wavelength ** (2i / depth))`, `PE[pos, 2i + 1] = cos(...)` (same
    angle), computed on the fly in float32, so one position gets the same encoding whether it
    comes in a whole sequence or alone in a decoding step (`start_index`). No weights; masks
    pass through.

    Args:
        max_length: longest `start_index + time` accepted (checked where it is known), or None.
        max_wavelength: the longest wavelength (10000 in the paper).

    Call arguments:
        inputs: `[batch, time, depth]`.
        start_index: position of the first step: an int, an int scalar tensor or an int tensor
            `[batch]` (one per row). Default 0.

    Example:
    >>> encoding = SinusoidalPositionEncoding()
    >>> np.round(np.asarray(encoding(np.zeros((1, 2, 4), "float32"))), 3)
    array([[[0.   , 1.   , 0.   , 1.   ],
            [0.841, 0.54 , 0.01 , 1.   ]]], dtype=float32)
    >>> np.round(np.asarray(encoding(np.zeros((1, 1, 4), "float32"), start_index=1)), 3)
    array([[[0.841, 0.54 , 0.01 , 1.   ]]], dtype=float32)
    """

    def __init__(self, max_length=None, max_wavelength=10000.0, **kwargs):
        super().__init__(**kwargs)
        self.max_length = None if max_length is None else _checks.positive_int("max_length", max_length)
        self.max_wavelength = _checks.positive_float("max_wavelength", max_wavelength)
        self.supports_masking = True

    def build(self, input_shape):
        _check_sequence_shape(type(self).__name__, "inputs", input_shape)
        self._check_length(input_shape[1], 0)

    def _check_length(self, time, start):
        if self.max_length is not None and time is not None and time + start > self.max_length:
            raise ValueError(f"{type(self).__name__}: positions up to {start + time - 1} are past `max_length`="
                             f"{self.max_length} (inputs of {time} steps from `start_index`={start}).")

    def encoding(self, positions, depth):
        """The encoding of int `positions` (any shape): float32 `positions.shape + (depth,)`."""
        positions = ops.cast(ops.expand_dims(positions, -1), "float32")
        channels = ops.arange(depth, dtype="int32")
        pairs = ops.cast(channels // 2 * 2, "float32")  # 2i for channels 2i and 2i + 1
        inverse_frequencies = ops.exp(pairs * (-math.log(self.max_wavelength) / depth))
        angles = positions * inverse_frequencies
        return ops.where(channels % 2 == 0, ops.sin(angles), ops.cos(angles))

    def call(self, inputs, start_index=0):
        if isinstance(start_index, int):
            start_index = _checks.non_negative_int("start_index", start_index)
            self._check_length(inputs.shape[1], start_index)
        else:
            start_index = ops.cast(start_index, "int32")
            if len(start_index.shape) > 1:
                raise ValueError(f"`start_index` must be an int, a scalar or [batch], got shape {start_index.shape}.")
        time = ops.shape(inputs)[1]
        positions = ops.reshape(start_index, (-1, 1)) + ops.expand_dims(ops.arange(time, dtype="int32"), 0)
        return inputs + ops.cast(self.encoding(positions, inputs.shape[-1]), inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "max_length": self.max_length, "max_wavelength": self.max_wavelength}


class _Block(keras.layers.Layer):
    """What the encoder and decoder blocks share: arguments, the feed-forward network, residual + norm."""

    def __init__(self, num_heads, key_dim, ff_dim, dropout=0.0, norm_first=False, activation="relu",
                 layer_norm_epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        self.num_heads = _checks.positive_int("num_heads", num_heads)
        self.key_dim = _checks.positive_int("key_dim", key_dim)
        self.ff_dim = _checks.positive_int("ff_dim", ff_dim)
        self.dropout = _checks.non_negative_float("dropout", dropout, below=1.0)
        self.norm_first = _check_bool("norm_first", norm_first)
        self.activation = keras.activations.serialize(keras.activations.get(activation))
        self.layer_norm_epsilon = _checks.positive_float("layer_norm_epsilon", layer_norm_epsilon)
        self.supports_masking = True
        self.self_attention = self._attention("self_attention")
        self.self_attention_norm = self._norm("self_attention_norm")
        self.feed_forward_norm = self._norm("feed_forward_norm")
        self.feed_forward_inner = keras.layers.Dense(ff_dim, activation=activation, name="feed_forward_inner")
        self.dropout_layer = keras.layers.Dropout(self.dropout, name="residual_dropout")

    def _attention(self, name):
        return keras.layers.MultiHeadAttention(self.num_heads, self.key_dim, dropout=self.dropout, name=name)

    def _norm(self, name):
        return keras.layers.LayerNormalization(epsilon=self.layer_norm_epsilon, name=name)

    def _build_common(self, input_shape):
        _check_sequence_shape(type(self).__name__, "inputs", input_shape)
        input_shape = tuple(input_shape)
        self.self_attention.build(input_shape, input_shape)
        self.self_attention_norm.build(input_shape)
        self.feed_forward_norm.build(input_shape)
        self.feed_forward_inner.build(input_shape)
        self.feed_forward_output = keras.layers.Dense(input_shape[-1], name="feed_forward_output")
        self.feed_forward_output.build(input_shape[:-1] + (self.ff_dim,))

    def _residual(self, x, sublayer, norm, training):
        """`x + sublayer(norm(x))` (pre-norm) or `norm(x + sublayer(x))` (post-norm); returns it and sublayer's extra."""
        outputs = sublayer(norm(x) if self.norm_first else x)
        extra = None
        if isinstance(outputs, tuple):
            outputs, extra = outputs
        x = x + self.dropout_layer(outputs, training=training)
        return (x if self.norm_first else norm(x)), extra

    def _feed_forward(self, x, training):
        def sublayer(h):
            return self.feed_forward_output(self.dropout_layer(self.feed_forward_inner(h), training=training))

        return self._residual(x, sublayer, self.feed_forward_norm, training)[0]

    def compute_mask(self, inputs, mask=None):
        return mask

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads, "key_dim": self.key_dim, "ff_dim": self.ff_dim,
                "dropout": self.dropout, "norm_first": self.norm_first, "activation": self.activation,
                "layer_norm_epsilon": self.layer_norm_epsilon}


@keras.saving.register_keras_serializable(package="keras_dl")
class TransformerEncoderBlock(_Block):
    """A Transformer encoder block: self-attention and a feed-forward network, each with residual and LayerNorm.

    Post-norm (`norm_first=False`, Vaswani et al. 2017): `x = LN(x + Attention(x))`, then
    `x = LN(x + FFN(x))`. Pre-norm (`norm_first=True`, more stable in deep stacks; put a final
    `LayerNormalization` after the last block): `x = x + Attention(LN(x))`, `x = x + FFN(LN(x))`.
    `FFN(x) = Dense(depth)(Dense(ff_dim, activation)(x))`; the output has the input's depth.

    Args:
        num_heads: attention heads.
        key_dim: size of each head (queries, keys and values).
        ff_dim: width of the feed-forward network's hidden layer.
        dropout: dropout rate on the attention probabilities, the feed-forward hidden layer and
            each sublayer's output before the residual sum (training only).
        norm_first: pre-norm (True) or post-norm (False).
        activation: the feed-forward network's hidden activation.
        layer_norm_epsilon: LayerNormalization's epsilon.

    Call arguments:
        inputs: `[batch, time, depth]`.
        mask: boolean `[batch, time]`, False at padding: no position attends to padding. Taken
            from the inputs' Keras mask when not given; passed on to the outputs.
        training: Python bool (dropout).

    Example:
    >>> block = TransformerEncoderBlock(num_heads=2, key_dim=4, ff_dim=16)
    >>> x = np.random.default_rng(0).normal(size=(2, 5, 8)).astype("float32")
    >>> mask = np.array([[True] * 5, [True] * 3 + [False] * 2])
    >>> block(x, mask=mask).shape
    TensorShape([2, 5, 8])
    """

    def build(self, input_shape):
        self._build_common(input_shape)

    def call(self, inputs, mask=None, training=None):
        attention_mask = _key_padding_mask(mask)

        def attend(h):
            return self.self_attention(h, h, attention_mask=attention_mask, training=training)

        x, _ = self._residual(inputs, attend, self.self_attention_norm, training)
        return self._feed_forward(x, training)

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package="keras_dl")
class TransformerDecoderBlock(_Block):
    """A Transformer decoder block: causal self-attention, cross-attention (optional) and a feed-forward network.

    Each sublayer has a residual connection and LayerNorm, after it (`norm_first=False`) or before
    it (`norm_first=True`), as in `TransformerEncoderBlock`. Position `t` attends to positions
    `<= t` only (`MultiHeadAttention(use_causal_mask=True)`). Called with `memory` (encoder
    outputs) the block also attends over it (an encoder-decoder's decoder); without, it is a
    decoder-only (language model) block. Which of the two is fixed when the block is built.

    Step by step: `initial_cache` gives an empty fixed-size key/value cache, and `call_step`
    decodes one position, writes its key and value into the cache at `index` and attends to
    cache positions `<= index`; its output equals `call`'s output at that position.

    Args:
        num_heads, key_dim, ff_dim, dropout, norm_first, activation, layer_norm_epsilon: as
            `TransformerEncoderBlock`'s.

    Call arguments:
        inputs: `[batch, time, depth]`.
        memory: `[batch, memory_time, memory_depth]` encoder outputs, or None.
        mask: boolean `[batch, time]`, False at padding (no position attends to it); the inputs'
            Keras mask by default. Passed on to the outputs.
        memory_mask: boolean `[batch, memory_time]`, False at padding in the memory; the memory's
            Keras mask by default.
        training: Python bool (dropout).
        return_attention_scores: also return `{"self_attention": [batch, num_heads, time, time],
            "cross_attention": [batch, num_heads, time, memory_time]}` (the latter with memory),
            the attention probabilities before dropout, exactly 0 above the diagonal.

    Example:
    >>> block = TransformerDecoderBlock(num_heads=2, key_dim=4, ff_dim=16)
    >>> x = np.random.default_rng(0).normal(size=(1, 4, 8)).astype("float32")
    >>> outputs = block(x)  # decoder-only
    >>> cache = block.initial_cache(batch_size=1, max_length=4)
    >>> steps = []
    >>> for t in range(4):
    ...     y, cache = block.call_step(x[:, t:t + 1], cache, index=t)
    ...     steps.append(y)
    >>> bool(np.allclose(np.concatenate(steps, axis=1), outputs, atol=1e-5))
    True
    """

    def __init__(self, num_heads, key_dim, ff_dim, dropout=0.0, norm_first=False, activation="relu",
                 layer_norm_epsilon=1e-5, **kwargs):
        super().__init__(num_heads, key_dim, ff_dim, dropout=dropout, norm_first=norm_first, activation=activation,
                         layer_norm_epsilon=layer_norm_epsilon, **kwargs)
        self.cross_attention = None
        self.cross_attention_norm = None

    def build(self, inputs_shape, memory_shape=None):
        self._build_common(inputs_shape)
        if memory_shape is not None:
            _check_sequence_shape(type(self).__name__, "memory", memory_shape)
            self.cross_attention = self._attention("cross_attention")
            self.cross_attention.build(tuple(inputs_shape), tuple(memory_shape))
            self.cross_attention_norm = self._norm("cross_attention_norm")
            self.cross_attention_norm.build(tuple(inputs_shape))

    @property
    def has_cross_attention(self):
        """Whether the block was built with memory (encoder outputs) to attend over."""
        return self.cross_attention is not None

    def _check_memory(self, memory):
        if memory is not None and not self.has_cross_attention:
            raise ValueError(f"{self.name}: this block was built without `memory` (a decoder-only block) and cannot "
                             "attend over one; build a fresh block on (inputs, memory).")
        if memory is None and self.has_cross_attention:
            raise ValueError(f"{self.name}: this block was built with `memory` (encoder outputs) and needs it.")

    def call(self, inputs, memory=None, mask=None, memory_mask=None, training=None, return_attention_scores=False):
        self._check_memory(memory)
        if mask is None:  # With memory, Keras fills in `memory_mask` only (one `<name>_mask` per tensor argument).
            mask = getattr(inputs, "_keras_mask", None)
        scores = {}

        def self_attend(h):
            # Padding as an explicit mask, the causal part from MultiHeadAttention itself (keras-team/keras#23038).
            return self.self_attention(h, h, attention_mask=_key_padding_mask(mask), use_causal_mask=True,
                                       return_attention_scores=return_attention_scores, training=training)

        x, scores["self_attention"] = self._residual(inputs, self_attend, self.self_attention_norm, training)
        if memory is not None:
            def cross_attend(h):
                return self.cross_attention(h, memory, attention_mask=_key_padding_mask(memory_mask),
                                            return_attention_scores=return_attention_scores, training=training)

            x, scores["cross_attention"] = self._residual(x, cross_attend, self.cross_attention_norm, training)
        x = self._feed_forward(x, training)
        return (x, scores) if return_attention_scores else x

    def initial_cache(self, batch_size, max_length, memory=None):
        """An empty key/value cache for `call_step`, for `max_length` positions.

        Args:
            batch_size: int (or int scalar tensor).
            max_length: positions the cache holds.
            memory: the encoder outputs `[batch_size, memory_time, memory_depth]`, for a block with
                cross-attention: their keys and values are computed here, once.

        Returns:
            `{"key": zeros [batch_size, max_length, num_heads, key_dim], "value": zeros (same)}` in the
            block's compute dtype, plus `"memory_key"` and `"memory_value"` `[batch_size, memory_time,
            num_heads, key_dim]` with memory. Every entry has the batch first (beam search can tile
            and reorder the cache row by row).
        """
        if not self.built:
            raise ValueError(f"{self.name}: build the block (or call it once) before `initial_cache`.")
        max_length = _checks.positive_int("max_length", max_length)
        self._check_memory(memory)
        shape = (batch_size, max_length, self.num_heads, self.key_dim)
        cache = {"key": ops.zeros(shape, self.compute_dtype), "value": ops.zeros(shape, self.compute_dtype)}
        if memory is not None:
            # A copy: the encoder's outputs carry its padding mask, which the projections do not take.
            memory = ops.copy(ops.cast(memory, self.compute_dtype))
            cache["memory_key"] = self.cross_attention.key_dense(memory)
            cache["memory_value"] = self.cross_attention.value_dense(memory)
        return cache

    def call_step(self, inputs, cache, index, memory_mask=None):
        """Decodes position `index` from `inputs` and the cached positions before it (inference: no dropout).

        Args:
            inputs: `[batch, 1, depth]`, the block's input at position `index`.
            cache: from `initial_cache` or the previous step, holding positions `< index`.
            index: the position, an int or int scalar tensor in `[0, max_length)`. Under XLA an
                index past the cache cannot be checked: `slice_update` clamps it to the last slot.
            memory_mask: boolean `[batch, memory_time]`, False at memory padding (cross-attention).

        Returns:
            `(outputs [batch, 1, depth], cache)`, the cache now holding position `index` too.
        """
        if not self.built:
            raise ValueError(f"{self.name}: build the block (or call it once) before `call_step`.")
        if len(inputs.shape) != 3 or inputs.shape[1] not in (1, None):
            raise ValueError(f"{self.name}.call_step: `inputs` must be one step [batch, 1, depth], got shape "
                             f"{tuple(inputs.shape)}.")
        if not isinstance(cache, dict) or not {"key", "value"} <= set(cache):
            raise ValueError(f"{self.name}.call_step: `cache` must be the dict of `initial_cache`, got {type(cache)}.")
        if self.has_cross_attention and "memory_key" not in cache:
            raise ValueError(f"{self.name}.call_step: this block attends over memory: make the cache with "
                             "`initial_cache(..., memory=memory)`.")
        max_length = cache["key"].shape[1]
        if isinstance(index, int):
            index = _checks.non_negative_int("index", index, below=max_length)
        elif len(index.shape) != 0:
            raise ValueError(f"{self.name}.call_step: `index` must be a scalar, got shape {tuple(index.shape)}.")
        else:
            index = ops.cast(index, "int32")
        inputs = ops.cast(inputs, self.compute_dtype)
        new_cache = dict(cache)

        def self_attend(h):
            start = ops.stack([0, index, 0, 0]) if not isinstance(index, int) else [0, index, 0, 0]
            keys = ops.slice_update(cache["key"], start, ops.cast(self.self_attention.key_dense(h), cache["key"].dtype))
            values = ops.slice_update(cache["value"], start,
                                      ops.cast(self.self_attention.value_dense(h), cache["value"].dtype))
            new_cache["key"], new_cache["value"] = keys, values
            seen = ops.reshape(ops.arange(max_length, dtype="int32") <= index, (1, 1, max_length))
            return cached_attention(self.self_attention, h, keys, values, seen)

        x, _ = self._residual(inputs, self_attend, self.self_attention_norm, False)
        if self.has_cross_attention:
            def cross_attend(h):
                return cached_attention(self.cross_attention, h, cache["memory_key"], cache["memory_value"],
                                        _key_padding_mask(memory_mask))

            x, _ = self._residual(x, cross_attend, self.cross_attention_norm, False)
        return self._feed_forward(x, False), new_cache
