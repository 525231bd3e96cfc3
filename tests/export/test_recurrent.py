import keras
import numpy as np
import pytest

from keras_dl import export
from keras_dl.layers import ClockworkCell
from keras_dl.layers import EchoStateCell
from keras_dl.layers import DelayCell
from keras_dl.layers import ElmanCell
from keras_dl.layers import GRUCell
from keras_dl.layers import LeakyCell
from keras_dl.layers import LSTMCell
from keras_dl.layers import OrthogonalCell

T, D, H = 12, 4, 8

CELLS = {
    "elman": lambda: ElmanCell(H),
    "irnn": lambda: ElmanCell(H, irnn=True),
    "lstm_peephole_ln_cifg": lambda: LSTMCell(H, peepholes=True, layer_norm=True, coupled=True),
    "lstm": lambda: LSTMCell(H),
    "gru_reset_after": lambda: GRUCell(H),
    "gru_reset_before": lambda: GRUCell(H, reset_after=False),
    "leaky": lambda: LeakyCell(H, time_constants=(1, 20), seed=0),
    "clockwork": lambda: ClockworkCell(H, periods=(1, 2, 4, 8)),
    "orthogonal": lambda: OrthogonalCell(H, negative_eigenvalues=3),
    "echo_state": lambda: EchoStateCell(H, connectivity=0.5, leak_rate=0.5, seed=0),
    "delay": lambda: DelayCell(H, delays=(1, 4)),
}


def built_cell(name):
    cell = CELLS[name]()
    keras.layers.RNN(cell).build((None, T, D))
    rng = np.random.default_rng(0)
    for w in cell.weights:
        w.assign((rng.uniform(0.05, 1, w.shape) if w.name == "leak" else rng.normal(0, 0.5, w.shape)).astype(np.float32))
    return cell


def assert_builtin_only(tflite):
    assert "FULLY_CONNECTED" in tflite.op_names
    assert not [op for op in tflite.op_names if op.startswith("Flex") or op in ("CUSTOM", "DELEGATE", "WHILE")]


@pytest.mark.parametrize("name", CELLS)
def test_sequence_form_converts_with_builtins_and_matches_keras(name, tmp_path):
    cell = built_cell(name)
    model = export.recurrent_sequence_model(cell, T, D)
    tflite = export.TFLiteModel(export.export_tflite(model, str(tmp_path / "seq.tflite")))
    assert_builtin_only(tflite)
    x = np.random.default_rng(1).normal(size=(1, T, D)).astype(np.float32)
    expected = np.asarray(keras.layers.RNN(cell, return_sequences=True)(x))
    np.testing.assert_allclose(tflite({"inputs": x})["outputs"], expected, atol=1e-5)


@pytest.mark.parametrize("name", CELLS)
def test_step_form_converts_with_builtins_and_streams_like_the_sequence(name, tmp_path):
    cell = built_cell(name)
    tflite = export.TFLiteModel(export.export_tflite(export.recurrent_step_model(cell, D), str(tmp_path / "step.tflite")))
    assert_builtin_only(tflite)
    x = np.random.default_rng(2).normal(size=(1, T, D)).astype(np.float32)
    expected = np.asarray(keras.layers.RNN(cell, return_sequences=True)(x))
    feeds = tflite.zero_inputs()
    for t in range(T):
        feeds["inputs"] = x[:, t]
        result = tflite(feeds)
        feeds.update({k: v for k, v in result.items() if k.startswith("state_")})
        np.testing.assert_allclose(result["outputs"], expected[:, t], atol=1e-5)


def test_recurrent_export_models_reject_bad_sizes():
    cell = built_cell("gru_reset_after")
    with pytest.raises(ValueError, match="`timesteps`"):
        export.recurrent_sequence_model(cell, 0, D)
    with pytest.raises(TypeError, match="`input_dim`"):
        export.recurrent_step_model(cell, None)
