"""Sampling that drives any step model speaking `{"token", "state"} -> {"logits", "state"}`.

`generate` runs `keras_dl.decoding.sample`'s loop over a Keras step model or a LiteRT
signature runner, so text sampled on the device and in Keras come from one piece of code.
WaveRNN's two-call dual-softmax step has its own small loop (`generate_dual_softmax`).

`stream_tokens` is the portable one: its sampler (`sample_categorical`, spec
`"keras_dl.categorical/1"`, generator `SplitMix64`) is specified down to the order of
additions, so `android_demo`'s Java `Sampler` picks the same token from the same logits.
"""

import math
import numbers
import struct
from collections.abc import Mapping

import numpy as np
from keras import ops

from keras_dl import _checks
from keras_dl.decoding import search


def sample_from_logits(logits, temperature, rng):
    """Draws one index from `softmax(logits / temperature)`; `temperature == 0` is greedy."""
    temperature = _checks.non_negative_float("temperature", temperature)
    logits = np.asarray(logits, np.float64).ravel()
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


# --- Portable sampling: the same tokens on the JVM (android_demo/core) as in Python. ---

SAMPLING_ALGORITHM = "keras_dl.categorical/1"
GENERATOR = "splitmix64"
_MASK64 = (1 << 64) - 1


class SplitMix64:
    """SplitMix64 (Steele, Lea and Flood, 2014), the generator of the `"keras_dl.categorical/1"` sampling spec.

    Its state is one unsigned 64-bit integer, starting at `seed`; each draw adds
    `0x9E3779B97F4A7C15` to it and mixes the result. Java's `SplittableRandom` and
    `android_demo/core`'s `SplitMix64` compute the same sequence, so a seed names the same
    draws on a phone as here.

    Args:
        seed: int in `[0, 2**64)`.

    Example:
    >>> rng = SplitMix64(0)
    >>> hex(rng.next_uint64())
    '0xe220a8397b1dcdaf'
    >>> round(rng.next_double(), 6)
    0.431528
    """

    def __init__(self, seed=0):
        self.state = _seed("seed", seed)

    def next_uint64(self):
        """The next unsigned 64-bit output."""
        self.state = (self.state + 0x9E3779B97F4A7C15) & _MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
        return z ^ (z >> 31)

    def next_double(self):
        """The next double in `[0, 1)`: the top 53 bits of `next_uint64()` times `2**-53`."""
        return (self.next_uint64() >> 11) * 2.0**-53


def _seed(name, seed):
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"`{name}` must be an int in [0, 2**64), got {seed!r} ({type(seed).__name__}).")
    if not 0 <= seed <= _MASK64:
        raise ValueError(f"`{name}` must be an int in [0, 2**64), got {seed}.")
    return int(seed)


# fdlibm's e_exp.c, which Java's StrictMath.exp computes bit for bit. Python's math.exp is the C
# library's, which differs from it in the last bit for about 10% of arguments (59,443 of 600,000
# uniform draws in [-40, 0] with glibc 2.36 and OpenJDK 17): Python and Java would then disagree on a
# token whenever a draw falls within that bit of a boundary. With this port they agree exactly.
_LN2_HI = (6.93147180369123816490e-01, -6.93147180369123816490e-01)
_LN2_LO = (1.90821492927058770002e-10, -1.90821492927058770002e-10)
_INV_LN2 = 1.44269504088896338700e00
_P1, _P2, _P3 = 1.66666666666666019037e-01, -2.77777777770155933842e-03, 6.61375632143793436117e-05
_P4, _P5 = -1.65339022054652515390e-06, 4.13813679705723846039e-08
_TWO_M1000 = 9.33263618503218878990e-302


def _bits(x):
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def _from_bits(bits):
    return struct.unpack("<d", struct.pack("<Q", bits & _MASK64))[0]


