import importlib.util
import json
import math
import sys

import pytest

from benchmarks import decoding

ROW_KEYS = {"decoder", "kind", "beams", "batch", "new_tokens", "xla", "seconds", "tokens_per_second",
            "warmup_seconds", "traces", "vs_keras_hub"}


def keras_dl_decoders(config):
    names = {(f"keras_dl beam_search (alpha={config['alpha']})", k) for k in config["beams"]}
    names |= {("keras_dl beam_search (alpha=0)", k) for k in config["beams"]}
    names |= {("keras_dl greedy_search", 1), (f"keras_dl sample (top_p={config['top_p']})", 1)}
    return {(name, beams, xla) for name, beams in names for xla in config["xla"]}


def check_rows(result, config):
    rows = result["rows"]
    for row in rows:
        assert set(row) == ROW_KEYS
        assert math.isfinite(row["tokens_per_second"]) and row["tokens_per_second"] > 0
        assert row["tokens_per_second"] == pytest.approx(row["batch"] * row["new_tokens"] / row["seconds"])
        assert row["warmup_seconds"] > 0
        assert row["traces"] == 1  # no retracing inside the timed rounds
        assert (row["batch"], row["new_tokens"]) == (config["batch"], config["new_tokens"])
    by_key = {(r["decoder"], r["beams"], r["xla"]): r for r in rows}
    assert len(by_key) == len(rows)
    ours = keras_dl_decoders(config)
    assert ours <= set(by_key)
    return by_key, set(by_key) - ours


@pytest.mark.slow
def test_quick_benchmark_times_every_decoder_and_matches_keras_hub_at_alpha_0(tmp_path):
    result = decoding.main(["--quick", "--out", str(tmp_path)])
    config = decoding.QUICK
    rows, others = check_rows(result, config)
    assert json.loads((tmp_path / "decoding.json").read_text())["rows"] == json.loads(json.dumps(result["rows"]))
    assert "| decoder | beams |" in (tmp_path / "decoding.md").read_text()

    if importlib.util.find_spec("keras_hub") is None:  # CI installs `.[test]`: keras-hub is in `bench` only
        assert not result["keras_hub"]["available"] and "bench" in result["keras_hub"]["reason"]
        assert others == set() and result["equality"] == [] and result["targets"] == {}
        assert all(row["vs_keras_hub"] is None for row in rows.values())
        return

    assert result["keras_hub"]["available"] and result["keras_hub"]["reason"] is None
    hub = {(decoding.HUB[decoding.BEAM], k) for k in config["beams"]}
    hub |= {(decoding.HUB[decoding.GREEDY], 1), (decoding.HUB[decoding.SAMPLE], 1)}
    assert others == {(name, beams, xla) for name, beams in hub for xla in config["xla"]}
    for (name, beams, xla), row in rows.items():
        if name.startswith("keras-hub"):
            assert row["vs_keras_hub"] is None
            continue
        peer = rows[(decoding.HUB[row["kind"]], beams, xla)]
        assert row["vs_keras_hub"] == pytest.approx(row["tokens_per_second"] / peer["tokens_per_second"])
    # keras-hub's BeamSampler has no length penalty: at alpha = 0 the same model gives the same top beam.
    checked = {(e["keras_dl"], e["beams"], e["xla"]) for e in result["equality"]}
    assert checked == ({("keras_dl beam_search (alpha=0)", k, x) for k in config["beams"] for x in config["xla"]}
                       | {("keras_dl greedy_search", 1, x) for x in config["xla"]})
    for e in result["equality"]:
        assert e["equal"] and e["rows_differing"] == 0, e
    assert set(result["targets"]) == {f"{name}, beams={k}, xla={x}" for name, k, x in keras_dl_decoders(config)
                                      if "beam_search" in name}


def test_keras_dl_rows_run_and_the_reason_is_recorded_without_keras_hub(monkeypatch):
    monkeypatch.setitem(sys.modules, "keras_hub", None)  # import keras_hub -> ImportError, as under `.[test]`
    config = {**decoding.QUICK, "beams": (2,), "xla": (False,), "new_tokens": 4, "rounds": 1}
    result = decoding.run(config)
    rows, others = check_rows(result, config)
    assert others == set()
    assert not result["keras_hub"]["available"] and "bench" in result["keras_hub"]["reason"]
    assert result["equality"] == [] and result["targets"] == {}
    assert "keras-hub rows missing" in decoding.markdown(result)
