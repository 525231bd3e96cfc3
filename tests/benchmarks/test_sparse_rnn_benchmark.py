import json

import pytest

from benchmarks import sparse_rnn


@pytest.mark.slow
def test_quick_benchmark_measures_every_row_from_its_own_file(tmp_path):
    result = sparse_rnn.main(["--quick", "--out", str(tmp_path), "--verbose", "0"])
    rows = {row["name"]: row for row in result["rows"]}
    expected = {"dense float32", "dense dynamic_int8", "tfmot 90% dynamic_int8 1x16", "equal-latency dense dynamic_int8"}
    expected |= {f"sparse {s}% {q}" for s in (80, 90, 95) for q in ("float32 1x4", "dynamic_int8 1x16")}
    assert set(rows) == expected
    for name, row in rows.items():
        if name.startswith("sparse"):
            # Pruned in 16x1 blocks to the target; the file keeps LiteRT's block for its type, never element-wise.
            assert row["sparsity"] == pytest.approx(row["target_sparsity"], abs=1e-3)  # Rounded per gate.
            assert row["sparse_blocks"] == ([4] if "float32" in name else [16])
            assert row["runtime"] == "builtin"
        elif name.startswith("tfmot"):
            assert row["sparse_blocks"] == [16] and row["runtime"] == "builtin"
        else:
            assert row["sparse_blocks"] == [] and row["sparsity"] == 0.0
        assert 0 < row["bpc"] < 9 and row["latency_us"] > 0
    # Ratios are taken against the rows they name.
    dense, sparse = rows["dense float32"], rows["sparse 90% dynamic_int8 1x16"]
    assert sparse["speedup_vs_dense_f32"] == pytest.approx(dense["latency_us"] / sparse["latency_us"])
    assert sparse["size_ratio_vs_dense_f32"] == pytest.approx(dense["size_bytes"] / sparse["size_bytes"])
    assert sparse["bpc_ratio_vs_dense"] == pytest.approx(sparse["bpc"] / dense["bpc"])
    assert result["config"]["equal_latency_units"] % 16 == 0
    # A sparse int8 file is smaller than the dense float one by more than int8 alone (4x) gives.
    assert sparse["size_ratio_vs_dense_f32"] > 4
    assert json.loads((tmp_path / "sparse_rnn.json").read_text())["targets"] == result["targets"]
    assert (tmp_path / "sparse_rnn.png").stat().st_size > 0 and "| model |" in (tmp_path / "sparse_rnn.md").read_text()
    # A rerun reuses the trained models and exports instead of training again.
    files = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "models").iterdir()}
    sparse_rnn.main(["--quick", "--out", str(tmp_path), "--verbose", "0"])
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "models").iterdir() if p.name in files} == files
