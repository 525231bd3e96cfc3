import json

import pytest

from benchmarks import mutation


def test_summary_scores_killed_over_mutants_less_the_equivalent_ones(tmp_path, monkeypatch):
    meta = tmp_path / "mutants" / "keras_dl" / "m.py.meta"
    meta.parent.mkdir(parents=True)
    # mutmut's exit codes: 1 killed, 0 survived, 33 no test ran it.
    meta.write_text(json.dumps({"exit_code_by_key": {"m.x_f__mutmut_1": 1, "m.x_f__mutmut_2": 1, "m.x_f__mutmut_3": 1,
                                                      "m.x_f__mutmut_4": 0, "m.x_f__mutmut_5": 33,
                                                      "m.x_f__mutmut_6": None}}))
    monkeypatch.setattr(mutation, "_mutmut", lambda work, *args: f"# {args[1]}\n+ diff of {args[1]}\n")
    monkeypatch.setitem(mutation.EQUIVALENT, "m.x_f__mutmut_4", ("diff of m.x_f__mutmut_4", "a default every "
                                                                                         "caller overrides"))
    # A reason whose line is no longer in the diff (the function changed, mutmut renumbered) does not apply.
    monkeypatch.setitem(mutation.EQUIVALENT, "m.x_f__mutmut_5", ("some old line", "stale"))
    row = mutation.summarise(tmp_path, "m", ["keras_dl/m.py"], ["tests/test_m.py"])
    assert (row["mutants"], row["not_run"], row["killed"], row["equivalent"]) == (6, 1, 3, 1)
    assert row["score"] == pytest.approx(3 / 4)
    assert row["survivors"] == [
        {"mutant": "m.x_f__mutmut_4", "status": "survived", "diff": "+ diff of m.x_f__mutmut_4\n",
         "reason": "a default every caller overrides"},
        {"mutant": "m.x_f__mutmut_5", "status": "no tests", "diff": "+ diff of m.x_f__mutmut_5\n", "reason": None}]
    assert "| m | 6 | 1 | 3 | 1 | 1 | 75.0% |" in mutation.table([row])


def test_bad_modules_are_named(capsys):
    with pytest.raises(SystemExit):
        mutation.main(["--modules", "sparsity,nope"])
    err = capsys.readouterr().err
    assert "--modules: expected a comma-separated list from metrics, sparsity, cells, decoding, export, got " in err
    assert "'sparsity,nope'" in err


def test_survivors_only_marks_every_mutant_not_killed_as_untested(tmp_path):
    meta = tmp_path / "mutants" / "keras_dl" / "m.py.meta"
    meta.parent.mkdir(parents=True)
    meta.write_text(json.dumps({"exit_code_by_key": {"a": 1, "b": 0, "c": 33, "d": None, "e": -24},
                                "durations_by_key": {}}))
    assert mutation._forget_survivors(tmp_path) == 3
    assert json.loads(meta.read_text()) == {"exit_code_by_key": {"a": 1, "b": None, "c": None, "d": None, "e": None},
                                            "durations_by_key": {}}


def test_a_report_needs_a_run_to_report_on(tmp_path, capsys):
    with pytest.raises(SystemExit):
        mutation.main(["--modules", "metrics", "--out", str(tmp_path), "--report"])
    assert f"--report: no mutmut run of metrics in {tmp_path}" in capsys.readouterr().err
