import json

import numpy as np
import pytest

from benchmarks import pixelcnn


@pytest.mark.slow
def test_quick_benchmark_scores_the_three_pixelcnns_and_the_vae_on_one_split(tmp_path):
    result = pixelcnn.main(["--quick", "--out", str(tmp_path)])
    assert json.loads((tmp_path / "pixelcnn.json").read_text())["pixelcnn"] == result["pixelcnn"]
    rows = {(row["model"], row["levels"]): row for row in result["pixelcnn"]}
    assert sorted(rows) == sorted(pixelcnn.RUNS)
    for row in rows.values():
        assert row["test_examples"] == 179 and row["epochs"] == 6  # scikit-learn's 8x8 test split
        assert row["test_bits_per_dim"] == pytest.approx(row["test_nll"] / (64 * np.log(2)))
        # Six epochs already beat independent pixels with the training frequencies.
        assert 0 < row["test_nll"] < row["marginal_nll"], row
    # Binary and 8-bit images are different data: the 256-level NLL and its baseline are far larger.
    assert rows[("gated", 256)]["marginal_nll"] > 2 * rows[("gated", 2)]["marginal_nll"]
    vae = result["vae"]
    assert vae["test_iwae"] >= vae["test_elbo"]  # the importance-weighted bound is the tighter one
    assert "| VAE, IWAE bound" in pixelcnn.table(result)
