"""Pruning state survives saving, loading in a fresh process and BackupAndRestore; tfmot's semantics."""

import json
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from keras_dl.layers import GRUCell
from keras_dl.layers import LSTMCell
from keras_dl.layers import OrthogonalCell
from keras_dl.sparsity import ConstantSparsity
from keras_dl.sparsity import MagnitudePruning
from keras_dl.sparsity import PolynomialDecay
from keras_dl.sparsity import PrunableWeight
from keras_dl.sparsity import prune_low_magnitude
from keras_dl.sparsity import pruning_constraints

# Trains a pruned model (Embedding, a keras_dl LSTM cell, Keras' GRU, a Dense head) for
# `steps` steps of a ramp that ends at step 12, from `start` (a .keras file) or from scratch,
# then saves it and its masks and steps. Deterministic: fixed seeds and data, one thread.
SCRIPT = """
import json, sys
import numpy as np, tensorflow as tf
tf.config.threading.set_inter_op_parallelism_threads(1)
tf.config.threading.set_intra_op_parallelism_threads(1)
import keras
import keras_dl
from keras_dl.layers import LSTMCell
from keras_dl.sparsity import PolynomialDecay, prune_low_magnitude, pruning_constraints

start, steps, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rng = np.random.default_rng(0)
x = rng.integers(0, 16, (8, 5)).astype("int32")
y = rng.normal(size=(8, 3)).astype("float32")
if start == "-":
    keras.utils.set_random_seed(0)
    inputs = keras.Input((5,), dtype="int32")
    h = keras.layers.Embedding(16, 8)(inputs)
    h = keras.layers.RNN(LSTMCell(8), return_sequences=True)(h)
    h = keras.layers.GRU(8)(h)
    model = keras.Model(inputs, keras.layers.Dense(3)(h))
    prune_low_magnitude(model, PolynomialDecay(0.0, 0.75, begin_step=2, end_step=12, frequency=2), block_size=(4, 1))
    model.compile(keras.optimizers.Adam(0.01), "mse")
else:
    model = keras.models.load_model(start)
for _ in range(steps):
    model.train_on_batch(x, y)
model.save(out + ".keras")
state = {c.mask.path: np.asarray(c.mask).tolist() for c in pruning_constraints(model)}
state.update({c.step.path: int(c.step.numpy()) for c in pruning_constraints(model)})
state["weights"] = [np.asarray(w).tolist() for w in model.trainable_weights]
json.dump(state, open(out + ".json", "w"))
"""


def _train(tmp_path, start, steps, out):
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(SCRIPT))
    result = subprocess.run([sys.executable, str(script), start, str(steps), str(tmp_path / out)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    with open(tmp_path / f"{out}.json") as f:
        return json.load(f)


def test_saved_mid_ramp_a_pruned_model_continues_in_a_fresh_process_exactly_like_an_uninterrupted_run(tmp_path):
    straight = _train(tmp_path, "-", 16, "straight")
    _train(tmp_path, "-", 7, "first")  # Mid-ramp: pruned at steps 2, 4 and 6 of 2..12.
    resumed = _train(tmp_path, str(tmp_path / "first.keras"), 9, "resumed")
    masks = [key for key in straight if key.endswith("/mask")]
    assert len(masks) == 6  # Embedding, two LSTM and two GRU matrices, the head.
    assert set(resumed) == set(straight)
    for key in masks:
        assert resumed[key] == straight[key], key
        assert 0.6 <= 1 - np.mean(straight[key]) <= 0.8, key  # 75% at the ramp's end, rounded to whole blocks.
    assert {resumed[key] for key in straight if key.endswith("/step")} == {16}
    for a, b in zip(resumed["weights"], straight["weights"]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def _dense_embedding_model():
    keras.utils.set_random_seed(1)
    inputs = keras.Input((4,), dtype="int32")
    h = keras.layers.Flatten()(keras.layers.Embedding(20, 8)(inputs))
    return keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Dense(16, activation="relu")(h)))


def test_backup_and_restore_resumes_a_pruned_dense_and_embedding_model(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 20, (64, 4)).astype("int32"), rng.normal(size=(64, 2)).astype("float32")
    schedule = PolynomialDecay(0.0, 0.8, begin_step=0, end_step=16, frequency=2)

    class StopAfter(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise KeyboardInterrupt

    def run(callbacks):
        model = prune_low_magnitude(_dense_embedding_model(), schedule)
        model.compile(keras.optimizers.SGD(0.05), "mse")
        model.fit(x, y, batch_size=16, epochs=5, shuffle=False, verbose=0, callbacks=callbacks)
        return model

    straight = run([])
    backup = keras.callbacks.BackupAndRestore(str(tmp_path / "backup"))
    with pytest.raises(KeyboardInterrupt):
        run([backup, StopAfter()])
    resumed = run([keras.callbacks.BackupAndRestore(str(tmp_path / "backup"))])
    for a, b in zip(pruning_constraints(resumed), pruning_constraints(straight)):
        np.testing.assert_array_equal(np.asarray(a.mask), np.asarray(b.mask))
        assert int(a.step.numpy()) == int(b.step.numpy()) == 20
    for a, b in zip(resumed.weights, straight.weights):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("shape,block,sparsity", [((10, 1), (1, 1), 0.95), ((32, 2), (16, 1), 0.9)])
def test_at_least_one_block_of_every_weight_survives_like_tfmot(shape, block, sparsity):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((shape[0],)), keras.layers.Dense(shape[1])])
    prune_low_magnitude(model, ConstantSparsity(sparsity, 0, frequency=1), block_size=block)
    model.compile("sgd", "mse")
    model.train_on_batch(np.ones((4, shape[0])), np.ones((4, shape[1])))
    kernel = np.asarray(model.layers[0].kernel)
    assert (kernel != 0).sum() == block[0] * block[1]  # tfmot: k = max(round(n * (1 - s)), 1) blocks kept.
    assert np.std(model.predict(np.random.default_rng(0).normal(size=(8, shape[0])), verbose=0)) > 0


