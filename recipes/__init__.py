"""Runnable `fit` recipes: `keras-dl train NAME`, or `python -m keras_dl.recipes.NAME` (installed: this folder is
the `keras_dl.recipes` package; `python -m recipes.NAME` in a checkout).

Each recipe module has `build_parser(prog)` and `run(args) -> metrics dict`.
"""

import os

# Set before any recipe imports TensorFlow, to keep its C++ log noise out of the output.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
