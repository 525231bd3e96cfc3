"""Beam search over any step function, batched, in one `keras.ops.while_loop` (XLA-compilable).

`step_fn(tokens, state)` maps the last tokens of every hypothesis, `[batch * beam_width]`, and
its state (any nest of `[batch * beam_width, ...]` tensors) to logits `[batch * beam_width,
vocabulary]` and the next state: an RNN decoder step, a transformer with a key/value cache, a
lookup table in a test. The initial state is given per batch row and tiled for the beams here.
"""

import math

import keras
import tensorflow as tf
from keras import ops
from keras import tree

from keras_dl import _checks


def tile_for_beams(structure, beam_width):
    """Repeats every tensor of `structure` `beam_width` times along the batch axis: `[b, ...]` -> `[b * k, ...]`."""
    return tree.map_structure(lambda t: ops.repeat(t, beam_width, axis=0), structure)


def length_penalty(lengths, alpha):
    """GNMT's length penalty (Wu et al. 2016, eq. 14): `((5 + length) / 6) ** alpha`."""
    return ops.power((5.0 + ops.cast(lengths, "float32")) / 6.0, alpha)


def coverage_penalty(coverage, beta):
    """GNMT's coverage penalty (eq. 14): `beta * sum_i log(min(sum_j p_ij, 1))` over source positions `i`."""
    return beta * ops.sum(ops.log(ops.clip(coverage, 1e-10, 1.0)), axis=-1)


def beam_search(step_fn, initial_state, start_tokens, end_token, beam_width, max_length, alpha=0.0, beta=0.0):
    """The `beam_width` best continuations of `start_tokens` under `step_fn`, scored as GNMT does.

    Every step extends each live hypothesis by every token and keeps the `beam_width` best by
    `log P / length_penalty(length, alpha) + coverage_penalty(coverage, beta)`. A hypothesis that
    emits `end_token` is finished: it stays in the beam, its log-probability and length no longer
    change and its later tokens are `end_token`. Decoding stops when every hypothesis is finished
    or after `max_length` tokens.

    Args:
        step_fn: `(tokens [n], state) -> (logits [n, vocabulary], state)` with `n = batch * beam_width`;
            with `beta > 0`, `-> (logits, state, alignments [n, source_length])` (the step's attention; give
            positions that must not count, such as source padding, 1: they are then always covered).
        initial_state: nest of `[batch, ...]` tensors (encoder outputs included): tiled for the beams.
        start_tokens: int `[batch]`.
        end_token: int.
        beam_width: hypotheses kept per batch row, >= 1 (1 is greedy decoding).
        max_length: most tokens generated, >= 1.
        alpha: length penalty exponent (0: none; GNMT used 0.6-0.7).
        beta: coverage penalty weight (0: none).

    Returns:
        `{"tokens": int32 [batch, beam_width, max_length], "scores": [batch, beam_width],
        "log_probs": [batch, beam_width], "lengths": int32 [batch, beam_width]}`, best first; lengths
        count the end token.

    Example:
    >>> # Token 3 ends. From the start: 0 (p .5), 1 (.4), 2 (.1); after 0: 0 (.3), ...; after 1: 0 (.9), ...
    >>> table = np.log(np.array([[0.5, 0.4, 0.1, 0], [0.3, 0.28, 0.22, 0.2], [0.9, 0.05, 0.05, 0],
    ...                          [0, 0, 0, 1]], "float32") + 1e-9)
    >>> def step(tokens, state):  # state: steps taken
    ...     rows = ops.where(state == 0, 0, ops.where(state == 1, tokens + 1, 3))
    ...     return ops.take(table, rows, axis=0), state + 1
    >>> start = np.zeros(1, "int32")
    >>> greedy = beam_search(step, np.zeros(1, "int32"), start, end_token=3, beam_width=1, max_length=3)
    >>> beam = beam_search(step, np.zeros(1, "int32"), start, end_token=3, beam_width=2, max_length=3)
    >>> [(np.asarray(b["tokens"])[0, 0], round(float(np.exp(b["log_probs"][0, 0])), 3)) for b in (greedy, beam)]
    [(array([0, 0, 3], dtype=int32), 0.15), (array([1, 0, 3], dtype=int32), 0.36)]
    """
    return _decode(step_fn, initial_state, start_tokens, end_token, beam_width, max_length, alpha, beta)


