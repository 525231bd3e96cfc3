import keras
import numpy as np
import pytest

from keras_dl.layers import GRUCell
from keras_dl.layers import LSTMCell
from keras_dl.models import RNNLanguageModel
from keras_dl.sparsity import ConstantSparsity
from keras_dl.sparsity import MagnitudePruning
from keras_dl.sparsity import PolynomialDecay
from keras_dl.sparsity import PrunableWeight
from keras_dl.sparsity import magnitude_mask
from keras_dl.sparsity import prune_low_magnitude
from keras_dl.sparsity import sparsity_report
from keras_dl.sparsity import strip_pruning


def test_mask_zeroes_exactly_the_smallest_fraction():
    w = np.random.default_rng(0).normal(size=(12, 10)).astype(np.float32)
    for sparsity in (0.0, 0.25, 0.5, 0.9):
        mask = np.asarray(magnitude_mask(w, sparsity))
        assert (mask == 0).sum() == round(sparsity * w.size)
        if 0 < sparsity:
            assert np.abs(w)[mask == 0].max() <= np.abs(w)[mask == 1].min()


def test_mask_ties_still_give_the_exact_count():
    mask = np.asarray(magnitude_mask(np.ones((4, 5), np.float32), 0.5))
    assert (mask == 0).sum() == 10


def test_block_mask_prunes_whole_input_blocks_by_mean_magnitude():
    w = np.random.default_rng(1).normal(size=(16, 6)).astype(np.float32)
    mask = np.asarray(magnitude_mask(w, 0.5, block_size=(4, 1)))
    blocks = mask.reshape(4, 4, 6)  # [block row, row in block, column]
    assert np.all(blocks.min(axis=1) == blocks.max(axis=1))  # Each 4x1 block is all kept or all pruned.
    means = np.abs(w).reshape(4, 4, 6).mean(axis=1)
    kept = blocks[:, 0, :] == 1
    assert kept.sum() == 12 and means[~kept].max() <= means[kept].min()


def test_groups_prune_each_gate_on_its_own():
    w = np.random.default_rng(2).normal(size=(8, 12)).astype(np.float32)
    w[:, :4] *= 100  # A gate of large weights would keep everything if pruned jointly.
    mask = np.asarray(magnitude_mask(w, 0.5, groups=3))
    np.testing.assert_array_equal(mask.reshape(8, 3, 4).mean(axis=(0, 2)), [0.5, 0.5, 0.5])


def test_bad_masks_are_named():
    w = np.zeros((6, 4), np.float32)
    with pytest.raises(ValueError, match=r"`block_size` \(4, 1\) does not divide"):
        magnitude_mask(w, 0.5, block_size=(4, 1))
    with pytest.raises(ValueError, match="needs a 2-D weight"):
        magnitude_mask(np.zeros((2, 2, 4), np.float32), 0.5, block_size=(2, 1))
    with pytest.raises(ValueError, match="`groups`=3"):
        magnitude_mask(w, 0.5, groups=3)


def test_conv_kernels_are_pruned_over_all_axes_and_per_group_of_output_channels():
    w = np.random.default_rng(5).normal(size=(3, 3, 4, 8)).astype(np.float32)  # [kh, kw, in, out]
    w[..., :4] *= 100  # the first group of output channels would keep everything if pruned jointly
    mask = np.asarray(magnitude_mask(w, 0.5, groups=2))
    assert mask.shape == w.shape
    np.testing.assert_array_equal(mask.reshape(-1, 2, 4).mean(axis=(0, 2)), [0.5, 0.5])
    assert (np.asarray(magnitude_mask(w, 0.25)) == 0).sum() == round(0.25 * w.size)


def test_mask_keeps_at_least_one_block_and_takes_the_weights_dtype():
    w = np.random.default_rng(6).normal(size=(8, 4)).astype(np.float16)
    mask = magnitude_mask(w, 1.0)
    assert int(np.asarray(mask).sum()) == 1 and np.asarray(mask)[np.unravel_index(np.abs(w).argmax(), w.shape)] == 1
    assert mask.dtype == "float16"
    assert int(np.asarray(magnitude_mask(w, 1.0, block_size=(4, 1))).sum()) == 4  # one whole 4x1 block


