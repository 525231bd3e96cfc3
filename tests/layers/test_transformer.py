"""Transformer blocks against a NumPy reference of Vaswani et al.'s formulas; causality, masks, the key/value cache."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from keras_dl.layers.transformer import SinusoidalPositionEncoding
from keras_dl.layers.transformer import TransformerDecoderBlock
from keras_dl.layers.transformer import TransformerEncoderBlock
from keras_dl.layers.transformer import cached_attention

HEADS, KEY_DIM, FF, DEPTH, TIME, MEMORY_DEPTH, MEMORY_TIME = 2, 3, 7, 6, 5, 4, 4
MEMORY_MASK = np.array([[True, True, False, False], [True, True, True, True]])


def data(seed=0, batch=2, time=TIME):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch, time, DEPTH)).astype(np.float32)
    memory = rng.normal(size=(batch, MEMORY_TIME, MEMORY_DEPTH)).astype(np.float32)
    return x, memory


def randomise(layer, seed=1):
    """Random weights everywhere (biases, LayerNorm gains and offsets too), so a misplaced one shows."""
    rng = np.random.default_rng(seed)
    for w in layer.weights:
        w.assign(rng.normal(0, 0.5, w.shape).astype(np.float32))


def decoder(norm_first=False, dropout=0.0, memory=True, seed=1):
    block = TransformerDecoderBlock(HEADS, KEY_DIM, FF, dropout=dropout, norm_first=norm_first)
    x, m = data()
    block(x, memory=m) if memory else block(x)
    randomise(block, seed)
    return block


# NumPy reference (float64) of the blocks, on the layers' weights.

def np_layer_norm(norm, x):
    mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + norm.epsilon) * np.asarray(norm.gamma) + np.asarray(norm.beta)


def np_attention(mha, query, memory, allowed):
    """Multi-head attention; `allowed` [batch, time, memory_time] bool. Returns outputs and probabilities."""
    def project(dense, x):
        return np.einsum("btd,dnh->btnh", x, np.asarray(dense.kernel)) + np.asarray(dense.bias)

    q = project(mha.query_dense, query) / np.sqrt(mha.key_dim)
    k, v = project(mha.key_dense, memory), project(mha.value_dense, memory)
    scores = np.where(allowed[:, None], np.einsum("btnh,bsnh->bnts", q, k), -np.inf)
    p = np.exp(scores - scores.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    out = np.einsum("bnts,bsnh->btnh", p, v)
    return np.einsum("btnh,nhd->btd", out, np.asarray(mha.output_dense.kernel)) + np.asarray(mha.output_dense.bias), p


def np_block(block, x, memory=None, mask=None, memory_mask=None, causal=False):
    x = x.astype(np.float64)
    batch, time = x.shape[:2]
    keys = np.ones((batch, 1, time), bool) if mask is None else mask[:, None, :]
    allowed = keys & (np.tril(np.ones((time, time), bool)) if causal else True)

    def sublayer(x, fn, norm):
        if block.norm_first:
            return x + fn(np_layer_norm(norm, x))
        return np_layer_norm(norm, x + fn(x))

    x = sublayer(x, lambda h: np_attention(block.self_attention, h, h, allowed)[0], block.self_attention_norm)
    if memory is not None:
        memory_allowed = np.ones((batch, 1, memory.shape[1]), bool) if memory_mask is None else memory_mask[:, None]
        x = sublayer(x, lambda h: np_attention(block.cross_attention, h, memory, memory_allowed)[0],
                     block.cross_attention_norm)

    def ffn(h):
        inner = np.maximum(h @ np.asarray(block.feed_forward_inner.kernel) + np.asarray(block.feed_forward_inner.bias), 0)
        return inner @ np.asarray(block.feed_forward_output.kernel) + np.asarray(block.feed_forward_output.bias)

    return sublayer(x, ffn, block.feed_forward_norm)


# Position encoding.

def np_sinusoids(positions, depth, wavelength=10000.0):
    """Vaswani et al., section 3.5: PE(pos, 2i) = sin(pos / 10000^(2i/d)), PE(pos, 2i+1) = cos(pos / 10000^(2i/d))."""
    pe = np.zeros(positions.shape + (depth,))
    for k in range(depth):
        angle = positions / wavelength ** (2 * (k // 2) / depth)
        pe[..., k] = np.sin(angle) if k % 2 == 0 else np.cos(angle)
    return pe


@pytest.mark.parametrize("depth", [6, 7])
def test_position_encoding_adds_the_papers_sinusoids(depth):
    x = np.random.default_rng(0).normal(size=(2, 9, depth)).astype(np.float32)
    out = np.asarray(SinusoidalPositionEncoding()(x))
    np.testing.assert_allclose(out, x + np_sinusoids(np.arange(9.0), depth), atol=1e-5)


def test_position_encoding_starts_where_it_is_told_scalar_or_per_row():
    x = np.zeros((2, 3, 8), np.float32)
    encoding = SinusoidalPositionEncoding(max_length=20)
    whole = np.asarray(encoding(np.zeros((2, 20, 8), np.float32)))
    np.testing.assert_array_equal(np.asarray(encoding(x, start_index=4)), whole[:, 4:7])
    np.testing.assert_array_equal(np.asarray(encoding(x, start_index=ops.convert_to_tensor(4))), whole[:, 4:7])
    per_row = np.asarray(encoding(x, start_index=np.array([2, 10], np.int32)))
    np.testing.assert_array_equal(per_row, np.stack([whole[0, 2:5], whole[1, 10:13]]))


def test_position_encoding_passes_the_mask_through_and_checks_max_length():
    inputs = keras.Input((None, 4))
    masked = keras.layers.Masking(0.0)(inputs)
    outputs = SinusoidalPositionEncoding()(masked)
    assert outputs._keras_mask is not None
    with pytest.raises(ValueError, match="max_length"):
        SinusoidalPositionEncoding(max_length=4)(np.zeros((1, 5, 2), np.float32))
    with pytest.raises(ValueError, match="max_length"):
        SinusoidalPositionEncoding(max_length=4)(np.zeros((1, 2, 2), np.float32), start_index=3)
    with pytest.raises(ValueError, match="start_index"):
        SinusoidalPositionEncoding()(np.zeros((1, 2, 2), np.float32), start_index=-1)


# Encoder block.

@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_block_matches_the_reference_with_a_padding_mask(norm_first):
    block = TransformerEncoderBlock(HEADS, KEY_DIM, FF, norm_first=norm_first)
    x, _ = data()
    block(x)
    randomise(block)
    mask = np.array([[True] * TIME, [True] * 3 + [False] * (TIME - 3)])
    np.testing.assert_allclose(np.asarray(block(x, mask=mask)), np_block(block, x, mask=mask), atol=1e-5)
    np.testing.assert_allclose(np.asarray(block(x)), np_block(block, x), atol=1e-5)


def test_encoder_block_ignores_padded_positions_and_takes_the_keras_mask():
    block = TransformerEncoderBlock(HEADS, KEY_DIM, FF)
    x, _ = data()
    x[1, 3:] = 0.0
    inputs = keras.Input((None, DEPTH))
    model = keras.Model(inputs, block(keras.layers.Masking(0.0)(inputs)))
    out = np.asarray(model(x))
    mask = np.any(x != 0, axis=-1)
    np.testing.assert_allclose(out, np.asarray(block(x, mask=mask)), atol=1e-6)
    garbage = x.copy()
    garbage[1, 3:] = 7.0  # What padding holds must not matter where it is masked.
    np.testing.assert_allclose(np.asarray(block(garbage, mask=mask))[1, :3], out[1, :3], atol=1e-6)


# Decoder block.

@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("with_memory", [False, True])
def test_decoder_block_matches_the_reference(norm_first, with_memory):
    block = decoder(norm_first, memory=with_memory)
    x, memory = data(2)
    if with_memory:
        out = block(x, memory=memory, memory_mask=MEMORY_MASK)
        expected = np_block(block, x, memory, memory_mask=MEMORY_MASK, causal=True)
    else:
        out, expected = block(x), np_block(block, x, causal=True)
    np.testing.assert_allclose(np.asarray(out), expected, atol=1e-5)


@pytest.mark.parametrize("dropout", [0.0, 0.3])
@pytest.mark.parametrize("return_attention_scores", [False, True])
@pytest.mark.parametrize("with_memory", [False, True])
def test_decoder_block_is_causal_with_dropout_and_attention_scores(dropout, return_attention_scores, with_memory):
    """keras-team/keras#23038: MultiHeadAttention's causal mask once vanished with dropout > 0 or with scores."""
    block = decoder(dropout=dropout, memory=with_memory)
    x, memory = data(3)
    kwargs = {"memory": memory} if with_memory else {}

    def run(inputs):
        out = block(inputs, return_attention_scores=return_attention_scores, training=False, **kwargs)
        return out if return_attention_scores else (out, None)

    base, scores = run(x)
    for t in range(TIME - 1):
        later = x.copy()
        later[:, t + 1:] = np.random.default_rng(t).normal(size=later[:, t + 1:].shape)
        changed, _ = run(later)
        np.testing.assert_array_equal(np.asarray(changed)[:, :t + 1], np.asarray(base)[:, :t + 1])
        assert not np.allclose(np.asarray(changed)[:, t + 1:], np.asarray(base)[:, t + 1:])
    if return_attention_scores:
        self_scores = np.asarray(scores["self_attention"])
        assert self_scores.shape == (2, HEADS, TIME, TIME)
        above = np.triu(np.ones((TIME, TIME), bool), k=1)
        assert np.all(self_scores[:, :, above] == 0.0)
        assert np.all(self_scores[:, :, ~above] > 0.0)
        np.testing.assert_allclose(self_scores.sum(-1), 1.0, atol=1e-6)
        assert ("cross_attention" in scores) == with_memory


