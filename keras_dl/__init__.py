"""keras_dl: sequence and generative models for Keras 3, from `fit` to a phone.

Importing it registers every serialisable class with Keras, so
`keras.models.load_model` opens any keras_dl model after `import keras_dl`.
"""

import os

__version__ = "0.1.0"
__all__ = ["data", "decoding", "diagnostics", "distribute", "export", "layers", "metrics", "models", "sparsity"]

# Before TensorFlow loads (the subpackages import it): keep its C++ log noise out of the output.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from keras_dl import data  # noqa: E402
from keras_dl import decoding  # noqa: E402
from keras_dl import diagnostics  # noqa: E402
from keras_dl import distribute  # noqa: E402
from keras_dl import export  # noqa: E402
from keras_dl import layers  # noqa: E402
from keras_dl import metrics  # noqa: E402
from keras_dl import models  # noqa: E402
from keras_dl import sparsity  # noqa: E402