def test_bad_masks_are_named_with_what_was_expected():
    w = np.zeros((4, 12), np.float32)
    with pytest.raises(ValueError, match=r"`block_size` must be a pair \(rows, cols\) .* got \(1, 2, 3\)"):
        magnitude_mask(w, 0.5, block_size=(1, 2, 3))
    with pytest.raises(ValueError, match="`block_size` must be a pair"):
        magnitude_mask(w, 0.5, block_size=4)
    with pytest.raises(ValueError, match="`block_size` must be a positive int, got 0"):
        magnitude_mask(w, 0.5, block_size=(0, 1))
    with pytest.raises(ValueError, match=r"needs a 2-D weight; weight has shape \(2, 2, 4\)"):
        magnitude_mask(np.zeros((2, 2, 4), np.float32), 0.5, block_size=(1, 2))
    with pytest.raises(ValueError, match=r"does not divide weight of shape \(4, 12\)"):
        magnitude_mask(w, 0.5, block_size=(3, 1))
    with pytest.raises(ValueError, match=r"`block_size` \(1, 6\) does not divide a gate of width 4"):
        magnitude_mask(w, 0.5, block_size=(1, 6), groups=3)
    np.testing.assert_array_equal(np.asarray(magnitude_mask(np.ones((2, 2, 4), np.float32), 0.0)), 1.0)  # (1, 1): any rank