def test_gate_schedules_must_fit_a_pruned_cell():
    def model(cell):
        keras.utils.set_random_seed(0)
        inputs = keras.Input((3, 4))
        return keras.Model(inputs, keras.layers.Dense(1)(keras.layers.RNN(cell)(inputs)))

    four = [ConstantSparsity(0.5, 0)] * 4
    with pytest.raises(ValueError, match="has 4 schedules but no pruned weight has that many gates.*3"):
        prune_low_magnitude(model(GRUCell(4)), ConstantSparsity(0.5, 0), gate_schedules=four)
    with pytest.raises(ValueError, match=r"^`gate_schedules` has 4 schedules but no pruned weight has that many gates; "
                                         r"gated weights: none \(no recurrent cell is pruned\)\.$"):
        dense = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
        prune_low_magnitude(dense, ConstantSparsity(0.5, 0), gate_schedules=four)
    prune_low_magnitude(model(LSTMCell(4)), ConstantSparsity(0.5, 0), gate_schedules=four)  # Fits: accepted.


class _Bilinear(keras.layers.Layer):
    def build(self, shape):
        self.w = self.add_weight(shape=(shape[-1], shape[-1]), name="w")

    def call(self, x):
        return keras.ops.sum(keras.ops.matmul(x, self.w) * x, axis=-1, keepdims=True)


def test_a_layer_with_undeclared_matrices_is_an_error_not_a_silent_skip():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4), _Bilinear()])
    with pytest.raises(ValueError, match=r"^layer '_+bilinear' \(_Bilinear\) has trainable matrices \['.*w'\] but does "
                                         r"not say which may be pruned.*prunable_weights"):
        prune_low_magnitude(model, ConstantSparsity(0.5, 0))
    prune_low_magnitude(model, ConstantSparsity(0.5, 0), layers=[model.layers[0]])  # Left out: fine.


def test_a_declared_layer_prunes_its_own_weight_and_saves(tmp_path):
    @keras.saving.register_keras_serializable(package="test")
    class Declared(keras.layers.Layer):
        def __init__(self, w_constraint=None, **kwargs):
            super().__init__(**kwargs)
            self.w_constraint = keras.constraints.get(w_constraint)

        def prunable_weights(self):
            return [PrunableWeight("w", "w_constraint")]

        def build(self, shape):
            self.w = self.add_weight(shape=(shape[-1], 8), constraint=self.w_constraint, name="w")

        def call(self, x):
            return keras.ops.matmul(x, self.w)

        def get_config(self):
            return {**super().get_config(), "w_constraint": keras.constraints.serialize(self.w_constraint)}

    model = keras.Sequential([keras.Input((8,)), Declared()])
    prune_low_magnitude(model, ConstantSparsity(0.5, 0, frequency=1))
    model.compile("sgd", "mse")
    model.train_on_batch(np.ones((2, 8)), np.ones((2, 8)))
    assert (np.asarray(model.layers[0].w) == 0).mean() == 0.5
    model.save(tmp_path / "declared.keras")
    loaded = keras.models.load_model(tmp_path / "declared.keras")
    assert isinstance(loaded.layers[0].w.constraint, MagnitudePruning)
    np.testing.assert_array_equal(np.asarray(loaded.layers[0].w_constraint.mask),
                                  np.asarray(model.layers[0].w_constraint.mask))


def test_orthogonal_cell_prunes_its_input_kernel_and_says_why_its_cayley_parameter_stays_dense():
    keras.utils.set_random_seed(0)
    cell = OrthogonalCell(8)
    inputs = keras.Input((3, 4))
    model = keras.Model(inputs, keras.layers.RNN(cell)(inputs))
    with pytest.raises(ValueError, match="skew is not prunable: the recurrence multiplies by Q"):
        prune_low_magnitude(model, ConstantSparsity(0.5, 0), weights=[cell.skew])
    prune_low_magnitude(model, ConstantSparsity(0.5, 0))
    assert isinstance(cell.kernel.constraint, MagnitudePruning) and cell.skew.constraint is None


def test_the_weights_of_two_unprunable_matrices_are_each_explained():
    keras.utils.set_random_seed(0)
    first, second = OrthogonalCell(4), OrthogonalCell(4)
    inputs = keras.Input((3, 4))
    model = keras.Model(inputs, keras.layers.RNN(second)(keras.layers.RNN(first, return_sequences=True)(inputs)))
    prunable = [first.kernel.path, second.kernel.path]
    reason = OrthogonalCell.unprunable_weights["skew"]
    with pytest.raises(ValueError) as raised:
        prune_low_magnitude(model, ConstantSparsity(0.5, 0), weights=[first.skew, second.skew])
    assert str(raised.value) == (f"`weights` must be a non-empty list of prunable weights of `model`; prunable: "
                                 f"{prunable}. {first.skew.path} is not prunable: {reason}. {second.skew.path} is not "
                                 f"prunable: {reason}.")
