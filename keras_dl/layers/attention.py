"""Attention mechanisms for encoder-decoders (the successors of tfa.seq2seq's, for Keras 3).

A mechanism scores every memory position (an encoder output) against a query (a decoder
state) and turns the scores into alignments: `[batch, memory_time]` weights, zero at masked
memory positions. Memory and its mask are given at call time, as to Keras' `Attention`:
`mechanism([query, memory], mask=[None, memory_mask])`; in a functional model a masked
memory carries its mask by itself. `keys(memory)` and `alignments(query, keys, ...)` split
the call so a decoder computes the keys once per source sequence, not once per step.
"""

import math

import keras
import numpy as np
from keras import ops

from keras_dl import _checks

_MASKED_SCORE = -65504.0  # float16's lowest: representable in every float dtype, exp() of it is 0.
_PROBABILITY_FNS = ("softmax", "hardmax")
_MONOTONIC_MODES = ("parallel", "recursive", "hard")


def hardmax(scores):
    """One-hot of the first largest score along the last axis (tfa.seq2seq.hardmax)."""
    scores = ops.convert_to_tensor(scores)
    position = ops.cumsum(ops.ones_like(scores), axis=-1) - 1
    first = ops.cast(ops.expand_dims(ops.argmax(scores, axis=-1), -1), scores.dtype)
    return ops.cast(ops.equal(position, first), scores.dtype)


def _exclusive_cumprod(x):
    """`prod(x[:, :i])` for each i, as exp(cumsum(log)): LiteRT has CUMSUM but no CUMPROD (tfa's safe_cumprod)."""
    logs = ops.log(ops.clip(x, float(np.finfo(np.float32).tiny), 1.0))
    return ops.exp(ops.cumsum(logs, axis=1) - logs)


def monotonic_attention(p_choose, previous_alignments, mode):
    """Expected monotonic alignments (Raffel et al. 2017) from the probabilities of stopping at each position.

    The attention moves left to right from where it was (`previous_alignments`) and stops at
    position `j` with probability `p_choose[:, j]`: `a_j = p_j * sum_k<=j a'_k prod_k<=l<j (1 - p_l)`.

    Args:
        p_choose: `[batch, memory_time]` probabilities in [0, 1].
        previous_alignments: `[batch, memory_time]`, the alignments of the previous decoder step
            (a one-hot at position 0 for the first).
        mode: `"recursive"` (the recurrence, exact), `"parallel"` (closed form with cumulative
            sums and products, equal up to float rounding unless `1 - p_choose` underflows) or
            `"hard"` (`p_choose` rounded at 0.5: the attention stops at the first chosen position
            at or after the previous one; for decoding).

    Returns:
        `[batch, memory_time]` alignments, in `p_choose`'s dtype; each row sums to at most 1 (the
        rest is the probability of passing the end of the memory).
    """
    if mode not in _MONOTONIC_MODES:
        raise ValueError(f"`mode` must be one of {_MONOTONIC_MODES}, got {mode!r}.")
    dtype = ops.convert_to_tensor(p_choose).dtype
    # float32 throughout: float16 cannot hold the small cumulative products (or 1e-38).
    p = ops.cast(p_choose, "float32")
    previous = ops.cast(previous_alignments, "float32")
    if mode == "hard":
        p = ops.cast(p > 0.5, "float32") * ops.cumsum(previous, axis=1)  # nothing before the last position
        attention = p * _exclusive_cumprod(1.0 - p)  # only the first chosen one
    elif mode == "parallel":
        stay = _exclusive_cumprod(1.0 - p)
        attention = p * stay * ops.cumsum(previous / ops.clip(stay, 1e-10, 1.0), axis=1)
    else:
        # q_j = (1 - p_{j-1}) q_{j-1} + a'_j, over memory positions: scan over [time, 2, batch]. One
        # stacked sequence, not two: Keras' TF scan fails on several of unknown length.
        carry_over = ops.concatenate([ops.ones_like(p[:, :1]), 1.0 - p[:, :-1]], axis=1)
        sequence = ops.transpose(ops.stack([carry_over, previous], axis=0), (2, 0, 1))

        def step(q, inputs):
            q = inputs[0] * q + inputs[1]
            return q, q

        _, q = ops.scan(step, ops.zeros_like(p[:, 0]), sequence)
        attention = p * ops.transpose(q)
    return ops.cast(attention, dtype)