def _decode(step_fn, initial_state, start_tokens, end_token, beam_width, max_length, alpha=0.0, beta=0.0,
            choose=None):
    """The decode loop of `beam_search` and `sample`: `choose(candidates [batch, k * vocabulary], step_log_probs
    [batch, k, vocabulary], t)` picks the k continuations (default: the k best candidates)."""
    beam_width = _checks.positive_int("beam_width", beam_width)
    max_length = _checks.positive_int("max_length", max_length)
    alpha = _checks.non_negative_float("alpha", alpha)
    beta = _checks.non_negative_float("beta", beta)
    # None: no end token (a language model sampling a fixed length); -1 matches no token.
    end_token = -1 if end_token is None else _checks.non_negative_int("end_token", end_token)
    start_tokens = ops.convert_to_tensor(start_tokens)
    dtype = keras.backend.standardize_dtype(start_tokens.dtype)
    if len(start_tokens.shape) != 1 or "int" not in dtype:
        raise ValueError(f"`start_tokens` must be int [batch], got {dtype} of shape {tuple(start_tokens.shape)}.")
    start_tokens = ops.cast(start_tokens, "int32")
    batch = ops.shape(start_tokens)[0]  # A tensor when unknown while tracing (a serving signature).
    k = beam_width
    state = tile_for_beams(initial_state, k)
    tokens = ops.repeat(start_tokens, k, axis=0)
    # Only the first hypothesis of each row is live at first, so the first step does not pick k copies.
    log_probs = ops.tile(ops.convert_to_tensor([[0.0] + [-math.inf] * (k - 1)], "float32"), (batch, 1))
    finished = ops.zeros((batch, k), "bool")
    lengths = ops.zeros((batch, k), "int32")
    history = ops.full((batch, k, max_length), max(end_token, 0), "int32")
    source_length = 1
    if beta:  # The coverage's width is the source length, known from the step's alignments.
        probe = step_fn(tokens, state)
        if len(probe) != 3:
            raise ValueError("`beta` > 0 needs the attention: `step_fn` must return (logits, state, alignments), "
                             f"got {len(probe)} values.")
        source_length = probe[2].shape[-1]
    coverage = ops.zeros((batch, k, source_length), "float32")
    positions = ops.arange(max_length, dtype="int32")

    def score(log_p, lengths, coverage):
        s = log_p / length_penalty(lengths, alpha) if alpha else log_p
        return s + coverage_penalty(coverage, beta) if beta else s

    def body(t, tokens, state, log_probs, finished, lengths, history, coverage):
        outputs = step_fn(tokens, state)
        logits, state = outputs[0], outputs[1]
        vocabulary = logits.shape[-1]
        if vocabulary is not None and end_token >= vocabulary:
            raise ValueError(f"`end_token` must be a token of the step's vocabulary [0, {vocabulary}), got {end_token}.")
        step_log_probs = ops.reshape(ops.log_softmax(ops.cast(logits, "float32"), axis=-1), (batch, k, vocabulary))
        # A finished hypothesis can only repeat the end token, at no cost.
        only_end = ops.log(ops.cast(ops.arange(vocabulary) == end_token, "float32"))
        step_log_probs = ops.where(finished[..., None], only_end, step_log_probs)
        total = log_probs[..., None] + step_log_probs
        new_lengths = lengths + ops.cast(ops.logical_not(finished), "int32")
        new_coverage = coverage
        if beta:
            alignments = ops.reshape(ops.cast(outputs[2], "float32"), (batch, k, -1))
            new_coverage = coverage + ops.where(finished[..., None], 0.0, alignments)
        candidates = score(total, new_lengths[..., None], new_coverage[:, :, None, :] if beta else None)
        flat = ops.reshape(candidates, (batch, k * vocabulary))
        best = ops.top_k(flat, k)[1] if choose is None else choose(flat, step_log_probs, t)
        beam = best // vocabulary
        token = ops.cast(best % vocabulary, "int32")

        def gather(x):
            return ops.take_along_axis(x, _trailing_axes(beam, len(x.shape)), axis=1)

        log_probs = ops.take_along_axis(ops.reshape(total, (batch, k * vocabulary)), best, axis=1)
        lengths = gather(new_lengths)
        was_finished = gather(finished)
        finished = ops.logical_or(was_finished, token == end_token)
        history = ops.where(positions == t, token[..., None], gather(history))
        coverage = gather(new_coverage)
        if k > 1:  # one hypothesis per row never moves: no gather of the state (a transformer's whole cache)
            flat = ops.reshape(beam + ops.arange(batch, dtype=beam.dtype)[:, None] * k, (-1,))
            state = tree.map_structure(lambda s: ops.take(s, flat, axis=0), state)
        return t + 1, ops.reshape(token, (-1,)), state, log_probs, finished, lengths, history, coverage

    def cond(t, tokens, state, log_probs, finished, *_):
        return ops.logical_and(t < max_length, ops.logical_not(ops.all(finished)))

    loop = (ops.convert_to_tensor(0, "int32"), tokens, state, log_probs, finished, lengths, history, coverage)
    _, _, _, log_probs, finished, lengths, history, coverage = ops.while_loop(cond, body, loop,
                                                                              maximum_iterations=max_length)
    scores = score(log_probs, lengths, coverage)
    order = ops.argsort(-scores, axis=-1)
    best_first = {"tokens": history, "scores": scores, "log_probs": log_probs, "lengths": lengths}
    return {key: ops.take_along_axis(x, _trailing_axes(order, len(x.shape)), axis=1) for key, x in best_first.items()}


def _trailing_axes(indices, rank):
    """`[batch, beam]` indices with size-1 axes added up to `rank`, for take_along_axis."""
    for _ in range(rank - 2):
        indices = ops.expand_dims(indices, -1)
    return indices


