"""The layer contract every public keras_dl layer, cell and model passes (Keras' `run_layer_test` is the model).

A `Case` says how to build a model around the class under test (a cell inside
`keras.layers.RNN`, a layer in a functional model, a model as it is), what to feed it and
what comes out. `run_contract(case, check)` runs one check:

- `shapes`: the documented output shapes and dtypes (float32).
- `config`: `get_config` -> `from_config` gives the same config and, with the same weights,
  the same outputs; the whole model survives `serialize_keras_object` the same way.
- `saving`: `.keras` round trip of a model trained one step: the same outputs, and the same
  weights, non-trainable state (pruning masks and steps, seed states) and optimizer state.
- `training`: one `fit` step changes every trainable weight (none are dead) with a finite loss.
- `masking`: (where supported) a batch padded in front and masked gives the unpadded outputs
  (and unmasked it does not).
- `mixed_float16`, `mixed_bfloat16`: outputs in the policy's compute dtype,
  finite, and a finite training step.
- `seeds`: `keras.utils.set_random_seed` makes weights and training-mode outputs (dropout)
  reproducible, and another seed changes them.
- `tflite`: (for classes meant for a phone) converts with LiteRT built-in ops only and
  matches Keras numerically (`verify_tflite`).
"""

import copy
import dataclasses
from typing import Any
from typing import Callable

import keras
import numpy as np
from keras import tree

CHECKS = ("shapes", "config", "saving", "training", "masking", "mixed_float16", "mixed_bfloat16", "seeds", "tflite")
B, T, D = 2, 5, 3
PAD = 5.0  # The masked value: not 0, which leaves a zero state unchanged in cells without bias.


@dataclasses.dataclass
class Case:
    """How to hold one public class to the contract.

    Args:
        make: returns a fresh instance of the class under test (called after seeding).
        model: turns that instance into a built model to run (default: the instance itself).
        inputs: `rng -> batch` fed to the model.
        output_shapes: the model's output shapes (nested like its outputs).
        mask: supports masking; then `model(instance, masking=True)` puts a `Masking` layer in front.
        random_init: building draws random weights (so another seed changes them).
        phone: meant for LiteRT: convert and compare.
        tflite_model: builds the model to export (default: `model` at batch 1).
        tflite_tolerance: max abs difference allowed between Keras and LiteRT.
        compile: compiles the model for the training checks (default: Adam(0.01) and MSE); models with
            their own `compile` signature (a GAN's two optimizers) pass theirs.
        train_data: `rng -> x` or `(x, y)` for one `train_on_batch` (default: `inputs` with zero targets of
            the outputs' shapes); for models whose training data is not what `call` takes (a GAN's images).
    """

    make: Callable[[], Any]
    inputs: Callable[[np.random.Generator], Any]
    output_shapes: Any
    model: Callable[[Any], keras.Model] = None
    mask: bool = False
    random_init: bool = True
    phone: bool = False
    tflite_model: Callable[[Any], keras.Model] = None
    tflite_tolerance: float = 1e-4
    compile: Callable[[keras.Model], None] = None
    train_data: Callable[[np.random.Generator], Any] = None

    def build(self, seed=0):
        keras.utils.set_random_seed(seed)
        instance = self.make()
        model = self.model(instance) if self.model else instance
        model(self.inputs(np.random.default_rng(0)))
        return instance, model


def sequence_inputs(rng, batch=B, steps=T, features=D):
    return rng.normal(size=(batch, steps, features)).astype(np.float32)


def in_model(layer, masking=False):
    """A functional model running `layer` over `[batch, T, D]` sequences (zero steps masked if `masking`)."""
    inputs = keras.Input((None, D))
    return keras.Model(inputs, layer(keras.layers.Masking(PAD)(inputs) if masking else inputs))


def in_rnn(cell, masking=False):
    """A functional model running `cell` in `keras.layers.RNN` over `[batch, T, D]` sequences."""
    return in_model(keras.layers.RNN(cell, return_sequences=True), masking)


def _numpy(outputs):
    return [np.asarray(keras.ops.convert_to_numpy(o)).astype(np.float64) for o in tree.flatten(outputs)]


def _assert_same(a, b, atol=0.0):
    for x, y in zip(_numpy(a), _numpy(b), strict=True):
        np.testing.assert_allclose(x, y, atol=atol, rtol=0)


def _compile(model):
    model.compile(keras.optimizers.Adam(0.01), "mse")


def _targets(outputs):
    return tree.map_structure(lambda o: np.zeros(o.shape, np.float32), outputs)


def _train_step(case, model, x):
    """Compiles `model` and trains it one step; returns whether every logged value is finite."""
    (case.compile or _compile)(model)
    data = case.train_data(np.random.default_rng(2)) if case.train_data else (x, _targets(model(x)))
    logs = model.train_on_batch(*(data if isinstance(data, tuple) else (data,)), return_dict=True)
    return all(np.isfinite(float(value)) for value in logs.values())