def _check_inputs(name, input_shape):
    if not isinstance(input_shape, (list, tuple)) or len(input_shape) != 2 or not all(
            isinstance(s, (list, tuple)) for s in input_shape):
        raise ValueError(f"{name} takes `[query, memory]`, got input shape {input_shape}.")
    query_shape, memory_shape = input_shape
    if len(query_shape) != 2 or len(memory_shape) != 3:
        raise ValueError(f"{name}: `query` must be [batch, depth] and `memory` [batch, time, depth], got "
                         f"shapes {tuple(query_shape)} and {tuple(memory_shape)}.")
    if None not in (query_shape[0], memory_shape[0]) and query_shape[0] != memory_shape[0]:
        raise ValueError(f"{name}: `query` and `memory` must have the same batch size, got shapes "
                         f"{tuple(query_shape)} and {tuple(memory_shape)}.")
    return query_shape, memory_shape


@keras.saving.register_keras_serializable(package="keras_dl")
class AttentionMechanism(keras.layers.Layer):
    """Base of the attention mechanisms: scores, then probabilities over the memory.

    Subclasses define `keys(memory)` (computed once per memory) and `score(query, keys)`
    (`[batch, memory_time]`); this class masks the scores and turns them into alignments.

    Args:
        probability_fn: `"softmax"` or `"hardmax"` (one-hot of the best position).

    Call arguments:
        inputs: `[query, memory]`: `[batch, query_depth]` and `[batch, memory_time, memory_depth]`.
        mask: `[query_mask, memory_mask]` (the query's is ignored); a `[batch, memory_time]`
            boolean memory mask gives masked positions zero weight.
        previous_alignments: the previous step's alignments (read by monotonic mechanisms).
        training: whether to add monotonic mechanisms' pre-sigmoid noise.
    """

    def __init__(self, probability_fn="softmax", **kwargs):
        super().__init__(**kwargs)
        if probability_fn not in _PROBABILITY_FNS:
            raise ValueError(f"`probability_fn` must be one of {_PROBABILITY_FNS}, got {probability_fn!r}.")
        self.probability_fn = probability_fn
        self.supports_masking = True

    def build(self, input_shape):
        _check_inputs(type(self).__name__, input_shape)

    def keys(self, memory):
        """The memory as `score` reads it, `[batch, memory_time, key_depth]`."""
        return memory

    def score(self, query, keys):
        raise NotImplementedError

    def initial_alignments(self, memory):
        """Alignments before the first decoder step: zeros (a monotonic mechanism: one-hot at position 0)."""
        return ops.zeros_like(memory[:, :, 0])

    def alignments(self, query, keys, memory_mask=None, previous_alignments=None, training=None):
        """`[batch, memory_time]` alignments of `query` over precomputed `keys`."""
        scores = self.score(query, keys)
        if memory_mask is None:
            return hardmax(scores) if self.probability_fn == "hardmax" else ops.softmax(scores, axis=-1)
        scores = ops.where(memory_mask, scores, ops.cast(_MASKED_SCORE, scores.dtype))
        alignments = hardmax(scores) if self.probability_fn == "hardmax" else ops.softmax(scores, axis=-1)
        # Zero on masked positions even when a whole row is masked (an empty source), not uniform.
        return alignments * ops.cast(memory_mask, alignments.dtype)

    def call(self, inputs, mask=None, previous_alignments=None, training=None):
        query, memory = inputs
        memory_mask = None
        if mask is not None:
            if not isinstance(mask, (list, tuple)) or len(mask) != 2:
                raise ValueError(f"`mask` must be `[query_mask, memory_mask]`, got {mask!r}.")
            memory_mask = mask[1]
            if memory_mask is not None and any(
                    None not in (m, n) and m != n for m, n in zip(memory_mask.shape, memory.shape[:2])):
                raise ValueError(f"`mask[1]` (the memory mask) must be [batch, memory_time] = "
                                 f"{tuple(memory.shape[:2])}, got {tuple(memory_mask.shape)}.")
        if previous_alignments is not None:
            shape = tuple(previous_alignments.shape)
            if len(shape) != 2 or any(None not in (m, n) and m != n for m, n in zip(shape, memory.shape[:2])):
                raise ValueError(f"`previous_alignments` must be [batch, memory_time] = {tuple(memory.shape[:2])}, "
                                 f"got {shape}.")
        return self.alignments(query, self.keys(memory), memory_mask, previous_alignments, training)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[1][:2])

    def get_config(self):
        return {**super().get_config(), "probability_fn": self.probability_fn}


