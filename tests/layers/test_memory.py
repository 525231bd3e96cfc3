"""The Neural Turing Machine against its equations (Graves et al. 2014, section 3) in NumPy."""

import keras
import numpy as np
import pytest

from keras_dl.layers import NTMCell
from keras_dl.layers.memory import address

B, N, M = 3, 7, 4


def softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def reference_address(memory, previous, key, strength, gate, shift, sharpening):
    cosine = np.einsum("bnm,bm->bn", memory, key) / (
        np.linalg.norm(memory, axis=-1) * np.linalg.norm(key, axis=-1, keepdims=True) + 1e-6)
    content = softmax(strength * cosine)  # eq. 5
    gated = gate * content + (1 - gate) * previous  # eq. 7
    reach = (shift.shape[-1] - 1) // 2
    shifted = np.zeros_like(gated)
    for b in range(gated.shape[0]):  # eq. 8: w~(i) = sum_j w_g(j) s(i - j), indices modulo N
        for i in range(gated.shape[1]):
            for j in range(gated.shape[1]):
                offset = (i - j) % gated.shape[1]
                offset = offset - gated.shape[1] if offset > reach else offset
                if -reach <= offset <= reach:
                    shifted[b, i] += gated[b, j] * shift[b, offset + reach]
    sharpened = (shifted + 1e-6) ** sharpening  # eq. 9
    return sharpened / sharpened.sum(-1, keepdims=True)


def random_head(rng, reach=1):
    return dict(memory=rng.normal(size=(B, N, M)), previous=softmax(rng.normal(size=(B, N))),
                key=rng.normal(size=(B, M)), strength=rng.uniform(0, 5, (B, 1)), gate=rng.uniform(0, 1, (B, 1)),
                shift=softmax(rng.normal(size=(B, 2 * reach + 1))), sharpening=rng.uniform(1, 3, (B, 1)))


@pytest.mark.parametrize("reach", [0, 1, 2])
def test_addressing_follows_the_paper(reach):
    head = random_head(np.random.default_rng(reach), reach)
    actual = np.asarray(address(*(head[k].astype(np.float32) for k in head)))
    np.testing.assert_allclose(actual, reference_address(**head), atol=1e-5)
    np.testing.assert_allclose(actual.sum(-1), 1.0, atol=1e-6)


def test_a_step_reads_the_old_memory_then_erases_and_adds():
    keras.utils.set_random_seed(0)
    cell = NTMCell(6, output_dim=5, memory_size=N, memory_width=M, read_heads=2, write_heads=1, shift_range=1)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(B, 3)).astype(np.float32)
    cell.build((B, 3))
    states = [np.asarray(s) for s in cell.get_initial_state(B)]
    states[2] = rng.normal(size=(B, N * M)).astype(np.float32)  # a memory with content
    states[4] = softmax(rng.normal(size=(B, 3, N))).reshape(B, 3 * N).astype(np.float32)
    outputs, (h, c, memory, reads, weightings) = cell(x, states)

    controller_output, _ = cell.controller(np.concatenate([x, states[3]], -1), states[:2])
    p = np.asarray(cell.head_parameters(controller_output)).astype(np.float64)
    old = states[2].reshape(B, N, M).astype(np.float64)
    size = M + 3 + 2 + 1
    softplus = lambda v: np.log1p(np.exp(v))  # noqa: E731
    expected_w = []
    for i in range(3):
        q = p[:, i * size:(i + 1) * size]
        expected_w.append(reference_address(old, states[4][:, i * N:(i + 1) * N], np.tanh(q[:, :M]),
                                             softplus(q[:, M:M + 1]), 1 / (1 + np.exp(-q[:, M + 1:M + 2])),
                                             softmax(q[:, M + 2:M + 5]), 1 + softplus(q[:, M + 5:M + 6])))
    expected_reads = np.concatenate([np.einsum("bn,bnm->bm", w, old) for w in expected_w[:2]], -1)
    erase = 1 / (1 + np.exp(-p[:, 3 * size:3 * size + M]))
    add = np.tanh(p[:, 3 * size + M:3 * size + 2 * M])
    w = expected_w[2][:, :, None]
    expected_memory = old * (1 - w * erase[:, None]) + w * add[:, None]  # eqs. 3 and 4
    np.testing.assert_allclose(np.asarray(weightings), np.concatenate(expected_w, -1), atol=1e-5)
    np.testing.assert_allclose(np.asarray(reads), expected_reads, atol=1e-5)
    np.testing.assert_allclose(np.asarray(memory).reshape(B, N, M), expected_memory, atol=1e-5)
    expected_out = np.asarray(cell.output_layer(np.concatenate([np.asarray(controller_output), expected_reads], -1)
                                                .astype(np.float32)))
    np.testing.assert_allclose(np.asarray(outputs), expected_out, atol=1e-5)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="`shift_range` must be an int in"):
        NTMCell(8, 2, memory_size=4, shift_range=4)
    with pytest.raises(ValueError, match="`write_heads` must be an int >= 0"):
        NTMCell(8, 2, write_heads=-1)
    with pytest.raises(ValueError, match="`memory_width`"):
        NTMCell(8, 2, memory_width=0)
    with pytest.raises(ValueError, match=r"expects inputs of shape \[batch, features\]"):
        keras.layers.RNN(NTMCell(8, 2))(np.zeros((2, 3), "float32"))


def test_strong_sharpening_of_a_flat_weighting_stays_finite():
    rng = np.random.default_rng(0)
    memory = rng.uniform(size=(1, 128, 20)).astype(np.float32)
    flat = np.full((1, 128), 1 / 128, np.float32)
    for sharpening in (25.0, 100.0):  # (1/128) ** 25 underflows float32: normalising by the max first keeps it
        w = np.asarray(address(memory, flat, np.zeros((1, 20), np.float32), np.ones((1, 1), np.float32),
                               np.full((1, 1), 0.5, np.float32), np.array([[0.1, 0.8, 0.1]], np.float32),
                               np.full((1, 1), sharpening, np.float32)))
        assert np.all(np.isfinite(w)) and w.sum() == pytest.approx(1.0, abs=1e-5)