def _optimizers(model):
    """`model.optimizer` and any other optimizer the model holds as an attribute (a GAN's second one)."""
    found = {"optimizer": model.optimizer}
    found.update({name: value for name, value in vars(model).items()
                  if isinstance(value, keras.optimizers.Optimizer) and value is not model.optimizer})
    return found


def check_shapes(case):
    _, model = case.build()
    outputs = model(case.inputs(np.random.default_rng(1)))
    assert tree.map_structure(lambda o: tuple(o.shape), outputs) == case.output_shapes
    assert all(o.dtype == "float32" for o in tree.flatten(outputs))


def check_config(case):
    instance, model = case.build()
    config = instance.get_config()
    clone = type(instance).from_config(copy.deepcopy(config))
    assert clone.get_config() == config
    x = case.inputs(np.random.default_rng(1))
    twin = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(model))
    twin(x)
    twin.set_weights(model.get_weights())
    _assert_same(twin(x), model(x))


def check_saving(case, tmp_path):
    _, model = case.build()
    x = case.inputs(np.random.default_rng(1))
    _train_step(case, model, x)  # Mid-training: optimizer slots and any pruning masks and steps exist.
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded) is type(model)
    _assert_same(loaded(x), model(x))
    _assert_same(loaded.weights, model.weights)  # Non-trainable state too: masks, steps, seed states.
    optimizers, loaded_optimizers = _optimizers(model), _optimizers(loaded)
    assert loaded_optimizers.keys() == optimizers.keys()
    for name, optimizer in optimizers.items():
        _assert_same(loaded_optimizers[name].variables, optimizer.variables)


def check_training(case):
    _, model = case.build()
    x = case.inputs(np.random.default_rng(1))
    before = {w.path: np.asarray(w) for w in model.trainable_weights}
    assert before, "no trainable weights"
    assert _train_step(case, model, x)
    unchanged = [w.path for w in model.trainable_weights if np.array_equal(np.asarray(w), before[w.path])]
    assert not unchanged, unchanged


def check_masking(case):
    instance, model = case.build()
    x = case.inputs(np.random.default_rng(1))
    padded = np.concatenate([np.full((x.shape[0], 3, x.shape[2]), PAD, np.float32), x], axis=1)  # Padded in front.
    masked = case.model(instance, masking=True)
    # A masked step keeps the state, so the padding leaves the start state as it was.
    _assert_same(masked(padded)[:, 3:], model(x), atol=1e-6)
    assert not np.allclose(np.asarray(model(padded)[:, 3:]), np.asarray(model(x)), atol=1e-6), "padding had no effect"


def check_mixed_precision(case, policy):
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        _, model = case.build()
        x = case.inputs(np.random.default_rng(1))
        outputs = tree.flatten(model(x))
        expected = policy.split("_")[1]
        assert [o.dtype for o in outputs] == [expected] * len(outputs)
        assert all(np.all(np.isfinite(n)) for n in _numpy(outputs))
        assert _train_step(case, model, x)
    finally:
        keras.config.set_dtype_policy(previous)


def check_seeds(case):
    def run(seed):
        _, model = case.build(seed)
        keras.utils.set_random_seed(seed)
        return _numpy(model.weights), _numpy(model(case.inputs(np.random.default_rng(1)), training=True))

    (w1, o1), (w2, o2), (w3, _) = run(3), run(3), run(4)
    _assert_same(w1, w2)
    _assert_same(o1, o2)
    if case.random_init:
        assert any(not np.array_equal(a, b) for a, b in zip(w1, w3)), "another seed gave the same weights"


def check_tflite(case, tmp_path):
    if not case.phone:
        return
    from keras_dl.export import TFLiteModel
    from keras_dl.export import export_tflite
    from keras_dl.export import verify_tflite

    instance, _ = case.build()
    model = case.tflite_model(instance) if case.tflite_model else case.build()[1]
    path = export_tflite(model, str(tmp_path / "model.tflite"))
    ops = TFLiteModel(path).op_names
    assert not [op for op in ops if op.startswith("Flex") or op == "CUSTOM"], ops
    assert verify_tflite(model, path)["max_abs_diff"] < case.tflite_tolerance


def run_contract(case, check, tmp_path):
    if check == "shapes":
        check_shapes(case)
    elif check == "config":
        check_config(case)
    elif check == "saving":
        check_saving(case, tmp_path)
    elif check == "training":
        check_training(case)
    elif check == "masking":
        check_masking(case)
    elif check.startswith("mixed"):
        check_mixed_precision(case, check)
    elif check == "seeds":
        check_seeds(case)
    elif check == "tflite":
        check_tflite(case, tmp_path)
    else:
        raise ValueError(f"unknown check {check!r}")