def test_decoder_attention_scores_are_causal_in_training_too():
    block = decoder(dropout=0.5, memory=False)
    _, scores = block(data(4)[0], return_attention_scores=True, training=True)
    assert np.all(np.asarray(scores["self_attention"])[:, :, np.triu(np.ones((TIME, TIME), bool), k=1)] == 0.0)


def test_decoder_block_masks_padding_in_the_memory_and_the_inputs():
    block = decoder()
    x, memory = data(5)
    out = np.asarray(block(x, memory=memory, memory_mask=MEMORY_MASK))
    garbage = memory.copy()
    garbage[0, 2:] = 9.0
    np.testing.assert_allclose(np.asarray(block(x, memory=garbage, memory_mask=MEMORY_MASK)), out, atol=1e-6)
    # Padded in front (as a left-padded prompt): the real positions are as without the padding.
    padded = np.concatenate([np.full((2, 2, DEPTH), 3.0, np.float32), x], axis=1)
    mask = np.arange(TIME + 2) >= 2
    got = np.asarray(block(padded, memory=memory, mask=np.tile(mask, (2, 1)), memory_mask=MEMORY_MASK))
    np.testing.assert_allclose(got[:, 2:], out, atol=1e-5)


def run_steps(block, x, memory=None, memory_mask=None, max_length=None):
    cache = block.initial_cache(x.shape[0], max_length or x.shape[1], memory=memory)
    steps = []
    for t in range(x.shape[1]):
        y, cache = block.call_step(x[:, t:t + 1], cache, t, memory_mask=memory_mask)
        steps.append(np.asarray(y))
    return np.concatenate(steps, axis=1), cache


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("with_memory", [False, True])
def test_cached_steps_equal_the_whole_sequence_position_by_position(norm_first, with_memory):
    block = decoder(norm_first, dropout=0.2, memory=with_memory)
    x, memory = data(6)
    kwargs = {"memory": memory, "memory_mask": MEMORY_MASK} if with_memory else {}
    expected = np.asarray(block(x, **kwargs))
    steps, cache = run_steps(block, x, max_length=TIME + 3, **kwargs)
    np.testing.assert_allclose(steps, expected, atol=1e-5)
    assert cache["key"].shape == (2, TIME + 3, HEADS, KEY_DIM)
    assert np.all(np.asarray(cache["key"])[:, TIME:] == 0)  # Only the positions decoded are written.
    np.testing.assert_allclose(np.asarray(cache["key"])[:, :TIME],
                               np.asarray(block.self_attention.key_dense(x if not norm_first else
                                                                         block.self_attention_norm(x))), atol=1e-6)


