"""train_digit_classifier with a recording `fit` (no training): what it trains on, how it is compiled, what it saves
and returns; its shift augmentation exactly. The recipe test (tests/recipes) trains it for real."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_dl import data
from keras_dl import metrics
from keras_dl.data import pipelines
from keras_dl.metrics import generative


def test_shifts_move_each_image_by_0_to_4_pixels_of_its_2_pixel_zero_padding():
    images = np.random.default_rng(0).uniform(size=(400, 28, 28, 1)).astype(np.float32)
    seed = tf.constant([3, 4], tf.int64)
    shifted = np.asarray(generative._shifted(tf.constant(images), seed))
    padded = np.pad(images, [(0, 0), (2, 2), (2, 2), (0, 0)])
    offsets = set()
    for source, out in zip(padded, shifted):
        matches = [(r, c) for r in range(5) for c in range(5) if np.array_equal(source[r:r + 28, c:c + 28], out)]
        assert len(matches) == 1
        offsets.add(matches[0])
    assert offsets == {(r, c) for r in range(5) for c in range(5)}  # every shift of -2..2 in both axes
    np.testing.assert_array_equal(generative._shifted(tf.constant(images), seed), shifted)
    assert not np.array_equal(generative._shifted(tf.constant(images), tf.constant([3, 5], tf.int64)), shifted)


def _record(tmp_path, data_dir, **kwargs):
    calls = {}

    def fit(model, train, **fit_kwargs):
        calls.update(model=model, train=train, kwargs=fit_kwargs, weights=model.get_weights())
        return {"loss": [2.0, 1.5], "accuracy": [0.25, 0.5]}

    result = metrics.train_digit_classifier(str(tmp_path / "c.keras"), data_dir=data_dir, fit=fit, **kwargs)
    return calls, result


def test_training_is_set_up_as_documented_and_the_saved_file_is_the_model_without_its_optimizer(tmp_path, data_dir,
                                                                                               monkeypatch):
    data_dirs, load = [], pipelines.load_builder
    for module in (data, pipelines):
        monkeypatch.setattr(module, "load_builder", lambda name, where=None, **config: data_dirs.append(where) or load(
            name, where, **config))
    calls, result = _record(tmp_path, data_dir, epochs=3, batch_size=100, learning_rate=1e-3, seed=5, verbose=2)
    monkeypatch.undo()
    assert data_dirs == [data_dir] * 4  # train, validation, test, and the train split's size: all from `data_dir`
    model, kwargs = calls["model"], calls["kwargs"]
    assert calls["train"].cardinality() == tf.data.INFINITE_CARDINALITY  # repeated, as steps_per_epoch needs
    validation = kwargs.pop("validation_data")
    assert kwargs == {"epochs": 3, "steps_per_epoch": 40, "shuffle": False, "verbose": 2}  # 4,000 digits / 100
    images, labels = next(iter(validation))
    expected_images, expected_labels = data.digits_arrays("mnist", "validation")
    np.testing.assert_array_equal(images, expected_images / np.float32(255.0))
    np.testing.assert_array_equal(labels, expected_labels)
    # Batch i is batch i of the seeded shuffle, shifted with (seed, i).
    raw = data.digits_dataset("mnist", "train", batch_size=100, with_labels=True, shuffle=True, repeat=True, seed=5,
                              data_dir=data_dir)
    for i, ((x, y), (raw_x, raw_y)) in enumerate(zip(calls["train"].take(2), raw.take(2))):
        np.testing.assert_array_equal(x, generative._shifted(raw_x, tf.constant([5, i], tf.int64)))
        np.testing.assert_array_equal(y, raw_y)
    compiled = model.get_compile_config()
    schedule = compiled["optimizer"]["config"]["learning_rate"]
    assert compiled["optimizer"]["class_name"] == "Adam" and schedule["class_name"] == "CosineDecay"
    assert schedule["config"]["initial_learning_rate"] == 1e-3 and schedule["config"]["decay_steps"] == 120
    assert schedule["config"]["alpha"] == 0.0  # down to 0
    assert compiled["loss"]["class_name"] == "SparseCategoricalCrossentropy"
    assert compiled["loss"]["config"]["from_logits"] is True and compiled["metrics"] == ["accuracy"]
    # The file: the model's weights, no optimizer; the result: its accuracies, the fit's history.
    saved = keras.models.load_model(tmp_path / "c.keras", compile=False)
    assert getattr(saved, "optimizer", None) is None
    for got, trained in zip(saved.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(got, trained)
    accuracies = {}
    for split in ("validation", "test"):
        x, y = data.digits_arrays("mnist", split)
        accuracies[split] = float(np.mean(np.argmax(saved.predict(x / 255.0, verbose=0), -1) == y))
    seconds = result.pop("seconds")
    assert 0.0 <= seconds < 60.0
    assert result == {"test_accuracy": pytest.approx(accuracies["test"], abs=1e-6),
                      "validation_accuracy": pytest.approx(accuracies["validation"], abs=1e-6), "epochs": 2,
                      "params": model.count_params(), "history": {"loss": [2.0, 1.5], "accuracy": [0.25, 0.5]}}
    assert 150_000 < result["params"] < 170_000  # "about 160,000 weights"


def test_defaults_are_30_epochs_of_64_images_from_seed_0_at_2e_3_quietly(tmp_path, data_dir, capsys):
    pipelines.load_builder("digits", data_dir, source="mnist")
    capsys.readouterr()  # what TFDS printed preparing the data
    calls, _ = _record(tmp_path, data_dir)
    assert capsys.readouterr().out == ""  # fit is told verbose=0, and the evaluations print no progress bar either
    kwargs = calls["kwargs"]
    assert (kwargs["epochs"], kwargs["steps_per_epoch"], kwargs["verbose"]) == (30, 62, 0)
    schedule = calls["model"].get_compile_config()["optimizer"]["config"]["learning_rate"]["config"]
    assert schedule["initial_learning_rate"] == 2e-3 and schedule["decay_steps"] == 30 * 62
    # The seed sets the initial weights: the default run starts where seed=0 does, and seed=1 elsewhere.
    (tmp_path / "0").mkdir(), (tmp_path / "1").mkdir()
    np.testing.assert_array_equal(calls["weights"][0], _record(tmp_path / "0", data_dir, seed=0)[0]["weights"][0])
    assert not np.array_equal(calls["weights"][0], _record(tmp_path / "1", data_dir, seed=1)[0]["weights"][0])


def test_without_a_fit_it_is_keras_fit_and_its_history():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    train = tf.data.Dataset.from_tensors((np.ones((4, 2), np.float32), np.ones((4, 1), np.float32))).repeat()
    history = generative._plain_fit(model, train, epochs=3, steps_per_epoch=2, verbose=0, initial_epoch=1)
    assert list(history) == ["loss"] and len(history["loss"]) == 2 and int(model.optimizer.iterations) == 4


@pytest.mark.parametrize("kwargs, error, message", [
    ({"out_path": "c.h5"}, ValueError, "`out_path` must be a path ending in .keras, got 'c.h5'."),
    ({"out_path": 3}, ValueError, "`out_path` must be a path ending in .keras, got 3."),
    ({"epochs": 0}, ValueError, "`epochs`"),
    ({"batch_size": 0}, ValueError, "`batch_size`"),
    ({"learning_rate": 0.0}, ValueError, "`learning_rate`"),
    ({"seed": -1}, ValueError, "`seed`"),
])
def test_bad_arguments_are_named_before_any_work(kwargs, error, message):
    def fit(*args, **kwargs):
        raise AssertionError("no work before the arguments are checked")

    with pytest.raises(error) as raised:
        metrics.train_digit_classifier(**{"out_path": "c.keras", "fit": fit, **kwargs})
    assert message in str(raised.value)
    assert str(raised.value).startswith(message[:message.index("`", 1) + 1])


def test_an_out_path_in_no_writable_directory_is_named_before_any_work(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match=r"^`out_path` must be a writable directory, got "):
        metrics.train_digit_classifier(str(tmp_path / "file" / "c.keras"), fit=lambda *a, **k: 1 / 0)


def test_the_builder_makes_the_shipped_classifier_layer_for_layer():
    metrics.build_digit_classifier()  # a second build names its layers as the first does: the names are given
    built, shipped = metrics.build_digit_classifier(), metrics.digit_classifier()
    assert built.name == shipped.name == "digit_classifier"
    assert [layer.get_config() for layer in built.layers] == [layer.get_config() for layer in shipped.layers]
