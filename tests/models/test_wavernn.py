import keras
import numpy as np
import pytest

from keras_dl import export
from keras_dl.data import coarse_fine
from keras_dl.data import dual_softmax_dataset
from keras_dl.data import sum_of_sines
from keras_dl.decoding import generate_dual_softmax
from keras_dl.metrics import BitsPerCharacter
from keras_dl.models import WaveRNN
from keras_dl.sparsity import PolynomialDecay
from keras_dl.sparsity import sparsity_report

UNITS = 64
FREQUENCIES = (5.0, 20.0)  # Hz at 16 kHz: slow enough that the fine byte is partly predictable.


def _entropy_bits(values):
    p = np.bincount(values.ravel(), minlength=256) / values.size
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())


@pytest.fixture(scope="module")
def trained():
    """WaveRNN-64 trained 300 steps on sums of sines, its GRU pruned to 90% (16x1 blocks) by step 200."""
    keras.utils.set_random_seed(0)
    model = WaveRNN(units=UNITS, schedule=PolynomialDecay(0.0, 0.9, begin_step=50, end_step=200, frequency=25))
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(keras.optimizers.Adam(3e-3), loss={"coarse": loss, "fine": loss},
                  metrics={"coarse": [BitsPerCharacter()], "fine": [BitsPerCharacter()]})
    train = sum_of_sines(2000, 65, frequencies=FREQUENCIES, seed=0)
    model.fit(dual_softmax_dataset(train, 32, seed=0), steps_per_epoch=300, shuffle=False, verbose=0)
    return model, train


def test_dual_softmax_learns_sums_of_sines(trained):
    model, train = trained
    held_out = sum_of_sines(200, 65, frequencies=FREQUENCIES, seed=1)
    scores = model.evaluate(dual_softmax_dataset(held_out, 100, shuffle=False, repeat=False), return_dict=True, verbose=0)
    coarse, _ = coarse_fine(train[:, 1:])
    # Unigram entropy of the coarse byte is about 7.3 bits; context must take off at least 2.
    assert scores["coarse_bpc"] < _entropy_bits(coarse) - 2.0
    # A uniform fine byte costs 8 bits; the fine half, given c_t, must do better.
    assert scores["fine_bpc"] < 8.0 - 0.2


def test_coarse_half_never_sees_the_current_coarse_byte(trained):
    model, _ = trained
    step = model.step_model()
    state = np.random.default_rng(0).normal(size=(1, UNITS)).astype(np.float32)
    outputs = [step({"sample": np.array([40000], np.int32), "coarse": np.array([c], np.int32), "state": state})
               for c in (0, 200)]
    np.testing.assert_array_equal(np.asarray(outputs[0]["coarse"]), np.asarray(outputs[1]["coarse"]))
    assert np.max(np.abs(np.asarray(outputs[0]["fine"]) - np.asarray(outputs[1]["fine"]))) > 1e-3
    # Nor does the coarse half of the new state.
    half = UNITS // 2
    np.testing.assert_array_equal(np.asarray(outputs[0]["state"])[:, :half], np.asarray(outputs[1]["state"])[:, :half])


def test_only_the_recurrent_matrix_is_pruned(trained):
    model, _ = trained
    report = {row["weight"]: row["sparsity"] for row in sparsity_report(model)}
    # 16x1 blocks per gate: round(0.9 * 4 * 64) = 230 of 256 blocks.
    assert report[model.cell.recurrent_kernel.path] == pytest.approx(230 / 256)
    assert report[model.cell.kernel.path] == 0.0  # [3, 3 * units]: too small to prune, and masked.
    assert report[model.coarse_hidden.kernel.path] == 0.0 and report[model.fine_logits.kernel.path] == 0.0


def test_sequence_model_equals_stepping_with_teacher_forced_coarse_bytes(trained):
    model, _ = trained
    window = sum_of_sines(1, 9, frequencies=FREQUENCIES, seed=3)
    expected = model(window)
    step, state = model.step_model(), np.zeros((1, UNITS), np.float32)
    for t in range(8):
        out = step({"sample": window[:, t], "coarse": window[:, t + 1] // 256, "state": state})
        state = np.asarray(out["state"])
        for key in ("coarse", "fine"):
            np.testing.assert_allclose(np.asarray(out[key]), np.asarray(expected[key])[:, t], rtol=1e-5, atol=1e-5)


def test_litert_step_samples_the_same_audio_as_keras(trained, tmp_path):
    model, _ = trained
    path = export.export_tflite(model.step_model(), str(tmp_path / "wavernn.tflite"))
    tflite = export.TFLiteModel(path)
    zero = np.zeros((1, UNITS), np.float32)
    # Greedy decoding compounds any difference through 100 samples and the state.
    keras_audio = generate_dual_softmax(model.step_model(), zero, 100, temperature=0.0)
    assert generate_dual_softmax(tflite, zero, 100, temperature=0.0) == keras_audio
    assert all(0 <= s < 65536 for s in keras_audio)


def test_sparse_int8_export_holds_16_wide_blocks(trained, tmp_path):
    model, _ = trained
    path = export.export_tflite(model.step_model(), str(tmp_path / "sparse.tflite"), quantization="dynamic_int8",
                                sparse=True)
    tflite = export.TFLiteModel(path)
    assert [t["block"] for t in tflite.sparse_tensors] == [16] and "DENSIFY" not in tflite.op_names


def test_save_load_round_trip(trained, tmp_path):
    model, _ = trained
    path = str(tmp_path / "wavernn.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    window = sum_of_sines(2, 17, seed=4)
    for key in ("coarse", "fine"):
        np.testing.assert_array_equal(np.asarray(loaded(window)[key]), np.asarray(model(window)[key]))


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="`units`.*even"):
        WaveRNN(units=33)
    with pytest.raises(ValueError, match="`samples`"):
        dual_softmax_dataset(np.array([[0, 70000]]), 1)
    with pytest.raises(ValueError, match="`samples`"):
        dual_softmax_dataset(np.zeros((4, 1), np.int32), 1)
    with pytest.raises(ValueError, match="`frequencies`"):
        sum_of_sines(1, 10, frequencies=(100.0, 9000.0))
    with pytest.raises(ValueError, match="`first_sample`"):
        generate_dual_softmax(None, None, 1, first_sample=-1)
