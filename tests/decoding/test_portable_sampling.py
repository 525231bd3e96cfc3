"""The portable sampler ("keras_dl.categorical/1", SplitMix64): reference values, hand-computed draws, behaviour."""

import math

import numpy as np
import pytest

from keras_dl.decoding import SplitMix64
from keras_dl.decoding import sample_categorical
from keras_dl.decoding import stream_tokens
from keras_dl.decoding import strict_exp


def test_splitmix64_reference_outputs_for_seed_zero():
    # The published first outputs of SplitMix64 seeded with 0 (Vigna's splitmix64.c, Java's SplittableRandom(0)).
    rng = SplitMix64(0)
    assert [rng.next_uint64() for _ in range(3)] == [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F]


def test_splitmix64_wraps_its_state_and_doubles_are_the_top_53_bits():
    rng = SplitMix64(2**64 - 1)
    rng.next_uint64()
    assert rng.state == (2**64 - 1 + 0x9E3779B97F4A7C15) % 2**64
    first, again = SplitMix64(0).next_double(), SplitMix64(0).next_uint64()
    assert first == (again >> 11) / 2**53 and 0.0 <= first < 1.0


def test_strict_exp_is_fdlibm_on_its_special_cases_and_close_to_math_exp():
    assert strict_exp(0.0) == 1.0 and strict_exp(-math.inf) == 0.0 and strict_exp(math.inf) == math.inf
    assert math.isnan(strict_exp(math.nan)) and strict_exp(800.0) == math.inf and strict_exp(-800.0) == 0.0
    assert strict_exp(1e-30) == 1.0  # |x| < 2**-28: 1 + x
    # Subnormal results go through the 2**-1000 branch; fdlibm is within one ulp of the true value everywhere.
    for x in np.linspace(-744.0, 709.0, 2001).tolist() + [-0.3, 0.3, -1.0, 1.0, -2.0]:
        expected = math.exp(x)
        assert abs(strict_exp(x) - expected) <= math.ulp(expected), x
    # An argument where fdlibm and the C library round differently: StrictMath.exp (OpenJDK 17) gives ...89a.
    x = float.fromhex("-0x1.0f2dc5901731bp+3")
    assert strict_exp(x) == float.fromhex("0x1.b5cbd1627689ap-13")


def test_zero_temperature_is_argmax_with_ties_to_the_lowest_index_and_draws_nothing():
    rng = SplitMix64(5)
    assert sample_categorical(np.array([1.0, 3.0, 3.0, -2.0], np.float32), 0.0, rng=rng) == 1
    assert rng.state == 5  # no draw consumed
    assert sample_categorical(np.array([[-np.inf, -1.0]], np.float32), 0.0) == 1


def test_a_draw_by_hand():
    # logits log(1), log(2), log(1) at T=1: w = [0.5, 1, 0.5] (exp(z - max)), total 2; u = d * 2 with d the
    # first double of seed 0 (0xE220A8397B1DCDAF >> 11) / 2**53 = 0.883 -> u = 1.766 > 0.5 + 1 -> index 2.
    logits = np.log(np.array([1.0, 2.0, 1.0])).astype(np.float32)
    d = (0xE220A8397B1DCDAF >> 11) / 2**53
    assert d == pytest.approx(0.8833, abs=1e-4)
    assert sample_categorical(logits, 1.0, rng=SplitMix64(0)) == 2
    # Seed 1's first double is 0.5666...: u = 1.133 falls in (0.5, 1.5] -> index 1.
    assert (SplitMix64(1).next_uint64() >> 11) / 2**53 == pytest.approx(0.5666, abs=1e-4)
    assert sample_categorical(logits, 1.0, rng=SplitMix64(1)) == 1
    # top_k=2 keeps indices 1 and one of the tied 0 and 2: the lower, 0. w = [0.5, 1], u = 0.883 * 1.5 = 1.325 -> 1.
    assert sample_categorical(logits, 1.0, top_k=2, rng=SplitMix64(0)) == 1
    # Hand-computed for a temperature: logits [0, 1] at T=0.5 -> z = [0, 2], w = [e^-2, 1], total 1.1353;
    # u = 0.883 * 1.1353 = 1.003 > e^-2 -> index 1; with seed 10 (d = 0.0333...) u = 0.0378 < e^-2 = 0.1353 -> 0.
    logits = np.array([0.0, 1.0], np.float32)
    assert sample_categorical(logits, 0.5, rng=SplitMix64(0)) == 1
    assert (SplitMix64(10).next_uint64() >> 11) / 2**53 == pytest.approx(0.0333, abs=1e-4)
    assert sample_categorical(logits, 0.5, rng=SplitMix64(10)) == 0