@keras.saving.register_keras_serializable(package="keras_dl")
class BahdanauAttention(AttentionMechanism):
    """Additive attention (Bahdanau et al. 2015): `score_j = v . tanh(W_k m_j + W_q q)`.

    With `normalize=True`, weight normalisation (Salimans & Kingma 2016): `v` becomes
    `g v / |v|` and a bias `b` is added inside the tanh, as in tfa's `BahdanauAttention`.

    Args:
        units: depth of the projected query and keys.
        normalize: weight-normalise `v` (scalar gain `g`, initially `sqrt(1 / units)`).
        probability_fn: `"softmax"` or `"hardmax"`.

    Call arguments: as `AttentionMechanism`'s.

    Example:
    >>> query, memory = np.ones((2, 4), "float32"), np.ones((2, 7, 3), "float32")
    >>> mask = np.arange(7) < np.array([[7], [5]])
    >>> alignments = BahdanauAttention(8)([query, memory], mask=[None, mask])
    >>> np.round(np.asarray(alignments), 2)
    array([[0.14, 0.14, 0.14, 0.14, 0.14, 0.14, 0.14],
           [0.2 , 0.2 , 0.2 , 0.2 , 0.2 , 0.  , 0.  ]], dtype=float32)
    """

    def __init__(self, units, normalize=False, probability_fn="softmax", **kwargs):
        super().__init__(probability_fn, **kwargs)
        self.units = _checks.positive_int("units", units)
        self.normalize = bool(normalize)

    def build(self, input_shape):
        query_shape, memory_shape = _check_inputs(type(self).__name__, input_shape)
        self.memory_layer = keras.layers.Dense(self.units, use_bias=False, name="memory_layer")
        self.memory_layer.build(memory_shape)
        self.query_layer = keras.layers.Dense(self.units, use_bias=False, name="query_layer")
        self.query_layer.build(query_shape)
        self.attention_v = self.add_weight(name="attention_v", shape=(self.units,), initializer="glorot_uniform")
        if self.normalize:
            self.attention_g = self.add_weight(name="attention_g", shape=(),
                                               initializer=keras.initializers.Constant(math.sqrt(1.0 / self.units)))
            self.attention_b = self.add_weight(name="attention_b", shape=(self.units,), initializer="zeros")

    def keys(self, memory):
        return self.memory_layer(memory)

    def score(self, query, keys):
        hidden = keys + ops.expand_dims(self.query_layer(query), 1)
        v = ops.cast(self.attention_v, hidden.dtype)
        if self.normalize:
            v = ops.cast(self.attention_g, v.dtype) * v / ops.sqrt(ops.sum(ops.square(v)))
            hidden = hidden + ops.cast(self.attention_b, hidden.dtype)
        return ops.sum(v * ops.tanh(hidden), axis=-1)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "normalize": self.normalize}


@keras.saving.register_keras_serializable(package="keras_dl")
class LuongAttention(AttentionMechanism):
    """Multiplicative attention (Luong et al. 2015): `score_j = q . m_j` ("dot") or `q . W m_j` ("general").

    Args:
        score_mode: `"dot"` (query and memory of the same depth, no weights) or `"general"`
            (`W`: `[memory_depth, query_depth]`).
        use_scale: multiply the scores by a learned scalar `g` (initially 1), as tfa's `scale=True`.
        probability_fn: `"softmax"` or `"hardmax"`.

    Call arguments: as `AttentionMechanism`'s.

    Example:
    >>> query = np.array([[1.0, 0.0]], "float32")
    >>> memory = np.array([[[1.0, 0.0], [0.0, 1.0], [2.0, 0.0]]], "float32")
    >>> np.round(np.asarray(LuongAttention("dot")([query, memory])), 3)
    array([[0.245, 0.09 , 0.665]], dtype=float32)
    """

    def __init__(self, score_mode="general", use_scale=False, probability_fn="softmax", **kwargs):
        super().__init__(probability_fn, **kwargs)
        if score_mode not in ("dot", "general"):
            raise ValueError(f"`score_mode` must be 'dot' or 'general', got {score_mode!r}.")
        self.score_mode = score_mode
        self.use_scale = bool(use_scale)

    def build(self, input_shape):
        query_shape, memory_shape = _check_inputs(type(self).__name__, input_shape)
        if self.score_mode == "dot" and query_shape[-1] != memory_shape[-1]:
            raise ValueError(f"LuongAttention('dot'): `query` depth {query_shape[-1]} must equal `memory` depth "
                             f"{memory_shape[-1]}; use score_mode='general' to learn a map between them.")
        if self.score_mode == "general":
            self.memory_layer = keras.layers.Dense(query_shape[-1], use_bias=False, name="memory_layer")
            self.memory_layer.build(memory_shape)
        if self.use_scale:
            self.attention_g = self.add_weight(name="attention_g", shape=(), initializer="ones")

    def keys(self, memory):
        return self.memory_layer(memory) if self.score_mode == "general" else memory

    def score(self, query, keys):
        scores = ops.squeeze(ops.matmul(keys, ops.expand_dims(query, -1)), -1)
        return scores * ops.cast(self.attention_g, scores.dtype) if self.use_scale else scores

    def get_config(self):
        return {**super().get_config(), "score_mode": self.score_mode, "use_scale": self.use_scale}


