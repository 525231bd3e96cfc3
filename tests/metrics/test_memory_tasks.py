"""Bits wrong per sequence against hand-counted cases, as a function and as a weighted metric in fit."""

import keras
import numpy as np
import pytest

from keras_dl.metrics import BitsWrongPerSequence
from keras_dl.metrics import bits_wrong
from keras_dl.metrics import bits_wrong_per_sequence

# Two sequences of 3 steps of 2 bits. Predicted bits: logit > 0 (sigmoid > 0.5; exactly 0.5 is a 0).
TARGET = np.array([[[1, 0], [1, 1], [0, 1]],
                   [[0, 0], [1, 0], [1, 1]]], "float32")
LOGITS = np.array([[[2.0, -1.0], [-0.5, 0.1], [3.0, 3.0]],   # predicts 10, 01, 11: wrong 0, 1, 1
                   [[0.0, 4.0], [1.0, 1.0], [-2.0, -2.0]]],  # predicts 01, 11, 00: wrong 1, 1, 2
                  "float32")
WEIGHTS = np.array([[0, 1, 1], [1, 0, 1]], "float32")


def test_bits_wrong_counts_only_the_weighted_steps():
    np.testing.assert_array_equal(bits_wrong(TARGET, LOGITS, WEIGHTS), [2, 3])  # 0+1+1; 1+(1 ignored)+2
    np.testing.assert_array_equal(bits_wrong(TARGET, LOGITS), [2, 4])
    assert float(bits_wrong_per_sequence(TARGET, LOGITS, WEIGHTS)) == 2.5
    assert float(bits_wrong_per_sequence(TARGET, LOGITS, 0.3 * WEIGHTS)) == 2.5  # Weights select, not scale.
    assert float(bits_wrong_per_sequence(TARGET, 10 * (2 * TARGET - 1))) == 0.0


def test_the_metric_averages_over_sequences_across_batches():
    metric = BitsWrongPerSequence()
    metric.update_state(TARGET, LOGITS, sample_weight=WEIGHTS)
    metric.update_state(TARGET[:1], LOGITS[:1], sample_weight=np.ones((1, 3), "float32"))
    assert float(metric.result()) == pytest.approx((2 + 3 + 2) / 3)
    copy = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(metric))
    assert type(copy) is BitsWrongPerSequence and copy.get_config() == metric.get_config()


def test_in_fit_the_sample_weights_select_the_steps():
    logits = keras.Input((3, 2))
    model = keras.Model(logits, keras.layers.Identity()(logits))
    model.compile(loss=keras.losses.BinaryCrossentropy(from_logits=True), weighted_metrics=[BitsWrongPerSequence()])
    result = model.evaluate(LOGITS, TARGET, sample_weight=WEIGHTS, batch_size=1, verbose=0, return_dict=True)
    assert result["bits_wrong"] == pytest.approx(2.5)


@pytest.mark.parametrize("target, logits, weights, match", [
    (TARGET[0], LOGITS[0], None, r"\[batch, time, bits\]"),
    (TARGET, LOGITS[..., :1], None, r"\[batch, time, bits\]"),
    (TARGET, LOGITS, WEIGHTS[:, :2], r"`weights` must be \[batch, time\]"),
])
def test_bad_shapes_are_named(target, logits, weights, match):
    with pytest.raises(ValueError, match=match):
        bits_wrong(target, logits, weights)


def test_bad_weights_are_named_with_the_shape_they_need():
    with pytest.raises(ValueError, match=r"^`weights` must be \[batch, time\] = \(2, 3\), got shape \(2, 2\)\.$"):
        bits_wrong(TARGET, LOGITS, WEIGHTS[:, :2])


def test_counts_are_float32_whatever_floatx_is():
    floatx = keras.config.floatx()
    keras.config.set_floatx("float16")
    try:
        assert bits_wrong(TARGET, LOGITS, WEIGHTS).dtype == "float32"
        from keras_dl.metrics import exact_match
        assert exact_match(np.array([[1, 2]]), np.array([[1, 2]])).dtype == "float32"
    finally:
        keras.config.set_floatx(floatx)
