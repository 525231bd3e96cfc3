import json

import pytest

from benchmarks import seq2seq_tasks


@pytest.mark.slow
def test_quick_table_has_every_model_and_decoder(tmp_path):
    rows = seq2seq_tasks.main(["--quick", "--out", str(tmp_path)])
    assert [(row["model"], row["decoder"]) for row in rows] == [
        (model, decoder) for model in ("attention Seq2Seq (Luong)", "encoder-decoder, no attention")
        for decoder in ("greedy", "beam4")]
    assert all(0.0 <= row["exact_match"] <= 1.0 and row["seconds"] > 0 for row in rows)
    # The plain model trains for the attention model's epochs.
    assert rows[0]["epochs"] == rows[2]["epochs"]
    saved = json.loads((tmp_path / "seq2seq_tasks.json").read_text())
    assert saved["rows"] == rows and (tmp_path / "seq2seq_tasks.md").read_text().count("\n") == 6
