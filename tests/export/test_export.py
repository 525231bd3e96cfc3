import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from keras_dl import export
from keras_dl.models import RNNLanguageModel

UNITS = 32


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(3)
    lm = RNNLanguageModel(vocabulary_size=256, embedding_dim=16, units=UNITS)
    lm.build((None, None))
    lm.rnn.cell.recurrent_kernel.assign(np.random.default_rng(3).normal(0, 0.4, (UNITS, 3 * UNITS)).astype(np.float32))
    return lm


@pytest.fixture(scope="module")
def tflite_path(model, tmp_path_factory):
    return export.export_lm_tflite(model, str(tmp_path_factory.mktemp("tflite") / "step.tflite"))


def test_tflite_step_model_uses_builtin_ops_only(tflite_path):
    ops = export.TFLiteModel(tflite_path).op_names
    assert "FULLY_CONNECTED" in ops and "GATHER" in ops
    # Gates come apart with one SPLIT where Keras' cell takes three slices (STRIDED_SLICE).
    assert "SPLIT" in ops and "STRIDED_SLICE" not in ops
    # The token lookup is one GATHER, without Keras' negative-index fix-up.
    assert not {"LESS", "SELECT_V2"} & set(ops)
    assert not [op for op in ops if op.startswith("Flex") or op in ("CUSTOM", "DELEGATE")]


@pytest.mark.parametrize("default_delegates", [True, False])
def test_tflite_matches_keras_over_a_200_step_generated_sequence(model, tflite_path, default_delegates):
    tflite = export.TFLiteModel(tflite_path, default_delegates=default_delegates)
    check = export.verify_lm_tflite(model, tflite, steps=200)
    assert check["max_abs_logit_diff"] < 1e-4 and check["argmax_agreement"] == 1.0


def test_verification_catches_a_wrong_export(model, tflite_path):
    other = RNNLanguageModel(vocabulary_size=256, embedding_dim=16, units=UNITS)
    other.build((None, None))
    check = export.verify_lm_tflite(other, tflite_path, steps=50)
    assert check["max_abs_logit_diff"] > 1e-2 and check["argmax_agreement"] < 0.5


def test_tflite_runner_rejects_bad_input(tflite_path, tmp_path):
    tflite = export.TFLiteModel(tflite_path)
    with pytest.raises(ValueError, match="`inputs` must have the keys"):
        tflite({"token": np.zeros(1, np.int32)})
    with pytest.raises(TypeError, match="`inputs` must be a dict"):
        tflite([np.zeros(1, np.int32), np.zeros((1, UNITS), np.float32)])
    with pytest.raises(ValueError, match=r"`inputs\['state'\]` must have shape \[1, 32\]"):
        tflite({"token": np.zeros(1, np.int32), "state": np.zeros((2, UNITS), np.float32)})
    (tmp_path / "notes.tflite").write_text("not a model")
    with pytest.raises(ValueError, match="`model` is not a TFLite file"):
        export.TFLiteModel(str(tmp_path / "notes.tflite"))
    with pytest.raises(ValueError, match="`signature`"):
        export.TFLiteModel(tflite_path, signature="nope")
    with pytest.raises(FileNotFoundError, match="`model`"):
        export.TFLiteModel(str(tmp_path / "missing.tflite"))
    with pytest.raises(ValueError, match="`path` must end with '.tflite'"):
        export.export_tflite(keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]), str(tmp_path / "x.bin"))


def test_tflite_latency_is_positive_and_inputs_are_zero_filled(tflite_path):
    tflite = export.TFLiteModel(tflite_path)
    inputs = tflite.zero_inputs()
    assert inputs["state"].shape == (1, UNITS) and inputs["token"].dtype == np.int32
    assert 0 < tflite.median_latency(inputs, runs=20, warmup=2) < 0.1


class _ScriptedTimer:
    """A stand-in runner whose `median_latency` returns scripted values and records the call order."""

    def __init__(self, name, values, calls):
        self.name, self.values, self.calls = name, iter(values), calls

    def zero_inputs(self):
        return {}

    def median_latency(self, inputs, runs):
        self.calls.append((self.name, runs))
        return next(self.values)


def test_interleaved_latencies_alternate_the_models_and_take_the_median_of_rounds():
    calls, rounds_done = [], []
    models = {"dense": _ScriptedTimer("dense", [5.0, 1.0, 3.0], calls),
              "sparse": _ScriptedTimer("sparse", [9.0, 2.0, 2.5], calls)}
    timed = export.interleaved_latencies(models, runs=30, rounds=3, progress=rounds_done.append)
    assert timed == {"dense": 3.0, "sparse": 2.5}
    assert calls == [("dense", 10), ("sparse", 10)] * 3 and rounds_done == [0, 1, 2]
    with pytest.raises(ValueError, match="`rounds`"):
        export.interleaved_latencies(models, rounds=0)
    with pytest.raises(ValueError, match="`runs`"):
        export.interleaved_latencies(models, runs=-1)


_SERVING_CLIENT = r"""
import json, sys
import numpy as np
import tensorflow as tf
loaded = tf.saved_model.load(sys.argv[1])
tokens = np.load(sys.argv[2])
serve = loaded.signatures["serving_default"]
step = loaded.signatures["step"]
logits = serve(tokens=tf.constant(tokens))["logits"].numpy()
out = step(token=tf.constant(tokens[:, 0]), state=tf.zeros([tokens.shape[0], %d]))
np.save(sys.argv[3], logits)
np.save(sys.argv[4], out["logits"].numpy())
print(json.dumps({"keras_dl_imported": any(m.startswith("keras_dl") for m in sys.modules),
                  "signatures": sorted(loaded.signatures)}))
""" % UNITS


def test_saved_model_serves_in_a_process_without_keras_dl(model, tmp_path):
    path = export.export_lm_saved_model(model, str(tmp_path / "saved_model"))
    tokens = np.random.default_rng(4).integers(0, 256, size=(2, 9))  # int64, as NumPy and REST clients send
    np.save(tmp_path / "tokens.npy", tokens)
    result = subprocess.run(
        [sys.executable, "-c", _SERVING_CLIENT, path, str(tmp_path / "tokens.npy"),
         str(tmp_path / "logits.npy"), str(tmp_path / "step.npy")],
        capture_output=True, text=True, check=True, cwd=str(tmp_path),
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report == {"keras_dl_imported": False, "signatures": ["serving_default", "step"]}
    expected = np.asarray(model(tokens))
    np.testing.assert_allclose(np.load(tmp_path / "logits.npy"), expected, atol=1e-5)
    np.testing.assert_allclose(np.load(tmp_path / "step.npy"), expected[:, 0], atol=1e-5)
