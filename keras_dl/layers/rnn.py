"""keras_dl's `LSTM` and `GRU`: Keras' own layers, under keras_dl's name.

Until this release they had a custom CPU training path (the input projection for all
steps in one product, a hand-derived backward pass); `benchmarks.rnn_throughput` measured
it slower than Keras' own loop (0.96x LSTM, 0.82x GRU), and a projection-only variant was
slower too (0.94x), so it is gone. What is left is Keras' layer with every argument,
cuDNN on a GPU and XLA, and the built-in-ops LiteRT export of `keras_dl.export`.
"""

import keras


@keras.saving.register_keras_serializable(package="keras_dl")
class LSTM(keras.layers.LSTM):
    """`keras.layers.LSTM`, every argument and behaviour included (models saved with keras_dl's name load).

    Example:
    >>> model = keras.Sequential([keras.Input((100, 64)), LSTM(256, return_sequences=True, dropout=0.1)])
    """


@keras.saving.register_keras_serializable(package="keras_dl")
class GRU(keras.layers.GRU):
    """`keras.layers.GRU`, every argument and behaviour included (models saved with keras_dl's name load).

    Example:
    >>> model = keras.Sequential([keras.Input((100, 64)), GRU(256, go_backwards=True)])
    """
