"""resumable_fit after a kill while Keras wrote its backup: it continues from the previous one, exactly."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from recipes import _resume

STEPS = 4


def _model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="tanh"), keras.layers.Dense(1)])
    model.compile(keras.optimizers.Adam(0.05), "mse")
    return model


def _stream():
    x = np.random.default_rng(1).normal(size=(64, 3)).astype("float32")
    return tf.data.Dataset.from_tensor_slices((x, x.sum(1, keepdims=True))).repeat().batch(8)


def _fit(out, epochs):
    model = _model()
    history = _resume.resumable_fit(model, _stream(), "train", str(out), epochs, STEPS, verbose=0)
    return model, history


def _killed_while_writing(backup, what):
    """The backup dir as a kill at the end of epoch 2 leaves it: Keras had copied epoch 1's backup to `.bkp`,
    then was writing epoch 2's weights (in place) or, after them, its metadata."""
    metadata, weights = backup / "training_metadata.json", backup / "latest.weights.h5"
    assert json.loads(metadata.read_text())["epoch"] == 2
    assert json.loads((backup / "training_metadata.json.bkp").read_text())["epoch"] == 1
    if what == "weights":
        weights.write_bytes(weights.read_bytes()[:1000])
        metadata.write_text((backup / "training_metadata.json.bkp").read_text())
    else:
        metadata.write_text("")


@pytest.mark.parametrize("what", ["weights", "metadata"])
def test_a_kill_mid_backup_resumes_from_the_previous_backup_exactly(tmp_path, what):
    straight, history = _fit(tmp_path / "straight", 3)
    killed = tmp_path / "killed"
    _fit(killed, 2)
    _killed_while_writing(killed / "backup_train", what)
    (killed / "train_log.csv").write_text((killed / "train_log.csv").read_text())  # Both epochs were logged.
    resumed, resumed_history = _fit(killed, 3)
    for a, b in zip(straight.get_weights(), resumed.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    assert resumed_history["loss"] == pytest.approx(history["loss"], rel=1e-6)
