import json
import math

import pytest

from recipes import long_term


def _args(tmp_path, data_dir, *flags):
    return long_term.build_parser().parse_args(
        ["--out", str(tmp_path), "--data-dir", data_dir, "--units", "8", "--steps", "20", "--eval-every", "10",
         "--num-train", "200", "--num-eval", "50", "--batch-size", "10", "--verbose", "0", *flags])


@pytest.mark.parametrize("task, baseline", [("adding_problem", 1 / 6), ("copy_memory", 10 * math.log(8) / 30),
                                            ("parity", math.log(2))])
def test_every_task_trains_and_reports_its_trivial_baseline(tmp_path, data_dir, task, baseline):
    metrics = long_term.run(_args(tmp_path, data_dir, "--task", task, "--length", "10", "--cell", "gru"))
    assert metrics["baseline"] == pytest.approx(baseline)
    assert math.isfinite(metrics["value"]) and len(metrics["history"]["val_loss"]) == 2
    assert json.loads((tmp_path / "metrics.json").read_text()) == metrics
    assert (tmp_path / "learning_curve.png").stat().st_size > 0


def test_spectral_radius_sets_every_eigenvalue_of_the_recurrence():
    import numpy as np

    cell = long_term.make_cell("elman", 16, 10, spectral_radius=1.5)
    cell.build((None, 2))
    np.testing.assert_allclose(np.abs(np.linalg.eigvals(np.asarray(cell.recurrent_kernel))), 1.5, rtol=1e-5)


@pytest.fixture
def built_models(monkeypatch):
    """Every RecurrentNetwork the recipe builds, kept for inspection after `run`."""
    models = []

    class Recording(long_term.RecurrentNetwork):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            models.append(self)

        def build(self, input_shape):
            self.built_shape = tuple(input_shape)
            super().build(input_shape)

    monkeypatch.setattr(long_term, "RecurrentNetwork", Recording)
    return models


FLAG_CASES = [
    (["--cell", "elman"], lambda m: type(m.cell).__name__ == "ElmanCell" and not m.cell.irnn),
    (["--cell", "irnn"], lambda m: type(m.cell).__name__ == "ElmanCell" and m.cell.irnn),
    (["--cell", "lstm"], lambda m: type(m.cell).__name__ == "LSTMCell"),
    (["--cell", "gru"], lambda m: type(m.cell).__name__ == "GRUCell"),
    (["--cell", "leaky"], lambda m: type(m.cell).__name__ == "LeakyCell"),
    (["--cell", "orthogonal"], lambda m: type(m.cell).__name__ == "OrthogonalCell"),
    (["--cell", "clockwork"], lambda m: type(m.cell).__name__ == "ClockworkCell" and m.cell.periods == [1, 2, 4, 8]),
    (["--units", "12"], lambda m: m.cell.units == 12),
    (["--cell", "irnn", "--spectral-radius", "1.5"], lambda m: m.cell.irnn and m.cell.recurrent_initializer.gain == 1.5),
    (["--optimizer", "rmsprop", "--learning-rate", "0.01"],
     lambda m: type(m.optimizer).__name__ == "RMSprop" and float(m.optimizer.learning_rate) == pytest.approx(0.01)),
    (["--optimizer", "sgd", "--clipvalue", "0.25"],
     lambda m: type(m.optimizer).__name__ == "SGD" and m.optimizer.clipvalue == 0.25 and m.optimizer.clipnorm is None),
    (["--cell", "elman", "--omega-weight", "0.5"], lambda m: m.omega_weight == 0.5),
    (["--task", "copy_memory"], lambda m: m.output_dim == 10 and m.return_sequences and m.built_shape[-1] == 10),
    (["--task", "parity"], lambda m: m.output_dim == 2 and not m.return_sequences and m.built_shape[-1] == 1),
    (["--length", "14"], lambda m: m.built_shape[1] == 14),
]


def test_every_cell_has_a_flag_case():
    assert {flags[1] for flags, _ in FLAG_CASES if flags[0] == "--cell"} == set(long_term.CELLS)


@pytest.mark.parametrize("flags, check", FLAG_CASES)
def test_each_flag_reaches_the_object_it_configures(tmp_path, data_dir, built_models, flags, check):
    argv = ["--length", "8", "--steps", "10", "--eval-every", "10", *flags]
    metrics = long_term.run(_args(tmp_path, data_dir, *argv))
    assert len(built_models) == 1 and check(built_models[0]) and math.isfinite(metrics["value"])


def test_seed_sets_the_initial_weights_and_nothing_else_varies(tmp_path, data_dir):
    runs = [long_term.run(_args(tmp_path / str(i), data_dir, "--length", "8", "--steps", "10", "--eval-every", "10",
                                "--seed", str(seed)))["history"]["loss"] for i, seed in enumerate((0, 0, 1))]
    assert runs[0] == runs[1] and runs[0] != runs[2]


def test_omega_and_clipping_reach_the_model(tmp_path, data_dir):
    metrics = long_term.run(_args(tmp_path, data_dir, "--cell", "elman", "--omega-weight", "0.5", "--clipnorm", "1",
                                  "--length", "10"))
    assert metrics["omega_weight"] == 0.5 and metrics["clipping"] == {"clipnorm": 1.0}
    assert metrics["history"]["omega"][-1] > 0


@pytest.mark.parametrize("flags, match", [
    (["--length", "0"], "--length"),
    (["--steps", "15"], "multiple of `--eval-every`"),
    (["--spectral-radius", "2", "--cell", "lstm"], "--spectral-radius"),
    (["--spectral-radius", "-1"], "--spectral-radius"),
    (["--omega-weight", "1", "--cell", "lstm"], "omega_weight"),
])
def test_bad_arguments_are_named(tmp_path, data_dir, flags, match):
    with pytest.raises(ValueError, match=match):
        long_term.run(_args(tmp_path, data_dir, *flags))
