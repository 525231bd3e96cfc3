"""Every public Keras metric and loss of keras_dl.metrics: its whole config round-trips, and callbacks in auto
mode (EarlyStopping, ModelCheckpoint) read its direction right."""

import inspect

import keras
import numpy as np
import pytest

from keras_dl import metrics
from keras_dl.metrics import BitsPerCharacter
from keras_dl.metrics import BitsWrongPerSequence
from keras_dl.metrics import ExactMatch
from keras_dl.metrics import SequenceLoss

# class -> (an instance with every argument off its default, loss of a model that emits [2, 3, 8] logits,
#           targets for it, whether higher is better)
CASES = {
    BitsPerCharacter: (lambda: BitsPerCharacter(name="val_bits", dtype="float64"),
                       keras.losses.SparseCategoricalCrossentropy(from_logits=True), np.zeros((2, 3), np.int32), False),
    ExactMatch: (lambda: ExactMatch(padding_token=0, name="em", dtype="float64"),
                 keras.losses.SparseCategoricalCrossentropy(from_logits=True), np.zeros((2, 3), np.int32), True),
    BitsWrongPerSequence: (lambda: BitsWrongPerSequence(name="wrong", dtype="float64"),
                           keras.losses.BinaryCrossentropy(from_logits=True), np.zeros((2, 3, 8), np.float32), False),
    SequenceLoss: (lambda: SequenceLoss(average_across_timesteps=True, average_across_batch=True,
                                        sum_over_timesteps=False, sum_over_batch=False, name="seq"), None, None, False),
}


def test_every_public_metric_and_loss_has_a_case():
    public = {obj for _, obj in inspect.getmembers(metrics, inspect.isclass)
              if issubclass(obj, (keras.metrics.Metric, keras.losses.Loss))}
    assert public == set(CASES)


@pytest.mark.parametrize("cls, name", [(BitsPerCharacter, "bpc"), (ExactMatch, "exact_match"),
                                       (BitsWrongPerSequence, "bits_wrong"), (SequenceLoss, "sequence_loss")])
def test_default_names_are_the_documented_ones(cls, name):
    """The name is the key in fit's logs and what EarlyStopping(monitor=...) must be given."""
    assert cls().name == name


@pytest.mark.parametrize("cls", CASES, ids=lambda cls: cls.__name__)
def test_whole_config_round_trips(cls):
    original = CASES[cls][0]()
    config = original.get_config()
    defaults = cls().get_config()
    assert {key for key in config if config[key] != defaults[key]} == set(config)  # every argument is off default
    restored = cls.from_config(config)
    assert type(restored) is cls and restored.get_config() == config
    again = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(original))
    assert type(again) is cls and again.get_config() == config


@pytest.mark.parametrize("cls", [c for c in CASES if issubclass(c, keras.metrics.Metric)], ids=lambda c: c.__name__)
@pytest.mark.parametrize("callback", ["EarlyStopping", "ModelCheckpoint"])
def test_callbacks_in_auto_mode_read_the_direction(cls, callback, tmp_path):
    make, loss, y, higher_is_better = CASES[cls]
    metric = make()
    model = keras.Sequential([keras.Input((3,), dtype="int32"), keras.layers.Embedding(8, 8)])
    model.compile("sgd", loss, metrics=[metric])
    model.evaluate(np.zeros((2, 3), np.int32), y, verbose=0)  # builds the metrics
    monitor_name = f"val_{metric.name}"
    if callback == "EarlyStopping":
        monitor = keras.callbacks.EarlyStopping(monitor=monitor_name, mode="auto")
    else:
        monitor = keras.callbacks.ModelCheckpoint(str(tmp_path / "best.keras"), monitor=monitor_name, mode="auto",
                                                  save_best_only=True)
    monitor.set_model(model)
    monitor.on_train_begin()
    for epoch, value in enumerate((3.0, 2.0, 4.0, 2.5)):
        monitor.on_epoch_end(epoch, {monitor_name: value, "val_loss": 1.0})
    assert monitor.best == (4.0 if higher_is_better else 2.0)
