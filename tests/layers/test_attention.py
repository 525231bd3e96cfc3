"""Attention mechanisms against NumPy references of their formulas, with masks."""

import keras
import numpy as np
import pytest

from keras_dl.layers import BahdanauAttention
from keras_dl.layers import BahdanauMonotonicAttention
from keras_dl.layers import LuongAttention
from keras_dl.layers import LuongMonotonicAttention
from keras_dl.layers import hardmax
from keras_dl.layers import monotonic_attention

B, T, DQ, DM, U = 3, 6, 4, 5, 7
LENGTHS = np.array([6, 4, 1])


def data(seed=0, query_depth=DQ, memory_depth=DM):
    rng = np.random.default_rng(seed)
    query = rng.normal(size=(B, query_depth)).astype(np.float32)
    memory = rng.normal(size=(B, T, memory_depth)).astype(np.float32)
    mask = np.arange(T)[None, :] < LENGTHS[:, None]
    return query, memory, mask


def randomise(layer, seed=1):
    rng = np.random.default_rng(seed)
    for w in layer.weights:
        w.assign(rng.normal(0, 0.7, w.shape).astype(np.float32))


def masked_softmax(scores, mask):
    scores = np.where(mask, scores, -np.inf)
    e = np.exp(scores - scores.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def run(layer, query, memory, mask, **kwargs):
    layer([query, memory])  # build
    randomise(layer)
    return np.asarray(layer([query, memory], mask=[None, mask], **kwargs)), {w.name: np.asarray(w) for w in layer.weights}


@pytest.mark.parametrize("normalize", [False, True])
def test_bahdanau_scores_are_v_tanh_of_projected_memory_plus_query(normalize):
    query, memory, mask = data()
    layer = BahdanauAttention(U, normalize=normalize)
    alignments, w = run(layer, query, memory, mask)
    hidden = memory @ np.asarray(layer.memory_layer.kernel) + (query @ np.asarray(layer.query_layer.kernel))[:, None]
    v = w["attention_v"]
    if normalize:
        v = w["attention_g"] * v / np.linalg.norm(v)
        hidden = hidden + w["attention_b"]
    np.testing.assert_allclose(alignments, masked_softmax(np.tanh(hidden) @ v, mask), atol=1e-6)
    assert np.all(alignments[~mask] == 0)


@pytest.mark.parametrize("score_mode, use_scale", [("dot", False), ("dot", True), ("general", False),
                                                   ("general", True)])
def test_luong_scores_are_query_dot_memory_or_its_projection(score_mode, use_scale):
    query, memory, mask = data(memory_depth=DQ if score_mode == "dot" else DM)
    layer = LuongAttention(score_mode, use_scale=use_scale)
    alignments, w = run(layer, query, memory, mask)
    keys = memory @ np.asarray(layer.memory_layer.kernel) if score_mode == "general" else memory
    scores = np.einsum("btd,bd->bt", keys, query) * (w["attention_g"] if use_scale else 1.0)
    np.testing.assert_allclose(alignments, masked_softmax(scores, mask), atol=1e-6)


def test_hardmax_puts_all_weight_on_the_first_best_unmasked_position():
    query, memory, mask = data(memory_depth=DQ)
    layer = LuongAttention("dot", probability_fn="hardmax")
    alignments = np.asarray(layer([query, memory], mask=[None, mask]))
    scores = np.where(mask, np.einsum("btd,bd->bt", memory, query), -np.inf)
    np.testing.assert_array_equal(alignments, np.eye(T)[scores.argmax(-1)])
    np.testing.assert_array_equal(np.asarray(hardmax(np.array([[1.0, 3.0, 3.0]]))), [[0.0, 1.0, 0.0]])


def reference_monotonic(p, previous):
    """Raffel et al. 2017, eq. 12, one position at a time: q_j = (1 - p_{j-1}) q_{j-1} + a'_j, a_j = p_j q_j."""
    attention = np.zeros_like(p)
    for b in range(p.shape[0]):
        q = 0.0
        for j in range(p.shape[1]):
            q = (1.0 - (p[b, j - 1] if j else 0.0)) * q + previous[b, j]
            attention[b, j] = p[b, j] * q
    return attention


def test_monotonic_modes_follow_the_recurrence_and_parallel_equals_recursive():
    rng = np.random.default_rng(0)
    p = rng.uniform(0.05, 0.95, (B, T)).astype(np.float32)
    previous = rng.dirichlet(np.ones(T), B).astype(np.float32)
    expected = reference_monotonic(p.astype(np.float64), previous.astype(np.float64))
    for mode in ("recursive", "parallel"):
        np.testing.assert_allclose(np.asarray(monotonic_attention(p, previous, mode)), expected, atol=1e-6)


def test_hard_monotonic_attention_stops_at_the_first_chosen_position_from_the_last_one():
    p = np.array([[0.9, 0.2, 0.7, 0.9, 0.1], [0.9, 0.9, 0.1, 0.1, 0.1], [0.6, 0.1, 0.1, 0.1, 0.1]], np.float32)
    previous = np.eye(5, dtype=np.float32)[[1, 0, 2]]
    np.testing.assert_array_equal(np.asarray(monotonic_attention(p, previous, "hard")),
                                  [[0, 0, 1, 0, 0], [1, 0, 0, 0, 0], [0, 0, 0, 0, 0]])  # the last never stops


@pytest.mark.parametrize("cls, score_mode", [(BahdanauMonotonicAttention, None), (LuongMonotonicAttention, "dot"),
                                             (LuongMonotonicAttention, "general")])
@pytest.mark.parametrize("mode", ["parallel", "recursive", "hard"])
def test_monotonic_mechanisms_score_with_a_bias_and_skip_masked_positions(cls, score_mode, mode):
    query, memory, mask = data(memory_depth=DQ if score_mode == "dot" else DM)
    layer = cls(U, mode=mode) if score_mode is None else cls(score_mode, mode=mode)
    previous = np.eye(T, dtype=np.float32)[[2, 0, 0]]
    alignments, w = run(layer, query, memory, mask, previous_alignments=previous)
    scores = np.asarray(layer.score(query, layer.keys(memory))) + w["attention_score_bias"]
    p = np.where(mask, (scores > 0) if mode == "hard" else 1 / (1 + np.exp(-scores)), 0.0)
    expected = (np.asarray(monotonic_attention(p.astype(np.float32), previous, "hard")) if mode == "hard"
                else reference_monotonic(p, previous))
    np.testing.assert_allclose(alignments, expected, atol=1e-6)
    assert np.all(alignments[~mask] == 0)
    assert np.all(alignments.sum(-1) <= 1 + 1e-6)


def test_monotonic_attention_starts_at_the_first_memory_position():
    query, memory, _ = data(memory_depth=DQ)
    layer = LuongMonotonicAttention("dot", mode="recursive")
    np.testing.assert_array_equal(np.asarray(layer.initial_alignments(memory)), np.eye(T)[[0, 0, 0]])
    by_default = np.asarray(layer([query, memory]))
    np.testing.assert_array_equal(by_default, np.asarray(layer([query, memory],
                                                               previous_alignments=np.eye(T, dtype="float32")[[0] * B])))


def test_pre_sigmoid_noise_only_in_training_and_seeded():
    query, memory, _ = data()
    layer = BahdanauMonotonicAttention(U, sigmoid_noise=1.0, seed=3)
    inference = [np.asarray(layer([query, memory])) for _ in range(2)]
    np.testing.assert_array_equal(*inference)
    noisy = [np.asarray(layer([query, memory], training=True)) for _ in range(2)]
    assert not np.allclose(noisy[0], inference[0]) and not np.allclose(noisy[0], noisy[1])


def test_a_masked_memory_in_a_functional_model_carries_its_mask():
    query, memory, mask = data()
    memory[~mask] = 9.0
    memory_in, query_in = keras.Input((None, DM)), keras.Input((DQ,))
    layer = BahdanauAttention(U)
    model = keras.Model([query_in, memory_in], layer([query_in, keras.layers.Masking(9.0)(memory_in)]))
    np.testing.assert_allclose(np.asarray(model([query, memory])),
                               np.asarray(layer([query, memory], mask=[None, mask])), atol=1e-7)
    assert np.all(np.asarray(model([query, memory]))[~mask] == 0)


def test_bad_input_is_named():
    query, memory, _ = data()
    with pytest.raises(ValueError, match="`query` depth 4 must equal `memory` depth 5"):
        LuongAttention("dot")([query, memory])
    with pytest.raises(ValueError, match=r"`query` must be \[batch, depth\]"):
        BahdanauAttention(U)([memory, memory])
    with pytest.raises(ValueError, match=r"takes `\[query, memory\]`"):
        BahdanauAttention(U)(memory)
    with pytest.raises(ValueError, match="`query` and `memory` must have the same batch size"):
        BahdanauAttention(U)([query[:1], memory])
    with pytest.raises(ValueError, match=r"`mask\[1\]` \(the memory mask\) must be \[batch, memory_time\]"):
        BahdanauAttention(U)([query, memory], mask=[None, np.ones((B, T + 1), bool)])
    with pytest.raises(ValueError, match=r"`previous_alignments` must be \[batch, memory_time\]"):
        BahdanauMonotonicAttention(4)([query, memory], previous_alignments=np.zeros((B, T + 1), "float32"))
    with pytest.raises(ValueError, match="`mask` must be"):
        BahdanauAttention(U)([query, memory], mask=np.ones((B, T), bool))
    with pytest.raises(ValueError, match="`units` must be a positive int, got 0"):
        BahdanauAttention(0)
    with pytest.raises(ValueError, match="`probability_fn` must be one of"):
        LuongAttention(probability_fn="sparsemax")
    with pytest.raises(ValueError, match="`score_mode` must be 'dot' or 'general'"):
        LuongAttention("concat")
    with pytest.raises(ValueError, match="`mode` must be one of"):
        LuongMonotonicAttention(mode="soft")
    with pytest.raises(ValueError, match="`sigmoid_noise` must be >= 0"):
        BahdanauMonotonicAttention(U, sigmoid_noise=-1.0)


@pytest.mark.parametrize("probability_fn", ["softmax", "hardmax"])
def test_a_fully_masked_memory_row_gets_no_weight(probability_fn):
    query, memory, mask = data()
    mask[1] = False  # an empty source sequence
    alignments = np.asarray(BahdanauAttention(U, probability_fn=probability_fn)([query, memory], mask=[None, mask]))
    np.testing.assert_array_equal(alignments[1], 0.0)
    np.testing.assert_allclose(alignments[[0, 2]].sum(-1), 1.0, atol=1e-6)
