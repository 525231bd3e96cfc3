import json
import os
import subprocess
import sys

import keras
import pytest

from recipes import _resume
from recipes import ntm

TINY = ["--units", "8", "--memory-size", "8", "--memory-width", "4", "--max-length", "3", "--eval-length", "6",
        "--bits", "4", "--batch-size", "8", "--steps", "10", "--eval-every", "5", "--num-train", "40",
        "--num-eval", "16", "--no-jit", "--verbose", "0"]


def _args(out, data_dir, *flags):
    return ntm.build_parser().parse_args(["--out", str(out), "--data-dir", data_dir, *TINY, *flags])


@pytest.fixture(scope="module")
def straight(data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("ntm")
    return out, ntm.run(_args(out, data_dir))


def test_a_run_writes_its_metrics_curve_and_model(straight):
    out, metrics = straight
    assert json.loads((out / "metrics.json").read_text()) == metrics
    assert (out / "learning_curve.png").stat().st_size > 0
    assert isinstance(keras.models.load_model(out / "model.keras").get_layer("rnn").cell, ntm.NTMCell)
    assert not [p.name for p in out.iterdir() if p.name.startswith("backup_") or p.name.endswith("_log.csv")]
    assert len(metrics["history"]["val_bits_wrong"]) == 2 and metrics["clipping"] == {"clipvalue": 10.0}
    best = metrics["best_validation"]
    assert best["bits_wrong_per_sequence"] == min(metrics["history"]["val_bits_wrong"]) and best["step"] in (5, 10)
    # Each evaluation length, next to chance: half the bits of the recalled vectors.
    assert set(metrics["bits_wrong_per_sequence"]) == {"1-3", "3", "6"}
    assert metrics["chance_bits_wrong_per_sequence"] == {"1-3": 4.0, "3": 6.0, "6": 12.0}
    assert 0 <= metrics["bits_wrong_per_sequence"]["6"] <= 6 * 4
    assert metrics["params"] == metrics["ntm_params"]
    assert abs(metrics["lstm_params"] - metrics["ntm_params"]) < 0.05 * metrics["ntm_params"]


class _Killed(Exception):
    pass


class _KillAfterFirstEpoch(keras.callbacks.TerminateOnNaN):
    """Stands in for TerminateOnNaN, the last of resumable_fit's callbacks: the backup and the log are written."""

    def on_epoch_end(self, epoch, logs=None):
        raise _Killed


@pytest.mark.slow
def test_a_killed_run_resumes_to_the_uninterrupted_result(straight, data_dir, tmp_path, monkeypatch, capsys):
    with monkeypatch.context() as patch:
        patch.setattr(_resume.keras.callbacks, "TerminateOnNaN", _KillAfterFirstEpoch)
        with pytest.raises(_Killed):
            ntm.run(_args(tmp_path, data_dir))
    assert (tmp_path / "backup_train").is_dir() and not (tmp_path / "metrics.json").exists()
    metrics = ntm.run(_args(tmp_path, data_dir))
    assert "train: resuming after epoch 1 of 2" in capsys.readouterr().out
    expected = straight[1]
    assert metrics["history"]["val_loss"] == pytest.approx(expected["history"]["val_loss"], rel=1e-4)
    assert metrics["bits_wrong_per_sequence"] == pytest.approx(expected["bits_wrong_per_sequence"], abs=1e-3)


def test_the_lstm_baseline_and_associative_recall_train(data_dir, tmp_path):
    metrics = ntm.run(_args(tmp_path, data_dir, "--model", "lstm", "--task", "associative_recall", "--min-length", "2",
                            "--eval-length", "4", "--item-length", "2", "--bits", "3", "--steps", "5"))
    assert metrics["params"] == metrics["lstm_params"] and metrics["model"] == "lstm"
    assert metrics["lengths"] == {"min": 2, "max": 3, "eval": 4, "unit": "items"}
    # Recall always answers one item: chance is half its bits, whatever the number of items.
    assert metrics["chance_bits_wrong_per_sequence"] == {"2-3": 3.0, "3": 3.0, "4": 3.0}
    assert json.loads((tmp_path / "metrics.json").read_text()) == metrics


def test_the_matched_lstm_has_the_parameter_count_of_the_paper_sized_ntm():
    params = ntm.ntm_model(8, 9, units=100, memory_size=128, memory_width=20).count_params()
    units = ntm.matched_lstm_units(params, 8, 9)
    # An LSTM has 4 u (u + inputs + 1) weights, a readout of 8 bits 8 (u + 1).
    counts = {u: 4 * u * (u + 9 + 1) + 8 * (u + 1) for u in (units - 1, units, units + 1)}
    assert ntm.lstm_model(8, 9, units).count_params() == counts[units]
    assert abs(counts[units] - params) == min(abs(c - params) for c in counts.values())


@pytest.mark.parametrize("flags, error, match", [
    (["--min-length", "4"], ValueError, "`--min-length` \\(4\\) must be <= `--max-length` \\(3\\)"),
    (["--steps", "12"], ValueError, "multiple of `--eval-every`"),
    (["--bits", "0"], ValueError, "`--bits`"),
    (["--memory-size", "0"], ValueError, "`--memory-size`"),
    (["--shift-range", "8"], ValueError, "`--shift-range`"),
    (["--lstm-units", "0"], ValueError, "`--lstm-units`"),
    (["--learning-rate", "-1"], ValueError, "`--learning-rate`"),
    (["--eval-length", "0"], ValueError, "`--eval-length`"),
    (["--task", "associative_recall", "--min-length", "1"], ValueError, "`min_items` must be >= 2"),
    (["--clipnorm", "1", "--clipvalue", "1"], ValueError, "at most one of --clipnorm"),
])
def test_bad_arguments_are_named_before_any_work(tmp_path, monkeypatch, flags, error, match):
    def no_data(*args, **kwargs):
        raise AssertionError("data was made before the arguments were checked")

    monkeypatch.setattr(ntm, "task_dataset", no_data)
    with pytest.raises(error, match=match):
        ntm.run(_args(tmp_path / "out", str(tmp_path / "data"), *flags))
    assert not (tmp_path / "out").exists() and not (tmp_path / "data").exists()


def test_the_installed_console_script_runs_the_recipe(tmp_path):
    result = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "keras-dl"), "train", "ntm", "--out", str(tmp_path),
         "--steps", "15", "--eval-every", "10"],
        capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert result.returncode == 2 and "`--steps` (15) must be a multiple of `--eval-every` (10)" in result.stderr