def greedy_search(step_fn, initial_state, start_tokens, end_token, max_length):
    """Greedy decoding: `beam_search` with one hypothesis; returns `[batch, max_length]` tokens and lengths."""
    best = beam_search(step_fn, initial_state, start_tokens, end_token, 1, max_length)
    return {"tokens": best["tokens"][:, 0], "lengths": best["lengths"][:, 0], "log_probs": best["log_probs"][:, 0]}



def filter_logits(logits, temperature=1.0, top_k=None, top_p=None):
    """Logits `[..., vocabulary]` divided by `temperature`, with tokens outside the top-k and the top-p nucleus at -inf.

    Top-p (Holtzman et al. 2020) keeps the smallest set of most probable tokens whose probability
    reaches `top_p` (the most probable token always stays).
    """
    logits = ops.cast(logits, "float32") / temperature
    vocabulary = logits.shape[-1]
    if top_k is not None and top_k < vocabulary:
        kth = ops.top_k(logits, top_k)[0][..., -1:]
        logits = ops.where(logits < kth, -math.inf, logits)
    if top_p is not None and top_p < 1.0:
        ordered = ops.top_k(logits, vocabulary)[0]
        before = ops.cumsum(ops.softmax(ordered, axis=-1), axis=-1) - ops.softmax(ordered, axis=-1)
        # The smallest kept logit: the last one whose preceding mass is still below top_p.
        threshold = ops.min(ops.where(before < top_p, ordered, math.inf), axis=-1, keepdims=True)
        logits = ops.where(logits < threshold, -math.inf, logits)
    return logits


def sample(step_fn, initial_state, start_tokens, end_token, max_length, temperature=1.0, top_k=None, top_p=None,
           seed=None):
    """Ancestral sampling of one continuation per row, in `beam_search`'s loop: temperature, top-k, top-p.

    Each step draws the next token from `softmax(filter_logits(logits))` (Gumbel-max on noise drawn
    before the loop, so the loop is deterministic given `seed` and XLA-compilable); `temperature=0`
    is greedy decoding. A row stops at `end_token` (`None`: rows run `max_length` tokens).

    Args:
        step_fn, initial_state, start_tokens, end_token, max_length: as `beam_search`'s.
        temperature: >= 0.
        top_k: keep the k most probable tokens (None: all).
        top_p: keep the nucleus of probability top_p, in (0, 1] (None: all).
        seed: int seed of the draws (one seed repeats its draws; XLA's differ from TF's, another generator).

    Returns:
        `{"tokens": int32 [batch, max_length], "lengths": int32 [batch], "log_probs": [batch]}`
        (log-probabilities under the unfiltered model).

    Example:
    >>> logits = np.log(np.array([[0.1, 0.6, 0.3]], "float32"))
    >>> def step(tokens, state):
    ...     return ops.tile(logits, (ops.shape(tokens)[0], 1)), state
    >>> out = sample(step, np.zeros((4, 1)), np.zeros(4, "int32"), end_token=0, max_length=5, top_k=1)
    >>> np.asarray(out["tokens"])[0]  # top_k=1: always the most probable token
    array([1, 1, 1, 1, 1], dtype=int32)
    """
    temperature = _checks.non_negative_float("temperature", temperature)
    max_length = _checks.positive_int("max_length", max_length)
    if top_k is not None:
        top_k = _checks.positive_int("top_k", top_k)
    if top_p is not None:
        top_p = _checks.positive_float("top_p", top_p)
        if top_p > 1.0:
            raise ValueError(f"`top_p` must be in (0, 1], got {top_p}.")
    start_tokens = ops.convert_to_tensor(start_tokens)
    noise = {}

    def gumbel(shape):
        uniform = keras.random.uniform((max_length,) + tuple(shape), 1e-9, 1.0, dtype="float32", seed=seed)  # any floatx
        return -ops.log(-ops.log(uniform))

    if temperature > 0 and not tf.executing_eagerly():
        # Traced, the noise for every step is drawn before the loop (drawn in its body it would be drawn anew
        # each step): a probe step gives the vocabulary, and the graph drops the probe's computation.
        vocabulary = step_fn(ops.cast(start_tokens, "int32"), initial_state)[0].shape[-1]
        noise["gumbel"] = gumbel((ops.shape(start_tokens)[0], vocabulary))

    def choose(candidates, step_log_probs, t):
        if temperature == 0.0:
            return ops.argmax(candidates, axis=-1)[:, None]
        step_log_probs = step_log_probs[:, 0]  # one hypothesis per row
        if "gumbel" not in noise:  # eagerly: drawn at the first step, once
            noise["gumbel"] = gumbel(ops.shape(step_log_probs))
        filtered = filter_logits(step_log_probs, temperature, top_k, top_p)
        return ops.argmax(filtered + ops.take(noise["gumbel"], t, axis=0), axis=-1)[:, None]

    best = _decode(step_fn, initial_state, start_tokens, end_token, 1, max_length, choose=choose)
    return {"tokens": best["tokens"][:, 0], "lengths": best["lengths"][:, 0], "log_probs": best["log_probs"][:, 0]}
