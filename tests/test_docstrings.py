"""Every docstring example in keras_dl runs (doctest) and prints what it shows, in a fresh directory, with
`keras`, `np` and `tf` imported."""

import doctest
import importlib
import pkgutil

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
import termcolor

import keras_dl


def _modules():
    return sorted(name for _, name, _ in pkgutil.walk_packages(keras_dl.__path__, "keras_dl."))


def _examples():
    finder = doctest.DocTestFinder(exclude_empty=True)
    for name in _modules():
        module = importlib.import_module(name)
        for test in finder.find(module, globs={}):
            if test.examples and test.name.startswith(name):  # Not the objects a module imports.
                yield pytest.param(name, test.name, id=test.name)


@pytest.mark.parametrize("module, name", list(_examples()))
def test_docstring_example_runs(module, name, data_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(tfds.core.constants, "DATA_DIR", data_dir)  # TFDS' default, not ~/tensorflow_datasets.
    # TFDS prints when it prepares a dataset, so an example's output would depend on the tests run before it.
    monkeypatch.setattr(termcolor, "cprint", lambda *args, **kwargs: None)
    keras.utils.set_random_seed(0)
    (test,) = [t for t in doctest.DocTestFinder().find(importlib.import_module(module)) if t.name == name]
    test.globs = dict(test.globs, keras=keras, np=np, tf=tf)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report = []
    runner.run(test, out=report.append)
    assert runner.failures == 0, "".join(report)
