"""Temperature sampling that drives any step model speaking `{"token", "state"} -> {"logits", "state"}`.

The same loop runs a Keras step model and a LiteRT signature runner, so text sampled
on the device and in Keras come from one piece of code.
"""

import numpy as np

from keras_dl import _checks


def sample_from_logits(logits, temperature, rng):
    """Draws one index from `softmax(logits / temperature)`; `temperature == 0` is greedy."""
    temperature = _checks.non_negative_float("temperature", temperature)
    logits = np.asarray(logits, np.float64).reshape(-1)
    if temperature == 0.0:
        return int(np.argmax(logits))
    z = logits / temperature
    p = np.exp(z - z.max())
    return int(rng.choice(p.size, p=p / p.sum()))


def generate(step, state, prompt, length, temperature=1.0, seed=None):
    """Feeds `prompt` through `step`, then samples `length` more tokens.

    Args:
        step: callable taking `{"token": int32[1], "state": float32[1, units]}` and
            returning a dict with numpy `"logits"` `[1, vocab]` and `"state"`.
        state: initial state, float32 `[1, units]`.
        prompt: non-empty sequence of int tokens.
        length: number of tokens to sample.
        temperature: softmax temperature; 0 means greedy.
        seed: seed of the sampling RNG.

    Returns:
        list of the `length` sampled tokens.
    """
    length = _checks.positive_int("length", length)
    prompt = [int(t) for t in prompt]
    if not prompt:
        raise ValueError("`prompt` must hold at least one token.")
    rng = np.random.default_rng(seed)
    sampled = []
    # Every step after the last prompt token yields the logits of one sampled token.
    for t in range(len(prompt) + length - 1):
        token = prompt[t] if t < len(prompt) else sampled[-1]
        outputs = step({"token": np.array([token], np.int32), "state": state})
        state = np.asarray(outputs["state"])
        if t >= len(prompt) - 1:
            sampled.append(sample_from_logits(np.asarray(outputs["logits"]), temperature, rng))
    return sampled
