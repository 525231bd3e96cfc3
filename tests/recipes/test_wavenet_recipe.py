import json
import os
import wave

import keras
import numpy as np
import pytest

import keras_dl  # noqa: F401  (registers the classes load_model needs)
from keras_dl.models import WaveNet
from recipes import _resume
from recipes import wavenet


def _args(tmp_path, *flags):
    return wavenet.build_parser().parse_args(
        ["--out", str(tmp_path), "--residual-channels", "16", "--skip-channels", "16", "--head-channels", "32",
         "--num-layers", "4", "--dilation-cycle", "4", "--window", "64", "--train-windows", "512", "--epochs", "3",
         "--steps-per-epoch", "40", "--learning-rate", "3e-3", "--seconds", "0.05", "--verbose", "0", *flags])


@pytest.mark.slow
def test_a_run_beats_the_unigram_and_writes_audio_a_plot_and_a_step_file(tmp_path):
    metrics = wavenet.run(_args(tmp_path))
    assert metrics["receptive_field"] == 17 and metrics["epochs"] == 3 and metrics["steps"] == 120
    # Measured: 5.8 bits per sample against the unigram's 7.4 (120 steps).
    assert metrics["held_out_bits_per_sample"] < metrics["unigram_bits_per_sample"] - 1.0, metrics
    assert metrics["litert_max_abs_diff"] < 1e-4
    assert json.loads((tmp_path / "metrics.json").read_text())["held_out_bits_per_sample"] == \
        metrics["held_out_bits_per_sample"]
    for name in ("learning_curve.png", "generated.png", "step.tflite"):
        assert (tmp_path / name).stat().st_size > 0
    with wave.open(str(tmp_path / "generated.wav")) as f:
        assert (f.getnchannels(), f.getsampwidth(), f.getframerate(), f.getnframes()) == (1, 2, 16000, 800)
        audio = np.frombuffer(f.readframes(800), "<i2")
    assert metrics["generated_samples"] == 800 and audio.std() > 0  # not silence
    model = keras.models.load_model(str(tmp_path / "wavenet.keras"))
    assert type(model) is WaveNet and model.receptive_field == 17
    assert model(np.zeros((1, 5), np.int32)).shape == (1, 5, 256)
    assert not os.path.exists(tmp_path / "backup_train")


@pytest.mark.slow
def test_logistic_mixture_output_reaches_the_model(tmp_path):
    metrics = wavenet.run(_args(tmp_path, "--output", "logistic_mixture", "--epochs", "1", "--steps-per-epoch", "5"))
    assert metrics["output"] == "logistic_mixture" and metrics["litert_max_abs_diff"] < 1e-3
    assert keras.models.load_model(str(tmp_path / "wavenet.keras")).output_type == "logistic_mixture"


@pytest.mark.slow
def test_speech_audio_reaches_the_model_and_the_files(tmp_path):
    metrics = wavenet.run(_args(tmp_path, "--audio", "speech", "--epochs", "6"))
    assert metrics["audio"] == "speech" and metrics["sample_rate"] == 22050
    # Measured: 6.25 bits per sample against the unigram's 7.66 (240 steps; 7.47 after the first 40).
    assert metrics["held_out_bits_per_sample"] < metrics["unigram_bits_per_sample"] - 1.0, metrics
    for name in ("generated.wav", "held_out.wav"):
        with wave.open(str(tmp_path / name)) as f:
            assert (f.getframerate(), f.getnframes()) == (22050, round(0.05 * 22050))
    assert (tmp_path / "held_out.png").stat().st_size > 0


class _Killed(Exception):
    pass


class _KillAfterFirstEpoch(keras.callbacks.TerminateOnNaN):
    """Stands in for TerminateOnNaN, the last of resumable_fit's callbacks: the backup and the log are written."""

    def on_epoch_end(self, epoch, logs=None):
        raise _Killed


@pytest.mark.slow
def test_a_killed_run_resumes_to_the_uninterrupted_result(tmp_path, monkeypatch, capsys):
    flags = ["--epochs", "2", "--steps-per-epoch", "5", "--seconds", "0.01"]
    straight = wavenet.run(_args(tmp_path / "straight", *flags))
    killed = tmp_path / "killed"
    with monkeypatch.context() as patch:
        patch.setattr(_resume.keras.callbacks, "TerminateOnNaN", _KillAfterFirstEpoch)
        with pytest.raises(_Killed):
            wavenet.run(_args(killed, *flags))
    assert (killed / "backup_train").is_dir() and not (killed / "metrics.json").exists()
    resumed = wavenet.run(_args(killed, *flags))
    assert "train: resuming after epoch 1 of 2" in capsys.readouterr().out
    assert resumed["history"]["val_loss"] == pytest.approx(straight["history"]["val_loss"], rel=1e-4)
    assert resumed["held_out_bits_per_sample"] == pytest.approx(straight["held_out_bits_per_sample"], rel=1e-4)


def test_resuming_with_another_model_names_the_backup(tmp_path, monkeypatch):
    flags = ["--epochs", "2", "--steps-per-epoch", "2", "--seconds", "0.01"]
    with monkeypatch.context() as patch:
        patch.setattr(_resume.keras.callbacks, "TerminateOnNaN", _KillAfterFirstEpoch)
        with pytest.raises(_Killed):
            wavenet.run(_args(tmp_path, *flags))
    with pytest.raises(ValueError, match=r"`--out`: the backup in .*backup_train \(after epoch 1\) was written by "
                                         r"another model; resume with the interrupted run's flags"):
        wavenet.run(_args(tmp_path, *flags, "--residual-channels", "8"))


@pytest.mark.parametrize("flags, match", [
    (["--num-layers", "0"], "--num-layers"),
    (["--window", "0"], "--window"),
    (["--seconds", "0"], "--seconds"),
    (["--temperature", "-1"], "--temperature"),
    (["--batch-size", "1000"], "--batch-size"),
])
def test_bad_arguments_are_named_before_any_work(tmp_path, flags, match):
    with pytest.raises(ValueError, match=match):
        wavenet.run(_args(tmp_path / "never", *flags))
    assert not (tmp_path / "never").exists()
