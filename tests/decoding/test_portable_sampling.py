"""The portable sampler ("keras_dl.categorical/1", SplitMix64): reference values, hand-computed draws, behaviour."""

import math
import re
import shutil
import subprocess

import keras
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


# Java's own StrictMath.exp, the function strict_exp ports, as the oracle (a single-file program, `java File.java`).
STRICT_EXP_JAVA = """
public class StrictExp {
    public static void main(String[] args) {
        for (String x : args) System.out.println(Double.toHexString(StrictMath.exp(Double.parseDouble(x))));
    }
}
"""


def _doubles_at(high_word, rng):
    """Doubles of both signs whose high 32 bits are `high_word` - 1, `high_word` or `high_word` + 1: the extreme low
    words and 10 random ones each (fdlibm compares the high word of |x| with its thresholds)."""
    low = np.concatenate([[0, 1, 2**31, 2**32 - 1], rng.integers(0, 2**32, 10)]).astype(np.uint64)
    bits = [(np.uint64(h) << np.uint64(32)) | low for h in (high_word - 1, high_word, high_word + 1)]
    doubles = np.concatenate(bits).view(np.float64)
    return np.concatenate([doubles, -doubles]).tolist()


def test_strict_exp_is_javas_strictmath_exp_on_both_sides_of_each_branch(tmp_path):
    # fdlibm branches on the high word of |x| (overflow, infinity/NaN, 0.5 ln2, 1.5 ln2, 2**-28) and on the
    # values 709.78 (overflow), -745.13 (underflow) and the exponent k = -1021 (the 2**-1000 scaling); a
    # comparison off by one, or a constant off by one, moves a double on one side of a boundary.
    rng = np.random.default_rng(0)
    xs = [x for hx in (0x40862E42, 0x7FF00000, 0x3FD62E42, 0x3FF0A2B2, 0x3E300000) for x in _doubles_at(hx, rng)]
    xs += [x for boundary in (7.09782712893383973096e02, -7.45133219101941108420e02, -1021 * math.log(2),
                              -1021.5 * math.log(2), -1022 * math.log(2), 2.0**-29, -(2.0**-29), -745.5, -746.0)
           for x in (math.nextafter(boundary, -math.inf), boundary, math.nextafter(boundary, math.inf))]
    xs = [x for x in xs if math.isfinite(x)]
    java = shutil.which("java")
    assert java, "java is missing: apt-get install default-jdk-headless (.ci/run does)"
    (tmp_path / "StrictExp.java").write_text(STRICT_EXP_JAVA)
    result = subprocess.run([java, str(tmp_path / "StrictExp.java"), *map(repr, xs)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    expected = [math.inf if y == "Infinity" else float.fromhex(y) for y in result.stdout.split()]
    assert len(expected) == len(xs)
    mismatches = [(x.hex(), y.hex(), strict_exp(x).hex()) for x, y in zip(xs, expected) if strict_exp(x) != y]
    assert not mismatches
    # NaN stays NaN whatever its sign bit (StrictMath.exp(-NaN) is NaN) and whatever its payload: a NaN whose
    # high word is that of infinity (0x7FF00000) is told apart from infinity by its low word.
    assert math.isnan(strict_exp(-math.nan)) and math.copysign(1.0, -math.nan) == -1.0
    for bits in (0x7FF0000000000001, 0xFFF0000000000001, 0x7FF8000000000000):
        assert math.isnan(strict_exp(float(np.array([bits], np.uint64).view(np.float64)[0])))


def test_splitmix64_seed_defaults_to_zero_and_bad_seeds_are_named_with_their_type():
    assert SplitMix64().next_uint64() == 0xE220A8397B1DCDAF
    with pytest.raises(TypeError, match=r"^`seed` must be an int in \[0, 2\*\*64\), got 1\.5 \(float\)\.$"):
        SplitMix64(1.5)
    with pytest.raises(TypeError, match=r"^`seed` must be an int in \[0, 2\*\*64\), got True \(bool\)\.$"):
        SplitMix64(True)


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


def test_draws_at_the_edges_of_the_unit_interval():
    # SplitMix64 mixes 0 to 0: a state one gamma below 0 draws exactly 0.0, so u = 0. A -inf logit (weight 0) must
    # not be drawn then: the running sum 0 does not exceed u = 0.
    zero_draw = SplitMix64((-0x9E3779B97F4A7C15) % 2**64)
    assert zero_draw.next_double() == 0.0
    masked = np.array([-np.inf, 0.0, 0.0], np.float32)
    assert sample_categorical(masked, 1.0, rng=SplitMix64((-0x9E3779B97F4A7C15) % 2**64)) == 1
    # The largest draw, 1 - 2**-53, takes the last kept index: the last whole-vocabulary index, or under top_k the
    # last of the kept ones in increasing order.
    top = SplitMix64(0)
    top.state = _state_before(2**64 - 1)
    assert top.next_double() == 1 - 2**-53
    logits = np.array([0.0, 1.0, 0.5, -1.0], np.float32)
    for top_k, last in ((None, 3), (3, 2), (2, 2)):
        rng = SplitMix64(0)
        rng.state = _state_before(2**64 - 1)
        assert sample_categorical(logits, 1.0, top_k=top_k, rng=rng) == last


def _state_before(output):
    """The SplitMix64 state whose next output is `output` (the mix is a bijection: undo each step)."""
    def unxorshift(z, shift):
        x = z
        for _ in range(64 // shift + 1):
            x = z ^ (x >> shift)
        return x
    z = unxorshift(output, 31)
    z = unxorshift(z * pow(0x94D049BB133111EB, -1, 2**64) % 2**64, 27)
    z = unxorshift(z * pow(0xBF58476D1CE4E5B9, -1, 2**64) % 2**64, 30)
    return (z - 0x9E3779B97F4A7C15) % 2**64


def test_a_one_token_vocabulary_the_float32_view_of_logits_and_large_logits():
    assert sample_categorical(np.array([0.3], np.float32), 1.0, rng=SplitMix64(0)) == 0
    # Logits are read as the float32 a model produces: float64 values 1e-9 apart are one float32, a tie.
    assert sample_categorical(np.array([0.1, 0.1 + 1e-9]), 0.0) == 0
    # exp(z - max z): logits far from 0 draw as their differences do (exp(z + max z) would overflow or vanish).
    # Multiples of 1/8 stay exact in float32 after the shift, so the weights are the same doubles.
    logits = (np.random.default_rng(2).integers(-16, 16, size=9) / 8).astype(np.float32)
    for shift in (400.0, -400.0):
        for seed in range(5):
            a = sample_categorical(logits, 1.0, rng=SplitMix64(seed))
            assert a == sample_categorical(logits + np.float32(shift), 1.0, rng=SplitMix64(seed))


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
    with pytest.raises(ValueError, match=r"^`logits` must not hold NaN or \+inf\.$"):
        sample_categorical(np.array([0.0, np.nan], np.float32), 1.0, rng=rng)
    with pytest.raises(ValueError, match=r"^`temperature` must be finite, got inf\.$"):
        sample_categorical(np.zeros(3, np.float32), math.inf, rng=rng)
    with pytest.raises(ValueError, match="`logits` must be a non-empty vector"):
        sample_categorical(np.zeros((2, 3), np.float32), 1.0, rng=rng)
    with pytest.raises(TypeError, match=r"^`rng` must be a SplitMix64 for temperature > 0, got Generator\.$"):
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


def test_stream_tokens_defaults_and_the_dtypes_it_feeds_and_returns():
    vocab = 6

    def step(inputs):  # returns float64 logits and state: stream_tokens converts both to float32
        token, state = inputs["token"], inputs["state"]
        assert (token.dtype, token.shape, state.dtype, state.shape) == (np.int32, (1,), np.float32, (1, 2))
        return {"logits": np.cos(np.arange(vocab) * (token[0] + 1.0 + state[0, 0]))[None],
                "state": state.astype(np.float64) + 1.0}

    zero = np.zeros((1, 2))  # float64
    drawn = stream_tokens(step, zero, [1, 2], 40)
    assert drawn == stream_tokens(step, zero, [1, 2], 40, temperature=1.0, seed=0)  # temperature 1, seed 0
    assert drawn != stream_tokens(step, zero, [1, 2], 40, temperature=2.0, seed=0)
    assert drawn != stream_tokens(step, zero, [1, 2], 40, temperature=1.0, seed=1)
    _, logits = stream_tokens(step, zero, [1, 2], 3, trace=True)
    assert logits.dtype == np.float32 and logits.shape == (3, vocab)


def test_stream_tokens_rejects_bad_arguments():
    step, _ = counting_step()
    zero = np.zeros((1, 1), np.float32)
    with pytest.raises(ValueError, match=r"^`prompt` must hold at least one token\.$"):
        stream_tokens(step, zero, [], 3)
    with pytest.raises(TypeError, match=r"^`prompt` must be a sequence of int tokens, got a str: pass "):
        stream_tokens(step, zero, "abc", 3)
    with pytest.raises(ValueError, match=r"^`temperature` must be"):
        stream_tokens(step, zero, [1], 3, temperature=-1.0)
    with pytest.raises(ValueError, match=r"^`top_k` must be a positive int"):
        stream_tokens(step, zero, [1], 3, top_k=0)
    with pytest.raises(ValueError, match="`prompt`"):
        stream_tokens(step, zero, [-1], 3)
    with pytest.raises(ValueError, match="`length`"):
        stream_tokens(step, zero, [1], 0)
    for shape in ((3,), (2, 1), (1, 1, 1)):
        with pytest.raises(ValueError, match=r"`state` must be float32 \[1, units\], got shape"):
            stream_tokens(step, np.zeros(shape), [1], 3)
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


def token_step_model():
    """A Keras step model of 16 tokens and 4 state units, `{"token", "state"} -> {"logits", "state"}`."""
    token = keras.Input((), batch_size=1, dtype="int32", name="token")
    state = keras.Input((4,), batch_size=1, name="state")
    x = keras.layers.Embedding(16, 4)(token)
    return keras.Model({"token": token, "state": state},
                       {"logits": keras.layers.Dense(16)(x), "state": keras.layers.Add()([x, state])})


def test_stream_tokens_checks_the_prompt_against_a_litert_models_vocabulary_before_running_it(tmp_path):
    from keras_dl.export import TFLiteModel
    from keras_dl.export import export_tflite

    step = token_step_model()
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
    # Logits of another rank: the vocabulary is their last axis, and the first step says what is wrong.
    rows = keras.Model(step.input, {"logits": keras.layers.Reshape((1, 16))(step.output["logits"]),
                                    "state": step.output["state"]})
    rows = TFLiteModel(export_tflite(rows, str(tmp_path / "rows.tflite")))
    with pytest.raises(ValueError, match=r"^`step` must return logits \[1, vocab\], got shape \(1, 1, 16\)\.$"):
        stream_tokens(rows, np.zeros((1, 4), np.float32), [3], 2)


@pytest.mark.parametrize("returned, got", [
    (lambda logits, state: (logits, state), "tuple"),
    (lambda logits, state: {"logits": logits}, "a dict with the keys ['logits']"),
    (lambda logits, state: {"state": state, "probs": logits}, "a dict with the keys ['probs', 'state']"),
    (lambda logits, state: {1: logits, "state": state}, "a dict with the keys [1, 'state']"),  # keys of two types
])
def test_stream_tokens_says_what_step_must_return(returned, got):
    def step(inputs):
        return returned(np.zeros((1, 4), np.float32), inputs["state"])

    with pytest.raises(TypeError, match=r"^`step` must return a dict with 'logits' \[1, vocab\] and 'state' \[1, units\] "
                                        rf"\(as a Keras step model or a TFLiteModel does\), got {re.escape(got)}\.$"):
        stream_tokens(step, np.zeros((1, 1), np.float32), [0], 2)


@pytest.mark.parametrize("shape", [(4,), (2, 4), (1, 1, 4)])
def test_stream_tokens_wants_logits_of_one_row(shape):
    def step(inputs):
        return {"logits": np.zeros(shape, np.float32), "state": inputs["state"]}

    with pytest.raises(ValueError, match=rf"^`step` must return logits \[1, vocab\], got shape {re.escape(str(shape))}\.$"):
        stream_tokens(step, np.zeros((1, 1), np.float32), [0], 2)


def test_stream_tokens_checks_the_prompt_against_a_keras_models_vocabulary_before_running_it(monkeypatch):
    functional = token_step_model()

    class Subclassed(keras.Model):  # states no outputs before it runs: its vocabulary is read at its first step
        def call(self, inputs):
            return functional(inputs)

    calls, call = [], keras.Model.__call__
    monkeypatch.setattr(keras.Model, "__call__", lambda self, *args, **kwargs: calls.append(self) or call(self, *args,
                                                                                                          **kwargs))
    zero = np.zeros((1, 4), np.float32)
    with pytest.raises(ValueError, match=r"`prompt` tokens must be in \[0, 16\).*got 16"):
        stream_tokens(functional, zero, [3, 16], 2)
    assert not calls  # checked before Keras ran
    with pytest.raises(ValueError, match=r"`prompt` tokens must be in \[0, 16\).*got 16"):
        stream_tokens(Subclassed(), zero, [3, 16], 2)
    assert len(calls) == 2  # the subclassed model, then the functional one inside it: one step
    # Logits of another rank: the vocabulary is their last axis, and the first step says what is wrong.
    rows = keras.Model(functional.input, {"logits": keras.layers.Reshape((1, 16))(functional.output["logits"]),
                                          "state": functional.output["state"]})
    with pytest.raises(ValueError, match=r"^`step` must return logits \[1, vocab\], got shape \(1, 1, 16\)\.$"):
        stream_tokens(rows, zero, [3], 2)
    assert stream_tokens(functional, zero, [3, 15], 4, seed=7) == stream_tokens(Subclassed(), zero, [3, 15], 4, seed=7)