def rnn_model(cell, seed=0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((6, 8))
    return keras.Model(inputs, keras.layers.Dense(4, name="head")(keras.layers.RNN(cell)(inputs)))


def data(seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(32, 6, 8)).astype(np.float32), rng.normal(size=(32, 4)).astype(np.float32)


@pytest.mark.parametrize("jit", [False, True])
def test_fit_prunes_every_weight_to_the_schedule_gate_by_gate(jit):
    model = prune_low_magnitude(rnn_model(LSTMCell(8)), ConstantSparsity(0.75, begin_step=0, frequency=2), block_size=(4, 1))
    model.compile(keras.optimizers.Adam(0.01), "mse", jit_compile=jit)
    x, y = data()
    model.fit(x, y, batch_size=8, epochs=2, verbose=0)  # 8 updates: pruned at steps 0, 2, 4, 6.
    for row in sparsity_report(model, block_size=(4, 1)):
        assert row["sparsity"] == 0.75 and row["block_sparsity"] == 0.75, row
    cell = model.layers[1].cell
    for weight in (cell.kernel, cell.recurrent_kernel):  # Each of the 4 gates on its own.
        per_gate = (np.asarray(weight) == 0).reshape(weight.shape[0], 4, 8).mean(axis=(0, 2))
        np.testing.assert_array_equal(per_gate, [0.75] * 4)
    assert int(cell.kernel.constraint.step.value) == 8


def test_zeros_stay_zero_after_pruning_ends():
    model = prune_low_magnitude(rnn_model(GRUCell(8)), PolynomialDecay(0.0, 0.6, begin_step=0, end_step=6, frequency=3))
    model.compile(keras.optimizers.Adam(0.05), "mse")
    x, y = data(1)
    for _ in range(7):  # Steps 0..6: the last pruning step is 6.
        model.train_on_batch(x, y)
    kernel = model.layers[1].cell.recurrent_kernel
    zeros = np.asarray(kernel) == 0
    assert zeros.mean() == pytest.approx(0.6, abs=0.01)
    for _ in range(20):  # Adam would move every weight; the mask keeps the pruned ones at 0.
        model.train_on_batch(x, y)
    np.testing.assert_array_equal(np.asarray(kernel) == 0, zeros)


def test_sparsity_follows_the_polynomial_ramp():
    schedule = PolynomialDecay(0.0, 0.8, begin_step=0, end_step=8, power=3, frequency=1)
    model = prune_low_magnitude(rnn_model(GRUCell(8)), schedule)
    model.compile(keras.optimizers.SGD(0.01), "mse")
    x, y = data(2)
    head = model.get_layer("head").kernel
    for step in range(10):
        model.train_on_batch(x, y)
        expected = round(float(schedule(min(step, 8))[1]) * head.shape[0] * head.shape[1])
        assert (np.asarray(head) == 0).sum() == expected, step


def test_recurrent_diagonal_can_stay_dense():
    model = prune_low_magnitude(rnn_model(GRUCell(8)), ConstantSparsity(0.9, 0, frequency=1), keep_recurrent_diagonal=True)
    model.compile("adam", "mse")
    model.train_on_batch(*data())
    recurrent = np.asarray(model.layers[1].cell.recurrent_kernel).reshape(8, 3, 8)
    assert np.all(recurrent[np.arange(8), :, np.arange(8)] != 0)
    assert (recurrent == 0).mean() > 0.75


def test_strip_pruning_gives_a_plain_model_that_saves(tmp_path):
    model = prune_low_magnitude(rnn_model(LSTMCell(8)), ConstantSparsity(0.5, 0, frequency=1))
    model.compile("adam", "mse")
    x, y = data()
    model.train_on_batch(x, y)
    plain = strip_pruning(model)
    assert len(plain.weights) == len(model.weights) - 2 * 3  # A mask and a step per pruned weight.
    assert all(w.constraint is None for w in plain.weights)
    np.testing.assert_array_equal(np.asarray(plain(x)), np.asarray(model(x)))
    plain.save(str(tmp_path / "plain.keras"))
    np.testing.assert_array_equal(np.asarray(keras.models.load_model(str(tmp_path / "plain.keras"))(x)), np.asarray(model(x)))


def test_subclassed_language_model_prunes_and_strips():
    model = RNNLanguageModel(vocabulary_size=32, embedding_dim=8, units=16)
    model.build((None, None))
    prune_low_magnitude(model, ConstantSparsity(0.5, 0, frequency=1))
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    tokens = np.random.default_rng(0).integers(0, 32, (8, 10)).astype(np.int32)
    model.train_on_batch(tokens, tokens)
    assert [row["sparsity"] for row in sparsity_report(model)] == [0.5] * 4  # Embedding, kernel, recurrent, head.
    plain = strip_pruning(model)
    assert isinstance(plain, RNNLanguageModel)
    np.testing.assert_array_equal(np.asarray(plain(tokens)), np.asarray(model(tokens)))


def test_weights_argument_prunes_only_the_chosen_matrices():
    model = rnn_model(GRUCell(8))
    cell = model.layers[1].cell
    prune_low_magnitude(model, ConstantSparsity(0.5, 0, frequency=1), weights=[cell.recurrent_kernel])
    model.compile("adam", "mse")
    model.train_on_batch(*data())
    report = {row["weight"]: row["sparsity"] for row in sparsity_report(model)}
    head = model.get_layer("head").kernel
    assert report == {cell.kernel.path: 0.0, cell.recurrent_kernel.path: 0.5, head.path: 0.0}
    other = rnn_model(GRUCell(8))
    prunable = [w.path for w in (other.layers[1].cell.kernel, other.layers[1].cell.recurrent_kernel,
                                 other.get_layer("head").kernel)]
    with pytest.raises(ValueError) as raised:  # a weight of another model: no reason to add
        prune_low_magnitude(other, ConstantSparsity(0.5, 0), weights=[cell.kernel])
    assert str(raised.value) == (f"`weights` must be a non-empty list of prunable weights of `model`; prunable: "
                                 f"{prunable}.")


def test_bad_pruning_requests_are_named():
    with pytest.raises(ValueError, match="no prunable weights"):
        model = keras.Sequential([keras.Input((4,)), keras.layers.LayerNormalization()])
        prune_low_magnitude(model, ConstantSparsity(0.5, 0))
    with pytest.raises(ValueError, match=r"`block_size` \(16, 1\) does not divide"):
        prune_low_magnitude(rnn_model(GRUCell(8)), ConstantSparsity(0.5, 0), block_size=(16, 1))
    with pytest.raises(TypeError, match="`schedule`"):
        prune_low_magnitude(rnn_model(GRUCell(8)), 0.5)
    with pytest.raises(ValueError, match="must be built"):
        prune_low_magnitude(keras.Sequential([keras.layers.Dense(2)]), ConstantSparsity(0.5, 0))
    model = prune_low_magnitude(rnn_model(GRUCell(8)), ConstantSparsity(0.5, 0))
    with pytest.raises(ValueError, match="already pruned"):
        prune_low_magnitude(model, ConstantSparsity(0.5, 0))


@pytest.mark.parametrize("kwargs, error, message", [
    ({"model": 3}, TypeError, "`model` must be a Keras model or layer, got int."),
    ({"schedule": 0.5}, TypeError, "`schedule` must be a keras_dl.sparsity PruningSchedule, got float."),
    ({"model": "unbuilt"}, ValueError, "`model` must be built (call it on a batch or build it) before pruning."),
    ({"layers": []}, TypeError, "`layers` must be a non-empty list of layers of `model`, got []."),
    ({"layers": "head"}, TypeError, "`layers` must be a non-empty list of layers of `model`, got 'head'."),
    ({"layers": "head and 3"}, TypeError, "`layers` must be a non-empty list of layers of `model`, got [<Dense"),
    ({"weights": 3}, ValueError, "`weights` must be a non-empty list of prunable weights of `model`; prunable: "),
    ({"weights": []}, ValueError, "`weights` must be a non-empty list of prunable weights of `model`; prunable: "),
])
def test_bad_pruning_arguments_get_the_whole_message(kwargs, error, message):
    model = rnn_model(GRUCell(8))
    kwargs = {"model": model, "schedule": ConstantSparsity(0.5, 0), **kwargs}
    if kwargs["model"] == "unbuilt":
        kwargs["model"] = keras.Sequential([keras.layers.Dense(2)])
    if kwargs.get("layers") == "head and 3":
        kwargs["layers"] = [model.get_layer("head"), 3]
    with pytest.raises(error) as raised:
        prune_low_magnitude(**kwargs)
    assert str(raised.value).startswith(message) and (message.endswith("[<Dense") or message.endswith(": ")
                                                       or str(raised.value) == message)


class _ThreeGates(keras.layers.Layer):
    """A user layer declaring 3 gates on the last axis of a kernel of the shape given."""

    def __init__(self, kernel_shape, **kwargs):
        super().__init__(**kwargs)
        self.kernel = self.add_weight(shape=kernel_shape, name="kernel")
        self.kernel_constraint = None
        self.built = True

    def prunable_weights(self):
        return [PrunableWeight("kernel", "kernel_constraint", gates=3)]


def test_blocks_and_gates_must_divide_each_weight_and_the_error_names_it():
    # LSTM(6) on 4 features: the kernel is (4, 24), each gate 6 wide; (1, 4) divides 24 but not a gate.
    model = keras.Sequential([keras.Input((3, 4)), keras.layers.LSTM(6)])
    with pytest.raises(ValueError) as raised:
        prune_low_magnitude(model, ConstantSparsity(0.5, 0), block_size=(1, 4))
    assert str(raised.value) == (f"`block_size` (1, 4) does not divide the gates (width 6) of "
                                 f"{model.layers[0].cell.kernel.path}.")
    # A block as wide as a gate is fine whatever the rows: LSTM(8) on 4 features, kernel (4, 32), gates 8 wide.
    model = keras.Sequential([keras.Input((3, 4)), keras.layers.LSTM(8)])
    prune_low_magnitude(model, ConstantSparsity(0.5, 0), block_size=(1, 8))
    assert isinstance(model.layers[0].cell.recurrent_kernel.constraint, MagnitudePruning)
    conv = keras.Sequential([keras.Input((5, 3)), keras.layers.Conv1D(4, 2)])
    with pytest.raises(ValueError) as raised:
        prune_low_magnitude(conv, ConstantSparsity(0.5, 0), block_size=(4, 1))
    assert str(raised.value) == f"`block_size` (4, 1) needs a 2-D weight; {conv.layers[0].kernel.path} has shape (2, 3, 4)."
    layer = _ThreeGates((4, 10), name="three")
    with pytest.raises(ValueError) as raised:
        prune_low_magnitude(layer, ConstantSparsity(0.5, 0))
    assert str(raised.value) == (f"{layer.kernel.path} of shape (4, 10) cannot be split into the 3 gates its layer "
                                 "'three' declares in `prunable_weights()`.")
    layer = _ThreeGates((2, 4, 9))  # the gates split the last axis, whatever the others
    prune_low_magnitude(layer, ConstantSparsity(0.5, 0))
    assert layer.kernel.constraint.gates == 3


def test_the_mask_has_the_weights_dtype_and_a_path_naming_layer_and_weight():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, dtype="float16", name="half")])
    prune_low_magnitude(model, ConstantSparsity(0.5, 0))
    pruning = model.layers[0].kernel.constraint
    assert pruning.mask.dtype == "float16" and pruning.weight_dtype == "float16"
    assert (pruning.mask.path, pruning.step.path) == ("half_kernel_pruning/mask", "half_kernel_pruning/step")