def strict_exp(x):
    """`exp(x)` exactly as Java's `StrictMath.exp` computes it (a port of fdlibm's `e_exp.c`).

    Args:
        x: a float.

    Returns:
        float, the same double `StrictMath.exp(x)` returns.

    Example:
    >>> strict_exp(0.0), strict_exp(-745.2)
    (1.0, 0.0)
    >>> strict_exp(1.0)  # StrictMath.exp(1.0); the C library's math.exp(1.0) is one bit lower
    2.7182818284590455
    """
    x = float(x)
    bits = _bits(x)
    hx, sign = (bits >> 32) & 0x7FFFFFFF, bits >> 63
    if hx >= 0x40862E42:  # |x| >= 709.78..., or not finite
        if hx >= 0x7FF00000:
            return x + x if x != x else (x if sign == 0 else 0.0)
        if x > 7.09782712893383973096e02:
            return math.inf
        if x < -7.45133219101941108420e02:
            return 0.0
    k = 0
    if hx > 0x3FD62E42:  # |x| > 0.5 ln2: reduce to |x| <= 0.5 ln2
        if hx < 0x3FF0A2B2:  # and |x| < 1.5 ln2
            hi, lo, k = x - _LN2_HI[sign], _LN2_LO[sign], 1 - sign - sign
        else:
            k = int(_INV_LN2 * x + (0.5, -0.5)[sign])  # truncates toward zero, as C's (int)
            hi, lo = x - k * _LN2_HI[0], k * _LN2_LO[0]
        x = hi - lo
    elif hx < 0x3E300000:  # |x| < 2**-28
        return 1.0 + x
    t = x * x
    c = x - t * (_P1 + t * (_P2 + t * (_P3 + t * (_P4 + t * _P5))))
    if k == 0:
        return 1.0 - ((x * c) / (c - 2.0) - x)
    y = 1.0 - ((lo - (x * c) / (2.0 - c)) - hi)
    if k >= -1021:
        return _from_bits(_bits(y) + (k << 52))
    return _from_bits(_bits(y) + ((k + 1000) << 52)) * _TWO_M1000


def _top_k(name, top_k):
    if top_k is None:
        return None
    return _checks.positive_int(name, top_k)


def sample_categorical(logits, temperature, top_k=None, rng=None):
    """Draws a token from `softmax(logits / temperature)` (optionally its top k) as spec `"keras_dl.categorical/1"`.

    The spec, which `android_demo/core`'s `Sampler` implements in Java with the same results
    bit for bit: `temperature == 0` returns the argmax (lowest index among ties) and draws
    nothing. Otherwise `z_i = double(logits_i) / temperature`; the kept indices are all, or the
    `top_k` largest `z` (ties to the lower index); `w_i = exp(z_i - max kept z)` (fdlibm's exp,
    `strict_exp`); `total` is the sum of `w` over the kept indices in increasing order, one
    addition at a time; `u = rng.next_double() * total`; the result is the first kept index
    (increasing) whose running sum of `w` exceeds `u`, or the last kept index if rounding leaves
    none. Exactly one draw per sampled token.

    Args:
        logits: float32 `[vocab]` (or `[1, vocab]`); no NaN or `+inf` (`-inf` masks a token).
        temperature: float >= 0.
        top_k: keep only the k largest logits (`None`: all; k >= vocab keeps all).
        rng: a `SplitMix64`; needed unless `temperature == 0`.

    Returns:
        int, the sampled index.

    Example:
    >>> sample_categorical(np.array([0.0, 2.0, 2.0], np.float32), 0.0)
    1
    >>> sample_categorical(np.array([0.0, 1.0, 0.5], np.float32), 1.0, top_k=1, rng=SplitMix64(7))
    1
    """
    temperature = _checks.non_negative_float("temperature", temperature)
    if not math.isfinite(temperature):
        raise ValueError(f"`temperature` must be finite, got {temperature}.")
    top_k = _top_k("top_k", top_k)
    values = np.asarray(logits)
    if values.ndim == 2 and values.shape[0] == 1:
        values = values[0]
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"`logits` must be a non-empty vector [vocab] (or [1, vocab]), got shape {values.shape}.")
    # Every value as the float32 the model produced, widened exactly to a Python float (a double).
    values = [float(v) for v in values.astype(np.float32)]
    if any(v != v or v == math.inf for v in values):
        raise ValueError("`logits` must not hold NaN or +inf.")
    if temperature == 0.0:
        return max(range(len(values)), key=lambda i: (values[i], -i))
    if rng is None or not isinstance(rng, SplitMix64):
        raise TypeError(f"`rng` must be a SplitMix64 for temperature > 0, got {type(rng).__name__}.")
    z = [v / temperature for v in values]
    kept = range(len(z))
    if top_k is not None and top_k < len(z):
        kept = sorted(sorted(kept, key=lambda i: (-z[i], i))[:top_k])
    m = max(z[i] for i in kept)
    if not math.isfinite(m):
        raise ValueError(f"`logits` / `temperature` has no finite maximum (temperature={temperature} too small, or "
                         f"every kept logit -inf).")
    weights = [strict_exp(z[i] - m) for i in kept]
    total = 0.0
    for w in weights:
        total += w
    u = rng.next_double() * total
    cumulative = 0.0
    for i, w in zip(kept[:-1], weights):
        cumulative += w
        if u < cumulative:
            return i
    return kept[-1]  # u < total: the last kept index holds the rest of the mass


