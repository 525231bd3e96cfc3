import json
import os

import keras
import numpy as np
import pytest

import keras_dl  # noqa: F401  (registers the classes load_model needs)
from keras_dl.models import PixelCNN
from recipes import pixelcnn


def _args(tmp_path, data_dir, *flags):
    return pixelcnn.build_parser().parse_args(
        ["--out", str(tmp_path), "--data-dir", data_dir, "--source", "sklearn", "--filters", "32", "--num-layers", "4",
         "--first-kernel-size", "3", "--epochs", "8", "--batch-size", "32", "--learning-rate", "3e-3",
         "--samples", "10", "--verbose", "0", *flags])


@pytest.mark.slow
def test_a_run_beats_the_per_pixel_marginal_and_writes_its_outputs(tmp_path, data_dir):
    metrics = pixelcnn.run(_args(tmp_path, data_dir))
    assert metrics["epochs"] == 8 and metrics["test_examples"] == 179 and metrics["samples"] == 10
    # 8x8 binarised digits, 352 steps: measured 24.1 nats per image against the marginal's 27.3.
    assert metrics["test_nll"] < metrics["marginal_nll"] - 2.5, metrics
    assert metrics["test_bits_per_dim"] == pytest.approx(metrics["test_nll"] / (64 * np.log(2)))
    assert json.loads((tmp_path / "metrics.json").read_text())["test_nll"] == metrics["test_nll"]
    for name in ("learning_curve.png", "samples.png"):
        assert (tmp_path / name).stat().st_size > 0
    model = keras.models.load_model(str(tmp_path / "pixelcnn.keras"))
    assert type(model) is PixelCNN and model.gated and model.num_layers == 4
    assert model.sample(2, seed=0).shape == (2, 8, 8, 1)
    assert not os.path.exists(tmp_path / "backup_train")


@pytest.mark.slow
def test_conditional_plain_model_samples_one_row_per_label(tmp_path, data_dir):
    metrics = pixelcnn.run(_args(tmp_path, data_dir, "--model", "plain", "--conditional", "--epochs", "1"))
    assert metrics["conditional"] and metrics["model"] == "plain" and metrics["samples"] == 10
    model = keras.models.load_model(str(tmp_path / "pixelcnn.keras"))
    assert model.num_labels == 10 and not model.gated


@pytest.mark.parametrize("flags, match", [
    (["--filters", "0"], "--filters"),
    (["--first-kernel-size", "4"], "--first-kernel-size"),
    (["--learning-rate", "0"], "--learning-rate"),
    (["--samples", "0"], "--samples"),
])
def test_bad_arguments_are_named_before_any_work(tmp_path, data_dir, flags, match):
    with pytest.raises(ValueError, match=match):
        pixelcnn.run(_args(tmp_path / "never", data_dir, *flags))
    assert not (tmp_path / "never").exists()


def test_marginal_baseline_is_the_add_one_frequency_of_each_pixel_level():
    train = np.array([[0.0, 1.0], [0.0, 1.0], [1.0, 1.0]]).reshape(3, 1, 2, 1)
    test = np.array([[1.0, 0.0]]).reshape(1, 1, 2, 1)
    # Pixel 0 is 1 in 1 of 3 training images, pixel 1 is 0 in none: (1 + 1) / (3 + 2) and (0 + 1) / (3 + 2).
    assert pixelcnn.marginal_nll(train, test)[0] == pytest.approx(-np.log(2 / 5) - np.log(1 / 5))
    # With 256 levels a value is read as round(x * 255), and each level gets one pseudo-count.
    grey = np.array([[0.0, 1.0], [128 / 255, 1.0]]).reshape(2, 1, 2, 1)
    expected = -np.log((1 + 1) / (2 + 256)) - np.log((2 + 1) / (2 + 256))
    assert pixelcnn.marginal_nll(grey, grey[1:], levels=256)[0] == pytest.approx(expected)