def test_a_layer_given_as_the_model_is_pruned_itself():
    """Found by mutation testing: the root was skipped, so a lone layer had "no prunable weights"."""
    dense = keras.layers.Dense(4)
    dense.build((None, 8))
    prune_low_magnitude(dense, ConstantSparsity(0.5, 0))
    assert isinstance(dense.kernel.constraint, MagnitudePruning)


def test_a_layer_reached_twice_is_pruned_once_and_every_root_is_walked_whole():
    model = rnn_model(GRUCell(8))
    rnn, head = model.layers[1], model.get_layer("head")
    prune_low_magnitude(model, ConstantSparsity(0.5, 0), layers=[rnn, model])
    for weight in (rnn.cell.kernel, rnn.cell.recurrent_kernel, head.kernel):
        assert isinstance(weight.constraint, MagnitudePruning) and weight.constraint.previous is None


def test_each_gate_reaches_its_own_target_like_lpcnet():
    gates = [ConstantSparsity(s, 0, frequency=1) for s in (0.95, 0.95, 0.8)]  # GRU [z, r, h]: 5%/5%/20% density.
    keras.utils.set_random_seed(0)
    inputs = keras.Input((6, 8))
    model = keras.Model(inputs, keras.layers.Dense(4, name="head")(keras.layers.RNN(GRUCell(20))(inputs)))
    prune_low_magnitude(model, ConstantSparsity(0.5, 0, frequency=1), gate_schedules=gates)
    model.compile("adam", "mse")
    model.train_on_batch(*data())
    recurrent = np.asarray(model.layers[1].cell.recurrent_kernel) == 0
    np.testing.assert_allclose(recurrent.reshape(20, 3, 20).mean(axis=(0, 2)), [0.95, 0.95, 0.8])
    assert (np.asarray(model.get_layer("head").kernel) == 0).mean() == 0.5  # Not a recurrent cell: `schedule`.


