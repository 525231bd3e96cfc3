import keras
import numpy as np
import pytest

from keras_dl import export
from keras_dl.data import lm_dataset
from keras_dl.models import SparseRNNLanguageModel
from keras_dl.sparsity import ConstantSparsity
from keras_dl.sparsity import PolynomialDecay
from keras_dl.sparsity import sparsity_report

UNITS, EMBED = 64, 32


@pytest.fixture(scope="module")
def trained(data_dir):
    """A sparse LM trained 120 steps on python_source, pruned from step 20 to 90% by step 80."""
    keras.utils.set_random_seed(0)
    model = SparseRNNLanguageModel(embedding_dim=EMBED, units=UNITS,
                                   schedule=PolynomialDecay(0.0, 0.9, begin_step=20, end_step=80, frequency=10))
    model.build((None, None))
    model.compile(keras.optimizers.Adam(3e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(lm_dataset("train", seq_len=32, batch_size=16, data_dir=data_dir), steps_per_epoch=120, shuffle=False, verbose=0)
    return model


def test_only_the_gru_is_pruned_to_the_target(trained):
    report = {row["weight"].split("/", 1)[1]: row["sparsity"] for row in sparsity_report(trained)}
    # 16x1 blocks per gate: round(0.9 * 128) = 115 of 128 blocks (kernel), of 256 (recurrent): 230.
    assert report["gru/gru_cell/kernel"] == pytest.approx(115 / 128)
    assert report["gru/gru_cell/recurrent_kernel"] == pytest.approx(230 / 256)
    assert report["embedding/embeddings"] == 0.0 and report["logits/kernel"] == 0.0


def test_save_load_mid_training_keeps_masks_and_schedule(trained, tmp_path):
    path = str(tmp_path / "sparse.keras")
    trained.save(path)
    loaded = keras.models.load_model(path)
    tokens = np.random.default_rng(0).integers(0, 256, (2, 12)).astype(np.int32)
    np.testing.assert_array_equal(np.asarray(loaded(tokens)), np.asarray(trained(tokens)))
    assert int(loaded.rnn.cell.kernel.constraint.step.value) == 120
    zeros = np.asarray(loaded.rnn.cell.recurrent_kernel) == 0
    loaded.compile(keras.optimizers.Adam(1e-2), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    loaded.fit(tokens, tokens, epochs=5, verbose=0)  # Past end_step: the mask only holds.
    np.testing.assert_array_equal(np.asarray(loaded.rnn.cell.recurrent_kernel) == 0, zeros)


@pytest.mark.parametrize("quantization, block, max_diff, agreement", [
    ("float32", 4, 1e-4, 1.0),
    ("dynamic_int8", 16, 0.05, 0.99),
])
def test_sparse_step_export_streams_like_keras(trained, tmp_path, quantization, block, max_diff, agreement):
    path = export.export_lm_tflite(trained, str(tmp_path / "step.tflite"), quantization=quantization, sparse=True)
    tflite = export.TFLiteModel(path)
    assert not tflite.default_delegates and "DENSIFY" not in tflite.op_names
    assert sorted(t["block"] for t in tflite.sparse_tensors) == [block, block]  # GRU input and recurrent matrices.
    check = export.verify_lm_tflite(trained, tflite, steps=200)
    assert check["max_abs_logit_diff"] < max_diff and check["argmax_agreement"] >= agreement


def test_schedule_must_be_a_pruning_schedule():
    with pytest.raises(TypeError, match="`schedule`"):
        SparseRNNLanguageModel(units=16, schedule=0.9)
    model = SparseRNNLanguageModel(units=16, schedule=ConstantSparsity(0.5, 0))
    assert SparseRNNLanguageModel.from_config(model.get_config()).schedule.get_config() == model.schedule.get_config()
