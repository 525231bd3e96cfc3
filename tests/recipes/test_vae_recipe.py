import json
import os

import keras
import numpy as np
import pytest

import keras_dl  # noqa: F401  (registers the classes load_model needs)
from keras_dl import export
from recipes import vae


def _args(tmp_path, data_dir, *flags):
    return vae.build_parser().parse_args(
        ["--out", str(tmp_path), "--data-dir", data_dir, "--source", "sklearn", "--units", "32", "--latent-dim", "4",
         "--epochs", "2", "--batch-size", "64", "--iwae-samples", "20", "--verbose", "0", *flags])


def test_a_run_writes_its_metrics_plots_exports_and_a_model_that_loads(tmp_path, data_dir):
    metrics = vae.run(_args(tmp_path, data_dir))
    assert metrics["epochs"] == 2 and metrics["test_examples"] == 179
    assert metrics["test_iwae"] >= metrics["test_elbo"]
    assert metrics["litert_max_abs_diff"] < 1e-5
    assert json.loads((tmp_path / "metrics.json").read_text())["test_elbo"] == metrics["test_elbo"]
    for name in ("learning_curve.png", "samples.png", "interpolation.png", "reconstructions.png", "decoder.tflite"):
        assert (tmp_path / name).stat().st_size > 0
    model = keras.models.load_model(str(tmp_path / "vae.keras"))
    images = np.random.default_rng(0).integers(0, 2, (3, 8, 8, 1)).astype(np.float32)
    assert model.predict(images, verbose=0).shape == (3, 8, 8, 1)
    assert model.likelihood.__class__.__name__ == "BernoulliLikelihood" and model.flow is None
    assert not os.path.exists(tmp_path / "backup_train")


def test_flags_reach_the_model(tmp_path, data_dir):
    metrics = vae.run(_args(tmp_path, data_dir, "--likelihood", "logistic_mixture", "--flow-steps", "2",
                            "--conditional", "--beta", "0.5", "--epochs", "1"))
    model = keras.models.load_model(str(tmp_path / "vae.keras"))
    assert model.conditional and model.beta == 0.5 and model.flow.num_steps == 2 and model.kl == "monte_carlo"
    assert type(model.likelihood).__name__ == "DiscretizedLogisticLikelihood"
    assert metrics["conditional"] and metrics["flow_steps"] == 2
    # The exported decoder takes the condition and equals Keras on it.
    assert len(export.generator_model(model).inputs) == 2 and metrics["litert_max_abs_diff"] < 1e-5


@pytest.mark.parametrize("flags, match", [
    (["--latent-dim", "0"], "--latent-dim"),
    (["--flow-steps", "-1"], "--flow-steps"),
    (["--beta", "-1"], "--beta"),
    (["--batch-size", "5000"], "--batch-size"),
    (["--learning-rate", "0"], "--learning-rate"),
])
def test_bad_arguments_are_named_before_any_work(tmp_path, data_dir, flags, match):
    with pytest.raises((ValueError, TypeError), match=match):
        vae.run(_args(tmp_path / "never", data_dir, *flags))
    assert not (tmp_path / "never").exists() or flags[0] == "--batch-size"
