import json
import os

import keras
import pytest

import keras_dl  # noqa: F401  (registers the classes load_model needs)
from recipes import seq2seq


def _args(tmp_path, data_dir, *flags):
    return seq2seq.build_parser().parse_args(
        ["--out", str(tmp_path), "--data-dir", data_dir, "--task", "sequence_reversal", "--units", "16",
         "--embedding-dim", "8", "--epochs", "2", "--num-train", "256", "--num-eval", "32", "--batch-size", "64",
         "--verbose", "0", *flags])


def test_a_run_writes_its_metrics_plots_and_a_model_that_loads(tmp_path, data_dir):
    metrics = seq2seq.run(_args(tmp_path, data_dir, "--attention-maps", "2", "--scheduled-sampling", "linear",
                                "--sampling-k", "100"))
    assert set(metrics["exact_match"]) == {"greedy", "beam4"} and metrics["epochs"] == 2
    assert all(0.0 <= v <= 1.0 for v in metrics["exact_match"].values())
    assert metrics["scheduled_sampling"]["c"] == pytest.approx(0.01)
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["exact_match"] == metrics["exact_match"]
    for name in ("learning_curve.png", "attention_0.png", "attention_1.png"):
        assert (tmp_path / name).stat().st_size > 0
    model = keras.models.load_model(str(tmp_path / "seq2seq.keras"))
    assert model.scheduled_sampling.schedule == "linear"
    assert not os.path.exists(tmp_path / "backup_train")  # a finished run leaves no backup


def test_training_stops_at_the_target_exact_match(tmp_path, data_dir):
    # The teacher-forced exact match over every token is greedy decoding's: a target of 1e-9 stops after epoch 1
    # as soon as one validation sequence is right; none right: training runs on.
    metrics = seq2seq.run(_args(tmp_path, data_dir, "--target-exact-match", "1e-9", "--epochs", "4",
                                "--attention-maps", "0", "--learning-rate", "0.02"))
    stopped = [i for i, v in enumerate(metrics["history"]["val_exact_match"]) if v >= 1e-9]
    assert metrics["epochs"] == (stopped[0] + 1 if stopped else 4)


@pytest.mark.parametrize("flags, match", [
    (["--units", "0"], "--units"),
    (["--target-exact-match", "1.5"], "--target-exact-match"),
    (["--sampling-k", "5"], "--sampling-k"),
    (["--num-train", "0"], "--num-train"),
    (["--learning-rate", "-1"], "--learning-rate"),
])
def test_bad_arguments_are_named_before_any_work(tmp_path, data_dir, flags, match):
    with pytest.raises((ValueError, TypeError), match=match):
        seq2seq.run(_args(tmp_path / "never", data_dir, *flags))
    assert not (tmp_path / "never").exists()