class _Monotonic:
    """Monotonic alignments (Raffel et al. 2017) in place of the softmax: `p_choose = sigmoid(score + r + noise)`."""

    def _init_monotonic(self, mode, sigmoid_noise, score_bias_init, seed):
        if mode not in _MONOTONIC_MODES:
            raise ValueError(f"`mode` must be one of {_MONOTONIC_MODES}, got {mode!r}.")
        self.mode = mode
        self.sigmoid_noise = _checks.non_negative_float("sigmoid_noise", sigmoid_noise)
        self.score_bias_init = float(score_bias_init)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, input_shape):
        super().build(input_shape)  # The score's weights (the class after this mixin), then the bias r.
        self.score_bias = self.add_weight(name="attention_score_bias", shape=(),
                                          initializer=keras.initializers.Constant(self.score_bias_init))

    def initial_alignments(self, memory):
        position = ops.cumsum(ops.ones_like(memory[:, :, 0]), axis=1)
        return ops.cast(ops.equal(position, 1.0), memory.dtype)

    def alignments(self, query, keys, memory_mask=None, previous_alignments=None, training=None):
        scores = self.score(query, keys) + ops.cast(self.score_bias, keys.dtype)
        if training and self.sigmoid_noise > 0:
            # Noise before the sigmoid pushes p_choose towards 0 or 1, so training sees near-hard decisions.
            scores = scores + self.sigmoid_noise * keras.random.normal(ops.shape(scores), dtype=scores.dtype,
                                                                      seed=self.seed_generator)
        p_choose = ops.cast(scores > 0, scores.dtype) if self.mode == "hard" else ops.sigmoid(scores)
        if memory_mask is not None:
            p_choose = ops.where(memory_mask, p_choose, ops.zeros_like(p_choose))  # passes over padding
        if previous_alignments is None:
            previous_alignments = self.initial_alignments(keys)
        return monotonic_attention(p_choose, previous_alignments, self.mode)

    def get_config(self):
        return {**super().get_config(), "mode": self.mode, "sigmoid_noise": self.sigmoid_noise,
                "score_bias_init": self.score_bias_init, "seed": self.seed}


@keras.saving.register_keras_serializable(package="keras_dl")
class BahdanauMonotonicAttention(_Monotonic, BahdanauAttention):
    """Additive monotonic attention (Raffel et al. 2017): `BahdanauAttention`'s score, monotonic alignments.

    Args:
        units, normalize: as `BahdanauAttention`'s.
        mode: `"parallel"` (training), `"recursive"` (exact recurrence) or `"hard"` (decoding):
            see `monotonic_attention`.
        sigmoid_noise: std of the Gaussian noise added to the scores in training (the paper: 1).
        score_bias_init: initial value of the learned score bias `r` (the paper: -4 for long memories).
        seed: seed of the noise.

    Call arguments: as `AttentionMechanism`'s; `previous_alignments` defaults to a one-hot at
    position 0 (`initial_alignments`).

    Example:
    >>> query, memory = np.zeros((1, 4), "float32"), np.zeros((1, 5, 3), "float32")
    >>> alignments = BahdanauMonotonicAttention(8, mode="parallel")([query, memory])
    >>> np.round(np.asarray(alignments), 3)  # p_choose = sigmoid(0): stop here or move on, evenly
    array([[0.5  , 0.25 , 0.125, 0.062, 0.031]], dtype=float32)
    """

    def __init__(self, units, normalize=False, mode="parallel", sigmoid_noise=0.0, score_bias_init=0.0, seed=None,
                 **kwargs):
        kwargs.pop("probability_fn", None)  # Monotonic: the probabilities are the mode's (get_config round trip).
        super().__init__(units, normalize=normalize, **kwargs)
        self._init_monotonic(mode, sigmoid_noise, score_bias_init, seed)


@keras.saving.register_keras_serializable(package="keras_dl")
class LuongMonotonicAttention(_Monotonic, LuongAttention):
    """Multiplicative monotonic attention (Raffel et al. 2017): `LuongAttention`'s score, monotonic alignments.

    Args:
        score_mode, use_scale: as `LuongAttention`'s.
        mode, sigmoid_noise, score_bias_init, seed: as `BahdanauMonotonicAttention`'s.

    Call arguments: as `BahdanauMonotonicAttention`'s.

    Example:
    >>> query = np.array([[0.0, 5.0]], "float32")
    >>> memory = np.array([[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]], "float32")
    >>> np.asarray(LuongMonotonicAttention("dot", mode="hard")([query, memory]))  # stops at the first score > 0
    array([[0., 1., 0.]], dtype=float32)
    """

    def __init__(self, score_mode="general", use_scale=False, mode="parallel", sigmoid_noise=0.0, score_bias_init=0.0,
                 seed=None, **kwargs):
        kwargs.pop("probability_fn", None)
        super().__init__(score_mode, use_scale=use_scale, **kwargs)
        self._init_monotonic(mode, sigmoid_noise, score_bias_init, seed)
