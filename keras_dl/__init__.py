"""keras_dl: sequence and generative models for Keras 3, from `fit` to a phone."""

import importlib

__version__ = "0.1.0"

_SUBPACKAGES = ("data", "decoding", "diagnostics", "export", "layers", "metrics", "models", "sparsity")


def __getattr__(name):
    # Subpackages load on first use, so `keras-dl --help` does not wait for TensorFlow.
    if name in _SUBPACKAGES:
        return importlib.import_module(f"keras_dl.{name}")
    raise AttributeError(f"module 'keras_dl' has no attribute {name!r}")