def _logits_size(step):
    """The number of logits of a step model, when it says so before running (a `TFLiteModel` or a Keras functional
    model with a dict of outputs); None for any other callable, which tells it at its first step."""
    try:
        if hasattr(step, "runner"):  # a TFLiteModel
            return int(step.runner.get_output_details()["logits"]["shape"][-1])
        return int(step.output["logits"].shape[-1])
    except (AttributeError, TypeError, KeyError, IndexError):  # no `output`, not a dict, no logits, or size unknown
        return None


def _check_prompt(prompt, vocab):
    bad = next((t for t in prompt if t >= vocab), None)
    if bad is not None:
        raise ValueError(f"`prompt` tokens must be in [0, {vocab}) (the step model's {vocab} logits), got {bad}.")


def stream_tokens(step, state, prompt, length, temperature=1.0, top_k=None, seed=0, trace=False):
    """Streams `length` tokens from a step model with the portable sampler (`sample_categorical`, `SplitMix64(seed)`).

    Feeds `prompt` one token at a time, carrying the state, then samples each next token
    from the logits of the last one fed. `android_demo`'s `StreamingSession` runs the same
    loop in Java, so a phone with the same model and seed streams the same tokens wherever
    its logits agree with these.

    Args:
        step: callable taking `{"token": int32[1], "state": float32[1, units]}` and returning
            `"logits"` `[1, vocab]` and `"state"` (a Keras step model or a `TFLiteModel`).
        state: initial state, float32 `[1, units]` (zeros for a fresh sequence).
        prompt: non-empty sequence of int tokens, each in `[0, vocab)` (checked before the model runs
            when it tells its number of logits, else after its first step).
        length: number of tokens to sample (int > 0).
        temperature: softmax temperature; 0 means greedy.
        top_k: sample among the k most probable tokens only (`None`: all).
        seed: int in `[0, 2**64)`, the `SplitMix64` seed.
        trace: also return the logits the sampler saw at each sampled step.

    Returns:
        list of `length` ints; with `trace`, `(tokens, logits)`, `logits` float32 `[length, vocab]`.

    Example:
    >>> def step(inputs):  # always predicts token + 1 of 5
    ...     return {"logits": np.eye(5, dtype=np.float32)[(inputs["token"] + 1) % 5] * 50, "state": inputs["state"]}
    >>> stream_tokens(step, np.zeros((1, 1), np.float32), [0], 4, temperature=1.0, seed=3)
    [1, 2, 3, 4]
    """
    length = _checks.positive_int("length", length)
    temperature = _checks.non_negative_float("temperature", temperature)
    top_k = _top_k("top_k", top_k)
    rng = SplitMix64(_seed("seed", seed))
    if isinstance(prompt, str):
        raise TypeError("`prompt` must be a sequence of int tokens, got a str: pass list(text.encode('utf-8')).")
    prompt = [_checks.non_negative_int("prompt", t) for t in prompt]
    if not prompt:
        raise ValueError("`prompt` must hold at least one token.")
    state = np.asarray(state, np.float32)
    if state.ndim != 2 or state.shape[0] != 1:
        raise ValueError(f"`state` must be float32 [1, units], got shape {state.shape}.")

    vocab = _logits_size(step)
    if vocab is not None:
        _check_prompt(prompt, vocab)  # before the model runs: LiteRT would fail with "gather index out of bounds"

    def run(token, state):
        outputs = step({"token": np.array([token], np.int32), "state": state})
        if not isinstance(outputs, Mapping) or "logits" not in outputs or "state" not in outputs:
            got = (f"a dict with the keys {sorted(outputs, key=str)}" if isinstance(outputs, Mapping)
                   else type(outputs).__name__)
            raise TypeError(f"`step` must return a dict with 'logits' [1, vocab] and 'state' [1, units] (as a Keras "
                            f"step model or a TFLiteModel does), got {got}.")
        logits = np.asarray(outputs["logits"], np.float32)
        if logits.ndim != 2 or logits.shape[0] != 1:
            raise ValueError(f"`step` must return logits [1, vocab], got shape {logits.shape}.")
        return logits, np.asarray(outputs["state"], np.float32)

    # The prompt's tokens are fed first, then each drawn token.
    feed = iter(prompt)
    token, tokens, seen = next(feed), [], []
    while len(tokens) < length:
        logits, state = run(token, state)
        if vocab is None:  # the first step tells the vocabulary size
            vocab = logits.shape[1]
            _check_prompt(prompt, vocab)
        token = next(feed, None)
        if token is None:  # the prompt is used up: draw
            token = sample_categorical(logits[0], temperature, top_k, rng)
            tokens.append(token)
            seen.append(logits[0])
    return (tokens, np.stack(seen)) if trace else tokens


