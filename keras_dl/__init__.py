"""keras_dl: sequence and generative models for Keras 3, from `fit` to a phone."""

__version__ = "0.1.0"

from keras_dl import data
from keras_dl import decoding
from keras_dl import export
from keras_dl import metrics
from keras_dl import models