def test_gate_schedules_must_share_their_timing():
    with pytest.raises(ValueError, match="must share begin_step"):
        prune_low_magnitude(rnn_model(GRUCell(8)), ConstantSparsity(0.5, 0),
                            gate_schedules=[ConstantSparsity(0.9, 0), ConstantSparsity(0.9, 5), ConstantSparsity(0.8, 0)])
    for bad in ([0.9, 0.9, 0.8], [], ConstantSparsity(0.9, 0)):
        with pytest.raises(TypeError, match="`gate_schedules` must be a list of PruningSchedule"):
            prune_low_magnitude(rnn_model(GRUCell(8)), ConstantSparsity(0.5, 0), gate_schedules=bad)
    with pytest.raises(ValueError, match=r"has 2 schedules but no pruned weight has that many gates; gated weights: "
                                         r"\{'.*kernel': 3, '.*recurrent_kernel': 3\}"):
        prune_low_magnitude(rnn_model(GRUCell(8)), ConstantSparsity(0.5, 0),
                            gate_schedules=[ConstantSparsity(0.9, 0), ConstantSparsity(0.8, 0)])


def test_gate_schedules_reach_a_layer_of_two_gates():
    from keras_dl.sparsity import PrunableWeight

    class TwoGates(keras.layers.Dense):
        def prunable_weights(self):
            return [PrunableWeight("kernel", "kernel_constraint", gates=2)]

    model = keras.Sequential([keras.Input((8,)), TwoGates(8)])
    prune_low_magnitude(model, ConstantSparsity(0.5, 0, frequency=1),
                        gate_schedules=[ConstantSparsity(0.75, 0, frequency=1), ConstantSparsity(0.25, 0, frequency=1)])
    model.compile("sgd", "mse")
    model.train_on_batch(np.ones((4, 8), np.float32), np.ones((4, 8), np.float32))
    zeros = (np.asarray(model.layers[0].kernel) == 0).reshape(8, 2, 4).mean(axis=(0, 2))
    np.testing.assert_array_equal(zeros, [0.75, 0.25])