# --- Autoregressive sample generation (WaveNet): the whole window per sample, or a cached step. ---


def generate_cached(step, length, queues, first_sample=128, temperature=1.0, seed=None, global_condition=None,
                    local_condition=None):
    """Fast generation (Paine et al. 2016): one step per sample, each convolution's past inputs kept in ring buffers.

    For a step model speaking `{"sample": int32[1], "taps": [1, convolutions, k - 1, channels]}
    -> {"logits": [1, levels], "pushed": [1, convolutions, channels]}`, such as
    `WaveNet.step_model()`, on Keras or LiteRT: each step reads `queues.taps()` and pushes
    what the step returns, so a sample costs the same whatever the receptive field. Each
    sample is drawn with `sample_from_logits` from `numpy.random.default_rng(seed)`, one draw
    per sample, as `generate_naive` does: where the two see the same logits they return the
    same samples.

    Args:
        step: the step model (a Keras model or a `TFLiteModel`).
        length: number of samples to draw.
        queues: the `ConvQueues` to read and push (`WaveNet.queues()` for a fresh start); they
            are moved on, so a second call continues the first.
        first_sample: the code fed before the first drawn one (128: mu-law silence).
        temperature: softmax temperature; 0 means greedy.
        seed: seed of the draws, or a `numpy.random.Generator` to go on drawing from.
        global_condition: float `[1, dim]` fed at every step, for a model that has one.
        local_condition: float `[1, length, dim]`, row `t` fed at step `t`, for a model that has
            one (`WaveNet.upsample_local_condition` makes it from frames).

    Returns:
        list of `length` ints.

    Example:
    >>> from keras_dl.decoding import ConvQueues
    >>> def step(inputs):  # predicts sample + 1 of 5; pushes its (ignored) input
    ...     return {"logits": np.eye(5)[(inputs["sample"] + 1) % 5] * 50, "pushed": inputs["taps"][:, :, 0]}
    >>> generate_cached(step, 4, ConvQueues([1], kernel_size=2, channels=1), first_sample=0, seed=0)
    [1, 2, 3, 4]
    """
    length = _checks.positive_int("length", length)
    first_sample = _checks.non_negative_int("first_sample", first_sample)
    if queues.batch_size != 1:
        raise ValueError(f"`queues` must have batch_size 1 (generate_cached draws one sequence), got "
                         f"{queues.batch_size}.")
    _check_step_inputs(step, first_sample, global_condition=global_condition, local_condition=local_condition)
    constant = {}
    if global_condition is not None:
        constant["global_condition"] = np.asarray(global_condition, np.float32)
    if local_condition is not None:
        local_condition = np.asarray(local_condition, np.float32)
        if local_condition.ndim != 3 or local_condition.shape[1] < length:
            raise ValueError(f"`local_condition` must be [batch, >= length ({length}), dim], one row per sample, "
                             f"got shape {local_condition.shape}.")
    rng = np.random.default_rng(seed)
    previous, sampled = first_sample, []
    for t in range(length):
        inputs = {"sample": np.array([previous], np.int32), "taps": queues.taps(), **constant}
        if local_condition is not None:
            inputs["local_condition"] = local_condition[:, t]
        outputs = step(inputs)
        queues.push(outputs["pushed"])
        previous = sample_from_logits(np.asarray(outputs["logits"]), temperature, rng)
        sampled.append(previous)
    return sampled