def test_each_sample_consumes_exactly_one_draw():
    rng, reference = SplitMix64(11), SplitMix64(11)
    for _ in range(5):
        sample_categorical(np.zeros(7, np.float32), 0.7, top_k=3, rng=rng)
        reference.next_uint64()
    assert rng.state == reference.state


def test_top_k_one_is_argmax_and_top_k_never_picks_outside_the_k_largest():
    logits = np.random.default_rng(0).normal(size=50).astype(np.float32)
    rng = SplitMix64(3)
    assert {sample_categorical(logits, 2.0, top_k=1, rng=rng) for _ in range(50)} == {int(np.argmax(logits))}
    top5 = set(np.argsort(-logits)[:5].tolist())
    picks = {sample_categorical(logits, 5.0, top_k=5, rng=rng) for _ in range(500)}
    assert picks == top5  # all five appear at a high temperature, nothing else does


def test_frequencies_follow_the_tempered_softmax():
    logits = np.log(np.array([0.5, 0.3, 0.15, 0.05])).astype(np.float32)
    rng, n = SplitMix64(42), 20000
    counts = np.bincount([sample_categorical(logits, 0.5, rng=rng) for _ in range(n)], minlength=4) / n
    tempered = np.array([0.5, 0.3, 0.15, 0.05]) ** 2
    # 4 standard errors of a frequency near 0.7 with n = 20000 is about 0.013.
    np.testing.assert_allclose(counts, tempered / tempered.sum(), atol=0.013)


def test_sample_categorical_rejects_bad_arguments():
    rng = SplitMix64(0)
    with pytest.raises(ValueError, match="`temperature`"):
        sample_categorical(np.zeros(3, np.float32), -1.0, rng=rng)
    with pytest.raises(ValueError, match="`top_k`"):
        sample_categorical(np.zeros(3, np.float32), 1.0, top_k=0, rng=rng)
    with pytest.raises(ValueError, match="`logits` must not hold NaN"):
        sample_categorical(np.array([0.0, np.nan], np.float32), 1.0, rng=rng)
    with pytest.raises(ValueError, match="`logits` must be a non-empty vector"):
        sample_categorical(np.zeros((2, 3), np.float32), 1.0, rng=rng)
    with pytest.raises(TypeError, match="`rng` must be a SplitMix64"):
        sample_categorical(np.zeros(3, np.float32), 1.0, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="no finite maximum"):
        sample_categorical(np.array([3e38, 0.0], np.float32), 1e-300, rng=rng)
    with pytest.raises(ValueError, match="`seed`"):
        SplitMix64(-1)
    with pytest.raises(TypeError, match="`seed`"):
        SplitMix64(1.5)


def counting_step(vocab=6):
    """A step model whose state counts the tokens fed and whose logits favour (token + state) % vocab."""
    fed = []

    def step(inputs):
        token, state = int(inputs["token"][0]), inputs["state"]
        fed.append(token)
        logits = np.full((1, vocab), -2.0, np.float32)
        logits[0, (token + int(state[0, 0])) % vocab] = 2.0
        return {"logits": logits, "state": state + 1}

    return step, fed


def test_stream_tokens_feeds_the_prompt_then_its_samples_and_traces_the_logits():
    step, fed = counting_step()
    tokens, logits = stream_tokens(step, np.zeros((1, 1), np.float32), [1, 2, 3], 4, temperature=0.0, trace=True)
    # State after the prompt's first two tokens is 2; argmax of (token + state) % 6 each step.
    assert tokens == [5, 2, 0, 5] and fed == [1, 2, 3, 5, 2, 0]
    assert logits.shape == (4, 6) and logits.dtype == np.float32
    assert [int(np.argmax(row)) for row in logits] == tokens