def test_cached_steps_run_in_a_while_loop_under_xla():
    block = decoder(memory=True)
    x, memory = data(7)
    expected = np.asarray(block(x, memory=memory, memory_mask=MEMORY_MASK))

    @tf.function(jit_compile=True)
    def decode(x, memory, memory_mask):
        def body(t, cache, outputs):
            y, cache = block.call_step(ops.expand_dims(ops.take(x, t, axis=1), 1), cache, t, memory_mask=memory_mask)
            return t + 1, cache, ops.slice_update(outputs, ops.stack([0, t, 0]), y)

        cache = block.initial_cache(ops.shape(x)[0], TIME, memory=memory)
        _, _, outputs = ops.while_loop(lambda t, *_: t < TIME, body, (ops.convert_to_tensor(0), cache, ops.zeros_like(x)))
        return outputs

    np.testing.assert_allclose(np.asarray(decode(x, memory, MEMORY_MASK)), expected, atol=1e-5)


def test_cached_attention_is_multi_head_attentions_computation():
    mha = keras.layers.MultiHeadAttention(HEADS, KEY_DIM)
    x, memory = data(8)
    mha(x, memory)
    randomise(mha)
    allowed = np.broadcast_to(MEMORY_MASK[:, None], (2, TIME, MEMORY_TIME))
    expected, probabilities = np_attention(mha, x, memory, allowed)
    out, scores = cached_attention(mha, x, mha.key_dense(memory), mha.value_dense(memory), allowed)
    np.testing.assert_allclose(np.asarray(out), expected, atol=1e-5)
    np.testing.assert_allclose(np.asarray(scores), probabilities, atol=1e-6)
    assert np.all(np.asarray(scores)[0, :, :, 2:] == 0.0)