def _check_step_inputs(step, first_sample, **conditions):
    """Checks `first_sample` and the conditions given against a step model that states its inputs and outputs (a
    Keras functional model or a `TFLiteModel`; any other callable is taken as it is)."""
    if hasattr(step, "runner"):  # a TFLiteModel
        names = step.input_names
    elif isinstance(getattr(step, "input", None), dict):
        names = sorted(step.input)
    else:
        return
    levels = _logits_size(step)
    if levels is not None and first_sample >= levels:
        raise ValueError(f"`first_sample` must be a code in [0, {levels}) for this step model, got {first_sample}.")
    for name, value in conditions.items():
        if (value is not None) != (name in names):
            raise ValueError(f"`{name}` must be given exactly when the step model takes it: its inputs are {names}, "
                             f"`{name}` is {'given' if value is not None else 'missing'}.")


def generate_naive(model, length, context, first_sample=128, temperature=1.0, seed=None):
    """Naive generation: each sample from the sequence model run over the last `context` samples.

    What `generate_cached` computes, at O(`context`) per sample instead of O(1) in the
    window: with `context` at least the model's receptive field (`WaveNet.receptive_field`),
    the last output is exactly the one the whole history would give, and the draws are
    `generate_cached`'s.

    Args:
        model: callable taking int32 `[1, T]` codes and returning `[1, T, levels]` logits
            of each next code (a `WaveNet`).
        length, first_sample, temperature, seed: as in `generate_cached`.
        context: the number of past samples each step reads.

    Returns:
        list of `length` ints.

    Example:
    >>> def model(codes):  # predicts the previous sample + 1 of 5
    ...     return np.eye(5)[(codes + 1) % 5] * 50
    >>> generate_naive(model, 4, context=1, first_sample=0, seed=0)
    [1, 2, 3, 4]
    """
    length = _checks.positive_int("length", length)
    context = _checks.positive_int("context", context)
    first_sample = _checks.non_negative_int("first_sample", first_sample)
    rng = np.random.default_rng(seed)
    history = [first_sample]
    for _ in range(length):
        logits = np.asarray(model(np.array([history[-context:]], np.int32)))
        history.append(sample_from_logits(logits[:, -1], temperature, rng))
    return history[1:]
