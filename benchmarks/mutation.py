"""Mutation score of the test suite: how many small, plausible bugs planted in a module the tests catch.

    python -m benchmarks.mutation [--quick] [--modules sparsity,metrics,...] [--out mutation_out]
                                  [--survivors-only | --report]

Runs mutmut (https://mutmut.readthedocs.io) on each module group below, each in its own copy of the
working tree under `--out` (so a killed run resumes where it stopped: mutmut keeps each mutant's result).
mutmut plants one mutant at a time (an operator, a constant, an argument, a return value changed) and runs
the tests of that group which execute the mutated function; a mutant is *killed* when one of them fails
or runs past mutmut's time limit, and *survives* when all pass. Each survivor is either killed by a new test
or listed in `EQUIVALENT` with the reason no correct test can tell it apart (for instance, a changed default
that every caller overrides). Score = killed / (mutants run - equivalent).

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
                                           "tests/layers/test_cells.py",  # every cell pruned, DelayCell's diagonal
                                           "--deselect", "tests/sparsity/test_pruning_state.py::test_saved_mid_ramp_a_"
                                           "pruned_model_continues_in_a_fresh_process_exactly_like_an_uninterrupted_run"]),
    "cells": (["keras_dl/layers/cells.py"], ["tests/layers/test_cells.py", "tests/layers/test_rnn.py"]),
    "decoding": (["keras_dl/decoding/*"], ["tests/decoding", "tests/models/test_wavenet.py",
                                           "tests/models/test_pixelcnn.py", "tests/models/test_wavernn.py"]),
    "export": (["keras_dl/export/*"], ["tests/export"]),
}
QUICK = {"masks": (["keras_dl/sparsity/masks.py"], ["tests/sparsity/test_pruning.py"])}

# mutant name -> (a line of its diff, why no correct test can kill it). mutmut numbers the mutants of a function
# afresh when its source changes, so a reason applies only while the diff still has that line.
_AXIS = "the scores are 2-D [groups, blocks]: argsort's default axis and axis 1 are both the last one"
_KEEP = "a diagonal is kept only in a 2-D weight (checked in prune_low_magnitude): its shape[1] is shape[-1]"
_STEPS = ("steps are the int64 step variable or Python ints (int32 below 2**31, int64 above): the comparisons and "
          "the subtraction give the same result in either")
_WIDE = ("the width serves a 2-D weight, whose axis 1 is its last: the diagonal check rejects other ranks first, and a "
         "block other than (1, 1) needs a 2-D weight (checked before it is used); with (1, 1) the check is % 1, never true")
_PY_FLOAT = "a Python float converts to float32 whatever floatx is"
_DIRECTION = "Keras' monitor callbacks read `_direction` only as == 'up' (keras/src/callbacks/monitor_callback.py)"
_BATCH = "the batch size of predict does not change the predictions"
_BOOL = "Keras variables keep bool(trainable) (keras/src/backend/common/variables.py): None is False"
_SILENT = ("predict and evaluate with verbose=None print nothing, as with verbose=0 (checked: Keras' progress bar writes "
           "only for 1 and 2)")
_IMPORT = ("a class decorator: it runs once when keras_dl is imported, before mutmut's forked test run activates a "
           "mutant, so no test can execute it (the .keras round trips of tests/layers/test_cells.py load each cell by "
           "its registered name)")
_STEP_AXIS = "a cell's step tensors are 2-D [batch, width]: axis 1 is the last axis"
_CONVERTED = "the NumPy array is converted to the layer's dtype where it is used, whatever dtype it is made in"
_SHAPE = "build checks len(input_shape) == 2 first: index 1 is the last"
_PERIODS = ("the periods are small integers, exact in any float dtype, and Keras' mod promotes the pair (t, periods) "
            "to the wider dtype")
_GLOROT = "add_weight's default initializer for a float weight is glorot_uniform (keras/src/layers/layer.py)"
_SLICE = "slice(0, n), slice(None, n) and slice(n) are one slice"
_FDLIBM = ("fdlibm's thresholds on the high word of |x| have slack: at the one high word the comparison moves, "
           "either branch gives StrictMath.exp's double (28 doubles of that high word, both signs, checked against "
           "Java in tests/decoding/test_portable_sampling.py)")
_LABEL = "the twin's name only labels it: Keras names an unnamed layer uniquely just the same, and nothing looks it up"
EQUIVALENT = {
    "keras_dl.sparsity.masks.x_magnitude_mask__mutmut_102": ("ops.argsort(scores, axis=-1), )", _AXIS),
    "keras_dl.sparsity.masks.x_magnitude_mask__mutmut_106": ("ops.argsort(ops.argsort(scores, ), axis=-1)", _AXIS),
    "keras_dl.sparsity.masks.x_magnitude_mask__mutmut_107": ("ops.argsort(scores, axis=+1), axis=-1)", _AXIS),
    "keras_dl.sparsity.masks.x_magnitude_mask__mutmut_109": ("ops.argsort(scores, axis=-1), axis=+1)", _AXIS),
    "keras_dl.sparsity.pruning.xǁMagnitudePruningǁ__init____mutmut_33": ('trainable=None, name="mask")', _BOOL),
    "keras_dl.sparsity.pruning.xǁMagnitudePruningǁ__init____mutmut_49": ('trainable=None, name="step")', _BOOL),
    "keras_dl.sparsity.pruning.x_prune_low_magnitude__mutmut_66": ("width = weight.shape[+1] // gates", _WIDE),
    **{f"keras_dl.sparsity.schedules.xǁPruningScheduleǁshould_prune__mutmut_{n}": (line, _STEPS)
       for n, line in ((3, "ops.convert_to_tensor(step, None)"), (5, "ops.convert_to_tensor(step, )"))},
    "keras_dl.sparsity.pruning.xǁMagnitudePruningǁ_keep__mutmut_3": ("self.weight_shape[+1] // self.gates", _KEEP),
    "keras_dl.sparsity.pruning.xǁMagnitudePruningǁ__init____mutmut_46": (
        'self.add_weight(shape=None, initializer="zeros", dtype="int64"', "add_weight's default shape is ()"),
    "keras_dl.sparsity.pruning.xǁMagnitudePruningǁ__init____mutmut_51": (
        'self.add_weight(initializer="zeros", dtype="int64"', "add_weight's default shape is ()"),
    "keras_dl.sparsity.pruning.xǁMagnitudePruningǁ__init____mutmut_47": (
        'shape=(), initializer=None, dtype="int64"', "add_weight initialises an int64 weight with zeros by default"),
    "keras_dl.sparsity.pruning.xǁMagnitudePruningǁ__init____mutmut_52": (
        'shape=(), dtype="int64", trainable=False, name="step"', "add_weight initialises an int64 weight with zeros "
                                                                 "by default"),
    "keras_dl.sparsity.schedules.xǁConstantSparsityǁ__call____mutmut_3": ("self.target_sparsity, None)", _PY_FLOAT),
    "keras_dl.sparsity.schedules.xǁConstantSparsityǁ__call____mutmut_5": ("self.target_sparsity, )", _PY_FLOAT),
    "keras_dl.sparsity.schedules.xǁPolynomialDecayǁ__init____mutmut_20": (
        "allow_forever=None", "None is falsy, as False is"),
    "keras_dl.sparsity.schedules.xǁPolynomialDecayǁ__call____mutmut_3": ("ops.convert_to_tensor(step, None)", _STEPS),
    "keras_dl.sparsity.schedules.xǁPolynomialDecayǁ__call____mutmut_5": ("ops.convert_to_tensor(step, )", _STEPS),
    "keras_dl.metrics.generative.x_mode_coverage__mutmut_61": (
        "samples[start:start + 65537]", "chunks overlapping by one sample write its nearest mode and distance twice, "
                                        "the same both times"),
    "keras_dl.metrics.generative.x_kernel_distance__mutmut_48": (
        "subset_size, replace=None)", "None is falsy: numpy's choice still draws without replacement"),
    "keras_dl.metrics.generative.x_kernel_distance__mutmut_55": (
        "subset_size, replace=None)", "None is falsy: numpy's choice still draws without replacement"),
    "keras_dl.metrics.generative.x__feature_dim__mutmut_3": (
        "output_shape[+1]", "the feature model's output shape is (None, 64): index 1 is the last"),
    "keras_dl.metrics.generative.x_classifier_features__mutmut_1": ("batch_size=501)", _BATCH),
    "keras_dl.metrics.generative.x_classifier_fid__mutmut_1": ("batch_size=501)", _BATCH),
    "keras_dl.metrics.generative.x_classifier_kid__mutmut_3": ("batch_size=501)", _BATCH),
    "keras_dl.metrics.generative.x_label_accuracy__mutmut_1": ("batch_size=501)", _BATCH),
    **{f"keras_dl.metrics.generative.x_build_digit_classifier__mutmut_{n}": (
        'padding="SAME"', "Keras lower-cases `padding` (keras/src/utils/argument_validation.py: standardize_padding)")
       for n in (24, 49)},
    **{f"keras_dl.metrics.generative.x_train_digit_classifier__mutmut_{n}": (line, reason) for n, line, reason in (
        (56, "shuffle=None", "digits_dataset shuffles the train split by default (shuffle=None)"),
        (64, "with_labels=True, repeat=True", "digits_dataset shuffles the train split by default (shuffle=None)"),
        (61, 'digits_dataset("mnist", batch_size', "digits_dataset's default split is train"),
        (104, '"validation", batch_size=501', "the validation split holds 500 digits: one batch either way"),
        (114, '"test", with_labels', "evaluate's accuracy is the mean over the whole split whatever the batch size"),
        (121, '"test", batch_size=501', "the test split holds 500 digits: one batch either way"),
        (131, 'load_builder("digits", data_dir, )', "the digits builder's default source is mnist"),
        (177, "evaluate(validation, verbose=None)", _SILENT),
        (183, "evaluate(test, verbose=None)", _SILENT))},
    **{f"keras_dl.metrics.generative.x__shifted__mutmut_{n}": (line, reason) for n, line, reason in (
        (12, "[2, 3], [2, 2]", "offsets are at most 4: the 28 rows taken from row r <= 4 never reach a 33rd row"),
        (14, "[2, 2], [2, 3]", "offsets are at most 4: the 28 columns taken from column c <= 4 never reach a 33rd"),
        (25, "seed=seed, maxval=5", "stateless_uniform's minval defaults to 0"),
        (44, "axis=None, batch_dims=1", "tf.gather's axis defaults to batch_dims, here 1"),
        (48, "gather(padded, rows, batch_dims=1)", "tf.gather's axis defaults to batch_dims, here 1"))},
    "keras_dl.metrics.generative.x_classifier_features__mutmut_12": ("verbose=None)", _SILENT),
    "keras_dl.metrics.generative.x_label_accuracy__mutmut_29": ("verbose=None)", _SILENT),
    "keras_dl.metrics.generative.x_label_accuracy__mutmut_42": (
        "np.argmax(logits, axis=+1)", "the logits are 2-D [N, 10]: axis 1 is the last"),
    "keras_dl.metrics.sequence.x_exact_match__mutmut_71": (
        "ops.all(same, axis=+1)", "`same` is 2-D [batch, time]: axis 1 is the last"),
    "keras_dl.metrics.memory_tasks.x_bits_wrong__mutmut_21": (
        "target >= 0.5", "targets are 0/1 bits, as documented: none is 0.5"),
    "keras_dl.metrics.sequence.xǁSequenceLossǁ__call____mutmut_21": (
        "ops.expand_dims(sample_weight, +1)", "sample_weight is 1-D on that branch: axis 1 is the new last axis"),
    **{f"keras_dl.metrics.{name}__mutmut_{n}": (line, _DIRECTION)
       for name, first in (("language.xǁBitsPerCharacterǁ__init__", 9),
                           ("memory_tasks.xǁBitsWrongPerSequenceǁ__init__", 7))
       for n, line in enumerate(('self._direction = None', 'self._direction = "XXdownXX"',
                                 'self._direction = "DOWN"'), start=first)},
    **{f"keras_dl.layers.cells.x__register__mutmut_{n}": (line, _IMPORT) for n, line in (
        (1, ')(None)'), (2, 'package=None)'), (3, 'package="XXkeras_dlXX"'), (4, 'package="KERAS_DL"'))},
    **{f"keras_dl.layers.cells.xǁ{name}ǁ{function}__mutmut_{n}": (line, reason) for name, function, n, line, reason in (
        ("LSTMCell", "step", 28, "ops.split(z, 3, axis=+1)", _STEP_AXIS),
        ("LSTMCell", "step", 39, "ops.split(z, 4, axis=+1)", _STEP_AXIS),
        ("GRUCell", "step", 31, "ops.split(xw, 3, axis=+1)", _STEP_AXIS),
        ("GRUCell", "step", 46, "3, axis=+1)", _STEP_AXIS),
        ("DelayCell", "step", 13, "for d in self.delays], axis=+1)", _STEP_AXIS),
        ("DelayCell", "step", 38, "(max(self.delays) - 1) * u]], axis=+1)", _STEP_AXIS),
        ("LSTMCell", "initial_bias", 3, "np.zeros(shape, None)", _CONVERTED),
        ("LSTMCell", "initial_bias", 5, "np.zeros(shape, )", _CONVERTED),
        ("LSTMCell", "initial_bias", 9, "slice(None, self.units)", _SLICE),
        ("LSTMCell", "initial_bias", 11, "slice(self.units) if", _SLICE),
        ("LSTMCell", "build", 9, 'initializer=None, name="peephole_weights"', _GLOROT),
        ("ClockworkCell", "__init__", 22, "module = self.units / len(self.periods)",
         "len(periods) divides units (checked just above), so / is exact, and np.repeat takes a count of 2.0 as 2"),
        ("ClockworkCell", "__init__", 29, "np.asarray(self.periods, None)", _CONVERTED),
        ("ClockworkCell", "__init__", 31, "np.asarray(self.periods, )", _CONVERTED),
        ("ClockworkCell", "__init__", 34, ".astype(None)", _CONVERTED),
        ("ClockworkCell", "step", 48, "return h, [h, t - 1.0]",
         "a module is due when t mod period is 0, which holds for -t exactly when it holds for t (floored mod)"),
        ("OrthogonalCell", "recurrent_matrix", 16, "np.ones(self.units, None)", _CONVERTED),
        ("OrthogonalCell", "recurrent_matrix", 18, "np.ones(self.units, )", _CONVERTED),
        ("OrthogonalCell", "recurrent_matrix", 24, "ops.solve(eye + a, eye - a) / ops",
         "D's entries are +1 and -1, so dividing by D is multiplying by it"),
        ("RecurrentCell", "build", 4, "input_shape[+1] is None", _SHAPE),
        ("RecurrentCell", "build", 21, "shape=(input_shape[+1], width)", _SHAPE),
        ("LSTMCell", "build", 12, 'shape=(3, self.units), name="peephole_weights"', _GLOROT),
        ("CoarseFineGRUCell", "build", 4, "np.ones(tuple(self.kernel.shape), None)", _CONVERTED),
        ("CoarseFineGRUCell", "build", 6, "np.ones(tuple(self.kernel.shape), )", _CONVERTED),
        ("CoarseFineGRUCell", "build", 9, "for gate in range(4):",
         "the kernel holds 3 gates: a 4th gate's columns lie past its end, and a NumPy slice past the end is empty"),
        ("ClockworkCell", "step", 25, "ops.convert_to_tensor(self._unit_periods, dtype=None)", _PERIODS),
        ("ClockworkCell", "step", 27, "ops.convert_to_tensor(self._unit_periods, )", _PERIODS),
        ("OrthogonalCell", "prunable_weights", 6, 'PrunableWeight("kernel", "kernel_constraint", )]',
         "OrthogonalCell has one gate, PrunableWeight's default"),
        ("GRUCell", "sharing_weights", 28, "name=None)", _LABEL),
        ("GRUCell", "sharing_weights", 32, "use_bias=cell.use_bias, )", _LABEL))},
    **{f"keras_dl.decoding.sampling.x_{function}__mutmut_{n}": (line, reason) for function, n, line, reason in (
        ("_from_bits", 12, 'struct.pack("<q"', "strict_exp passes the bits of a positive double (an exp result): below "
                                               "2**63, where <q and <Q pack the same bytes"),
        ("strict_exp", 18, "return x - x if x != x", "x is NaN there: NaN - NaN is NaN, as NaN + NaN is"),
        ("strict_exp", 29, "if x < -746.1332191019411:", "below -745.13 exp(x) is under half the smallest subnormal: "
                                                          "the scaled path rounds it to 0.0 too (StrictMath.exp gives "
                                                          "0.0 at -745.5 and -746, tested)"),
        *(("strict_exp", n, line, _FDLIBM) for n, line in ((33, "if hx >= 0x3FD62E42:"), (35, "if hx <= 0x3FF0A2B2:"),
                                                 (36, "if hx < 1072734899:"), (57, "elif hx <= 0x3E300000:"),
                                                 (58, "elif hx < 1043333121:"))),
        ("strict_exp", 92, "if k > -1021:", "at k = -1021 the result is a normal double: adding k to its exponent and "
                                            "scaling by 2**(k + 1000) then 2**-1000 are both exact"),
        ("sample_categorical", 65, "top_k <= len(z)", "top_k == len(z) keeps every index, in increasing order: the "
                                                      "same indices as range(len(z))"),
        *(("generate", n, line, "_decode casts the start tokens to int32 and passes int32 tensors to step_fn, "
                                "whatever NumPy dtype they had") for n, line in (
            (40, '"token": np.asarray(tokens, None)'), (42, '"token": np.asarray(tokens, )'),
            (77, "np.array([prompt[-1]], None)"), (79, "np.array([prompt[-1]], )"))))},
    **{f"keras_dl.decoding.pixels.x_sample_pixels__mutmut_{n}": (line, reason) for n, line, reason in (
        (40, "ops.arange(length, dtype=None)", "Keras' arange of a Python int is int32 (checked), as asked"),
        (42, "ops.arange(length, )", "Keras' arange of a Python int is int32 (checked), as asked"),
        (132, "logits], axis=+1)", "the Bernoulli logits are 2-D [samples, 1] there: axis 1 is the last"),
        *((n, line, "the first ops.where with the float32 values drawn makes the canvas float32 before the model "
                    "sees it, whatever floatx the zeros had") for n, line in (
            (138, "ops.zeros((num_samples, length), None)"), (140, "ops.zeros((num_samples, length), )"))))},
    **{f"keras_dl.decoding.search.x_filter_logits__mutmut_{n}": (line, reason) for n, line, reason in (
        (15, "top_k <= vocabulary", "top_k == vocabulary keeps every logit: none is below the smallest"),
        (35, "top_p <= 1.0", "top_p = 1 filters nothing but tokens whose float32 mass before them rounds to 1.0, "
                             "that is of probability below 6e-8: not equivalent in exact arithmetic, but no test of "
                             "draws can see a change of 6e-8 in probability"),
        (36, "top_p < 2.0", "a top_p above 1 keeps every token either way: the mass before any token is below it"),
        *((n, line, "ops.softmax's axis defaults to -1") for n, line in (
            (52, "ops.cumsum(ops.softmax(ordered, ), axis=-1)"), (60, "- ops.softmax(ordered, )"))))},
}

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
    # mutmut 3.8 maps tests to the functions they call once, and re-maps only tests with new names: a changed test,
    # or a test of a new function, would be missed. Map them all again (a traced run of the selection).
    (work / "mutants" / "mutmut-stats.json").unlink(missing_ok=True)
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


def run_group(root, group, globs, tests, survivors_only=False):
    work = _workdir(root, group, globs, tests)
    # mutmut runs the mutants it is named again, and only those; unnamed, it runs the mutants not run yet.
    again = [name for name, status in _results(work)
             if status not in ("killed", "timeout", "not checked") and name not in EQUIVALENT] if survivors_only else []
    print(f"mutmut on {', '.join(globs)} with {' '.join(tests)} (in {work})"
          + (f": {len(again)} survivors again" if survivors_only else ""), flush=True)
    # mutmut's first pass runs every selected test once, preparing the TFDS data for all the mutants after it.
    env = {**os.environ, "KERAS_DL_TEST_DATA_DIR": str(Path(root).resolve() / "tensorflow_datasets")}
    if again or not survivors_only:
        subprocess.run([str(Path(sys.executable).with_name("mutmut")), "run", *again], cwd=work, check=True,
                       stdout=subprocess.DEVNULL, env=env)
    return summarise(work, group, globs, tests)


def summarise(work, group, globs, tests):
    """The group's row: counts, score, and every survivor with its diff and the reason it is equivalent (if any).

    Mutants not run yet (an interrupted run) are counted apart and left out of the score; `files` gives the same
    counts per source file."""
    statuses = dict(_results(Path(work)))
    survivors = []
    for name, status in statuses.items():
        if status not in ("killed", "timeout", "not checked"):
            diff = _mutmut(work, "show", name).split("\n", 1)[1]
            line, reason = EQUIVALENT.get(name, ("", None))
            survivors.append({"mutant": name, "status": status, "diff": diff,
                              "reason": reason if status == "survived" and any(
                                  added.startswith("+") and line in added for added in diff.splitlines()) else None})
    equivalent = {s["mutant"] for s in survivors if s["reason"] is not None}
    # Per source file too, so a group stopped part-way still gives the score of the files it finished.
    files = {}
    for name in statuses:
        files.setdefault(name.rsplit(".", 1)[0].replace(".", "/") + ".py", {})[name] = statuses[name]
    return {"module": group, "sources": globs, "tests": tests, **_counts(statuses, equivalent),
            "timeouts": sum(status == "timeout" for status in statuses.values()),
            "files": {path: _counts(part, equivalent) for path, part in sorted(files.items())}, "survivors": survivors}


def _counts(statuses, equivalent):
    # A mutant that makes the tests run past mutmut's time limit is caught (mutmut's own score counts it so too).
    killed = sum(status in ("killed", "timeout") for status in statuses.values())
    not_run = sum(status == "not checked" for status in statuses.values())
    same = len(equivalent.intersection(statuses))
    return {"mutants": len(statuses), "not_run": not_run, "killed": killed, "equivalent": same,
            "unexplained": len(statuses) - not_run - killed - same, "score": killed / max(len(statuses) - not_run - same, 1)}


def table(rows):
    lines = ["| module | mutants | not run | killed | equivalent | unexplained survivors | score |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        # A group stopped part-way lists its files: those it finished have their own score.
        parts = [(r["module"], r)] + ([(f"- {path}", c) for path, c in r["files"].items()] if r["not_run"] else [])
        lines += [f"| {name} | {c['mutants']} | {c['not_run']} | {c['killed']} | {c['equivalent']} | {c['unexplained']} | "
                  f"{c['score']:.1%} |" for name, c in parts]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one small module (keras_dl/sparsity/masks.py)")
    parser.add_argument("--modules", default=",".join(MODULES), help=f"comma-separated, from {', '.join(MODULES)}")
    parser.add_argument("--out", default="mutation_out", help="working copies, one per module group (resumable)")
    parser.add_argument("--survivors-only", action="store_true",
                        help="test again, and only, the survivors of the runs in --out not listed as equivalent")
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
    # HEAD when the report was written. mutmut keeps a mutant's result until its function's source changes.
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    write_text(os.path.join(args.out, "mutation.json"),
               json.dumps({"quick": args.quick, "commit": commit, "modules": rows}, indent=1))
    return rows


if __name__ == "__main__":
    main()
