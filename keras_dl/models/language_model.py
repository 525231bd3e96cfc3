"""Recurrent token-level language model with a single-step streaming twin."""

import copy

import keras
import tensorflow as tf

from keras_dl import _checks
from keras_dl.layers import GRUCell


@keras.saving.register_keras_serializable(package="keras_dl")
class _TokenLookup(keras.layers.Layer):
    """Rows of an `Embedding`'s table for in-range token ids, as one bare gather.

    Keras' `Embedding` first maps negative ids to the end of the table, which costs three
    more LiteRT ops per step (LESS, ADD, SELECT_V2; about 1 us at 1024 units, 4% of a
    sparse int8 step). A step model's ids are in range, and LiteRT's GATHER rejects the rest.
    """

    def __init__(self, embedding, **kwargs):
        super().__init__(**kwargs)
        self.embedding = embedding

    def build(self, input_shape):
        if not self.embedding.built:  # A loaded step model's lookup has a fresh copy of the embedding.
            self.embedding.build(input_shape)

    def call(self, token):
        return tf.gather(self.embedding.embeddings, token)

    def get_config(self):
        return {**super().get_config(), "embedding": keras.saving.serialize_keras_object(self.embedding)}

    @classmethod
    def from_config(cls, config):
        # Keras' deserialisation consumes the dict it is given; the caller's config stays intact.
        return cls(**{**config, "embedding": keras.saving.deserialize_keras_object(copy.deepcopy(config["embedding"]))})


@keras.saving.register_keras_serializable(package="keras_dl")
class RNNLanguageModel(keras.Model):
    """Embedding -> GRU -> Dense logits over the vocabulary (a char-RNN at `vocabulary_size=256`).

    The sequence model trains with `fit` on `(tokens, next_tokens)` batches;
    `step_model()` builds a functional model over the *same* layers that takes one
    token and the recurrent state and returns the next-token logits and the new state,
    the form that streams on a device.

    Args:
        vocabulary_size: number of tokens (256 for bytes).
        embedding_dim: token embedding size.
        units: GRU units (the state size).
        dropout: dropout on the GRU inputs during training.

    Call arguments:
        tokens: int tensor `[batch, time]`.
        training: Python bool.

    Example:
    >>> from keras_dl.data import lm_dataset
    >>> model = RNNLanguageModel(vocabulary_size=256, embedding_dim=16, units=32)
    >>> model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    >>> history = model.fit(lm_dataset("train", seq_len=32, batch_size=8), steps_per_epoch=2, verbose=0)
    >>> step = model.step_model()  # {"token", "state"} -> {"logits", "state"}
    >>> step({"token": np.array([65]), "state": np.zeros((1, 32))})["logits"].shape
    TensorShape([1, 256])
    """

    def __init__(self, vocabulary_size=256, embedding_dim=64, units=256, dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        self.vocabulary_size = _checks.positive_int("vocabulary_size", vocabulary_size)
        self.embedding_dim = _checks.positive_int("embedding_dim", embedding_dim)
        self.units = _checks.positive_int("units", units)
        self.dropout = _checks.non_negative_float("dropout", dropout, below=1.0)
        self.embedding = keras.layers.Embedding(vocabulary_size, embedding_dim, name="embedding")
        self.rnn = keras.layers.GRU(units, return_sequences=True, dropout=dropout, name="gru")
        self.head = keras.layers.Dense(vocabulary_size, name="logits")

    def call(self, tokens, training=False):
        if len(tokens.shape) != 2:
            raise ValueError(f"`tokens` must have shape [batch, time], got {tokens.shape}.")
        return self.head(self.rnn(self.embedding(tokens), training=training))

    def step_model(self, batch_size=1):
        """Functional single-step model sharing this model's weights.

        Inputs `{"token": int32[batch], "state": float32[batch, units]}`, outputs
        `{"logits": float32[batch, vocabulary_size], "state": float32[batch, units]}`.
        """
        if not self.built:
            self.build((None, None))
        token = keras.Input((), batch_size=batch_size, dtype="int32", name="token")
        state = keras.Input((self.units,), batch_size=batch_size, name="state")
        # keras_dl's twin of the Keras cell, on the same variables: its graph runs faster on LiteRT.
        cell = GRUCell.sharing_weights(self.rnn.cell)
        output, new_states = cell(_TokenLookup(self.embedding)(token), [state])
        return keras.Model(
            [token, state], {"logits": self.head(output), "state": new_states[0]}, name=f"{self.name}_step"
        )

    def build(self, input_shape):
        self.embedding.build(input_shape)
        self.rnn.build(tuple(input_shape) + (self.embedding_dim,))
        self.head.build(tuple(input_shape) + (self.units,))
        super().build(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            vocabulary_size=self.vocabulary_size, embedding_dim=self.embedding_dim, units=self.units, dropout=self.dropout
        )
        return config
