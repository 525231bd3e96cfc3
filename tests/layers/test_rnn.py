import keras
import numpy as np
import pytest

from keras_dl import export
from keras_dl.layers import GRU
from keras_dl.layers import LSTM

B, T, D, H = 3, 9, 4, 6
PAIRS = {"lstm": (LSTM, keras.layers.LSTM), "gru": (GRU, keras.layers.GRU)}
# Arguments the earlier custom layers rejected; Keras' layers take them all.
EXTRA = dict(dropout=0.2, recurrent_dropout=0.1, go_backwards=True, kernel_regularizer="l2",
             recurrent_regularizer="l1", return_sequences=True, return_state=True)


@pytest.mark.parametrize("name", PAIRS)
def test_is_keras_layer_with_every_argument_and_the_same_config(name):
    ours_cls, keras_cls = PAIRS[name]
    ours, theirs = ours_cls(H, **EXTRA), keras_cls(H, **EXTRA)
    assert isinstance(ours, keras_cls)
    drop = {"name"}
    assert {k: v for k, v in ours.get_config().items() if k not in drop} == \
           {k: v for k, v in theirs.get_config().items() if k not in drop}
    x = np.random.default_rng(0).normal(size=(B, T, D)).astype(np.float32)
    sequences, *states = ours(x, initial_state=None, mask=None, training=False)
    assert sequences.shape == (B, T, H) and len(states) == (2 if name == "lstm" else 1)


@pytest.mark.parametrize("name", PAIRS)
def test_keras_file_round_trip_keeps_the_class(name, tmp_path):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((T, D)), PAIRS[name][0](H, return_sequences=True)])
    model.save(str(tmp_path / "m.keras"))
    loaded = keras.models.load_model(str(tmp_path / "m.keras"))
    assert type(loaded.layers[0]) is PAIRS[name][0]
    x = np.random.default_rng(1).normal(size=(B, T, D)).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(loaded(x)), np.asarray(model(x)))


def test_lstm_still_becomes_litert_fused_lstm_and_gru_converts_to_built_ins(tmp_path):
    keras.utils.set_random_seed(0)
    for layer, form in ((LSTM(H, return_sequences=True), "UNIDIRECTIONAL_SEQUENCE_LSTM"), (GRU(H), "unrolled")):
        model = keras.Sequential([keras.Input((T, D), batch_size=1), layer])
        report = {}
        path = export.export_tflite(model, str(tmp_path / f"{layer.name}.tflite"), report=report)
        assert [entry["form"] for entry in report.values()] == [form]
        assert not [op for op in export.TFLiteModel(path).op_names if op.startswith("Flex")]
        assert export.verify_tflite(model, path)["max_abs_diff"] < 1e-5
