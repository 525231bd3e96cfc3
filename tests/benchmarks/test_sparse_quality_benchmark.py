import json

import keras
import numpy as np
import pytest

from benchmarks import sparse_quality


def _zeros(matrix):
    return float(np.mean(np.asarray(matrix) == 0))


@pytest.mark.slow
def test_quick_benchmark_trains_every_model_per_seed_with_per_gate_targets(tmp_path):
    argv = ["--quick", "--out", str(tmp_path), "--verbose", "0", "--gate-sparsities", "0.95,0.95,0.8"]
    result = sparse_quality.main(argv)
    cfg = sparse_quality.QUICK
    rows = {row["name"]: row for row in result["rows"]}
    assert list(rows) == list(sparse_quality.KINDS)
    assert rows["sparse"]["units"] == rows["dense"]["units"] == cfg["units"]
    # Matched from the width sweep (dense candidates: multiples of 32 up to its widest); where the sparse step is the
    # slower one, as at these tiny widths, the dense GRU of equal latency may be the wider.
    sweep = {row["units"]: row for row in result["width_sweep"]}
    assert rows["equal-latency dense"]["units"] == sweep[cfg["units"]]["equal_latency_units"]
    # The per-gate targets reach the GRU (z, r, h gates of both matrices); the output layer keeps --sparsity.
    sparse = keras.models.load_model(tmp_path / "models" / f"sparse{cfg['units']}_seed0.keras")
    for matrix in (sparse.rnn.cell.kernel, sparse.rnn.cell.recurrent_kernel):
        gates = np.split(np.asarray(matrix), 3, axis=-1)
        assert [_zeros(g) for g in gates] == pytest.approx([0.95, 0.95, 0.8], abs=0.01)
    assert _zeros(sparse.head.kernel) == pytest.approx(0.9, abs=0.01)
    assert rows["sparse"]["sparsity"] == pytest.approx((0.95 + 0.95 + 0.8) / 3, abs=0.01)
    assert rows["dense"]["sparsity"] == 0.0
    steps = list(range(cfg["eval_every"], cfg["steps"] + 1, cfg["eval_every"]))
    for kind, runs in result["runs"].items():
        assert [run["seed"] for run in runs] == list(range(cfg["seeds"]))
        for run in runs:
            assert run["curve"]["step"] == steps
            # Every model learns: validation bits/char fall from the first point of the curve to the last.
            assert run["curve"]["validation_bpc"][-1] < run["curve"]["validation_bpc"][0] < 8.5, (kind, run["curve"])
            assert run["keras_bpc"] == run["curve"]["validation_bpc"][-1]
            assert 0 < run["tflite_bpc"] < 9
        spread = rows[kind]["tflite_bpc"]
        assert spread["values"] == [run["tflite_bpc"] for run in runs]
        assert spread["spread"] == pytest.approx(max(spread["values"]) - min(spread["values"]))
    # Seeds differ in initialisation and batch order, so they give different models.
    assert rows["sparse"]["tflite_bpc"]["spread"] > 0
    # The targets are read from the figures they name.
    means = {kind: rows[kind]["tflite_bpc"]["mean"] for kind in rows}
    assert result["bpc_ratio_sparse_vs_dense"] == pytest.approx(means["sparse"] / means["dense"])
    assert result["bpc_margin_vs_equal_latency"] == pytest.approx(means["equal-latency dense"] - means["sparse"])
    assert list(result["targets"].values()) == [result["bpc_ratio_sparse_vs_dense"] <= 1.05,
                                                result["bpc_margin_vs_equal_latency"] > result["seed_spread"]]
    # The width sweep: each width's sparse and dense random-weight files, timed side by side.
    assert [row["units"] for row in result["width_sweep"]] == list(sparse_quality.QUICK_SWEEP)
    for row in result["width_sweep"]:
        assert row["speedup"] == pytest.approx(row["dense_us"] / row["sparse_us"])
        assert row["equal_latency_units"] % 32 == 0 and 0 < row["equal_latency_units"] <= max(sparse_quality.QUICK_SWEEP)
        assert row["equal_latency_dense_us"] <= row["sparse_us"]
    assert json.loads((tmp_path / "sparse_quality.json").read_text())["targets"] == result["targets"]
    assert (tmp_path / "sparse_quality.png").stat().st_size > 0
    assert "| model |" in (tmp_path / "sparse_quality.md").read_text()
    # Backups are removed once a model is saved; a rerun reuses the models and files instead of training again.
    assert not [p for p in (tmp_path / "models").iterdir() if p.is_dir()]
    files = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "models").iterdir()}
    sparse_quality.main(argv)
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "models").iterdir()} == files


def test_bad_flags_are_named(capsys):
    for argv, message in ((["--units", "40"], "--units must be a multiple of 16"),
                          (["--steps", "30", "--eval-every", "20"], "--steps must be a multiple of --eval-every"),
                          (["--sparsity", "1.0"], "--sparsity must be in"),
                          (["--gate-sparsities", "0.9,0.9"], "3 sparsities")):
        with pytest.raises(SystemExit):
            sparse_quality.main(["--quick", *argv])
        assert message in capsys.readouterr().err
