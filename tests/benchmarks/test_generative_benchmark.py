import json

import pytest

from benchmarks import generative


@pytest.mark.slow
def test_quick_table_has_every_part_and_its_directions(tmp_path):
    result = generative.main(["--quick", "--out", str(tmp_path)])
    assert [row["model"] for row in result["vae"]] == ["VAE, mean field", "VAE, IAF posterior (2 steps)"]
    assert all(row["test_iwae"] >= row["test_elbo"] for row in result["vae"])  # The bound the README quotes.
    assert [(row["dataset"], row["model"]) for row in result["mixtures"]] == [("grid25", "gan"), ("grid25", "wgan_gp")]
    assert all(0 <= row["modes"] <= row["of_modes"] == 25 for row in result["mixtures"])
    floor, *models = result["images"]
    assert floor["model"] == "real digits (floor)" and [row["model"] for row in models] == ["dcgan", "conditional"]
    assert all(floor["classifier_fid"] < row["classifier_fid"] for row in models)  # Real vs real is the floor.
    assert 0.0 <= models[1]["label_accuracy"] <= 1.0
    speed = result["speed"]
    assert speed["ratio"] == pytest.approx(speed["keras_dl_images_per_second"] / speed["keras_io_images_per_second"])
    saved = json.loads((tmp_path / "generative.json").read_text())
    assert saved["speed"] == speed and "VEEGAN Table 1" in (tmp_path / "generative.md").read_text()
