"""Argument checks shared by the library and the CLI, so every error names its argument."""

import math
import numbers
import os
import tempfile


def positive_int(name, value):
    """Returns `value` if it is an int > 0, else raises naming `name`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"`{name}` must be a positive int, got {value!r} ({type(value).__name__}).")
    if value <= 0:
        raise ValueError(f"`{name}` must be a positive int, got {value}.")
    return int(value)


def non_negative_int(name, value, below=None):
    """Returns `value` if it is an int with 0 <= value (< below), else raises naming `name`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"`{name}` must be a non-negative int, got {value!r} ({type(value).__name__}).")
    if value < 0 or (below is not None and value >= below):
        bound = f"in [0, {below})" if below is not None else ">= 0"
        raise ValueError(f"`{name}` must be an int {bound}, got {value}.")
    return int(value)


def token_ids(name, tokens, rank=2):
    """Returns `tokens` (a tensor or KerasTensor) if it is int of rank 1 (`[batch]`) or 2 (`[batch, time]`), else
    raises naming `name`."""
    import keras  # Here, not at the top: the CLI checks its arguments before TensorFlow loads.

    dtype = keras.backend.standardize_dtype(tokens.dtype)
    if len(tokens.shape) != rank or "int" not in dtype:
        expected = "[batch]" if rank == 1 else "[batch, time]"
        raise ValueError(f"`{name}` must be int {expected}, got {dtype} of shape {tuple(tokens.shape)}.")
    return tokens


def positive_float(name, value):
    """Returns `value` as a float if it is > 0, else raises naming `name`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"`{name}` must be a number, got {value!r} ({type(value).__name__}).")
    if not value > 0:
        raise ValueError(f"`{name}` must be > 0, got {value}.")
    return float(value)


def non_negative_float(name, value, below=None, finite=False):
    """Returns `value` as a float if 0 <= value (< below), else raises naming `name`.

    NaN is never accepted; with `finite=True`, neither is infinity (e.g. a duration that a
    loop waits for)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"`{name}` must be a number, got {value!r} ({type(value).__name__}).")
    if math.isnan(value) or (finite and math.isinf(value)) or value < 0 or (below is not None and value >= below):
        bound = f"in [0, {below})" if below is not None else "a finite number >= 0" if finite else ">= 0"
        raise ValueError(f"`{name}` must be {bound}, got {value}.")
    return float(value)


def writable_directory(name, path):
    """Creates directory `path` if needed and checks it can be written, before any long work; raises naming `name`."""
    try:
        os.makedirs(path, exist_ok=True)
        tempfile.TemporaryFile(dir=path).close()
    except OSError as error:
        raise ValueError(f"`{name}` must be a writable directory, got {path!r}: {error.strerror}.") from None
    return path
