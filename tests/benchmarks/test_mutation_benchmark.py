import json

import pytest

from benchmarks import mutation


def test_summary_scores_killed_over_mutants_less_the_equivalent_ones(tmp_path, monkeypatch):
    meta = tmp_path / "mutants" / "keras_dl" / "m.py.meta"
    meta.parent.mkdir(parents=True)
    # mutmut's exit codes: 1 killed, 0 survived, 33 no test ran it, -24 timed out (caught: counted as killed).
    meta.write_text(json.dumps({"exit_code_by_key": {"m.x_f__mutmut_1": 1, "m.x_f__mutmut_2": 1, "m.x_f__mutmut_3": 1,
                                                      "m.x_f__mutmut_4": 0, "m.x_f__mutmut_5": 33,
                                                      "m.x_f__mutmut_6": None, "m.x_f__mutmut_7": -24,
                                                      "pkg.n.xǁCǁg__mutmut_1": 0}}))
    monkeypatch.setattr(mutation, "_mutmut", lambda work, *args: f"# {args[1]}\n+ diff of {args[1]}\n")
    monkeypatch.setitem(mutation.EQUIVALENT, "m.x_f__mutmut_4", ("diff of m.x_f__mutmut_4", "a default every "
                                                                                         "caller overrides"))
    # A reason whose line is no longer in the diff (the function changed, mutmut renumbered) does not apply.
    monkeypatch.setitem(mutation.EQUIVALENT, "m.x_f__mutmut_5", ("some old line", "stale"))
    row = mutation.summarise(tmp_path, "m", ["keras_dl/m.py"], ["tests/test_m.py"])
    assert (row["mutants"], row["not_run"], row["killed"], row["equivalent"]) == (8, 1, 4, 1)
    assert row["timeouts"] == 1
    assert row["score"] == pytest.approx(4 / 6)
    # Per file: a method's mutants (mutmut names them module.xǁClassǁmethod__mutmut_n) count for its module.
    assert row["files"] == {
        "m.py": {"mutants": 7, "not_run": 1, "killed": 4, "equivalent": 1, "unexplained": 1, "score": 4 / 5},
        "pkg/n.py": {"mutants": 1, "not_run": 0, "killed": 0, "equivalent": 0, "unexplained": 1, "score": 0.0}}
    assert row["survivors"] == [
        {"mutant": "m.x_f__mutmut_4", "status": "survived", "diff": "+ diff of m.x_f__mutmut_4\n",
         "reason": "a default every caller overrides"},
        {"mutant": "m.x_f__mutmut_5", "status": "no tests", "diff": "+ diff of m.x_f__mutmut_5\n", "reason": None},
        {"mutant": "pkg.n.xǁCǁg__mutmut_1", "status": "survived", "diff": "+ diff of pkg.n.xǁCǁg__mutmut_1\n",
         "reason": None}]
    # A group with mutants not run lists its files under it.
    assert mutation.table([row]).splitlines()[2:] == ["| m | 8 | 1 | 4 | 1 | 2 | 66.7% |",
                                                      "| - m.py | 7 | 1 | 4 | 1 | 1 | 80.0% |",
                                                      "| - pkg/n.py | 1 | 0 | 0 | 0 | 1 | 0.0% |"]


def test_bad_modules_are_named(capsys):
    with pytest.raises(SystemExit):
        mutation.main(["--modules", "sparsity,nope"])
    err = capsys.readouterr().err
    assert "--modules: expected a comma-separated list from metrics, sparsity, cells, decoding, export, got " in err
    assert "'sparsity,nope'" in err


def test_survivors_only_runs_again_exactly_the_survivors_not_listed_as_equivalent(tmp_path, monkeypatch):
    meta = tmp_path / "m" / "mutants" / "keras_dl" / "m.py.meta"
    meta.parent.mkdir(parents=True)
    # -24 is mutmut's timeout: caught, like a kill.
    meta.write_text(json.dumps({"exit_code_by_key": {"a": 1, "b": 0, "c": 33, "d": None, "e": -24, "f": 0}}))
    monkeypatch.setitem(mutation.EQUIVALENT, "f", ("line", "reason"))
    monkeypatch.setattr(mutation, "_workdir", lambda root, group, globs, tests: tmp_path / group)
    monkeypatch.setattr(mutation, "summarise", lambda *args: None)
    commands = []
    monkeypatch.setattr(mutation.subprocess, "run", lambda command, **kwargs: commands.append(command[1:]))
    mutation.run_group(tmp_path, "m", ["keras_dl/m.py"], ["tests"], survivors_only=True)
    mutation.run_group(tmp_path, "m", ["keras_dl/m.py"], ["tests"])
    assert commands == [["run", "b", "c"], ["run"]]
    meta.write_text(json.dumps({"exit_code_by_key": {"a": 1, "f": 0}}))
    mutation.run_group(tmp_path, "m", ["keras_dl/m.py"], ["tests"], survivors_only=True)
    assert len(commands) == 2, "nothing to run again: mutmut must not start (unnamed, it would run everything)"


def test_a_report_needs_a_run_to_report_on(tmp_path, capsys):
    with pytest.raises(SystemExit):
        mutation.main(["--modules", "metrics", "--out", str(tmp_path), "--report"])
    assert f"--report: no mutmut run of metrics in {tmp_path}" in capsys.readouterr().err
