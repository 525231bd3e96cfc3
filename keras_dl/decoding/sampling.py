"""Sampling that drives any step model speaking `{"token", "state"} -> {"logits", "state"}`.

`generate` runs `keras_dl.decoding.sample`'s loop over a Keras step model or a LiteRT
signature runner, so text sampled on the device and in Keras come from one piece of code.
WaveRNN's two-call dual-softmax step has its own small loop (`generate_dual_softmax`).
"""

import numpy as np
from keras import ops

from keras_dl import _checks
from keras_dl.decoding import search


def sample_from_logits(logits, temperature, rng):
    """Draws one index from `softmax(logits / temperature)`; `temperature == 0` is greedy."""
    temperature = _checks.non_negative_float("temperature", temperature)
    logits = np.asarray(logits, np.float64).reshape(-1)
    if temperature == 0.0:
        return int(np.argmax(logits))
    z = logits / temperature
    p = np.exp(z - z.max())
    return int(rng.choice(p.size, p=p / p.sum()))


def generate(step, state, prompt, length, temperature=1.0, top_k=None, top_p=None, seed=None):
    """Feeds `prompt` through `step`, then samples `length` more tokens with `keras_dl.decoding.sample`.

    The sampling is the decode loop's (temperature, top-k, top-p; Gumbel noise drawn from
    `seed` before the loop), so a Keras step model and its LiteRT file sample the same tokens
    wherever their logits agree.

    Args:
        step: callable taking `{"token": int32[1], "state": float32[1, units]}` and
            returning a dict with `"logits"` `[1, vocab]` and `"state"` (a Keras step model or
            a `TFLiteModel`; called eagerly, with NumPy arrays).
        state: initial state, float32 `[1, units]`.
        prompt: non-empty sequence of int tokens.
        length: number of tokens to sample.
        temperature: softmax temperature; 0 means greedy.
        top_k, top_p: keep the k most probable tokens / the nucleus of probability top_p.
        seed: seed of the draws.

    Returns:
        list of the `length` sampled tokens.
    """
    length = _checks.positive_int("length", length)
    prompt = [int(t) for t in prompt]
    if not prompt:
        raise ValueError("`prompt` must hold at least one token.")
    state = np.asarray(state, np.float32)
    for token in prompt[:-1]:
        state = np.asarray(step({"token": np.array([token], np.int32), "state": state})["state"])

    def step_fn(tokens, state):
        outputs = step({"token": np.asarray(tokens, np.int32), "state": np.asarray(state, np.float32)})
        return ops.convert_to_tensor(np.asarray(outputs["logits"])), ops.convert_to_tensor(np.asarray(outputs["state"]))

    sampled = search.sample(step_fn, ops.convert_to_tensor(state), np.array([prompt[-1]], np.int32), None, length,
                            temperature=temperature, top_k=top_k, top_p=top_p, seed=seed)
    return [int(t) for t in np.asarray(sampled["tokens"])[0]]


def generate_dual_softmax(step, state, length, first_sample=32768, temperature=1.0, seed=None):
    """Samples `length` 16-bit samples from a dual-softmax step model (`WaveRNN.step_model()`).

    Each sample takes two calls: the first (any current coarse byte; the coarse output does
    not read it) gives the coarse distribution, the second, fed the drawn coarse byte,
    gives the fine distribution and the next state. Works on Keras and LiteRT step models.

    Args:
        step: callable taking `{"sample": int32[1], "coarse": int32[1], "state": float32[1,
            units]}` and returning numpy `"coarse"`, `"fine"` logits and `"state"`.
        state: initial state, float32 `[1, units]`.
        length: number of samples to draw.
        first_sample: the sample before the first drawn one (32768 is silence).
        temperature, seed: as in `generate`.

    Returns:
        list of `length` ints in `[0, 65535]`.
    """
    length = _checks.positive_int("length", length)
    if not 0 <= first_sample < 65536:
        raise ValueError(f"`first_sample` must be an unsigned 16-bit value, got {first_sample}.")
    rng = np.random.default_rng(seed)
    previous, sampled = int(first_sample), []
    for _ in range(length):
        inputs = {"sample": np.array([previous], np.int32), "coarse": np.zeros(1, np.int32), "state": state}
        coarse = sample_from_logits(np.asarray(step(inputs)["coarse"]), temperature, rng)
        outputs = step(dict(inputs, coarse=np.array([coarse], np.int32)))
        fine = sample_from_logits(np.asarray(outputs["fine"]), temperature, rng)
        state = np.asarray(outputs["state"])
        previous = coarse * 256 + fine
        sampled.append(previous)
    return sampled
