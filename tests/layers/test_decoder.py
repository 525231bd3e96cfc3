"""AttentionDecoderCell: one step against NumPy, masks in keras.layers.RNN, alignment history, bad input."""

import keras
import numpy as np
import pytest

from keras_dl.layers import AttentionDecoderCell
from keras_dl.layers import BahdanauAttention
from keras_dl.layers import LSTMCell
from keras_dl.layers import LuongAttention

B, T, D, F, UNITS = 3, 6, 5, 4, 5
LENGTHS = np.array([6, 4, 1])


def data(seed=0):
    rng = np.random.default_rng(seed)
    memory = rng.normal(size=(B, T, D)).astype(np.float32)
    mask = np.arange(T)[None, :] < LENGTHS[:, None]
    inputs = rng.normal(size=(B, 7, F)).astype(np.float32)
    return memory, mask, inputs


def masked_softmax(scores, mask):
    scores = np.where(mask, scores, -np.inf)
    e = np.exp(scores - scores.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


@pytest.mark.parametrize("attention_layer_size", [None, 3])
@pytest.mark.parametrize("output_attention", [True, False])
def test_two_steps_match_numpy(attention_layer_size, output_attention):
    memory, mask, inputs = data()
    keras.utils.set_random_seed(0)
    cell = AttentionDecoderCell(keras.layers.SimpleRNNCell(UNITS), LuongAttention("dot"),
                                attention_layer_size=attention_layer_size, output_attention=output_attention)
    states = cell.get_initial_state(memory=memory, memory_mask=mask)
    kernel_w = None
    attention = np.zeros((B, attention_layer_size or D), np.float32)
    h = np.zeros((B, UNITS), np.float32)
    for t in range(2):
        output, states = cell(inputs[:, t], states)
        rnn = cell.cell
        if kernel_w is None:
            kernel_w = [np.asarray(w) for w in (rnn.kernel, rnn.recurrent_kernel, rnn.bias)]
        x = np.concatenate([inputs[:, t], attention], -1)  # input feeding
        h = np.tanh(x @ kernel_w[0] + h @ kernel_w[1] + kernel_w[2])
        alignments = masked_softmax(np.einsum("bd,btd->bt", h, memory), mask)
        context = np.einsum("bt,btd->bd", alignments, memory)
        attention = (np.tanh(np.concatenate([h, context], -1) @ np.asarray(cell.attention_layer.kernel))
                     if attention_layer_size else context)
        np.testing.assert_allclose(output, attention if output_attention else h, atol=1e-5)
        np.testing.assert_allclose(states[1], attention, atol=1e-5)
        np.testing.assert_allclose(states[2], alignments, atol=1e-6)
    assert np.all(np.asarray(states[2])[~mask] == 0)  # masked memory gets zero weight


def test_masked_decoder_steps_keep_state_and_history_splits():
    memory, mask, inputs = data()
    keras.utils.set_random_seed(0)
    cell = AttentionDecoderCell(LSTMCell(UNITS), BahdanauAttention(6), alignment_history=True, input_feeding=False)
    rnn = keras.layers.RNN(cell, return_sequences=True, return_state=True)
    decoder_mask = np.arange(7)[None, :] < np.array([[7], [3], [5]])
    outputs, *states = rnn(inputs, initial_state=cell.get_initial_state(memory=memory, memory_mask=mask),
                           mask=decoder_mask)
    outputs, alignments = cell.split_alignments(outputs)
    assert outputs.shape == (B, 7, D) and alignments.shape == (B, 7, T)
    np.testing.assert_allclose(np.asarray(alignments).sum(-1), 1.0, atol=1e-5)
    assert np.all(np.asarray(alignments)[:, :, :][~np.broadcast_to(mask[:, None], alignments.shape)] == 0)
    # The second row stops after 3 steps: its final state is the one after step 3 of an unmasked run.
    short = keras.layers.RNN(cell, return_state=True)(
        inputs[1:2, :3], initial_state=cell.get_initial_state(memory=memory[1:2], memory_mask=mask[1:2]))
    for final, reference in zip(states, short[1:]):
        np.testing.assert_allclose(np.asarray(final)[1:2], reference, atol=1e-5)


def test_keras_cells_and_stacked_cells_are_wrapped():
    memory, mask, inputs = data()
    for inner in (keras.layers.GRUCell(UNITS), keras.layers.StackedRNNCells([keras.layers.LSTMCell(4),
                                                                               keras.layers.LSTMCell(UNITS)])):
        cell = AttentionDecoderCell(inner, LuongAttention("general"), attention_layer_size=4)
        out = keras.layers.RNN(cell, return_sequences=True)(inputs, initial_state=cell.get_initial_state(
            memory=memory, memory_mask=mask))
        assert out.shape == (B, 7, 4) and np.all(np.isfinite(out))


def test_config_round_trip_gives_the_same_outputs():
    memory, mask, inputs = data()
    cell = AttentionDecoderCell(LSTMCell(UNITS), BahdanauAttention(6, normalize=True), attention_layer_size=4)
    rnn = keras.layers.RNN(cell, return_sequences=True)
    expected = rnn(inputs, initial_state=cell.get_initial_state(memory=memory, memory_mask=mask))
    copy = AttentionDecoderCell.from_config(cell.get_config())
    copy_rnn = keras.layers.RNN(copy, return_sequences=True)
    copy_rnn(inputs, initial_state=copy.get_initial_state(memory=memory, memory_mask=mask))
    copy_rnn.set_weights(rnn.get_weights())
    np.testing.assert_allclose(copy_rnn(inputs, initial_state=copy.get_initial_state(memory=memory, memory_mask=mask)),
                               expected, atol=1e-6)


def test_bad_input_is_named():
    memory, mask, _ = data()
    cell = AttentionDecoderCell(LSTMCell(UNITS), LuongAttention())
    with pytest.raises(ValueError, match=r"get_initial_state\(memory"):
        keras.layers.RNN(cell)(np.zeros((B, 2, F), "float32"))
    with pytest.raises(ValueError, match="needs its memory"):
        keras.layers.RNN(AttentionDecoderCell(LSTMCell(UNITS), LuongAttention(), memory_depth=D))(
            np.zeros((B, 2, F), "float32"))
    with pytest.raises(ValueError, match="memory_mask"):
        cell.get_initial_state(memory=memory, memory_mask=mask[:, :3])
    cell.get_initial_state(memory=memory)
    with pytest.raises(ValueError, match="memory_depth 5"):
        cell.get_initial_state(memory=memory[..., :2])
    with pytest.raises(ValueError, match="cell_state"):
        cell.get_initial_state(memory=memory, cell_state=[np.zeros((B, UNITS), "float32")])
    with pytest.raises(ValueError, match="dropout"):
        AttentionDecoderCell(keras.layers.LSTMCell(4, dropout=0.1), LuongAttention())
    with pytest.raises(TypeError, match="AttentionMechanism"):
        AttentionDecoderCell(LSTMCell(4), keras.layers.Dense(3))
    with pytest.raises(ValueError, match="KerasTensor"):
        cell.get_initial_state(memory=keras.Input((None, D)))
    with pytest.raises(ValueError, match="attention_layer_size"):
        AttentionDecoderCell(LSTMCell(4), LuongAttention(), attention_layer_size=0)
