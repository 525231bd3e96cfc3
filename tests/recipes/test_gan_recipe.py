import json
import os

import keras
import numpy as np
import pytest

import keras_dl  # noqa: F401  (registers the classes load_model needs)
from keras_dl import models
from recipes import gan


def _run(tmp_path, data_dir, *flags):
    return gan.run(gan.build_parser().parse_args(
        ["--out", str(tmp_path), "--data-dir", data_dir, "--epochs", "1", "--steps-per-epoch", "5", "--verbose", "0",
         *flags]))


def test_mixture_run_reports_mode_coverage_and_exports(tmp_path, data_dir):
    metrics = _run(tmp_path, data_dir, "--model", "wgan_gp", "--dataset", "ring8", "--units", "16", "--n-critic", "2")
    assert metrics["of_modes"] == 8 and 0 <= metrics["modes"] <= 8 and 0.0 <= metrics["high_quality"] <= 1.0
    assert metrics["generator_steps"] == 5 and metrics["n_critic"] == 2 and metrics["litert_max_abs_diff"] < 1e-5
    assert json.loads((tmp_path / "metrics.json").read_text())["modes"] == metrics["modes"]
    for name in ("samples.png", "learning_curve.png", "generator.tflite", "generator_saved_model"):
        assert (tmp_path / name).exists()
    model = keras.models.load_model(str(tmp_path / "gan.keras"))
    assert type(model) is models.WGANGP and model.n_critic == 2 and model.latent_dim == 8
    assert model.gradient_penalty_weight == metrics["gradient_penalty_weight"] == 0.1  # The mixtures' default.
    assert int(model.discriminator_optimizer.iterations) == 2 * int(model.optimizer.iterations) == 10
    assert not os.path.exists(tmp_path / "backup_train")


def test_conditional_digits_run_reports_fid_and_label_accuracy(tmp_path, data_dir):
    metrics = _run(tmp_path, data_dir, "--model", "conditional", "--filters", "4", "--latent-dim", "8")
    assert 0.0 <= metrics["label_accuracy"] <= 1.0 and np.isfinite(metrics["classifier_fid"])
    assert metrics["fid_samples"] == 2500 and metrics["litert_max_abs_diff"] < 1e-4
    assert (tmp_path / "interpolation.png").stat().st_size > 0
    model = keras.models.load_model(str(tmp_path / "gan.keras"))
    assert type(model) is models.ConditionalGAN and model.latent_dim == 8
    assert model.generate(labels=[3, 4], seed=0).shape == (2, 28, 28, 1)


def test_cyclegan_run_scores_both_translations_against_the_true_maps(tmp_path, data_dir):
    metrics = _run(tmp_path, data_dir, "--model", "cyclegan", "--filters", "4", "--batch-size", "16")
    for name in ("a_to_b_error", "b_to_a_error", "identity_error"):
        assert 0.0 <= metrics[name] <= 1.0
    assert type(keras.models.load_model(str(tmp_path / "gan.keras"))) is models.CycleGAN


@pytest.mark.parametrize("flags, match", [
    (["--model", "cyclegan", "--dataset", "mnist"], "--dataset"),
    (["--model", "gan", "--dataset", "shapes"], "--dataset"),
    (["--n-critic", "0"], "--n-critic"),
    (["--latent-dim", "0"], "--latent-dim"),
    (["--learning-rate", "-1"], "--learning-rate"),
    (["--steps-per-epoch", "0"], "--steps-per-epoch"),
    (["--gradient-penalty-weight", "-1"], "--gradient-penalty-weight"),
    (["--model", "cyclegan", "--gradient-penalty-weight", "1"], "--gradient-penalty-weight"),
])
def test_bad_arguments_are_named_before_any_work(tmp_path, data_dir, flags, match):
    with pytest.raises((ValueError, TypeError), match=match):
        _run(tmp_path / "never", data_dir, *flags)
    assert not (tmp_path / "never").exists()
