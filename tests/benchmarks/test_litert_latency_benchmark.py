import json

import pytest

from benchmarks import litert_latency


@pytest.mark.slow
def test_quick_benchmark_times_each_file_both_ways(tmp_path):
    result = litert_latency.main(["--quick", "--out", str(tmp_path)])
    assert [row["file"] for row in result["rows"]] == [f"{name}.tflite" for name in litert_latency.QUICK_ROWS]
    dense, sparse = result["rows"]
    assert (dense["xnnpack"], sparse["xnnpack"]) == (True, False)  # TFLiteModel's default: off for sparse files
    assert sparse["size_bytes"] < dense["size_bytes"] / 2
    for row in result["rows"]:
        assert not row["tensorflow_imported"]
        assert len(row["median_latency_rounds_us"]) == len(row["litert_bench_rounds_us"]) == result["rounds"]
        assert row["ratio"] == pytest.approx(row["litert_bench_p50_us"] / row["median_latency_us"])
        # The same invoke() timing in two processes: timing through the signature runner instead would be ~6x off.
        assert 1 / 3 < row["ratio"] < 3
        # p90 and p99 are the last round's; p50 is the median over rounds.
        assert row["litert_bench_rounds_us"][-1] <= row["p90_us"] <= row["p99_us"]
    assert json.loads((tmp_path / "litert_latency.json").read_text())["rows"] == result["rows"]
