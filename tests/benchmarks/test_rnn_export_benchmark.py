import json

import pytest

from benchmarks import rnn_export


@pytest.mark.slow
def test_quick_benchmark_times_every_form_from_its_own_file(tmp_path):
    result = rnn_export.main(["--quick", "--out", str(tmp_path)])
    rows = {(row["cell"], row["form"]): row for row in result["rows"]}
    keras_dl_forms = {"unrolled", "WHILE", "streaming step x T"}
    assert set(rows) == ({("lstm", f) for f in keras_dl_forms | {"fused LSTM"}} | {("gru", f) for f in keras_dl_forms}
                         | {(cell, f) for cell in ("lstm", "gru") for f in (rnn_export.FLEX, rnn_export.STOCK_WHILE)})
    for (_, form), row in rows.items():
        assert row["size_bytes"] > 0
        if form == rnn_export.FLEX:
            # Keras' exporter as it comes keeps the TensorList loop as Flex kernels.
            assert row["flex_ops"] and all(op.startswith("FlexTensorList") for op in row["flex_ops"])
            continue
        assert row["flex_ops"] == [] and row["latency_ms"] > 0
        assert row["max_abs_diff"] < 1e-4
    for name, target in result["targets"].items():
        assert target["keras_dl_flex_ops"] == 0
        cell = name.split("_")[0]
        best = rows[(cell, target["best_sequence_form"])]["latency_ms"]
        assert target["best_vs_stock_while_speedup"] == pytest.approx(rows[(cell, rnn_export.STOCK_WHILE)]["latency_ms"] / best)
    assert json.loads((tmp_path / "rnn_export.json").read_text())["targets"] == result["targets"]
    assert "| model | form |" in (tmp_path / "rnn_export.md").read_text()
