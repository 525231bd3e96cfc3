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


@pytest.mark.parametrize("cell", long_term.CELLS)
def test_every_cell_builds_for_the_recipe(tmp_path, data_dir, cell):
    metrics = long_term.run(_args(tmp_path, data_dir, "--task", "adding_problem", "--length", "12", "--cell", cell))
    assert metrics["cell"] == cell and math.isfinite(metrics["value"])


def test_spectral_radius_sets_every_eigenvalue_of_the_recurrence():
    import numpy as np

    cell = long_term.make_cell("elman", 16, 10, spectral_radius=1.5)
    cell.build((None, 2))
    np.testing.assert_allclose(np.abs(np.linalg.eigvals(np.asarray(cell.recurrent_kernel))), 1.5, rtol=1e-5)


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
