"""sequence_loss against tfa.seq2seq's reductions written in NumPy; SequenceLoss in fit; exact match."""

import itertools

import keras
import numpy as np
import pytest

from keras_dl.metrics import ExactMatch
from keras_dl.metrics import SequenceLoss
from keras_dl.metrics import exact_match
from keras_dl.metrics import sequence_loss

B, T, V = 3, 5, 4


def data(seed=0):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(B, T, V)).astype(np.float32)
    targets = rng.integers(0, V, (B, T))
    weights = (np.arange(T)[None] < np.array([[5], [3], [1]])).astype(np.float32) * rng.uniform(0.5, 2, (B, T))
    return logits, targets, weights.astype(np.float32)


def reference(logits, targets, weights, avg_t, avg_b, sum_t, sum_b):
    """tfa.seq2seq.sequence_loss's branches (tensorflow_addons/seq2seq/loss.py), in NumPy."""
    log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    crossent = -np.take_along_axis(log_p, targets[..., None], -1)[..., 0] * weights
    if avg_t and avg_b:
        return crossent.sum() / weights.sum()
    if sum_t and sum_b:
        return crossent.sum() / np.count_nonzero(weights)
    if avg_t or avg_b:
        axis = 0 if avg_b else 1
        return crossent.sum(axis) / weights.sum(axis)
    if sum_t or sum_b:
        axis = 0 if sum_b else 1
        return crossent.sum(axis) / np.count_nonzero(weights, axis)
    return crossent


@pytest.mark.parametrize("avg_t, avg_b, sum_t, sum_b", [flags for flags in itertools.product([False, True], repeat=4)
                                                        if not (flags[0] and flags[2]) and not (flags[1] and flags[3])
                                                        and not ((flags[0] or flags[1]) and (flags[2] or flags[3]))])
def test_every_reduction_equals_tfa(avg_t, avg_b, sum_t, sum_b):
    logits, targets, weights = data()
    actual = sequence_loss(logits, targets, weights, average_across_timesteps=avg_t, average_across_batch=avg_b,
                           sum_over_timesteps=sum_t, sum_over_batch=sum_b)
    np.testing.assert_allclose(np.asarray(actual), reference(logits, targets, weights, avg_t, avg_b, sum_t, sum_b),
                               rtol=1e-5)


def test_padding_with_zero_weight_does_not_count():
    logits, targets, weights = data()
    padded_logits = np.concatenate([logits, np.random.default_rng(1).normal(size=(B, 2, V)).astype(np.float32)], 1)
    padded_targets = np.concatenate([targets, np.zeros((B, 2), int)], 1)
    padded_weights = np.concatenate([weights, np.zeros((B, 2), np.float32)], 1)
    np.testing.assert_allclose(float(sequence_loss(padded_logits, padded_targets, padded_weights)),
                               float(sequence_loss(logits, targets, weights)), rtol=1e-6)


def test_sequence_loss_trains_with_fit_and_a_mask_from_the_model():
    keras.utils.set_random_seed(0)
    tokens = keras.Input((None,), dtype="int32")
    h = keras.layers.Embedding(V + 1, 8, mask_zero=True)(tokens)
    model = keras.Model(tokens, keras.layers.Dense(V)(keras.layers.GRU(8, return_sequences=True)(h)))
    model.compile(keras.optimizers.Adam(0.05), SequenceLoss())
    x = np.array([[1, 2, 3, 0, 0], [4, 3, 2, 1, 0]])
    y = np.array([[2, 3, 1, 0, 0], [3, 2, 1, 1, 0]])
    before = float(model.evaluate(x, y, verbose=0))
    logits = model(x)
    # The mask from Embedding(mask_zero=True) is the weights: padding (token 0) does not count.
    weights = (x != 0).astype(np.float32)
    np.testing.assert_allclose(before, float(sequence_loss(logits, y, weights, False, False, True, True)), rtol=1e-5)
    model.fit(x, y, epochs=30, verbose=0)
    assert float(model.evaluate(x, y, verbose=0)) < 0.5 * before


def test_a_per_sequence_sample_weight_weighs_every_position_of_its_sequence():
    logits, targets, _ = data()
    per_sequence = np.array([1.0, 0.0, 2.0], np.float32)
    expected = sequence_loss(logits, targets, np.repeat(per_sequence[:, None], T, 1), False, False, True, True)
    np.testing.assert_allclose(float(SequenceLoss()(targets, logits, sample_weight=per_sequence)), float(expected),
                               rtol=1e-6)


def test_exact_match_of_a_masked_model_compares_only_unmasked_positions():
    keras.utils.set_random_seed(0)
    tokens = keras.Input((None,), dtype="int32")
    h = keras.layers.Embedding(V + 1, 8, mask_zero=True)(tokens)
    model = keras.Model(tokens, keras.layers.Dense(V)(keras.layers.GRU(8, return_sequences=True)(h)))
    x = np.array([[1, 2, 0], [3, 0, 0]])
    predicted = np.argmax(np.asarray(model(x)), -1)
    y = np.where(x != 0, predicted, (predicted + 1) % V)  # right where unmasked, wrong on the padding
    y[1, 0] = (y[1, 0] + 1) % V  # the second sequence is wrong at an unmasked position
    model.compile("adam", SequenceLoss(), metrics=[ExactMatch()])
    assert model.evaluate(x, y, verbose=0, return_dict=True)["exact_match"] == pytest.approx(0.5)


