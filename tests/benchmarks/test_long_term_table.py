import json

import pytest

from benchmarks import long_term_table


@pytest.mark.slow
def test_quick_table_lstm_beats_elman_and_clipping_tames_an_exploding_rnn(tmp_path):
    rows, exploding = long_term_table.main(["--quick", "--out", str(tmp_path)])
    value = {row["cell"]: row["value"] for row in rows if row["task"] == "adding_problem"}
    baseline = rows[0]["baseline"]
    assert baseline == pytest.approx(1 / 6)
    # Adding problem, T=50, 600 steps: the tanh Elman RNN stays near the baseline, gated cells go below it.
    assert value["elman"] > 0.85 * baseline
    assert value["lstm"] < 0.75 * value["elman"]
    assert value["gru"] < 0.1 * baseline
    # Spectral radius 2 with plain SGD: the loss explodes unclipped and trains with clipnorm=1.
    assert exploding["no clipping"]["diverged"] and not exploding["clipnorm=1"]["diverged"]
    assert exploding["clipnorm=1"]["final_validation"] < 1.2 * baseline
    saved = json.loads((tmp_path / "long_term_table.json").read_text())
    assert {tuple(sorted(row)) for row in saved["rows"]} == {
        ("baseline", "cell", "length", "metric", "seconds", "steps", "task", "value")}
    assert (tmp_path / "exploding.png").stat().st_size > 0 and (tmp_path / "adding_problem_50.png").stat().st_size > 0
