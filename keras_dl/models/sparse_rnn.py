"""WaveRNN-style sparse recurrent models: a large GRU pruned while it trains."""

import keras
from keras import ops

from keras_dl import _checks
from keras_dl.layers import CoarseFineGRUCell
from keras_dl.models.language_model import RNNLanguageModel
from keras_dl.sparsity import LITERT_INT8_BLOCK
from keras_dl.sparsity import PolynomialDecay
from keras_dl.sparsity import prune_low_magnitude
from keras_dl.sparsity.masks import check_block_size
from keras_dl.sparsity.schedules import PruningSchedule


def _schedule(schedule):
    """A PruningSchedule from an argument or a saved config; WaveRNN-like 0 -> 90% over steps 1000..20000 by default."""
    if isinstance(schedule, dict):
        schedule = keras.saving.deserialize_keras_object(schedule)
    schedule = schedule if schedule is not None else PolynomialDecay(0.0, 0.9, 1000, 20000, frequency=100)
    if not isinstance(schedule, PruningSchedule):
        raise TypeError(f"`schedule` must be a keras_dl.sparsity PruningSchedule, got {type(schedule).__name__}.")
    return schedule


@keras.saving.register_keras_serializable(package="keras_dl")
class SparseRNNLanguageModel(RNNLanguageModel):
    """`RNNLanguageModel` whose GRU matrices are pruned gradually during `fit` (Kalchbrenner et al. 2018).

    As in WaveRNN, only the recurrent layer is pruned, each gate's matrix on its own, in
    blocks along the input dimension that LiteRT's sparse kernels run fast; the embedding
    and the output layer stay dense. The masks are part of the model (built with it), so
    it saves and loads as a `.keras` file mid-training, and its step model exports to a
    sparse `.tflite` (`export_lm_tflite(model, path, quantization="dynamic_int8", sparse=True)`).

    Args:
        vocabulary_size, embedding_dim, units, dropout: as in `RNNLanguageModel` (WaveRNN uses
            1024+ units).
        schedule: a `PruningSchedule`; by default Zhu & Gupta's ramp from 0 to 90%
            sparsity over steps 1000..20000, pruning every 100 steps.
        block_size: Keras-axes block, `(16, 1)` for LiteRT's int8 kernels by default.
        keep_recurrent_diagonal: keep each gate's recurrent self-connections dense.

    Example:
    >>> from keras_dl.data import lm_dataset
    >>> model = SparseRNNLanguageModel(embedding_dim=16, units=32, schedule=PolynomialDecay(0.0, 0.5, 0, 2, frequency=1))
    >>> model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    >>> history = model.fit(lm_dataset("train", seq_len=32, batch_size=8), steps_per_epoch=3, verbose=0)
    >>> float(np.mean(model.rnn.cell.kernel.numpy() == 0))
    0.5
    """

    def __init__(self, vocabulary_size=256, embedding_dim=64, units=1024, dropout=0.0, schedule=None,
                 block_size=LITERT_INT8_BLOCK, keep_recurrent_diagonal=False, **kwargs):
        super().__init__(vocabulary_size=vocabulary_size, embedding_dim=embedding_dim, units=units, dropout=dropout, **kwargs)
        self.schedule = _schedule(schedule)
        # Checked now, not when `build` prunes: the GRU's matrices have `embedding_dim` and `units` rows.
        self.block_size = check_block_size(block_size, (embedding_dim, units), "the GRU's matrices (rows: embedding_dim, units)")
        if units % self.block_size[1]:
            raise ValueError(f"`block_size` {self.block_size} does not divide `units` ({units}), the width of a gate.")
        self.keep_recurrent_diagonal = bool(keep_recurrent_diagonal)

    def build(self, input_shape):
        super().build(input_shape)
        prune_low_magnitude(self, self.schedule, block_size=self.block_size,
                            keep_recurrent_diagonal=self.keep_recurrent_diagonal, layers=[self.rnn])

    def get_config(self):
        config = super().get_config()
        config.update(schedule=keras.saving.serialize_keras_object(self.schedule), block_size=list(self.block_size),
                      keep_recurrent_diagonal=self.keep_recurrent_diagonal)
        return config


