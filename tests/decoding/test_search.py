"""Beam search on hand-built distributions whose best sequences are worked out by hand."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from keras_dl.decoding import beam_search
from keras_dl.decoding import filter_logits
from keras_dl.decoding import greedy_search
from keras_dl.decoding import sample
from keras_dl.decoding import tile_for_beams

END = 3
# Rows: the first step; after token 0; after token 1; anything later (the end token, surely).
GREEDY_IS_WRONG = [[0.5, 0.4, 0.1, 0], [0.3, 0.28, 0.22, 0.2], [0.9, 0.05, 0.05, 0], [0, 0, 0, 1]]
SHORT_OR_LONG = [[0.45, 0, 0, 0.55], [0.95, 0.05, 0, 0], [0, 0, 0, 1], [0, 0, 0, 1]]


def table_step(*tables, alignments=None):
    """A step function reading next-token probabilities from `tables[row]` by the number of steps taken."""
    logits = np.log(np.array(tables, np.float32) + 1e-12)

    def step(tokens, state):
        steps, which = state["steps"], state["which"]
        rows = ops.where(steps == 0, 0, ops.where(steps == 1, ops.minimum(tokens + 1, 3), 3))
        out = ops.take(ops.reshape(logits, (-1, 4)), which * 4 + rows, axis=0)
        state = {"steps": steps + 1, "which": which}
        if alignments is None:
            return out, state
        return out, state, ops.tile(ops.convert_to_tensor([alignments], "float32"), (tokens.shape[0], 1))

    return step


def start(which=(0,)):
    which = np.array(which, np.int32)
    return {"steps": np.zeros_like(which), "which": which}, np.zeros_like(which)


def search(step, state, tokens, **kwargs):
    return {key: np.asarray(value) for key, value in beam_search(step, state, tokens, END, **kwargs).items()}


def test_beam_search_finds_the_sequence_greedy_decoding_misses():
    greedy = {k: np.asarray(v) for k, v in greedy_search(table_step(GREEDY_IS_WRONG), *start(), END, 3).items()}
    np.testing.assert_array_equal(greedy["tokens"], [[0, 0, END]])
    np.testing.assert_allclose(greedy["log_probs"], [math.log(0.5 * 0.3)], atol=1e-6)
    beam = search(table_step(GREEDY_IS_WRONG), *start(), beam_width=2, max_length=3)
    np.testing.assert_array_equal(beam["tokens"][0], [[1, 0, END], [0, 0, END]])
    np.testing.assert_allclose(beam["log_probs"][0], [math.log(0.4 * 0.9), math.log(0.5 * 0.3)], atol=1e-6)
    np.testing.assert_array_equal(beam["lengths"][0], [3, 3])


def test_filter_logits_keeps_every_logit_at_its_defaults():
    logits = np.random.default_rng(0).normal(size=(2, 7)).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(filter_logits(logits)), logits)


def test_greedy_search_stops_at_the_end_token():
    # Greedy takes the end token first (0.55): the sequence is finished at length 1 and padded with the end token.
    greedy = {k: np.asarray(v) for k, v in greedy_search(table_step(SHORT_OR_LONG), *start(), END, 3).items()}
    assert sorted(greedy) == ["lengths", "log_probs", "tokens"]
    np.testing.assert_array_equal(greedy["tokens"], [[END, END, END]])
    np.testing.assert_array_equal(greedy["lengths"], [1])
    np.testing.assert_allclose(greedy["log_probs"], [math.log(0.55)], atol=1e-6)


def test_a_length_penalty_changes_the_winner_as_computed_by_hand():
    short, long = math.log(0.55), math.log(0.45 * 0.95)
    plain = search(table_step(SHORT_OR_LONG), *start(), beam_width=2, max_length=3)
    np.testing.assert_array_equal(plain["tokens"][0, 0], [END, END, END])
    np.testing.assert_allclose(plain["scores"][0], [short, long], atol=1e-6)
    penalised = search(table_step(SHORT_OR_LONG), *start(), beam_width=2, max_length=3, alpha=2.0)
    np.testing.assert_array_equal(penalised["tokens"][0], [[0, 0, END], [END, END, END]])
    # GNMT: log P / ((5 + length) / 6) ** alpha; lengths 3 and 1 (the end token counts).
    np.testing.assert_allclose(penalised["scores"][0], [long / (8 / 6) ** 2, short / 1.0], atol=1e-6)
    # The short hypothesis finished at step 1 and stayed finished: its length and log P did not move.
    np.testing.assert_array_equal(penalised["lengths"][0], [3, 1])
    np.testing.assert_allclose(penalised["log_probs"][0], [long, short], atol=1e-6)


def test_the_length_penalty_is_float32_whatever_floatx():
    # Under floatx float16 the penalty (8/6)**2 would be 1.7773 instead of 1.7778: a score off by 3e-4.
    floatx = keras.config.floatx()
    keras.config.set_floatx("float16")
    try:
        penalised = search(table_step(SHORT_OR_LONG), *start(), beam_width=2, max_length=3, alpha=2.0)
    finally:
        keras.config.set_floatx(floatx)
    np.testing.assert_allclose(penalised["scores"][0], [math.log(0.45 * 0.95) / (8 / 6) ** 2, math.log(0.55)],
                               rtol=1e-6)


def test_a_coverage_penalty_counts_the_attention_of_live_steps_only():
    a = [0.6, 0.4, 0.2]  # each step's attention over a 3-token source
    beam = search(table_step(SHORT_OR_LONG, alignments=a), *start(), beam_width=2, max_length=3, beta=1.0)
    long = math.log(0.45 * 0.95) + math.log(0.6)  # coverage 3a = [1.8, 1.2, 0.6]: min(., 1) -> [1, 1, 0.6]
    short = math.log(0.55) + sum(math.log(x) for x in a)  # one live step: coverage a
    np.testing.assert_array_equal(beam["tokens"][0], [[0, 0, END], [END, END, END]])
    np.testing.assert_allclose(beam["scores"][0], [long, short], atol=1e-5)


def test_rows_of_a_batch_are_searched_independently_and_under_xla():
    step = table_step(GREEDY_IS_WRONG, SHORT_OR_LONG)
    together = search(step, *start((0, 1)), beam_width=2, max_length=3)
    for row in (0, 1):
        alone = search(step, *start((row,)), beam_width=2, max_length=3)
        for key in together:
            np.testing.assert_allclose(together[key][row], alone[key][0], atol=1e-6)
    compiled = tf.function(lambda state, tokens: beam_search(step, state, tokens, END, 2, 3), jit_compile=True)
    for key, value in compiled(*start((0, 1))).items():
        np.testing.assert_allclose(np.asarray(value), together[key], atol=1e-6)


def test_a_serving_signature_with_an_unknown_batch_size():
    step = table_step(GREEDY_IS_WRONG, SHORT_OR_LONG)
    signature = [{"steps": tf.TensorSpec([None], tf.int32), "which": tf.TensorSpec([None], tf.int32)},
                 tf.TensorSpec([None], tf.int32)]
    serve = tf.function(lambda state, tokens: beam_search(step, state, tokens, END, 2, 3), input_signature=signature)
    for key, value in serve(*start((1, 0))).items():
        np.testing.assert_allclose(np.asarray(value), search(step, *start((1, 0)), beam_width=2, max_length=3)[key])


def test_decoding_stops_at_max_length_with_unfinished_hypotheses():
    never_ends = [[0.6, 0.4, 0, 0], [0.7, 0.3, 0, 0], [0.55, 0.45, 0, 0], [0.5, 0.5, 0, 0]]
    beam = search(table_step(never_ends), *start(), beam_width=2, max_length=2)
    np.testing.assert_array_equal(beam["tokens"][0], [[0, 0], [1, 0]])  # 0.42 and 0.22
    np.testing.assert_allclose(beam["log_probs"][0], np.log([0.42, 0.22]), atol=1e-6)
    np.testing.assert_array_equal(beam["lengths"][0], [2, 2])


def test_tile_for_beams_repeats_each_row():
    tiled = tile_for_beams({"memory": np.arange(6).reshape(2, 3)}, 2)
    np.testing.assert_array_equal(np.asarray(tiled["memory"]), [[0, 1, 2], [0, 1, 2], [3, 4, 5], [3, 4, 5]])


@pytest.mark.parametrize("kwargs, match", [
    ({"beam_width": 0}, "`beam_width` must be a positive int"),
    ({"max_length": 0}, "`max_length` must be a positive int"),
    ({"alpha": -1.0}, "`alpha`"),
    ({"tokens": np.zeros((1, 1), "int32")}, r"`start_tokens` must be int \[batch\]"),
    ({"tokens": np.zeros(1, "float32")}, r"`start_tokens` must be int \[batch\], got float32"),
])
def test_bad_arguments_are_named_before_decoding(kwargs, match):
    state, tokens = start()
    arguments = {"beam_width": 2, "max_length": 3, **kwargs}
    tokens = arguments.pop("tokens", tokens)
    with pytest.raises(ValueError, match=match):
        beam_search(table_step(GREEDY_IS_WRONG), state, tokens, END, **arguments)


def test_a_coverage_penalty_without_alignments_is_named():
    with pytest.raises(ValueError, match=r"`beta` > 0 needs the attention"):
        beam_search(table_step(GREEDY_IS_WRONG), *start(), END, 2, 3, beta=1.0)


def fixed_step(probabilities):
    with np.errstate(divide="ignore"):
        logits = np.log(np.array([probabilities], np.float32))

    def step(tokens, state):
        return ops.tile(logits, (ops.shape(tokens)[0], 1)), state
    return step


P = [0.1, 0.6, 0.3, 0.0]  # token 3 (the end) never drawn


@pytest.mark.parametrize("kwargs, expected", [
    (dict(), P[:3]),
    (dict(temperature=2.0), np.sqrt(P[:3]) / np.sqrt(P[:3]).sum()),
    (dict(top_k=2), [0, 2 / 3, 1 / 3]),
    (dict(top_p=0.65), [0, 2 / 3, 1 / 3]),  # 0.6 alone is short of 0.65: the nucleus is {1, 2}
    (dict(top_p=0.5), [0, 1, 0])])
def test_sampling_draws_from_the_filtered_distribution(kwargs, expected):
    n = 6000
    out = sample(fixed_step(P), np.zeros((n, 1)), np.zeros(n, "int32"), END, max_length=2, seed=1, **kwargs)
    tokens = np.asarray(out["tokens"])
    for t in range(2):
        frequencies = np.bincount(tokens[:, t], minlength=4)[:3] / n
        np.testing.assert_allclose(frequencies, expected, atol=0.025)
    np.testing.assert_allclose(np.asarray(out["log_probs"]), np.log(np.take(P, tokens)).sum(1), atol=1e-5)


def test_filter_logits_matches_numpy():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(5, 9)).astype(np.float32)
    out = np.asarray(filter_logits(logits, temperature=0.7, top_k=6, top_p=0.8))
    for row, got in zip(logits / 0.7, out):
        order = np.argsort(-row)[:6]  # top-6, then the 0.8 nucleus of what is left (as Hugging Face's)
        p = np.exp(row[order] - row.max())
        p /= p.sum()
        kept = [i for j, i in enumerate(order) if p[:j].sum() < 0.8]
        assert set(np.flatnonzero(np.isfinite(got))) == set(kept)
        np.testing.assert_allclose(got[kept], row[kept], rtol=1e-6)


def test_filter_logits_filters_the_last_axis_of_logits_of_any_rank():
    # [2, 3, 9]: each of the 6 rows filtered as the 2-D [6, 9] rows are.
    logits = np.random.default_rng(1).normal(size=(2, 3, 9)).astype(np.float32)
    for kwargs in (dict(top_k=4), dict(top_p=0.7), dict(temperature=0.5, top_k=6, top_p=0.9)):
        rows = np.asarray(filter_logits(logits.reshape(6, 9), **kwargs)).reshape(2, 3, 9)
        np.testing.assert_array_equal(np.asarray(filter_logits(logits, **kwargs)), rows)


def test_top_p_keeps_a_token_only_while_the_mass_before_it_is_below_top_p():
    # Probabilities 1/2, 1/4, 1/8, 1/8 (exact in float32): the mass before each is 0, 1/2, 3/4, 7/8.
    logits = np.log(np.array([[0.5, 0.25, 0.125, 0.125]], np.float32))
    # At 0.76 the third token is kept, and so is the fourth, tied with it (the smallest kept logit is a threshold).
    for top_p, kept in ((0.5, 1), (0.5001, 2), (0.75, 2), (0.76, 4)):
        assert np.isfinite(np.asarray(filter_logits(logits, top_p=top_p))).sum() == kept, top_p


def test_sampling_is_seeded_greedy_at_zero_and_compiles():
    step = table_step(GREEDY_IS_WRONG)
    state = {"steps": np.zeros(3, "int32"), "which": np.zeros(3, "int32")}
    start = np.zeros(3, "int32")
    greedy = np.asarray(greedy_search(step, state, start, END, 3)["tokens"])
    for kwargs in (dict(temperature=0.0), dict(top_k=1)):
        np.testing.assert_array_equal(sample(step, state, start, END, 3, seed=0, **kwargs)["tokens"], greedy)
    draws = [np.asarray(sample(step, state, start, END, 3, seed=s)["tokens"]) for s in (7, 7, 8)]
    np.testing.assert_array_equal(draws[0], draws[1])
    assert np.any(draws[0] != draws[2])
    # Under XLA TF's stateless generator is another algorithm: the same seed repeats there, not across.
    compiled = tf.function(lambda seed, top_k: sample(step, state, start, END, 3, seed=seed, top_k=top_k),
                           jit_compile=True)
    np.testing.assert_array_equal(compiled(7, None)["tokens"], compiled(7, None)["tokens"])
    np.testing.assert_array_equal(compiled(7, 1)["tokens"], greedy)


def test_sampling_bad_input_is_named():
    step = fixed_step(P)
    for kwargs, name in ((dict(top_k=0), "top_k"), (dict(top_p=1.5), "top_p"), (dict(top_p=0.0), "top_p"),
                         (dict(temperature=-1.0), "temperature"), (dict(max_length=0), "max_length")):
        with pytest.raises(ValueError, match=name):
            sample(step, np.zeros((2, 1)), np.zeros(2, "int32"), END, **{"max_length": 2, **kwargs})


def test_no_end_token_runs_every_row_to_max_length_and_an_end_token_outside_the_vocabulary_is_named():
    out = sample(fixed_step([0.5, 0.5, 0.0, 0.0]), np.zeros((3, 1)), np.zeros(3, "int32"), None, max_length=6,
                 seed=0)
    assert np.asarray(out["lengths"]).tolist() == [6, 6, 6]
    with pytest.raises(ValueError, match="end_token"):
        beam_search(fixed_step(P), np.zeros((1, 1)), np.zeros(1, "int32"), 4, beam_width=2, max_length=3)
