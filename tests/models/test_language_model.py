import keras
import numpy as np
import pytest

from keras_dl.models import RNNLanguageModel


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    lm = RNNLanguageModel(vocabulary_size=40, embedding_dim=8, units=16)
    lm.build((None, None))
    # Random but not tiny recurrent weights, so the state really carries information.
    lm.rnn.cell.recurrent_kernel.assign(np.random.default_rng(0).normal(0, 0.5, (16, 48)).astype(np.float32))
    return lm


def test_step_model_reproduces_the_sequence_model_step_by_step(model):
    tokens = np.random.default_rng(1).integers(0, 40, size=(1, 25)).astype(np.int32)
    expected = np.asarray(model(tokens))
    step = model.step_model()
    state = np.zeros((1, 16), np.float32)
    for t in range(tokens.shape[1]):
        out = step({"token": tokens[:, t], "state": state})
        state = np.asarray(out["state"])
        np.testing.assert_allclose(np.asarray(out["logits"]), expected[:, t], atol=1e-5)


def test_step_model_shares_weights_with_the_sequence_model(model):
    step = model.step_model()
    assert {id(w) for w in step.weights} == {id(w) for w in model.weights}


def test_keras_file_round_trip_gives_identical_outputs(model, tmp_path):
    tokens = np.random.default_rng(2).integers(0, 40, size=(3, 11)).astype(np.int32)
    path = str(tmp_path / "lm.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, RNNLanguageModel)
    assert loaded.get_config()["units"] == 16
    np.testing.assert_array_equal(np.asarray(loaded(tokens)), np.asarray(model(tokens)))


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"units": 0}, ValueError, "`units`"),
        ({"vocabulary_size": -1}, ValueError, "`vocabulary_size`"),
        ({"embedding_dim": 3.0}, TypeError, "`embedding_dim`"),
        ({"dropout": 1.0}, ValueError, "`dropout`"),
    ],
)
def test_bad_constructor_arguments_are_named(kwargs, error, match):
    with pytest.raises(error, match=match):
        RNNLanguageModel(**kwargs)


def test_tokens_of_the_wrong_rank_are_rejected(model):
    with pytest.raises(ValueError, match="`tokens` must have shape"):
        model(np.zeros((2, 3, 4), np.int32))
