"""Transformer LM and encoder-decoder: cached decoding equals re-running the model, beam search under XLA, saving."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_dl.decoding import beam_search
from keras_dl.decoding import greedy_search
from keras_dl.models.transformer import TransformerLM
from keras_dl.models.transformer import TransformerSeq2Seq

VOCAB, MAX_LENGTH, SOURCE_VOCAB, MAX_SOURCE, END = 13, 9, 11, 7, 0
SOURCE = np.array([[3, 4, 5, 6, 0, 0, 0], [7, 8, 2, 9, 10, 4, 0], [5, 5, 0, 0, 0, 0, 0]], np.int32)
START = np.array([1, 2, 3], np.int32)


def randomise(model, seed=2):
    """Other random kernels and embeddings than the initialisers give (an untrained model's greedy output is
    mostly one token repeated; these, checked in the greedy test, are not)."""
    rng = np.random.default_rng(seed)
    for w in model.weights:
        if "kernel" in w.path or "embeddings" in w.path:
            w.assign(rng.normal(0, 0.3, w.shape).astype(np.float32))


def lm(norm_first=False, dropout=0.0, seed=2):
    keras.utils.set_random_seed(0)
    model = TransformerLM(VOCAB, MAX_LENGTH, num_layers=2, num_heads=2, key_dim=4, ff_dim=16, dropout=dropout,
                          norm_first=norm_first)
    model.build((None, None))
    randomise(model, seed)
    return model


def seq2seq(norm_first=False, dropout=0.0, seed=2):
    keras.utils.set_random_seed(0)
    model = TransformerSeq2Seq(SOURCE_VOCAB, VOCAB, MAX_SOURCE, MAX_LENGTH, num_layers=2, num_heads=2, key_dim=4,
                               ff_dim=16, dropout=dropout, norm_first=norm_first)
    model.build({"source": (None, None), "target_in": (None, None)})
    randomise(model, seed)
    return model


def lm_logits(model, prefix, source=None):
    if source is None:
        return np.asarray(model(prefix))
    return np.asarray(model({"source": source, "target_in": prefix}))


def greedy_by_rerunning(model, start, steps, source=None):
    """Greedy decoding without a cache: the whole model on the growing prefix, argmax of the last position."""
    prefix = start[:, None]
    tokens = []
    for _ in range(steps):
        token = lm_logits(model, prefix, source)[:, -1].argmax(-1).astype(np.int32)
        tokens.append(token)
        prefix = np.concatenate([prefix, token[:, None]], axis=1)
    tokens = np.stack(tokens, axis=1)
    # Beam search repeats the end token once a row has ended.
    ended = np.cumsum(np.cumsum(tokens == END, axis=1), axis=1) > 1
    return np.where(ended, END, tokens)


def initial(model, batch):
    return model.initial_cache(batch) if isinstance(model, TransformerLM) else model.initial_state(SOURCE[:batch])


@pytest.mark.parametrize("make", [lm, seq2seq], ids=["lm", "seq2seq"])
@pytest.mark.parametrize("norm_first", [False, True])
def test_decode_step_equals_the_whole_model_position_by_position(make, norm_first):
    model = make(norm_first, dropout=0.3)
    source = None if make is lm else SOURCE
    tokens = np.random.default_rng(2).integers(0, VOCAB, (3, MAX_LENGTH)).astype(np.int32)
    expected = lm_logits(model, tokens, source)
    state = initial(model, 3)
    for t in range(MAX_LENGTH):
        logits, state = model.decode_step(tokens[:, t], state)
        np.testing.assert_allclose(np.asarray(logits), expected[:, t], atol=1e-5)
    np.testing.assert_array_equal(np.asarray(state["index"]), [MAX_LENGTH] * 3)


@pytest.mark.parametrize("make", [lm, seq2seq], ids=["lm", "seq2seq"])
def test_greedy_decoding_with_the_cache_equals_rerunning_the_model_on_the_prefix(make):
    model = make()
    source = None if make is lm else SOURCE
    expected = greedy_by_rerunning(model, START, MAX_LENGTH, source)
    assert len(set(expected.ravel().tolist())) > 3, "a degenerate test: the model repeats one token"
    state, token, loop = initial(model, 3), START, []
    for _ in range(MAX_LENGTH):  # decode_step alone
        logits, state = model.decode_step(token, state)
        token = np.asarray(logits).argmax(-1).astype(np.int32)
        loop.append(token)
    loop = np.stack(loop, axis=1)
    np.testing.assert_array_equal(np.where(np.cumsum(np.cumsum(loop == END, 1), 1) > 1, END, loop), expected)
    searched = greedy_search(model.decode_step, initial(model, 3), START, END, MAX_LENGTH)
    np.testing.assert_array_equal(np.asarray(searched["tokens"]), expected)


@pytest.mark.parametrize("make", [lm, seq2seq], ids=["lm", "seq2seq"])
def test_beam_search_under_xla_equals_beam_search_without(make):
    model = make(norm_first=True)
    eager = beam_search(model.decode_step, initial(model, 3), START, END, beam_width=3, max_length=MAX_LENGTH, alpha=0.6)
    if make is lm:
        compiled = tf.function(lambda start: beam_search(model.decode_step, model.initial_cache(3), start, END, 3,
                                                         MAX_LENGTH, alpha=0.6), jit_compile=True)
        xla = compiled(START)
    else:
        compiled = tf.function(lambda source, start: beam_search(model.decode_step, model.initial_state(source), start,
                                                                 END, 3, MAX_LENGTH, alpha=0.6), jit_compile=True)
        xla = compiled(SOURCE, START)
    np.testing.assert_array_equal(np.asarray(xla["tokens"]), np.asarray(eager["tokens"]))
    np.testing.assert_array_equal(np.asarray(xla["lengths"]), np.asarray(eager["lengths"]))
    np.testing.assert_allclose(np.asarray(xla["scores"]), np.asarray(eager["scores"]), atol=1e-4)
    # The best beam is at least as likely as greedy decoding's sequence.
    greedy = greedy_search(model.decode_step, initial(model, 3), START, END, MAX_LENGTH)
    assert np.all(np.asarray(eager["log_probs"])[:, 0] >= np.asarray(greedy["log_probs"]) - 1e-4)


def test_a_trained_lm_continues_the_pattern_it_was_trained_on():
    """Sequences count up modulo the vocabulary: after two epochs beam search continues the count from any start."""
    keras.utils.set_random_seed(0)
    starts = np.random.default_rng(0).integers(0, VOCAB, (256, 1))
    sequences = ((starts + np.arange(MAX_LENGTH + 1)) % VOCAB).astype(np.int32)
    model = TransformerLM(VOCAB, MAX_LENGTH, num_layers=1, num_heads=2, key_dim=8, ff_dim=32)
    model.compile(keras.optimizers.Adam(0.01), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(sequences[:, :-1], sequences[:, 1:], batch_size=16, epochs=2, verbose=0)
    assert history.history["loss"][-1] < 0.1 * np.log(VOCAB)  # from about log(13) = 2.6, uniform
    start = np.array([3, 11], np.int32)
    best = beam_search(model.decode_step, model.initial_cache(2), start, end_token=None, beam_width=3,
                       max_length=MAX_LENGTH)
    np.testing.assert_array_equal(np.asarray(best["tokens"])[:, 0], (start[:, None] + 1 + np.arange(MAX_LENGTH)) % VOCAB)


def test_source_padding_is_masked():
    model = seq2seq()
    target = np.random.default_rng(3).integers(0, VOCAB, (3, 4)).astype(np.int32)
    out = lm_logits(model, target, SOURCE)
    shorter = lm_logits(model, target, SOURCE[:, :6])  # One padding position fewer.
    np.testing.assert_allclose(shorter, out, atol=1e-5)
    other = SOURCE.copy()
    other[2, 1] = 6  # A real token changes the outputs of its row only.
    changed = lm_logits(model, target, other)
    np.testing.assert_allclose(changed[:2], out[:2], atol=1e-6)
    assert not np.allclose(changed[2], out[2], atol=1e-4)
    memory, mask = model.encode(SOURCE)
    assert memory.shape == (3, MAX_SOURCE, 8)
    np.testing.assert_array_equal(np.asarray(mask), SOURCE != 0)


@pytest.mark.parametrize("make", [lm, seq2seq], ids=["lm", "seq2seq"])
def test_keras_file_round_trip_and_config(make, tmp_path):
    model = make(norm_first=True, dropout=0.1)
    source = None if make is lm else SOURCE
    tokens = np.random.default_rng(4).integers(0, VOCAB, (3, 5)).astype(np.int32)
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded) is type(model) and loaded.get_config() == model.get_config()
    np.testing.assert_array_equal(lm_logits(loaded, tokens, source), lm_logits(model, tokens, source))
    a = model.decode_step(tokens[:, 0], initial(model, 3))[0]
    b = loaded.decode_step(tokens[:, 0], initial(loaded, 3))[0]
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    clone = type(model).from_config(model.get_config())
    assert clone.get_config() == model.get_config()


@pytest.mark.parametrize("make", [lm, seq2seq], ids=["lm", "seq2seq"])
def test_mixed_float16_gives_finite_outputs_and_decodes(make):
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        model = make()
        source = None if make is lm else SOURCE
        tokens = np.random.default_rng(5).integers(0, VOCAB, (3, MAX_LENGTH)).astype(np.int32)
        logits = model({"source": source, "target_in": tokens}) if source is not None else model(tokens)
        assert logits.dtype == "float16" and np.all(np.isfinite(np.asarray(logits)))
        state = initial(model, 3)
        assert state["caches"][0]["key"].dtype == "float16"
        best = beam_search(model.decode_step, state, START, END, beam_width=2, max_length=MAX_LENGTH)
        assert np.all(np.isfinite(np.asarray(best["scores"])))
    finally:
        keras.config.set_dtype_policy(previous)


def test_decoding_past_max_length_is_an_error():
    model = lm()
    with pytest.raises(ValueError, match="past `max_length`=9"):
        beam_search(model.decode_step, model.initial_cache(3), START, END, beam_width=2, max_length=MAX_LENGTH + 1)
    in_graph = tf.function(lambda: beam_search(model.decode_step, model.initial_cache(3), START, None, 2,
                                               MAX_LENGTH + 1))
    with pytest.raises(tf.errors.InvalidArgumentError, match="past `max_length`=9"):
        in_graph()


@pytest.mark.parametrize("kwargs, error, match", [
    ({"num_heads": 0}, ValueError, "`num_heads`"),
    ({"num_layers": -1}, ValueError, "`num_layers`"),
    ({"key_dim": 2.0}, TypeError, "`key_dim`"),
    ({"ff_dim": 0}, ValueError, "`ff_dim`"),
    ({"dropout": 1.5}, ValueError, "`dropout`"),
    ({"norm_first": 1}, TypeError, "`norm_first`"),
    ({"max_length": 0}, ValueError, "`max_length`"),
    ({"vocabulary_size": 0}, ValueError, "`vocabulary_size`"),
    ({"embedding_dim": 0}, ValueError, "`embedding_dim`"),
])
def test_bad_lm_arguments_are_named(kwargs, error, match):
    with pytest.raises(error, match=match):
        TransformerLM(**{"vocabulary_size": 5, "max_length": 4, **kwargs})


@pytest.mark.parametrize("kwargs, match", [
    ({"source_vocabulary_size": 0}, "`source_vocabulary_size`"),
    ({"target_vocabulary_size": -3}, "`target_vocabulary_size`"),
    ({"max_source_length": 0}, "`max_source_length`"),
    ({"max_target_length": 0}, "`max_target_length`"),
    ({"num_heads": 0}, "`num_heads`"),
])
def test_bad_seq2seq_arguments_are_named(kwargs, match):
    arguments = {"source_vocabulary_size": 5, "target_vocabulary_size": 5, "max_source_length": 4,
                 "max_target_length": 4, **kwargs}
    with pytest.raises(ValueError, match=match):
        TransformerSeq2Seq(**arguments)


def test_bad_calls_are_named():
    model, translator = lm(), seq2seq()
    with pytest.raises(ValueError, match="`tokens` has 10 steps, more than `max_length`=9"):
        model(np.zeros((1, 10), np.int32))
    with pytest.raises(ValueError, match="`tokens` must be int \\[batch, time\\]"):
        model(np.zeros((1, 3), np.float32))
    with pytest.raises(ValueError, match="keys 'source' and 'target_in'"):
        translator((SOURCE, SOURCE))
    with pytest.raises(ValueError, match="`source` has 8 steps, more than `max_source_length`=7"):
        translator.initial_state(np.ones((1, 8), np.int32))
    with pytest.raises(ValueError, match="`tokens` must be int \\[batch\\]"):
        model.decode_step(np.zeros((3, 1), np.int32), model.initial_cache(3))
    with pytest.raises(ValueError, match="`state` must be the dict of `initial_state`"):
        translator.decode_step(START, model.initial_cache(3))
