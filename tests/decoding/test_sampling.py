import numpy as np
import pytest

from keras_dl.decoding import generate
from keras_dl.decoding import sample_from_logits


def test_zero_temperature_is_argmax():
    assert sample_from_logits([0.1, 3.0, -1.0], 0.0, np.random.default_rng(0)) == 1


def test_sampling_frequencies_follow_the_tempered_softmax():
    logits = np.log([0.5, 0.3, 0.2])
    rng = np.random.default_rng(1)
    draws = np.bincount([sample_from_logits(logits, 0.5, rng) for _ in range(20000)], minlength=3) / 20000
    tempered = np.array([0.5, 0.3, 0.2]) ** 2
    np.testing.assert_allclose(draws, tempered / tempered.sum(), atol=0.01)


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