def test_sparsity_summaries_reach_tensorboard(tmp_path):
    import glob

    import tensorflow as tf

    from keras_dl.sparsity import SparsitySummaries

    SparsitySummaries(str(tmp_path / "unused")).on_train_end()  # a run stopped before its first epoch ends

    schedule = PolynomialDecay(0.0, 0.8, begin_step=0, end_step=8, frequency=1)
    model = prune_low_magnitude(rnn_model(GRUCell(8)), schedule)
    model.compile("adam", "mse")
    x, y = data()
    model.fit(x, y, batch_size=8, epochs=3, verbose=0, callbacks=[SparsitySummaries(str(tmp_path))])
    values = {}
    for path in glob.glob(str(tmp_path / "sparsity" / "events.*")):
        for record in tf.data.TFRecordDataset(path):
            event = tf.compat.v1.Event.FromString(record.numpy())
            for value in event.summary.value:
                values.setdefault(value.tag, []).append(float(tf.make_ndarray(value.tensor)))
    # Epochs end after steps 3, 7 and 11; the last pruning steps by then are 3, 7 and 8 (end_step).
    expected = [round(float(schedule(step)[1]) * 32) / 32 for step in (3, 7, 8)]
    assert values["sparsity/head/kernel"] == pytest.approx(expected)
    assert expected[0] < expected[2]
    assert set(values) == {f"sparsity/{row['weight']}" for row in sparsity_report(model)}


def test_a_weights_own_constraint_still_applies_while_pruned_and_comes_back_after_strip(tmp_path):
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(4, kernel_constraint=keras.constraints.NonNeg())])
    prune_low_magnitude(model, ConstantSparsity(0.5, begin_step=0, frequency=1))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 8)).astype("float32")
    y = -np.repeat(x.sum(1, keepdims=True), 4, axis=1)  # targets that pull every weight negative
    model.compile(keras.optimizers.SGD(0.1), "mse")
    model.fit(x, y, epochs=3, verbose=0)
    kernel = model.layers[0].kernel.numpy()
    assert kernel.min() >= 0.0  # NonNeg, chained under the pruning constraint
    assert np.mean(kernel == 0) >= 0.5  # and pruned
    model.save(tmp_path / "pruned.keras")
    loaded = keras.models.load_model(tmp_path / "pruned.keras")
    assert isinstance(loaded.layers[0].kernel.constraint.previous, keras.constraints.NonNeg)
    assert isinstance(strip_pruning(model).layers[0].kernel.constraint, keras.constraints.NonNeg)