def test_exact_match_ignores_padding_and_reads_logits():
    y_true = np.array([[4, 2, 0], [4, 2, 0], [1, 1, 1]])
    y_pred = np.array([[4, 2, 9], [4, 3, 0], [1, 1, 1]])
    np.testing.assert_array_equal(np.asarray(exact_match(y_true, y_pred, padding_token=0)), [1, 0, 1])
    np.testing.assert_array_equal(np.asarray(exact_match(y_true, y_pred)), [0, 0, 1])
    np.testing.assert_array_equal(np.asarray(exact_match(y_true, np.eye(10)[y_pred])), [0, 0, 1])
    metric = ExactMatch(padding_token=0)
    metric.update_state(y_true, y_pred)
    assert float(metric.result()) == pytest.approx(2 / 3)


def test_per_position_sample_weights_and_float64_keep_their_precision():
    logits, targets, weights = data()
    logits64, weights64 = logits.astype(np.float64), weights.astype(np.float64) / 3  # not exact in float32
    loss = sequence_loss(logits64, targets, weights64, False, False, True, True)
    assert loss.dtype == "float64"
    np.testing.assert_allclose(float(loss), reference(logits64, targets, weights64, False, False, True, True),
                               rtol=1e-12)
    np.testing.assert_allclose(float(SequenceLoss()(targets, logits64, sample_weight=weights64)), float(loss),
                               rtol=1e-12)
    # A mask on the logits (from the model) zeroes the weights it covers; the rest keep float64 precision.
    masked = keras.ops.convert_to_tensor(logits64)
    masked._keras_mask = keras.ops.convert_to_tensor(weights > 0.9)
    expected = reference(logits64, targets, np.where(weights > 0.9, weights64, 0), True, True, False, False)
    np.testing.assert_allclose(float(SequenceLoss(True, True, False, False)(targets, masked, sample_weight=weights64)),
                               expected, rtol=1e-12)


def test_float16_logits_give_a_float16_loss():
    logits, targets, weights = data()
    for flags in ((True, True, False, False), (False, False, True, True)):
        loss = sequence_loss(logits.astype(np.float16), targets, weights, *flags)
        assert loss.dtype == "float16"
        np.testing.assert_allclose(float(loss), reference(logits, targets, weights, *flags), rtol=2e-3)


def test_exact_match_compares_token_ids_above_float32s_exact_integers():
    big = 2**24  # float32 cannot tell 2**24 from 2**24 + 1
    np.testing.assert_array_equal(np.asarray(exact_match(np.array([[big + 1]]), np.array([[big]]))), [0])
    np.testing.assert_array_equal(np.asarray(exact_match(np.array([[big]]), np.array([[big + 1]]))), [0])
    np.testing.assert_array_equal(np.asarray(exact_match(np.array([[big + 1]]), np.array([[0]]), padding_token=big)),
                                  [0])


def test_exact_match_metric_weighs_sequences_by_sample_weight():
    metric = ExactMatch()
    metric.update_state(np.array([[1, 2], [1, 2]]), np.array([[1, 2], [1, 3]]), sample_weight=np.array([3.0, 1.0]))
    assert float(metric.result()) == pytest.approx(0.75)
    assert SequenceLoss().name == "sequence_loss" and SequenceLoss(dtype="float64").dtype == "float64"


def test_bad_arguments_are_named():
    logits, targets, weights = data()
    shapes = r"`logits` must be \[batch, time, vocabulary\] and `targets` and `weights` \[batch, time\], got shapes "
    with pytest.raises(ValueError, match=shapes + r"\(5, 4\), \(3, 5\), \(3, 5\)\.$"):
        sequence_loss(logits[0], targets, weights)
    with pytest.raises(ValueError, match=shapes + r"\(3, 5, 4\), \(3,\), \(3, 5\)\.$"):
        sequence_loss(logits, targets[:, 0], weights)
    for axis in ("timesteps", "batch"):
        with pytest.raises(ValueError, match=f"^`average_across_{axis}` and `sum_over_{axis}` cannot both be set.$"):
            sequence_loss(logits, targets, weights, **{f"average_across_{axis}": True, f"sum_over_{axis}": True})
    mixed = ("^Average over one axis and sum over the other is not a reduction tfa.seq2seq defines; "
             "use the same kind on both axes, or one axis only.$")
    with pytest.raises(ValueError, match=mixed):
        sequence_loss(logits, targets, weights, average_across_timesteps=True, average_across_batch=False,
                      sum_over_batch=True)
    with pytest.raises(ValueError, match=mixed):  # at construction, not in fit
        SequenceLoss(average_across_timesteps=True, sum_over_timesteps=False, sum_over_batch=True)
    with pytest.raises(ValueError, match="^SequenceLoss must reduce both axes to a scalar: set average_across_\\* or "
                                         "sum_over_\\* for both timesteps and batch.$"):
        SequenceLoss(sum_over_batch=False)
    with pytest.raises(ValueError, match="`y_pred` must be tokens"):
        exact_match(np.zeros((2, 3)), np.zeros((2, 4)))
