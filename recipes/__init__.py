"""Runnable `fit` recipes: `python -m recipes.NAME` or `keras-dl train NAME`.

Each recipe module has `build_parser(prog)` and `run(args) -> metrics dict`.
"""

import os

# Set before any recipe imports TensorFlow, to keep its C++ log noise out of the output.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