# Bad input.

@pytest.mark.parametrize("cls", [TransformerEncoderBlock, TransformerDecoderBlock])
@pytest.mark.parametrize("kwargs, error, match", [
    ({"num_heads": 0}, ValueError, "`num_heads`"),
    ({"key_dim": -2}, ValueError, "`key_dim`"),
    ({"ff_dim": 2.5}, TypeError, "`ff_dim`"),
    ({"dropout": 1.0}, ValueError, "`dropout`"),
    ({"norm_first": "yes"}, TypeError, "`norm_first`"),
    ({"layer_norm_epsilon": 0.0}, ValueError, "`layer_norm_epsilon`"),
])
def test_bad_block_arguments_are_named(cls, kwargs, error, match):
    arguments = {"num_heads": 2, "key_dim": 4, "ff_dim": 8, **kwargs}
    with pytest.raises(error, match=match):
        cls(**arguments)


def test_bad_decoder_calls_are_named():
    x, memory = data()
    with pytest.raises(ValueError, match="`inputs` must be \\[batch, time, depth\\]"):
        TransformerDecoderBlock(2, 4, 8)(x[:, :, 0])
    decoder_only, cross = decoder(memory=False), decoder(memory=True)
    with pytest.raises(ValueError, match="without `memory`"):
        decoder_only(x, memory=memory)
    with pytest.raises(ValueError, match="needs it"):
        cross(x)
    with pytest.raises(ValueError, match="initial_cache\\(..., memory=memory\\)"):
        cross.call_step(x[:, :1], decoder_only.initial_cache(2, 3), 0)
    cache = decoder_only.initial_cache(2, 3)
    with pytest.raises(ValueError, match="`index` must be an int in \\[0, 3\\)"):
        decoder_only.call_step(x[:, :1], cache, 3)
    with pytest.raises(ValueError, match="one step"):
        decoder_only.call_step(x[:, :2], cache, 0)
    with pytest.raises(ValueError, match="build the block"):
        TransformerDecoderBlock(2, 4, 8).initial_cache(2, 3)
    with pytest.raises(ValueError, match="`max_length`"):
        decoder_only.initial_cache(2, 0)
