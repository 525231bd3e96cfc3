import keras
import numpy as np
import pytest

from keras_dl.decoding import ConvQueues
from keras_dl.decoding import generate
from keras_dl.decoding import generate_cached
from keras_dl.decoding import generate_dual_softmax
from keras_dl.decoding import generate_naive
from keras_dl.decoding import sample_from_logits


def test_zero_temperature_is_argmax():
    assert sample_from_logits([0.1, 3.0, -1.0], 0.0, np.random.default_rng(0)) == 1


def test_sampling_frequencies_follow_the_tempered_softmax():
    logits = np.log([0.5, 0.3, 0.2])
    rng = np.random.default_rng(1)
    draws = np.bincount([sample_from_logits(logits, 0.5, rng) for _ in range(20000)], minlength=3) / 20000
    tempered = np.array([0.5, 0.3, 0.2]) ** 2
    np.testing.assert_allclose(draws, tempered / tempered.sum(), atol=0.01)


def test_sampling_reads_any_shape_and_dtype_of_logits_and_large_logits():
    logits = np.random.default_rng(3).normal(size=64)
    draws = [sample_from_logits(logits, 1.0, np.random.default_rng(seed)) for seed in range(10)]
    # [1, vocab] rows and logits shifted far from 0 (exp(z + max z) would overflow) draw the same tokens.
    for same in (logits[None], logits + 800.0):
        assert [sample_from_logits(same, 1.0, np.random.default_rng(seed)) for seed in range(10)] == draws
    # float16 logits are sampled in float64: 700 / 0.01 would overflow float16.
    assert sample_from_logits(np.array([699.0, 700.0], np.float16), 0.01, np.random.default_rng(0)) == 1


def test_generate_feeds_the_prompt_then_its_own_samples():
    vocab, seen = 10, []

    def step(inputs):
        token = int(inputs["token"][0])
        seen.append(token)
        logits = np.full((1, vocab), -1e9)
        logits[0, (token + 1) % vocab] = 0.0  # The next token is always token + 1.
        return {"logits": logits, "state": inputs["state"] + 1}

    sampled = generate(step, np.zeros((1, 1)), [1, 2, 3], 5, temperature=1.0, seed=0)
    assert sampled == [4, 5, 6, 7, 8]
    assert seen == [1, 2, 3, 4, 5, 6, 7]


def test_generate_passes_each_sampling_argument_on_and_feeds_the_documented_dtypes():
    vocab = 7

    def step(inputs):  # logits that depend on the token and on the state, which counts the steps
        token, state = inputs["token"], inputs["state"]
        assert (token.dtype, token.shape, state.dtype, state.shape) == (np.int32, (1,), np.float32, (1, 3))
        logits = np.cos(np.arange(vocab) * (token[0] + 1 + state[0, 0]))[None]  # flat enough for draws to differ
        return {"logits": logits, "state": np.float64(state + 1)}  # float64: generate converts it back

    zero, prompt = np.zeros((1, 3)), [1, 2]  # a float64 state, which generate converts to float32
    greedy = generate(step, zero, prompt, 12, temperature=0.0)
    assert generate(step, zero, prompt, 12, top_k=1, seed=0) == greedy  # top_k reaches the sampler
    assert generate(step, zero, prompt, 12, top_p=1e-6, seed=0) == greedy  # and so does top_p
    drawn = generate(step, zero, prompt, 12, seed=5)
    assert drawn == generate(step, zero, prompt, 12, temperature=1.0, seed=5)  # temperature 1 by default
    assert drawn != generate(step, zero, prompt, 12, temperature=3.0, seed=5)
    assert drawn != generate(step, zero, prompt, 12, seed=6) and drawn != greedy


def test_generate_rejects_bad_arguments():
    with pytest.raises(ValueError, match=r"^`prompt` must hold at least one token\.$"):
        generate(lambda x: x, np.zeros((1, 1)), [], 3)
    with pytest.raises(ValueError, match="`prompt`"):
        generate(lambda x: x, np.zeros((1, 1)), [], 3)
    with pytest.raises(ValueError, match="`length`"):
        generate(lambda x: x, np.zeros((1, 1)), [1], 0)
    with pytest.raises(ValueError, match="`temperature`"):
        sample_from_logits([1.0, 2.0], -1.0, np.random.default_rng(0))


def test_cached_and_naive_generation_feed_the_documented_dtypes():
    fed = []

    def step(inputs):  # predicts sample + 1 of 5 and pushes its (ignored) input
        fed.append(inputs)
        return {"logits": np.eye(5)[(inputs["sample"] + 1) % 5] * 50, "pushed": inputs["taps"][:, :, 0]}

    speaker, rows = np.ones((1, 3)), np.arange(20.0).reshape(1, 10, 2)  # float64, converted to float32
    assert generate_cached(step, 4, ConvQueues([1], kernel_size=2, channels=1), first_sample=0, seed=0,
                           global_condition=speaker, local_condition=rows) == [1, 2, 3, 4]
    for t, inputs in enumerate(fed):
        assert {name: value.dtype for name, value in inputs.items()} == {
            "sample": np.int32, "taps": np.float32, "global_condition": np.float32, "local_condition": np.float32}
        np.testing.assert_array_equal(inputs["local_condition"], rows[:, t])  # row t at step t
    codes = []

    def model(x):  # predicts the previous sample + 1 of 5
        codes.append(x)
        return np.eye(5)[(x + 1) % 5] * 50

    assert generate_naive(model, 4, context=2, first_sample=0, seed=0) == [1, 2, 3, 4]
    assert [x.dtype for x in codes] == [np.int32] * 4 and codes[-1].tolist() == [[2, 3]]