# Cell names, not cells: a layer made at import runs TensorFlow ops, whose thread pools deadlock mutmut's forked runs.
@pytest.mark.parametrize("name, gates", [("SimpleRNNCell", 1), ("LSTMCell", 4), ("GRUCell", 3)])
def test_keras_builtin_cells_are_pruned_gate_by_gate_and_only_the_recurrent_diagonal_is_kept(name, gates):
    """KERAS_PRUNABLE_WEIGHTS (built when the module loads) declares each Keras cell's kernels and gate count."""
    cell = getattr(keras.layers, name)(8)
    model = prune_low_magnitude(rnn_model(cell), ConstantSparsity(0.5, 0, frequency=1), keep_recurrent_diagonal=True)
    model.compile("sgd", "mse")
    x, y = data(4)
    model.train_on_batch(x, y)
    kernel, recurrent = (np.asarray(w) for w in (cell.kernel, cell.recurrent_kernel))
    assert cell.kernel.constraint.gates == cell.recurrent_kernel.constraint.gates == gates
    # Per gate: exactly half of the input kernel.
    np.testing.assert_array_equal((kernel == 0).reshape(8, gates, 8).mean(axis=(0, 2)), [0.5] * gates)
    per_gate = recurrent.reshape(8, gates, 8)
    assert np.all(per_gate[np.arange(8), :, np.arange(8)] != 0)  # the recurrent diagonal is kept ...
    assert not cell.kernel.constraint.keep_diagonal  # ... and only there: the input kernel is not recurrent.
    # Half of each gate's 64 entries is pruned, less the diagonal entries among them (at most 8) that come back.
    assert np.all(((per_gate == 0).sum(axis=(0, 2)) >= 32 - 8) & ((per_gate == 0).sum(axis=(0, 2)) <= 32))


def test_pruning_constraint_round_trips_its_whole_config():

    schedules = [ConstantSparsity(s, begin_step=3, frequency=2) for s in (0.25, 0.5, 0.75)]
    constraint = MagnitudePruning((8, 12), schedules, block_size=(4, 1), gates=3, keep_diagonal=True,
                                  previous=keras.constraints.NonNeg(), weight_dtype="float16")
    restored = MagnitudePruning.from_config(constraint.get_config())
    assert restored.get_config() == constraint.get_config()
    assert (restored.weight_shape, restored.block_size, restored.gates, restored.keep_diagonal, restored.weight_dtype) \
        == ((8, 12), (4, 1), 3, True, "float16")
    assert [s.get_config() for s in restored.schedules] == [s.get_config() for s in schedules]
    assert isinstance(restored.previous, keras.constraints.NonNeg) and restored.mask.dtype == "float16"
    single = MagnitudePruning((4, 4), schedules[0])
    assert MagnitudePruning.from_config(single.get_config()).schedules[0].get_config() == schedules[0].get_config()
    # Defaults: one gate, no kept diagonal. Its state: a float mask of ones and an int64 step at 0, neither trained,
    # named as checkpoints of earlier runs name them.
    assert (single.gates, single.keep_diagonal, single.block_size) == (1, False, (1, 1))
    assert [(w.path.rsplit("/", 1)[-1], w.dtype, w.trainable, tuple(w.shape)) for w in single.weights] == [
        ("mask", "float32", False, (4, 4)), ("step", "int64", False, ())]
    np.testing.assert_array_equal(np.asarray(single.mask), np.ones((4, 4)))
    assert int(single.step.value) == 0
    with pytest.raises(ValueError, match=r"^`block_size` \(4, 1\) does not divide kernel_mask of shape \(6, 4\)"):
        MagnitudePruning((6, 4), schedules[0], block_size=(4, 1), name="kernel_mask")


def test_pruning_adds_no_trainable_weight_and_waits_for_its_begin_step():
    model = rnn_model(GRUCell(8))
    trainable = [w.path for w in model.trainable_weights]
    before = [np.asarray(w) for w in model.trainable_weights]
    prune_low_magnitude(model, ConstantSparsity(0.5, begin_step=5, frequency=1))
    assert [w.path for w in model.trainable_weights] == trainable
    model.compile(keras.optimizers.SGD(0.0), "mse")  # no update: only the constraints could change the weights
    model.train_on_batch(*data())
    for weight, value in zip(model.trainable_weights, before):
        np.testing.assert_array_equal(np.asarray(weight), value)


