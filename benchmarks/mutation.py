"""Mutation score of the test suite: how many small, plausible bugs planted in a module the tests catch.

    python -m benchmarks.mutation [--quick] [--modules sparsity,metrics,...] [--out mutation_out]
                                  [--survivors-only | --report]

Runs mutmut (https://mutmut.readthedocs.io) on each module group below, each in its own copy of the
working tree under `--out` (so a killed run resumes where it stopped: mutmut keeps each mutant's result).
mutmut plants one mutant at a time (an operator, a constant, an argument, a return value changed) and runs
the tests of that group which execute the mutated function; a mutant is *killed* when one of them fails,
and *survives* when all pass. Each survivor is either killed by a new test or listed in `EQUIVALENT`
with the reason no correct test can tell it apart (for instance, a changed default that every caller
overrides). Score = killed / (mutants run - equivalent).

Writes `mutation.json` (module, mutants, killed, score, every survivor with its diff and reason) and
prints the table. `--quick` runs one small module (`keras_dl/sparsity/masks.py`) in 2-3 minutes.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from keras_dl import _checks
from keras_dl.export import write_text

# group -> (source globs to mutate, the tests that may kill them). Tests that run keras_dl in a child process are
# left out: the child imports the unmutated package, so they cost time and cannot kill a mutant.
MODULES = {
    "metrics": (["keras_dl/metrics/*"], ["tests/metrics"]),
    "sparsity": (["keras_dl/sparsity/*"], ["tests/sparsity/test_pruning.py", "tests/sparsity/test_pruning_state.py",
                                           "tests/sparsity/test_schedules.py", "tests/models/test_sparse_rnn.py",
                                           "--deselect", "tests/sparsity/test_pruning_state.py::test_saved_mid_ramp_a_"
                                           "pruned_model_continues_in_a_fresh_process_exactly_like_an_uninterrupted_run"]),
    "cells": (["keras_dl/layers/cells.py"], ["tests/layers/test_cells.py", "tests/layers/test_rnn.py"]),
    "decoding": (["keras_dl/decoding/*"], ["tests/decoding", "tests/models/test_wavenet.py",
                                           "tests/models/test_pixelcnn.py"]),
    "export": (["keras_dl/export/*"], ["tests/export"]),
}
QUICK = {"masks": (["keras_dl/sparsity/masks.py"], ["tests/sparsity/test_pruning.py"])}

# mutant name -> why no correct test can kill it. Filled in from the survivors of a full run.
EQUIVALENT = {}

# Copied afresh on every run: mutmut then re-tests only the functions whose source changed, and runs new tests.
COPIED = ("keras_dl", "tests", "benchmarks", "recipes", "export", "android_demo", "setup.cfg", "pyproject.toml")


def _workdir(root, group, globs, tests):
    """A copy of the working tree with mutmut's settings for one group (kept between runs, so it resumes)."""
    work = Path(root) / group
    work.mkdir(parents=True, exist_ok=True)
    here = Path(__file__).resolve().parent.parent
    for name in COPIED:
        source, target = here / name, work / name
        if target.is_dir():
            shutil.rmtree(target)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, target)
    settings = {"source_paths": ["keras_dl"], "only_mutate": globs, "pytest_add_cli_args_test_selection": tests,
                "also_copy": [n for n in COPIED if n not in ("keras_dl", "tests", "setup.cfg", "pyproject.toml")],
                "pytest_add_cli_args": ["-p", "benchmarks._mutmut_keras", "-p", "no:cacheprovider"],
                # Keras and TensorFlow start thread pools on import: fork each mutant from a clean server.
                "process_isolation": "forkserver"}
    lines = ["", "[tool.mutmut]"] + [f"{key} = {json.dumps(value)}" for key, value in settings.items()]
    (work / "pyproject.toml").write_text((here / "pyproject.toml").read_text() + "\n".join(lines) + "\n")
    return work


def _mutmut(work, *args):
    mutmut = Path(sys.executable).with_name("mutmut")
    return subprocess.run([str(mutmut), *args], cwd=work, check=True, capture_output=True, text=True).stdout


def _results(work):
    """(mutant name, status) for every mutant of the group, from the files mutmut keeps in `mutants/`."""
    from mutmut.stats import status_by_exit_code

    for meta in sorted((work / "mutants").rglob("*.py.meta")):
        for name, code in json.loads(meta.read_text())["exit_code_by_key"].items():
            yield name, status_by_exit_code[code]