@keras.saving.register_keras_serializable(package="keras_dl")
class WaveRNN(keras.Model):
    """WaveRNN's dual-softmax GRU over 16-bit samples (Kalchbrenner et al. 2018), pruned while it trains.

    A sample `s` in `[0, 65535]` is split into a coarse byte `c = s // 256` and a fine byte
    `f = s % 256`, each predicted by a 256-way softmax instead of one 65536-way one. Step
    `t` reads `[c_{t-1}, f_{t-1}, c_t]` scaled to `[-1, 1]` into a `CoarseFineGRUCell`:
    the coarse half of the state, which never sees `c_t`, predicts `c_t`; the fine half
    predicts `f_t` given `c_t`. Each half has its own ReLU layer and softmax layer. The
    GRU's recurrent matrix is pruned gate by gate in LiteRT's int8 blocks, as in the paper.

    Training uses teacher forcing: the true `c_t` is the input. Sampling a step model
    takes two calls per sample (see `keras_dl.decoding.generate_dual_softmax`): one for
    the coarse distribution, one with the drawn `c_t` for the fine distribution.

    Args:
        units: GRU state size, even and a multiple of the block rows (WaveRNN: 896).
        schedule: a `PruningSchedule` for the recurrent matrix; by default 0 -> 90% over
            steps 1000..20000, every 100 steps.
        block_size: Keras-axes block, `(16, 1)` (LiteRT's int8 kernels) by default.

    Call arguments:
        samples: int `[batch, T + 1]` windows of unsigned 16-bit samples; the model predicts
            the last `T` from the ones before.
        training: Python bool.

    Returns from a call `{"coarse": logits [batch, T, 256], "fine": logits [batch, T, 256]}`.

    Example:
    >>> from keras_dl.data import dual_softmax_dataset, sum_of_sines
    >>> from keras_dl.decoding import generate_dual_softmax
    >>> model = WaveRNN(units=32)
    >>> loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    >>> model.compile("adam", loss={"coarse": loss, "fine": loss})
    >>> history = model.fit(dual_softmax_dataset(sum_of_sines(2000, 129), 32), steps_per_epoch=2, verbose=0)
    >>> len(generate_dual_softmax(model.step_model(), np.zeros((1, 32), np.float32), 16))
    16
    """

    def __init__(self, units=896, schedule=None, block_size=LITERT_INT8_BLOCK, **kwargs):
        super().__init__(**kwargs)
        self.units = _checks.positive_int("units", units)
        self.schedule = _schedule(schedule)
        self.cell = CoarseFineGRUCell(units)
        self.block_size = check_block_size(block_size, (units, units), "the GRU's recurrent matrix (rows and gates: units)")
        self.rnn = keras.layers.RNN(self.cell, return_sequences=True, name="gru")
        half = units // 2
        self.coarse_hidden = keras.layers.Dense(half, activation="relu", name="coarse_hidden")
        self.coarse_logits = keras.layers.Dense(256, name="coarse_logits")
        self.fine_hidden = keras.layers.Dense(half, activation="relu", name="fine_hidden")
        self.fine_logits = keras.layers.Dense(256, name="fine_logits")

    @staticmethod
    def _features(previous, coarse):
        """`[c_{t-1}, f_{t-1}, c_t]` in [-1, 1] from the previous sample and the current coarse byte."""
        features = ops.stack([previous // 256, previous % 256, coarse], axis=-1)
        return ops.cast(features, "float32") / 127.5 - 1.0

    def _heads(self, hidden):
        half = self.units // 2
        return {"coarse": self.coarse_logits(self.coarse_hidden(hidden[..., :half])),
                "fine": self.fine_logits(self.fine_hidden(hidden[..., half:]))}

    def call(self, samples, training=False):
        if len(samples.shape) != 2:
            raise ValueError(f"`samples` must have shape [batch, T + 1], got {samples.shape}.")
        samples = ops.cast(samples, "int32")
        hidden = self.rnn(self._features(samples[:, :-1], samples[:, 1:] // 256), training=training)
        return self._heads(hidden)

    def build(self, input_shape):
        self.rnn.build(tuple(input_shape[:1]) + (None, 3))
        half_shape = tuple(input_shape[:1]) + (None, self.units // 2)  # Every head layer reads units // 2 features.
        for layer in (self.coarse_hidden, self.coarse_logits, self.fine_hidden, self.fine_logits):
            layer.build(half_shape)
        super().build(input_shape)
        prune_low_magnitude(self, self.schedule, block_size=self.block_size, weights=[self.cell.recurrent_kernel])

    def step_model(self, batch_size=1):
        """Functional single-step model sharing this model's weights.

        Inputs `{"sample": int32[batch] (the previous sample), "coarse": int32[batch] (the
        current coarse byte; the coarse output does not depend on it), "state": float32[batch,
        units]}`; outputs `{"coarse", "fine": float32[batch, 256] logits, "state"}`.
        """
        if not self.built:
            self.build((None, None))
        sample = keras.Input((), batch_size=batch_size, dtype="int32", name="sample")
        coarse = keras.Input((), batch_size=batch_size, dtype="int32", name="coarse")
        state = keras.Input((self.units,), batch_size=batch_size, name="state")
        output, new_states = self.cell(self._features(sample, coarse), [state])
        return keras.Model([sample, coarse, state], dict(self._heads(output), state=new_states[0]),
                           name=f"{self.name}_step")

    def get_config(self):
        config = super().get_config()
        config.update(units=self.units, schedule=keras.saving.serialize_keras_object(self.schedule),
                      block_size=list(self.block_size))
        return config