@pytest.mark.parametrize("sparsity, zeros", [
    (0.0535, 54),  # 0.0535 * 1000 zeros: 53.5000004 in float32, 53.497 in float16 (54 or 53)
    (0.0013, 1),   # 0.9987 * 1000 kept: 998.7 in float32 rounds to 999; float16 holds 998.5, which rounds to 998
])
def test_mask_counts_do_not_depend_on_floatx(sparsity, zeros):
    w = np.random.default_rng(9).normal(size=(1000, 1)).astype(np.float32)
    assert int(np.sum(np.asarray(magnitude_mask(w, sparsity)) == 0)) == zeros
    floatx = keras.config.floatx()
    keras.config.set_floatx("float16")
    try:
        assert int(np.sum(np.asarray(magnitude_mask(w, sparsity)) == 0)) == zeros
    finally:
        keras.config.set_floatx(floatx)


def test_sparsity_report_lists_each_trainable_prunable_weight_with_block_sparsity_where_blocks_tile_it():
    inputs = keras.Input((5, 8))
    x = keras.layers.Conv1D(4, 3, name="conv")(inputs)  # a 3-D kernel: no blocks
    x = keras.layers.GlobalAveragePooling1D()(x)
    x = keras.layers.Dense(4, name="frozen", trainable=False)(x)
    x = keras.layers.Dense(6, name="a")(x)
    model = keras.Model(inputs, keras.layers.Dense(3, name="b")(x))
    a = np.ones((4, 6), np.float32)
    a[:, :3] = 0  # the first three columns: whole (4, 1) blocks and one whole (4, 3) block
    a[0, 4] = 0
    model.get_layer("a").kernel.assign(a)
    kernels = {name: model.get_layer(name).kernel for name in ("conv", "a", "b")}

    def rows(**blocks):
        return [{"weight": kernels[name].path, "shape": tuple(kernels[name].shape), "size": int(np.prod(
            kernels[name].shape)), "sparsity": float(np.mean(np.asarray(kernels[name]) == 0)),
                 **({"block_sparsity": blocks[name]} if name in blocks else {})} for name in ("conv", "a", "b")]

    assert sparsity_report(model) == rows()
    assert sparsity_report(model, block_size=(4, 1)) == rows(a=0.5)  # 6 rows of b are not whole blocks of 4
    assert sparsity_report(model, block_size=(4, 3)) == rows(a=0.5)
    assert sparsity_report(model, block_size=(2, 3)) == rows(a=0.5, b=0.0)
    assert rows()[1]["sparsity"] == 13 / 24


def test_sparsity_report_skips_a_frozen_weight_and_goes_on_to_the_layers_next_one():
    inputs = keras.Input((5, 3))
    lstm = keras.layers.LSTM(4)
    model = keras.Model(inputs, keras.layers.Dense(2)(lstm(inputs)))
    lstm.cell.kernel.trainable = False
    assert [row["weight"] for row in sparsity_report(model)] == [lstm.cell.recurrent_kernel.path,
                                                                model.layers[-1].kernel.path]


@keras.saving.register_keras_serializable(package="test_pruning")
class _ForgetsItsUnits(keras.Model):
    """A user model whose get_config forgets an argument: its copy is built with other weights."""

    def __init__(self, units=2, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(units)

    def call(self, x):
        return self.dense(x)

    def get_config(self):
        return {"name": self.name}


def test_strip_pruning_refuses_a_copy_with_other_weights():
    model = _ForgetsItsUnits(units=3, name="forgetful")
    model(np.ones((1, 4), np.float32))
    prune_low_magnitude(model, ConstantSparsity(0.5, 0))
    with pytest.raises(ValueError, match=r"^the copy of `model` 'forgetful' does not have the same weights as the "
                                         r"original\.$"):
        strip_pruning(model)