def _forget_survivors(work):
    """Marks every mutant that was not killed as untested, so the next `mutmut run` tests it again."""
    from mutmut.stats import status_by_exit_code

    count = 0
    for meta in (work / "mutants").rglob("*.py.meta"):
        data = json.loads(meta.read_text())
        for name, code in data["exit_code_by_key"].items():
            if code is not None and status_by_exit_code[code] != "killed":
                data["exit_code_by_key"][name], count = None, count + 1
        meta.write_text(json.dumps(data))
    return count


def run_group(root, group, globs, tests, survivors_only=False):
    work = _workdir(root, group, globs, tests)
    again = f": {_forget_survivors(work)} survivors again" if survivors_only else ""
    print(f"mutmut on {', '.join(globs)} with {' '.join(tests)} (in {work}){again}", flush=True)
    # mutmut's first pass runs every selected test once, preparing the TFDS data for all the mutants after it.
    env = {**os.environ, "KERAS_DL_TEST_DATA_DIR": str(Path(root).resolve() / "tensorflow_datasets")}
    subprocess.run([str(Path(sys.executable).with_name("mutmut")), "run"], cwd=work, check=True,
                   stdout=subprocess.DEVNULL, env=env)
    return summarise(work, group, globs, tests)


def summarise(work, group, globs, tests):
    """The group's row: counts, score, and every survivor with its diff and the reason it is equivalent (if any).

    Mutants not run yet (an interrupted run) are counted apart and left out of the score."""
    statuses = dict(_results(Path(work)))
    survivors = [{"mutant": name, "status": status, "diff": _mutmut(work, "show", name).split("\n", 1)[1],
                  "reason": EQUIVALENT.get(name)}
                 for name, status in statuses.items() if status not in ("killed", "not checked")]
    killed = sum(status == "killed" for status in statuses.values())
    not_run = sum(status == "not checked" for status in statuses.values())
    equivalent = sum(s["reason"] is not None for s in survivors)
    return {"module": group, "sources": globs, "tests": tests, "mutants": len(statuses), "not_run": not_run,
            "killed": killed, "equivalent": equivalent,
            "score": killed / max(len(statuses) - not_run - equivalent, 1), "survivors": survivors}


def table(rows):
    lines = ["| module | mutants | not run | killed | equivalent | unexplained survivors | score |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        unexplained = sum(s["reason"] is None for s in r["survivors"])
        lines.append(f"| {r['module']} | {r['mutants']} | {r['not_run']} | {r['killed']} | {r['equivalent']} | "
                     f"{unexplained} | {r['score']:.1%} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one small module (keras_dl/sparsity/masks.py)")
    parser.add_argument("--modules", default=",".join(MODULES), help=f"comma-separated, from {', '.join(MODULES)}")
    parser.add_argument("--out", default="mutation_out", help="working copies, one per module group (resumable)")
    parser.add_argument("--survivors-only", action="store_true",
                        help="test again the mutants the last run in --out did not kill (after adding tests)")
    parser.add_argument("--report", action="store_true",
                        help="write the report of the runs already in --out, running nothing (e.g. after an interrupt)")
    args = parser.parse_args(argv)
    groups = QUICK if args.quick else MODULES
    names = list(groups) if args.quick else [name.strip() for name in args.modules.split(",") if name.strip()]
    unknown = [name for name in names if name not in groups]
    if unknown or not names:
        parser.error(f"--modules: expected a comma-separated list from {', '.join(MODULES)}, got {args.modules!r}")
    if not Path(sys.executable).with_name("mutmut").exists():
        parser.error("mutmut is not installed: pip install -e '.[test]'")
    _checks.writable_directory("--out", args.out)
    missing = [name for name in names if not (Path(args.out) / name / "mutants").is_dir()]
    if args.report and missing:
        parser.error(f"--report: no mutmut run of {', '.join(missing)} in {args.out}")
    if args.report and args.survivors_only:
        parser.error("--report runs nothing: it cannot be combined with --survivors-only")
    if args.report:
        rows = [summarise(Path(args.out) / name, name, *groups[name]) for name in names]
    else:
        rows = [run_group(args.out, name, *groups[name], survivors_only=args.survivors_only) for name in names]
    print(table(rows))
    write_text(os.path.join(args.out, "mutation.json"), json.dumps({"quick": args.quick, "modules": rows}, indent=1))
    return rows


if __name__ == "__main__":
    main()
