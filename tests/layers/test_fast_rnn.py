import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_dl import export
from keras_dl.layers import GRU
from keras_dl.layers import LSTM

B, T, D, H = 3, 9, 4, 6
PAIRS = {"lstm": (LSTM, keras.layers.LSTM), "gru": (GRU, keras.layers.GRU)}


def pair(name, **kwargs):
    """A keras_dl layer and Keras' own, both built, with the same random weights."""
    keras.utils.set_random_seed(0)
    ours_cls, keras_cls = PAIRS[name]
    ours, theirs = ours_cls(H, **kwargs), keras_cls(H, **kwargs)
    x = np.zeros((1, T, D), np.float32)
    ours(x), theirs(x)
    rng = np.random.default_rng(0)
    theirs.set_weights([w + rng.normal(0, 0.4, w.shape).astype(np.float32) for w in theirs.get_weights()])
    ours.set_weights(theirs.get_weights())
    return ours, theirs


@pytest.fixture
def x():
    return tf.constant(np.random.default_rng(1).normal(size=(B, T, D)).astype(np.float32))


def gradients(layer, x, loss_fn, extra=()):
    with tf.GradientTape() as tape:
        tape.watch(x)
        for e in extra:
            tape.watch(e)
        loss = loss_fn(layer)
    return tape.gradient(loss, [*layer.trainable_weights, x, *extra])


@pytest.mark.parametrize("training", [True, False], ids=["hand_derived_backward", "step_loop"])
@pytest.mark.parametrize("name", PAIRS)
def test_outputs_states_and_gradients_match_keras(name, training, x):
    ours, theirs = pair(name, return_sequences=True, return_state=True)
    for a, b in zip(ours(x, training=training), theirs(x)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-5)

    # training=True runs the hand-derived backward pass; compare it with autodiff through
    # Keras' loop: through every output, and through the final state(s) alone.
    def through_outputs(layer):
        return tf.reduce_sum(layer(x, training=training)[0] ** 2)

    def through_final_states(layer):
        return sum(tf.reduce_sum(s**3) for s in layer(x, training=training)[1:])

    for loss_fn in (through_outputs, through_final_states):
        for a, b in zip(gradients(ours, x, loss_fn), gradients(theirs, x, loss_fn)):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-5)


@pytest.mark.parametrize("name", PAIRS)
def test_fast_layer_matches_the_cell_by_cell_layer(name, x):
    ours, _ = pair(name, return_sequences=True)
    step_by_step = keras.layers.RNN(ours.cell, return_sequences=True)
    np.testing.assert_allclose(np.asarray(ours(x)), np.asarray(step_by_step(x)), atol=1e-5)


@pytest.mark.parametrize("training", [True, False], ids=["hand_derived_backward", "step_loop"])
@pytest.mark.parametrize("name", PAIRS)
def test_initial_state_and_its_gradient_match_keras(name, training, x):
    ours, theirs = pair(name)
    rng = np.random.default_rng(2)
    states = [tf.constant(rng.normal(size=(B, H)).astype(np.float32)) for _ in range(2 if name == "lstm" else 1)]

    def loss_fn(layer):
        return tf.reduce_sum(layer(x, initial_state=states, training=training) ** 2)

    for a, b in zip(gradients(ours, x, loss_fn, states), gradients(theirs, x, loss_fn, states)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-5)


@pytest.mark.parametrize("name", PAIRS)
def test_masked_inputs_match_keras(name, x):
    ours, theirs = pair(name)
    mask = np.arange(T)[None, :] < np.array([[T], [4], [1]])
    np.testing.assert_allclose(np.asarray(ours(x, mask=mask)), np.asarray(theirs(x, mask=mask)), atol=1e-5)


@pytest.mark.parametrize("name", PAIRS)
def test_xla_training_step_equals_the_plain_one(name, x):
    y = np.random.default_rng(3).normal(size=(B, H)).astype(np.float32)
    weights = []
    for jit in (False, True):
        ours, _ = pair(name)
        model = keras.Sequential([keras.Input((T, D)), ours])
        model.compile(keras.optimizers.SGD(0.1), "mse", jit_compile=jit)
        model.train_on_batch(x, y)
        weights.append([np.asarray(w) for w in model.weights])
    for a, b in zip(*weights):
        np.testing.assert_allclose(a, b, atol=1e-5)


@pytest.mark.parametrize("name", PAIRS)
def test_keras_file_round_trip(name, x, tmp_path):
    ours, _ = pair(name, return_sequences=True)
    model = keras.Sequential([keras.Input((T, D)), ours])
    model.save(str(tmp_path / "m.keras"))
    loaded = keras.models.load_model(str(tmp_path / "m.keras"))
    assert type(loaded.layers[0]) is type(ours)
    np.testing.assert_array_equal(np.asarray(loaded(x)), np.asarray(model(x)))


@pytest.mark.parametrize("name", PAIRS)
def test_fast_layer_exports_through_its_cell(name, x, tmp_path):
    ours, _ = pair(name, return_sequences=True)
    sequence = export.TFLiteModel(export.export_tflite(export.recurrent_sequence_model(ours.cell, T, D, batch_size=B),
                                                       str(tmp_path / "seq.tflite")))
    assert not [op for op in sequence.op_names if op.startswith("Flex") or op == "WHILE"]
    np.testing.assert_allclose(sequence({"inputs": np.asarray(x)})["outputs"], np.asarray(ours(x)), atol=1e-5)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match=r"inputs of shape \[batch, time, features\]"):
        LSTM(4)(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match="`units`"):
        GRU(0)
