"""Property-based checks (hypothesis): bad values raise errors that name their argument; corrupt files are refused."""

import contextlib
import importlib
import io
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow_model_optimization as tfmot
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from keras_dl import cli
from keras_dl import layers
from keras_dl import models
from keras_dl.export import TFLiteModel
from keras_dl.export import export_saved_model
from keras_dl.export import export_tflite
from keras_dl.sparsity import ConstantSparsity
from keras_dl.sparsity import PolynomialDecay

BAD_INTS = st.one_of(st.integers(max_value=0), st.floats(allow_nan=True), st.booleans(), st.text(max_size=3),
                     st.none())
CELLS = [layers.ElmanCell, layers.LSTMCell, layers.GRUCell, layers.LeakyCell, layers.ClockworkCell,
         layers.OrthogonalCell, layers.DelayCell, layers.EchoStateCell]


@settings(max_examples=60, deadline=None)
@given(cell=st.sampled_from(CELLS), units=BAD_INTS)
def test_cells_name_a_bad_units(cell, units):
    with pytest.raises((ValueError, TypeError), match="`units`"):
        cell(units)


@settings(max_examples=40, deadline=None)
@given(name=st.sampled_from(["vocabulary_size", "embedding_dim", "units"]), value=BAD_INTS)
def test_language_model_names_a_bad_size(name, value):
    with pytest.raises((ValueError, TypeError), match=f"`{name}`"):
        models.RNNLanguageModel(**{name: value})


@settings(max_examples=40, deadline=None)
@given(dropout=st.one_of(st.floats(max_value=-1e-9), st.floats(min_value=1.0), st.text(max_size=2)))
def test_cells_name_a_bad_dropout(dropout):
    with pytest.raises((ValueError, TypeError), match="`dropout`"):
        layers.GRUCell(4, dropout=dropout)


def _accepts(make):
    try:
        make()
        return True
    except (ValueError, TypeError):
        return False


STEPS = st.integers(-3, 30)


@settings(max_examples=150, deadline=None)
@given(initial=st.floats(-0.5, 1.5), final=st.floats(-0.5, 1.5), begin=STEPS, end=STEPS, frequency=st.integers(-2, 5))
def test_schedules_accept_what_tfmots_accept(initial, final, begin, end, frequency):
    ours = _accepts(lambda: PolynomialDecay(initial, final, begin, end, frequency=frequency))
    theirs = _accepts(lambda: tfmot.sparsity.keras.PolynomialDecay(initial, final, begin, end, frequency=frequency))
    # tfmot accepts end_step == begin_step and then divides by zero at the first step; keras_dl refuses it.
    assert ours == (theirs and end != begin)
    ours = _accepts(lambda: ConstantSparsity(final, begin, end, frequency))
    theirs = _accepts(lambda: tfmot.sparsity.keras.ConstantSparsity(final, begin, end, frequency))
    assert ours == theirs


@pytest.fixture(scope="module")
def tflite_bytes(tmp_path_factory):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3, 2), batch_size=1), keras.layers.GRU(4)])
    return open(export_tflite(model, str(tmp_path_factory.mktemp("f") / "m.tflite")), "rb").read()


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_truncated_or_corrupt_tflite_files_are_refused_with_a_named_error(tflite_bytes, data):
    cut = data.draw(st.integers(0, len(tflite_bytes) - 1))
    with pytest.raises(ValueError, match="`model`.*(not a readable TFLite|not a TFLite|not a valid TFLite)"):
        TFLiteModel(tflite_bytes[:cut])


def test_truncated_keras_file_gives_a_clear_cli_error(tmp_path):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3, 2)), keras.layers.GRU(4)])
    path = tmp_path / "m.keras"
    model.save(path)
    data = path.read_bytes()
    truncated = tmp_path / "t.keras"
    truncated.write_bytes(data[: len(data) // 2])
    result = subprocess.run([sys.executable, "-m", "keras_dl.cli", "export", str(truncated), "--format", "tflite"],
                            capture_output=True, text=True)
    assert result.returncode != 0
    assert "is not a readable .keras file (truncated or corrupt?)" in result.stderr


def test_tflite_model_casts_same_kind_arrays_and_names_the_rest(tflite_bytes):
    runner = TFLiteModel(tflite_bytes)
    (name,) = runner.input_names
    x = np.random.default_rng(0).normal(size=(1, 3, 2))
    np.testing.assert_array_equal(next(iter(runner({name: x}).values())),  # float64 in, cast to float32
                                  next(iter(runner({name: x.astype(np.float32)}).values())))
    with pytest.raises(TypeError, match=rf"`inputs\['{name}'\]` must be float32.*got complex128"):
        runner({name: x.astype(np.complex128)})
    with pytest.raises(TypeError, match="`inputs` must be a dict"):
        runner(x)


POSITIVE_INT_FLAGS = {
    "char_rnn": ["--epochs", "--steps-per-epoch", "--validation-steps", "--hidden", "--embedding", "--seq-len",
                 "--batch-size", "--sample-length", "--prune-steps"],
    "long_term": ["--length", "--units", "--batch-size", "--steps", "--eval-every", "--num-train", "--num-eval"],
}


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("out"))


@settings(max_examples=80, deadline=None)
@given(data=st.data())
def test_recipes_name_a_bad_number_before_any_work(out_dir, data):
    recipe = data.draw(st.sampled_from(sorted(POSITIVE_INT_FLAGS)))
    module = importlib.import_module(f"recipes.{recipe}")
    flag = data.draw(st.sampled_from(POSITIVE_INT_FLAGS[recipe]))
    value = data.draw(st.one_of(st.integers(max_value=0), st.text(max_size=4)))
    argv = ["--out", out_dir, f"{flag}={value}"]  # `=`: a value starting with "-" is still the flag's value
    if isinstance(value, int):
        with pytest.raises(ValueError, match=f"`{flag}` must be"):
            module.run(module.build_parser().parse_args(argv))
    elif not value.strip().lstrip("+-").isdigit():
        stderr = io.StringIO()
        with pytest.raises(SystemExit), contextlib.redirect_stderr(stderr):
            module.build_parser().parse_args(argv)
        assert f"argument {flag}: invalid int value" in stderr.getvalue()


@settings(max_examples=40, deadline=None)
@given(command=st.sampled_from([["bench", ".", "--runs"], ["bench", ".", "--threads"],
                                ["export", ".", "--format", "tflite", "--timesteps"]]),
       value=st.integers(max_value=0))
def test_cli_names_a_bad_number(command, value):
    stderr = io.StringIO()
    with pytest.raises(SystemExit) as exit, contextlib.redirect_stderr(stderr):
        cli.main([*command, str(value)])
    assert exit.value.code == 2 and f"`{command[-1]}` must be" in stderr.getvalue()


def test_a_saved_model_given_to_export_is_named(tmp_path):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    path = export_saved_model(str(tmp_path / "sm"), {"serve": (model, None)})
    stderr = io.StringIO()
    with pytest.raises(SystemExit), contextlib.redirect_stderr(stderr):
        cli.main(["export", path, "--format", "tflite"])
    assert "is a SavedModel (an export); pass the .keras model it was exported from" in stderr.getvalue()
