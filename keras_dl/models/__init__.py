"""Models: each a `keras.Model` subclass."""

from keras_dl.models.language_model import RNNLanguageModel
