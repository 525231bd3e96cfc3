"""Recurrent models to LiteRT with built-in ops: cells' own forms, any model at any length, masks, fused LSTM,
streaming step models."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_dl import export
from keras_dl import layers as kdl
from keras_dl.layers import ClockworkCell
from keras_dl.layers import DelayCell
from keras_dl.layers import EchoStateCell
from keras_dl.layers import ElmanCell
from keras_dl.layers import GRUCell
from keras_dl.layers import LeakyCell
from keras_dl.layers import LSTMCell
from keras_dl.layers import OrthogonalCell
from keras_dl.sparsity import LITERT_INT8_BLOCK
from keras_dl.sparsity import ConstantSparsity
from keras_dl.sparsity import prune_low_magnitude
from keras_dl.sparsity import strip_pruning

T, D, H = 12, 4, 8

CELLS = {
    "elman": lambda: ElmanCell(H),
    "irnn": lambda: ElmanCell(H, irnn=True),
    "lstm_peephole_ln_cifg": lambda: LSTMCell(H, peepholes=True, layer_norm=True, coupled=True),
    "lstm": lambda: LSTMCell(H),
    "gru_reset_after": lambda: GRUCell(H),
    "gru_reset_before": lambda: GRUCell(H, reset_after=False),
    "leaky": lambda: LeakyCell(H, time_constants=(1, 20), seed=0),
    "clockwork": lambda: ClockworkCell(H, periods=(1, 2, 4, 8)),
    "orthogonal": lambda: OrthogonalCell(H, negative_eigenvalues=3),
    "echo_state": lambda: EchoStateCell(H, connectivity=0.5, leak_rate=0.5, seed=0),
    "delay": lambda: DelayCell(H, delays=(1, 4)),
}


def built_cell(name):
    cell = CELLS[name]()
    keras.layers.RNN(cell).build((None, T, D))
    rng = np.random.default_rng(0)
    for w in cell.weights:
        w.assign((rng.uniform(0.05, 1, w.shape) if w.name == "leak" else rng.normal(0, 0.5, w.shape)).astype(np.float32))
    return cell


def assert_builtin_only(tflite):
    # Fixed length: unrolled FULLY_CONNECTED steps, or LiteRT's fused LSTM for a plain LSTM cell.
    assert {"FULLY_CONNECTED", "UNIDIRECTIONAL_SEQUENCE_LSTM"} & set(tflite.op_names)
    assert not [op for op in tflite.op_names if op.startswith("Flex") or op in ("CUSTOM", "DELEGATE", "WHILE")]


@pytest.mark.parametrize("name", CELLS)
def test_sequence_form_converts_with_builtins_and_matches_keras(name, tmp_path):
    cell = built_cell(name)
    model = export.recurrent_sequence_model(cell, T, D)
    tflite = export.TFLiteModel(export.export_tflite(model, str(tmp_path / "seq.tflite")))
    assert_builtin_only(tflite)
    x = np.random.default_rng(1).normal(size=(1, T, D)).astype(np.float32)
    expected = np.asarray(keras.layers.RNN(cell, return_sequences=True)(x))
    np.testing.assert_allclose(tflite({"inputs": x})["outputs"], expected, atol=1e-5)


@pytest.mark.parametrize("name", CELLS)
def test_step_form_converts_with_builtins_and_streams_like_the_sequence(name, tmp_path):
    cell = built_cell(name)
    tflite = export.TFLiteModel(export.export_tflite(export.recurrent_step_model(cell, D), str(tmp_path / "step.tflite")))
    assert_builtin_only(tflite)
    x = np.random.default_rng(2).normal(size=(1, T, D)).astype(np.float32)
    expected = np.asarray(keras.layers.RNN(cell, return_sequences=True)(x))
    feeds = tflite.zero_inputs()
    for t in range(T):
        feeds["inputs"] = x[:, t]
        result = tflite(feeds)
        feeds.update({k: v for k, v in result.items() if k.startswith("state_")})
        np.testing.assert_allclose(result["outputs"], expected[:, t], atol=1e-5)


def test_recurrent_export_models_reject_bad_sizes():
    cell = built_cell("gru_reset_after")
    with pytest.raises(ValueError, match="`timesteps`"):
        export.recurrent_sequence_model(cell, 0, D)
    with pytest.raises(TypeError, match="`input_dim`"):
        export.recurrent_step_model(cell, None)


LENGTHS = (1, 7, 50)

# keras_dl's cells plus Keras' own.
ALL_CELLS = {
    **CELLS,
    "keras_lstm": lambda: keras.layers.LSTMCell(H),
    "keras_gru": lambda: keras.layers.GRUCell(H),
    "keras_simple_rnn": lambda: keras.layers.SimpleRNNCell(H),
}


def flex_free(tflite):
    return not [op for op in tflite.op_names if op.startswith("Flex") or op in ("CUSTOM", "DELEGATE")]


def randomise(model, seed=0):
    """Weights away from their initial values (a zero-initialised skew, unit leaks), so mistakes show.

    Recurrent kernels get a spectral radius about 0.5: a ReLU cell (IRNN) with larger ones explodes
    over 50 steps, and |Keras - LiteRT| then measures float32 rounding of values near 1e11.
    """
    rng = np.random.default_rng(seed)
    for w in model.weights:
        std = 0.5 / np.sqrt(w.shape[0]) if w.path.endswith("recurrent_kernel") else 0.5
        value = rng.uniform(0.05, 1, w.shape) if w.path.endswith("leak") else rng.normal(0, std, w.shape)
        w.assign(value.astype(w.dtype))
    return model


def bidirectional_model(make_cell):
    inputs = keras.Input((None, D))
    x = keras.layers.Bidirectional(keras.layers.RNN(make_cell(), return_sequences=True))(inputs)
    return randomise(keras.Model(inputs, keras.layers.Dense(2)(x)))


def stacked_model(make_cell):
    inputs = keras.Input((None, D))
    x = keras.layers.RNN(make_cell(), return_sequences=True)(inputs)
    x = keras.layers.RNN(make_cell())(x)
    return randomise(keras.Model(inputs, keras.layers.Dense(2)(x)))


@pytest.mark.parametrize("build", [bidirectional_model, stacked_model], ids=["bidirectional", "stacked"])
@pytest.mark.parametrize("name", ALL_CELLS)
def test_every_cell_converts_to_one_any_length_file_that_matches_keras(name, build, tmp_path):
    model = build(ALL_CELLS[name])
    path = export.export_tflite(model, str(tmp_path / "m.tflite"))
    tflite = export.TFLiteModel(path)
    assert flex_free(tflite)
    assert "WHILE" in tflite.op_names
    check = export.verify_tflite(model, tflite, lengths=LENGTHS)
    assert check["lengths"] == list(LENGTHS)
    assert check["max_abs_diff"] < 1e-4


@pytest.mark.parametrize("layer", [keras.layers.LSTM, keras.layers.GRU, keras.layers.SimpleRNN, kdl.LSTM, kdl.GRU])
def test_recurrent_layers_stacked_with_states_and_fixed_length(layer, tmp_path):
    # Stacked, return_state, an initial state fed from the first layer's final states, fixed length.
    inputs = keras.Input((None, D))
    first = layer(H, return_sequences=True, return_state=True)
    sequence, *states = first(inputs)
    outputs = layer(H, return_sequences=True)(sequence, initial_state=states)
    model = randomise(keras.Model(inputs, [outputs, *states]))
    for timesteps in (None, 9):
        tflite = export.TFLiteModel(export.export_tflite(model, str(tmp_path / f"{timesteps}.tflite"),
                                                         timesteps=timesteps))
        assert flex_free(tflite)
        assert ("WHILE" in tflite.op_names) == (timesteps is None)
        check = export.verify_tflite(model, tflite, lengths=(1, 13))
        assert check["max_abs_diff"] < 1e-4


@pytest.mark.parametrize("batch_size", [1, 3])
def test_time_distributed_head_at_any_length(batch_size, tmp_path):
    # Keras maps TimeDistributed over an unknown length with vectorized_map, which converts to a file
    # that returns one step whatever the length; the export folds time into the batch instead.
    inputs = keras.Input((None, D), name="x")
    x = keras.layers.GRU(H, return_sequences=True)(inputs)
    model = randomise(keras.Model(inputs, keras.layers.TimeDistributed(keras.layers.Dense(3))(x)))
    path = export.export_tflite(model, str(tmp_path / "m.tflite"), batch_size=batch_size)
    assert export.verify_tflite(model, path, lengths=(1, 7, 50))["max_abs_diff"] < 1e-4


def test_verification_refuses_outputs_of_another_shape(tmp_path):
    inputs = keras.Input((None, D), name="x")
    tagger = keras.Model(inputs, keras.layers.GRU(H, return_sequences=True)(inputs))
    classifier = keras.Model(inputs, keras.layers.GRU(H)(inputs))
    path = export.export_tflite(classifier, str(tmp_path / "classifier.tflite"))
    with pytest.raises(ValueError, match=r"LiteRT returned an output of shape \(1, 8\) where Keras returns \(1, 1, 8\)"):
        export.verify_tflite(tagger, path, lengths=(1,))


def masked_bidirectional_model(padding_free_twin=False):
    inputs = keras.Input((None, D))
    x = inputs if padding_free_twin else keras.layers.Masking()(inputs)
    x = keras.layers.Bidirectional(keras.layers.LSTM(H, return_sequences=True))(x)
    x = keras.layers.Bidirectional(keras.layers.GRU(H, return_sequences=True), merge_mode="sum")(x)
    return keras.Model(inputs, keras.layers.Dense(2)(x))


@pytest.mark.parametrize("padding", ["post", "pre"])
@pytest.mark.parametrize("timesteps", [None, 11])
def test_masked_padded_batches_equal_keras_in_both_directions(padding, timesteps, tmp_path):
    model = randomise(masked_bidirectional_model())
    path = export.export_tflite(model, str(tmp_path / "m.tflite"), batch_size=4, timesteps=timesteps)
    check = export.verify_tflite(model, path, lengths=(7, 30), padding=padding, seed=1)
    assert check["max_abs_diff"] < 1e-4
    # The masks matter: without them the same weights give other outputs on padded rows.
    twin = masked_bidirectional_model(padding_free_twin=True)
    twin.set_weights(model.get_weights())
    x = np.random.default_rng(2).normal(size=(1, 11, D)).astype(np.float32)
    x[:, 5:] = 0
    assert np.max(np.abs(np.asarray(model(x)) - np.asarray(twin(x)))) > 1e-2


def test_lstm_becomes_the_fused_op_where_it_can_and_says_why_where_not(tmp_path):
    inputs = keras.Input((None, D))
    x = keras.layers.Bidirectional(keras.layers.LSTM(H, return_sequences=True, name="both"))(inputs)
    x = kdl.LSTM(H, return_sequences=True, name="ours")(x)
    x = keras.layers.LSTM(H, return_sequences=True, name="with_state", return_state=True)(x)[0]
    x = keras.layers.LSTM(H, recurrent_activation="hard_sigmoid", name="hard")(x)
    model = randomise(keras.Model(inputs, x))
    report = {}
    path = export.export_tflite(model, str(tmp_path / "m.tflite"), timesteps=20, report=report)
    forms = {name: row["form"] for name, row in report.items()}
    assert forms == {"forward_both": "UNIDIRECTIONAL_SEQUENCE_LSTM", "backward_both": "UNIDIRECTIONAL_SEQUENCE_LSTM",
                     "ours": "UNIDIRECTIONAL_SEQUENCE_LSTM", "with_state": "unrolled", "hard": "unrolled"}
    assert "return_state" in report["with_state"]["not_fused_because"]
    assert "hard_sigmoid" in report["hard"]["not_fused_because"]
    tflite = export.TFLiteModel(path)
    assert {"UNIDIRECTIONAL_SEQUENCE_LSTM", "REVERSE_V2"} <= set(tflite.op_names) and flex_free(tflite)
    assert export.verify_tflite(model, tflite)["max_abs_diff"] < 1e-4
    any_length = {}
    path = export.export_tflite(model, str(tmp_path / "any.tflite"), report=any_length)
    assert {row["form"] for row in any_length.values()} == {"WHILE"}
    assert "length is not static" in any_length["forward_both"]["not_fused_because"]
    assert export.verify_tflite(model, path, lengths=(1, 20))["max_abs_diff"] < 1e-4
    # LiteRT's fused LSTM carries its state from one invoke() to the next (variable tensors):
    # the runner resets it, so the same input gives the same output twice.
    x = np.random.default_rng(3).normal(size=(1, 20, D)).astype(np.float32)
    assert tflite.has_variables
    first, second = (tflite({tflite.input_names[0]: x})["output_0"] for _ in range(2))
    np.testing.assert_array_equal(first, second)
    tflite.runner(**{tflite.input_names[0]: x})  # a raw second invoke, without the reset, continues
    assert np.max(np.abs(tflite.runner(**{tflite.input_names[0]: x})["output_0"] - first)) > 1e-3

    unfused = {}
    export.export_tflite(model, str(tmp_path / "plain.tflite"), timesteps=20, fused_lstm=False, report=unfused)
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" not in export.TFLiteModel(str(tmp_path / "plain.tflite")).op_names
    assert unfused["forward_both"]["not_fused_because"].startswith("not asked for")
    masked = keras.Sequential([keras.Input((None, D)), keras.layers.Masking(), keras.layers.LSTM(H, name="lstm")])
    masked_report = {}
    export.export_tflite(masked, str(tmp_path / "masked.tflite"), timesteps=5, report=masked_report)
    assert masked_report["lstm"]["form"] == "unrolled" and "mask" in masked_report["lstm"]["not_fused_because"]


def test_verification_catches_a_wrong_export(tmp_path):
    model = randomise(stacked_model(ALL_CELLS["gru_reset_after"]))
    other = randomise(stacked_model(ALL_CELLS["gru_reset_after"]), seed=1)
    path = export.export_tflite(other, str(tmp_path / "other.tflite"))
    assert export.verify_tflite(model, path)["max_abs_diff"] > 1e-2


def language_model(vocab=40):
    tokens = keras.Input((None,), dtype="int32", name="tokens")
    x = keras.layers.Embedding(vocab, 8)(tokens)
    x = keras.layers.GRU(16, return_sequences=True, name="lower")(x)
    x = keras.layers.GRU(12, return_sequences=True, name="upper")(x)
    x = keras.layers.LayerNormalization()(x)
    return randomise(keras.Model(tokens, keras.layers.Dense(vocab, name="logits")(x)))


def test_streaming_model_run_token_by_token_on_litert_equals_the_sequence_model(tmp_path):
    model = language_model()
    step = export.streaming_model(model)
    assert sorted(step.input) == ["lower_state_0", "tokens", "upper_state_0"]
    tflite = export.TFLiteModel(export.export_tflite(step, str(tmp_path / "step.tflite")))
    assert flex_free(tflite) and "WHILE" not in tflite.op_names
    tokens = np.random.default_rng(0).integers(0, 40, (1, 30)).astype(np.int32)
    expected = np.asarray(model(tokens))
    feeds = tflite.zero_inputs()
    for t in range(tokens.shape[1]):
        feeds["tokens"] = tokens[:, t]
        result = tflite(feeds)
        feeds.update({k: v for k, v in result.items() if k.endswith("_state_0")})
        np.testing.assert_allclose(result["outputs"], expected[:, t], atol=1e-5)
    # The step model shares the weights: training the sequence model changes it.
    model.get_layer("logits").bias.assign(np.ones(40, np.float32))
    zero = {k: np.zeros(v.shape, v.dtype) for k, v in tflite.zero_inputs().items()}
    assert np.allclose(np.asarray(step(zero)["outputs"]), np.asarray(model(np.zeros((1, 1), np.int32)))[:, 0])
    assert export.verify_tflite(model, export.export_tflite(model, str(tmp_path / "seq.tflite")))["max_abs_diff"] < 1e-4


def test_streaming_model_of_keras_dl_layers_with_masks_and_its_keras_round_trip(tmp_path):
    tokens = keras.Input((None,), dtype="int32", name="tokens")
    x = keras.layers.Embedding(30, 8, mask_zero=True)(tokens)
    x = kdl.LSTM(10, return_sequences=True, name="lstm")(x)
    x = keras.layers.RNN(kdl.ClockworkCell(8, periods=(1, 2)), return_sequences=True)(x)
    model = randomise(keras.Model(tokens, keras.layers.TimeDistributed(keras.layers.Dense(5))(x)))
    step = export.streaming_model(model)
    # Zeros are masked: a masked step keeps every state, so the steps after it match the sequence.
    sequence = np.array([[3, 0, 7, 9, 0, 0, 4]], np.int32)
    expected = np.asarray(model(sequence))
    feeds = {name: np.zeros(t.shape, t.dtype) for name, t in step.input.items()}
    for t in range(sequence.shape[1]):
        feeds["tokens"] = sequence[:, t]
        result = step(feeds)
        if sequence[0, t]:
            np.testing.assert_allclose(np.asarray(result["outputs"]), expected[:, t], atol=1e-5)
        else:
            np.testing.assert_array_equal(np.asarray(result["lstm_state_0"]), feeds["lstm_state_0"])
        feeds.update({k: np.asarray(v) for k, v in result.items() if "_state_" in k})
    step.save(str(tmp_path / "step.keras"))
    reloaded = keras.models.load_model(str(tmp_path / "step.keras"))
    np.testing.assert_allclose(np.asarray(reloaded(feeds)["outputs"]), np.asarray(step(feeds)["outputs"]), atol=1e-6)
    path = export.export_tflite(step, str(tmp_path / "step.tflite"))
    assert export.verify_tflite(step, path, steps=40)["max_abs_diff"] < 1e-4


def test_streaming_model_of_stacked_cells_with_nested_states(tmp_path):
    inputs = keras.Input((None, D), name="x")
    cells = keras.layers.StackedRNNCells([keras.layers.GRUCell(H), keras.layers.LSTMCell(5)])
    model = randomise(keras.Model(inputs, keras.layers.RNN(cells, return_sequences=True, name="stack")(inputs)))
    step = export.streaming_model(model)
    assert sorted(step.input) == ["stack_state_0", "stack_state_1", "stack_state_2", "x"]
    assert export.verify_tflite(step, export.export_tflite(step, str(tmp_path / "step.tflite")))["max_abs_diff"] < 1e-4
    sequence = np.random.default_rng(4).normal(size=(1, 9, D)).astype(np.float32)
    expected = np.asarray(model(sequence))
    feeds = {name: np.zeros(t.shape, t.dtype) for name, t in step.input.items()}
    for t in range(sequence.shape[1]):
        feeds["x"] = sequence[:, t]
        result = step(feeds)
        feeds.update({k: np.asarray(v) for k, v in result.items() if k != "outputs"})
        np.testing.assert_allclose(np.asarray(result["outputs"]), expected[:, t], atol=1e-5)


def test_streaming_model_of_a_subclassed_model():
    from keras_dl.models import RNNLanguageModel

    lm = RNNLanguageModel(vocabulary_size=50, embedding_dim=8, units=16)
    lm.build((None, None))
    step = export.streaming_model(lm, step_inputs=keras.Input((), batch_size=1, dtype="int32", name="token"))
    own = lm.step_model()
    state = np.random.default_rng(0).normal(size=(1, 16)).astype(np.float32)
    token = np.array([7], np.int32)
    ours = step({"token": token, "gru_state_0": state})
    np.testing.assert_allclose(np.asarray(ours["outputs"]), np.asarray(own({"token": token, "state": state})["logits"]),
                               atol=1e-5)
    with pytest.raises(ValueError, match="`step_inputs` is needed for RNNLanguageModel"):
        export.streaming_model(lm)


@pytest.mark.parametrize(
    "layers, match",
    [
        ([keras.layers.Bidirectional(keras.layers.GRU(4, return_sequences=True))], "'bidi' \\(Bidirectional\\)"),
        ([keras.layers.GRU(4, return_sequences=True, go_backwards=True, name="bidi")], "'bidi' runs backwards"),
        ([keras.layers.GRU(4, return_sequences=True), keras.layers.GlobalAveragePooling1D(name="bidi")],
         "'bidi' \\(GlobalAveragePooling1D\\) is not known to act on each time step"),
        ([keras.layers.Conv1D(4, 3, padding="causal", name="bidi")], "'bidi' \\(Conv1D\\)"),
    ],
)
def test_streaming_model_names_the_layer_that_is_not_causal_per_step(layers, match):
    if isinstance(layers[0], keras.layers.Bidirectional):
        layers[0].name = "bidi"
    model = keras.Sequential([keras.Input((None, D)), *layers])
    with pytest.raises(ValueError, match=match):
        export.streaming_model(model)


def test_streaming_model_names_ops_and_axes_that_mix_steps_and_layers_called_twice():
    inputs = keras.Input((None, D))
    hidden = keras.layers.GRU(4, return_sequences=True)(inputs)
    with pytest.raises(ValueError, match="Operation '.*' \\(Cumsum\\) is not known to act on each time step"):
        export.streaming_model(keras.Model(inputs, keras.ops.cumsum(hidden, axis=1)))
    with pytest.raises(ValueError, match="'over_time' \\(Softmax\\) works along axis 1"):
        export.streaming_model(keras.Model(inputs, keras.layers.Softmax(axis=1, name="over_time")(hidden)))
    # Element-wise ops and per-step layers on the feature axis pass.
    export.streaming_model(keras.Model(inputs, keras.ops.tanh(keras.layers.Softmax(axis=-1)(hidden) + 1.0)))
    twice = keras.layers.GRU(D, return_sequences=True, name="twice")
    with pytest.raises(ValueError, match="'twice' is called more than once"):
        export.streaming_model(keras.Model(inputs, twice(twice(inputs))))


def test_streaming_model_rejects_an_initial_state_from_the_model():
    source = keras.Input((None, D))
    target = keras.Input((None, D))
    _, state = keras.layers.GRU(4, return_state=True)(source)
    decoded = keras.layers.GRU(4, return_sequences=True, name="decoder")(target, initial_state=state)
    with pytest.raises(ValueError, match="'decoder' gets its initial state from the model"):
        export.streaming_model(keras.Model([source, target], decoded))


def test_layers_without_built_in_ops_raise_a_named_error_and_write_nothing(tmp_path):
    path = tmp_path / "m.tflite"
    stateful = keras.Sequential([keras.Input((5, D), batch_size=1), keras.layers.GRU(4, stateful=True, name="memory")])
    with pytest.raises(ValueError, match="Layer 'memory' is stateful"):
        export.export_tflite(stateful, str(path))
    strings = keras.Sequential([keras.Input((None,), dtype="string"),
                                keras.layers.StringLookup(vocabulary=["a", "b"], name="lookup")])
    with pytest.raises(ValueError, match="Layer 'lookup' \\(StringLookup\\) needs string tables"):
        export.export_tflite(strings, str(path))
    inputs = keras.Input((4, 4))
    solve = keras.layers.Lambda(lambda m: tf.linalg.solve(m, tf.ones([1, 4, 1])), name="solver")(inputs)
    with pytest.raises(ValueError, match="tf.MatrixSolve.*'solver'"):
        export.export_tflite(keras.Model(inputs, solve), str(path))
    with pytest.raises(ValueError, match="`timesteps`=10, but input 'fixed' has the fixed length 5"):
        export.export_tflite(keras.Sequential([keras.Input((5, D), name="fixed"), keras.layers.GRU(4)]), str(path),
                             timesteps=10)
    with pytest.raises(ValueError, match="`unroll=True` needs a static sequence length"):
        export.export_tflite(stacked_model(ALL_CELLS["elman"]), str(path), unroll=True)
    with pytest.raises(ValueError, match="quantization='int8' needs recurrent loops of static length"):
        export.export_tflite(stacked_model(ALL_CELLS["elman"]), str(path), quantization="int8",
                             representative_dataset=lambda: iter([]))
    with pytest.raises(ValueError, match="`input_signature` is needed for RNNLanguageModel"):
        from keras_dl.models import RNNLanguageModel
        export.export_tflite(RNNLanguageModel(vocabulary_size=8, units=4), str(path))
    assert os.listdir(tmp_path) == []


@pytest.fixture(scope="module")
def trained_classifier():
    """A GRU tagger trained to tell whether the running sum of the first feature is positive (about 90%)."""
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(512, 20, 16)).astype(np.float32)
    y = (np.cumsum(x[:, :, 0], axis=1) > 0).astype(np.int32)
    inputs = keras.Input((None, 16))
    outputs = keras.layers.Dense(2)(keras.layers.GRU(32, return_sequences=True)(inputs))
    # Dense for 48 steps, then 75% of the GRU and head blocks pruned for 112 more.
    model = prune_low_magnitude(keras.Model(inputs, outputs), ConstantSparsity(0.75, 48, frequency=1),
                                block_size=LITERT_INT8_BLOCK)
    model.compile(keras.optimizers.Adam(1e-2), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    model.fit(x, y, epochs=10, batch_size=32, verbose=0)
    model = strip_pruning(model)
    assert model.evaluate(x, y, verbose=0)[1] > 0.85
    return model, x


@pytest.mark.parametrize("quantization, sparse", [("float32", False), ("float16", False), ("dynamic_int8", False),
                                                  ("int8", False), ("float32", True), ("dynamic_int8", True),
                                                  ("int8", True)])  # float16 sparse: NaN on LiteRT, refused
def test_quantised_variants_agree_with_keras_on_a_trained_classifier(trained_classifier, quantization, sparse,
                                                                     tmp_path):
    model, x = trained_classifier
    timesteps = 20 if quantization == "int8" else None  # LiteRT's calibrator crashes on WHILE loops
    representative = (lambda: ([x[i : i + 1]] for i in range(64))) if quantization == "int8" else None
    path = export.export_tflite(model, str(tmp_path / "m.tflite"), quantization=quantization, sparse=sparse,
                                timesteps=timesteps, representative_dataset=representative)
    tflite = export.TFLiteModel(path)
    assert flex_free(tflite) and "DENSIFY" not in tflite.op_names
    if sparse:
        # Both GRU matrices keep LiteRT's blocks: 1x16 in int8, 1x4 (a 16x1 block is four 4x1 ones) in float.
        blocks = {t["shape"]: t["block"] for t in tflite.sparse_tensors}
        width = 16 if quantization in ("dynamic_int8", "int8") else 4
        assert blocks.get((96, 16)) == width and blocks.get((96, 32)) == width
    agree, count = 0, 0
    for row in range(0, 64):
        expected = np.asarray(model(x[row : row + 1])).argmax(-1)
        actual = list(tflite({tflite.input_names[0]: x[row : row + 1]}).values())[0].argmax(-1)
        agree, count = agree + int((expected == actual).sum()), count + expected.size
    assert agree / count >= 0.99