def test_stream_tokens_is_reproducible_per_seed_and_matches_sampling_by_hand():
    step, _ = counting_step()
    zero = np.zeros((1, 1), np.float32)
    a = stream_tokens(step, zero, [0], 30, temperature=1.5, top_k=3, seed=9)
    assert a == stream_tokens(step, zero, [0], 30, temperature=1.5, top_k=3, seed=9)
    assert a != stream_tokens(step, zero, [0], 30, temperature=1.5, top_k=3, seed=10)
    tokens, logits = stream_tokens(step, zero, [0], 30, temperature=1.5, top_k=3, seed=9, trace=True)
    rng = SplitMix64(9)
    assert [sample_categorical(row, 1.5, 3, rng) for row in logits] == a == tokens


def test_stream_tokens_rejects_bad_arguments():
    step, _ = counting_step()
    zero = np.zeros((1, 1), np.float32)
    with pytest.raises(ValueError, match="`prompt` must hold at least one token"):
        stream_tokens(step, zero, [], 3)
    with pytest.raises(TypeError, match="`prompt` must be a sequence of int tokens, got a str"):
        stream_tokens(step, zero, "abc", 3)
    with pytest.raises(ValueError, match="`prompt`"):
        stream_tokens(step, zero, [-1], 3)
    with pytest.raises(ValueError, match="`length`"):
        stream_tokens(step, zero, [1], 0)
    with pytest.raises(ValueError, match="`state` must be float32 \\[1, units\\]"):
        stream_tokens(step, np.zeros(3), [1], 3)
    with pytest.raises(ValueError, match="`seed`"):
        stream_tokens(step, zero, [1], 3, seed=2**64)


def test_stream_tokens_rejects_prompt_tokens_outside_the_vocabulary():
    step, fed = counting_step(vocab=6)
    zero = np.zeros((1, 1), np.float32)
    with pytest.raises(ValueError, match=r"`prompt` tokens must be in \[0, 6\) \(the step model's 6 logits\), got 6"):
        stream_tokens(step, zero, [1, 6], 3)
    with pytest.raises(ValueError, match=r"`prompt` tokens must be in \[0, 6\).*got 9"):
        stream_tokens(step, zero, [9], 3)
    assert stream_tokens(step, zero, [5], 1, temperature=0.0) == [5]  # the largest token is fine


def test_stream_tokens_checks_the_prompt_against_a_litert_models_vocabulary_before_running_it(tmp_path):
    import keras

    from keras_dl.export import TFLiteModel
    from keras_dl.export import export_tflite

    token = keras.Input((), batch_size=1, dtype="int32", name="token")
    state = keras.Input((4,), batch_size=1, name="state")
    x = keras.layers.Embedding(16, 4)(token)
    step = keras.Model({"token": token, "state": state},
                       {"logits": keras.layers.Dense(16)(x), "state": keras.layers.Add()([x, state])})
    model = TFLiteModel(export_tflite(step, str(tmp_path / "step.tflite")))
    calls = []
    original = model.runner

    class Counting:
        def __call__(self, **inputs):
            calls.append(1)
            return original(**inputs)

        def __getattr__(self, name):
            return getattr(original, name)

    model.runner = Counting()
    with pytest.raises(ValueError, match=r"`prompt` tokens must be in \[0, 16\).*got 16"):
        stream_tokens(model, np.zeros((1, 4), np.float32), [3, 16], 2)
    assert not calls  # checked before LiteRT ran (which would fail with 'gather index out of bounds')
    assert len(stream_tokens(model, np.zeros((1, 4), np.float32), [3, 15], 2)) == 2


@pytest.mark.parametrize("returned", [
    lambda logits, state: (logits, state),
    lambda logits, state: {"logits": logits},
    lambda logits, state: {"state": state, "probs": logits},
])
def test_stream_tokens_says_what_step_must_return(returned):
    def step(inputs):
        return returned(np.zeros((1, 4), np.float32), inputs["state"])

    with pytest.raises(TypeError, match=r"`step` must return a dict with 'logits' \[1, vocab\] and 'state'"):
        stream_tokens(step, np.zeros((1, 1), np.float32), [0], 2)
