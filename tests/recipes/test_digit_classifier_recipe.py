import json
import os

import keras
import numpy as np
import pytest

from keras_dl import data
from keras_dl import metrics
from recipes import digit_classifier


def _args(tmp_path, data_dir, *flags):
    return digit_classifier.build_parser().parse_args(
        ["--out", str(tmp_path), "--data-dir", data_dir, "--epochs", "1", "--verbose", "0", *flags])


def test_a_run_writes_a_small_classifier_with_64_features_and_its_metrics(tmp_path, data_dir):
    result = digit_classifier.run(_args(tmp_path, data_dir))
    assert result["epochs"] == 1 and 0.5 < result["test_accuracy"] <= 1.0  # One epoch: far above chance (0.1).
    assert json.loads((tmp_path / "metrics.json").read_text())["test_accuracy"] == result["test_accuracy"]
    path = tmp_path / "digit_classifier.keras"
    assert path.stat().st_size < 1_000_000  # Weights only: no optimizer slots.
    model = keras.models.load_model(str(path), compile=False)
    assert model.get_layer("features").units == 64
    images, labels = data.digits_arrays("mnist", "test")
    accuracy = np.mean(np.argmax(model.predict(images / 255.0, verbose=0), -1) == labels)
    assert accuracy == pytest.approx(result["test_accuracy"], abs=1e-6)
    assert not os.path.exists(tmp_path / "backup_train")  # a finished run leaves no backup
    # The shipped classifier has the same architecture.
    assert [layer.name for layer in model.layers] == [layer.name for layer in metrics.digit_classifier().layers]


@pytest.mark.parametrize("flags, match", [
    (["--epochs", "0"], "--epochs"),
    (["--batch-size", "-1"], "--batch-size"),
    (["--learning-rate", "0"], "--learning-rate"),
])
def test_bad_arguments_are_named_before_any_work(tmp_path, data_dir, flags, match):
    with pytest.raises((ValueError, TypeError), match=match):
        digit_classifier.run(_args(tmp_path / "never", data_dir, *flags))
    assert not (tmp_path / "never").exists()