def test_cached_and_naive_generation_name_their_bad_arguments():
    def step(inputs):
        return {"logits": np.zeros((1, 5)), "pushed": inputs["taps"][:, :, 0]}

    def model(x):
        return np.zeros(x.shape + (5,))

    for generate_any, kwargs in ((generate_cached, {"step": step, "queues": ConvQueues([1], kernel_size=2, channels=1)}),
                                 (generate_naive, {"model": model, "context": 3})):
        with pytest.raises(ValueError, match=r"^`length` must be a positive int, got 0\.$"):
            generate_any(length=0, **kwargs)
        with pytest.raises(ValueError, match=r"^`first_sample` must be an int >= 0, got -1\.$"):
            generate_any(length=2, first_sample=-1, **kwargs)
    with pytest.raises(ValueError, match=r"^`context` must be a positive int, got 0\.$"):
        generate_naive(model, 2, context=0)


def _coarse_logits(previous, state):
    return np.cos(np.arange(256) * (1 + previous % 7 + state[0, 0]))[None] * 3  # flat enough for draws to differ


def _fine_logits(coarse):
    return np.cos(np.arange(256) * (2 + coarse))[None] * 3


def test_dual_softmax_generation_draws_the_coarse_byte_then_the_fine_byte_given_it():
    calls = []

    def step(inputs):  # coarse logits from the previous sample and the state; fine logits from the coarse byte fed
        calls.append(inputs)
        sample, coarse, state = int(inputs["sample"][0]), int(inputs["coarse"][0]), inputs["state"]
        return {"coarse": _coarse_logits(sample, state), "fine": _fine_logits(coarse), "state": state + 1}

    zero = np.zeros((1, 1), np.float32)
    audio = generate_dual_softmax(step, zero, 30, seed=4)
    # By hand: per sample one coarse draw then one fine draw from one generator, temperature 1; the state moves
    # on once per sample (the second call's), and the sample before the first is 32768.
    rng, previous, state, expected = np.random.default_rng(4), 32768, zero, []
    for _ in range(30):
        coarse = sample_from_logits(_coarse_logits(previous, state), 1.0, rng)
        previous = coarse * 256 + sample_from_logits(_fine_logits(coarse), 1.0, rng)
        state, expected = state + 1, expected + [previous]
    assert audio == expected and len(set(audio)) > 20
    assert [int(c["sample"][0]) for c in calls[::2]] == [32768] + audio[:-1]
    assert [int(c["coarse"][0]) for c in calls[1::2]] == [a // 256 for a in audio]  # the drawn coarse byte is fed
    assert all(c["sample"].dtype == c["coarse"].dtype == np.int32 for c in calls)
    assert generate_dual_softmax(step, zero, 30, seed=4, temperature=1.0) == audio
    assert generate_dual_softmax(step, zero, 30, seed=5) != audio
    assert generate_dual_softmax(step, zero, 30, seed=4, temperature=2.0) != audio
    # Greedy: both bytes are argmaxes.
    greedy = generate_dual_softmax(step, zero, 3, temperature=0.0, first_sample=0)
    coarse = int(np.argmax(_coarse_logits(0, zero)))
    assert greedy[0] == coarse * 256 + int(np.argmax(_fine_logits(coarse)))


def test_dual_softmax_generation_takes_any_16_bit_first_sample_and_names_bad_arguments():
    def step(inputs):
        return {"coarse": np.zeros((1, 256)), "fine": np.zeros((1, 256)), "state": inputs["state"]}

    zero = np.zeros((1, 1), np.float32)
    for first in (0, 65535):
        assert len(generate_dual_softmax(step, zero, 2, first_sample=first, seed=0)) == 2
    for first in (-1, 65536):
        with pytest.raises(ValueError, match=rf"^`first_sample` must be an unsigned 16-bit value, got {first}\.$"):
            generate_dual_softmax(step, zero, 2, first_sample=first)
    with pytest.raises(ValueError, match=r"^`length` must be a positive int, got 0\.$"):
        generate_dual_softmax(step, zero, 0)


def test_cached_generation_reads_the_levels_of_a_keras_step_model_from_the_last_axis_of_its_logits():
    sample = keras.Input((), batch_size=1, dtype="int32", name="sample")
    taps = keras.Input((1, 1, 1), batch_size=1, name="taps")
    # Logits [1, 1, 5]: 5 levels on the last axis, which sampling flattens.
    logits = keras.layers.Reshape((1, 5))(keras.layers.Embedding(5, 5, embeddings_initializer="identity")(sample))
    step = keras.Model({"sample": sample, "taps": taps},
                       {"logits": logits, "pushed": keras.layers.Reshape((1, 1))(taps)})
    # Greedy on identity logits repeats the sample fed: first_sample 4 is a valid code of 5 levels.
    assert generate_cached(step, 3, ConvQueues([1], kernel_size=2, channels=1), first_sample=4, temperature=0.0) == [4] * 3
    with pytest.raises(ValueError, match=r"^`first_sample` must be a code in \[0, 5\) for this step model, got 5\.$"):
        generate_cached(step, 3, ConvQueues([1], kernel_size=2, channels=1), first_sample=5)
