import math

import numpy as np
import pytest

from keras_dl.metrics import BitsPerCharacter
from keras_dl.metrics import unigram_bits_per_character


def test_bpc_equals_log_softmax_cross_entropy_in_bits():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(3, 5, 7)).astype(np.float32)
    labels = rng.integers(0, 7, size=(3, 5))
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    expected = -np.take_along_axis(log_probs, labels[..., None], -1).mean() / math.log(2)
    metric = BitsPerCharacter()
    metric.update_state(labels, logits)
    assert float(metric.result()) == pytest.approx(expected, rel=1e-5)


def test_uniform_prediction_over_bytes_costs_eight_bits():
    metric = BitsPerCharacter()
    metric.update_state(np.array([[3, 200]]), np.zeros((1, 2, 256), np.float32))
    assert float(metric.result()) == pytest.approx(8.0, abs=1e-5)


def test_unigram_baseline_by_hand():
    # Add-one smoothing: p = (3+1, 1+1) / 6; eval sees one of each symbol.
    expected = -(math.log2(4 / 6) + math.log2(2 / 6)) / 2
    assert unigram_bits_per_character([3, 1], [1, 1]) == pytest.approx(expected)


def test_unigram_baseline_rejects_mismatched_histograms():
    with pytest.raises(ValueError, match="`train_counts` and `eval_counts`"):
        unigram_bits_per_character([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="`eval_counts` is empty"):
        unigram_bits_per_character([1, 2], [0, 0])
    with pytest.raises(ValueError, match=r"^`train_counts` and `eval_counts` must be 1-D histograms of one shape, got "
                                         r"\(2, 2\) and \(2, 2\)\.$"):
        unigram_bits_per_character([[1, 2], [3, 4]], [[1, 2], [3, 4]])
    with pytest.raises(ValueError, match=r"^`eval_counts` is empty\.$"):
        unigram_bits_per_character([1, 2], [0, 0])
    assert unigram_bits_per_character([3, 1], [1, 0]) == pytest.approx(-math.log2(4 / 6))  # one symbol is enough


def test_streamed_bpc_equals_evaluating_the_sequence_model_on_the_same_bytes():
    from keras_dl.metrics import streamed_bits_per_character
    from keras_dl.models import RNNLanguageModel

    model = RNNLanguageModel(units=16, embedding_dim=8)
    tokens = np.frombuffer(b"def streamed(x):\n    return x + 1\n", np.uint8).astype(np.int32)
    logits = np.asarray(model(tokens[None, :-1]))
    metric = BitsPerCharacter()
    metric.update_state(tokens[None, 1:], logits)
    streamed = streamed_bits_per_character(model.step_model(), tokens, units=16)
    assert streamed == pytest.approx(float(metric.result()), abs=1e-4)


def test_streamed_bpc_rejects_a_single_token():
    from keras_dl.metrics import streamed_bits_per_character

    with pytest.raises(ValueError, match=r"^`tokens` must be a 1-D sequence of at least 2 tokens, got shape \(1,\)\.$"):
        streamed_bits_per_character(None, [65], units=4)


def test_streamed_bpc_scores_two_tokens_through_a_litert_step_file(tmp_path):
    """The smallest input (one prediction), through the file a device runs: float32 state of batch 1."""
    from keras_dl.export import TFLiteModel
    from keras_dl.export import export_lm_tflite
    from keras_dl.metrics import streamed_bits_per_character
    from keras_dl.models import RNNLanguageModel

    model = RNNLanguageModel(units=16, embedding_dim=8)
    model.build((None, None))
    step = TFLiteModel(export_lm_tflite(model, str(tmp_path / "step.tflite")))
    logits = np.asarray(model(np.array([[100]], np.int32)), np.float64)[0, 0]
    expected = (np.log(np.exp(logits - logits.max()).sum()) + logits.max() - logits[101]) / math.log(2)
    assert streamed_bits_per_character(step, [100, 101], units=16) == pytest.approx(expected, abs=1e-4)


def test_streamed_bpc_feeds_int32_tokens_and_float32_state_and_scores_logits_in_float64():
    """A step of the documented interface; its logits are float32, and log(1 + e^-20) is 0 in float32."""
    from keras_dl.metrics import streamed_bits_per_character

    seen = []

    def step(inputs):
        assert inputs["token"].dtype == np.int32 and inputs["token"].shape == (1,)
        assert inputs["state"].dtype == np.float32 and inputs["state"].shape == (1, 4)
        seen.append((int(inputs["token"][0]), float(inputs["state"][0, 0])))
        return {"logits": np.array([[0.0, -20.0]], np.float32), "state": inputs["state"] + 1.0}

    bits = streamed_bits_per_character(step, [1, 0, 0], units=4)
    assert seen == [(1, 0.0), (0, 1.0)]  # each step gets the token before its target and the state it returned
    assert bits == pytest.approx(math.log1p(math.exp(-20.0)) / math.log(2.0), rel=1e-9)


def test_unigram_baseline_reads_float32_histograms_in_float64():
    train, evaluation = np.array([3, 1, 7], np.float32) / 3, np.array([1, 2, 5], np.float32) / 7
    assert unigram_bits_per_character(train, evaluation) == unigram_bits_per_character(
        train.astype(np.float64), evaluation.astype(np.float64))
