"""WaveRNN-style sparse recurrent language model: a large GRU pruned while it trains."""

import keras

from keras_dl.models.language_model import RNNLanguageModel
from keras_dl.sparsity import LITERT_INT8_BLOCK
from keras_dl.sparsity import PolynomialDecay
from keras_dl.sparsity import prune_low_magnitude
from keras_dl.sparsity.schedules import PruningSchedule


@keras.saving.register_keras_serializable(package="keras_dl")
class SparseRNNLanguageModel(RNNLanguageModel):
    """`RNNLanguageModel` whose GRU matrices are pruned gradually during `fit` (Kalchbrenner et al. 2018).

    As in WaveRNN, only the recurrent layer is pruned, each gate's matrix on its own, in
    blocks along the input dimension that LiteRT's sparse kernels run fast; the embedding
    and the output layer stay dense. The masks are part of the model (built with it), so
    it saves and loads as a `.keras` file mid-training, and its step model exports to a
    sparse `.tflite` (`export_lm_tflite(model, path, quantization="dynamic_int8", sparse=True)`).

    Args:
        vocab_size, embedding_dim, units, dropout: as in `RNNLanguageModel` (WaveRNN uses
            1024+ units).
        schedule: a `PruningSchedule`; by default Zhu & Gupta's ramp from 0 to 90%
            sparsity over steps 1000..20000, pruning every 100 steps.
        block_size: Keras-axes block, `(16, 1)` for LiteRT's int8 kernels by default.
        keep_recurrent_diagonal: keep each gate's recurrent self-connections dense.

    Example:
    >>> model = SparseRNNLanguageModel(units=1024, schedule=PolynomialDecay(0.0, 0.9, 0, 5000))
    >>> model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    >>> model.fit(lm_dataset("train"), steps_per_epoch=1000, epochs=5)
    """

    def __init__(self, vocab_size=256, embedding_dim=64, units=1024, dropout=0.0, schedule=None,
                 block_size=LITERT_INT8_BLOCK, keep_recurrent_diagonal=False, **kwargs):
        super().__init__(vocab_size=vocab_size, embedding_dim=embedding_dim, units=units, dropout=dropout, **kwargs)
        if isinstance(schedule, dict):
            schedule = keras.saving.deserialize_keras_object(schedule)
        schedule = schedule if schedule is not None else PolynomialDecay(0.0, 0.9, 1000, 20000, frequency=100)
        if not isinstance(schedule, PruningSchedule):
            raise TypeError(f"`schedule` must be a keras_dl.sparsity PruningSchedule, got {type(schedule).__name__}.")
        self.schedule = schedule
        self.block_size = tuple(block_size)
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
