import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from keras_dl import data


def _examples(builder, split):
    return list(tfds.as_numpy(builder.as_dataset(split=split)))


@pytest.fixture(scope="module")
def python_source(data_dir):
    return data.load_builder("python_source", data_dir)


def test_python_source_splits_are_disjoint_complete_and_follow_the_path_hash(python_source):
    paths = {split: [ex["path"].decode() for ex in _examples(python_source, split)] for split in data.SPLITS}
    all_files = {rel for rel, _ in data.python_source_files()}
    assert sum(map(len, paths.values())) == len(all_files)
    assert set().union(*map(set, paths.values())) == all_files
    for split, split_paths in paths.items():
        assert len(set(split_paths)) == len(split_paths)
        assert all(data.split_of(p) == split for p in split_paths)
    # About 90/5/5 of ~700 files.
    assert len(paths["train"]) > 8 * len(paths["validation"]) > 0
    assert len(paths["test"]) > 0


def test_python_source_is_about_12_mb_and_round_trips_bytes(python_source):
    files = dict(data.python_source_files())
    total = 0
    for split in data.SPLITS:
        for ex in _examples(python_source, split):
            with open(files[ex["path"].decode()], "rb") as f:
                assert ex["text"] == f.read()
            total += len(ex["text"])
    assert 5e6 < total < 30e6


def test_python_source_is_deterministic_across_data_dirs(python_source, tmp_path):
    again = data.load_builder("python_source", str(tmp_path))
    first = [ex["path"] for ex in _examples(python_source, "validation")]
    second = [ex["path"] for ex in _examples(again, "validation")]
    assert first == second


def test_lm_windows_are_the_document_bytes_and_shifted_targets():
    docs = [bytes(range(50, 80)), b"hello world, this is text"]
    texts = tf.data.Dataset.from_tensor_slices(docs)
    batches = list(data.lm_windows(texts, seq_len=4, batch_size=1).as_numpy_iterator())
    inputs = np.concatenate([x for x, _ in batches]).reshape(-1)
    targets = np.concatenate([y for _, y in batches]).reshape(-1)
    # 30-byte doc: 7 windows of 4 (29 // 4); 25-byte doc: 6 windows.
    expected_inputs = list(docs[0][:28]) + list(docs[1][:24])
    expected_targets = list(docs[0][1:29]) + list(docs[1][1:25])
    assert inputs.tolist() == expected_inputs
    assert targets.tolist() == expected_targets
    assert batches[0][0].dtype == np.int32


def test_lm_dataset_batches_have_the_requested_shape(data_dir):
    x, y = next(iter(data.lm_dataset("train", seq_len=32, batch_size=8, data_dir=data_dir)))
    assert x.shape == y.shape == (8, 32)
    assert x.dtype == tf.int32
    np.testing.assert_array_equal(x[:, 1:], y[:, :-1])


def test_adding_problem_target_is_the_sum_of_the_two_marked_values(data_dir):
    builder = data.load_builder("adding_problem", data_dir, length=30, num_train=200, num_eval=20)
    for ex in _examples(builder, "train"):
        values, markers = ex["inputs"][:, 0], ex["inputs"][:, 1]
        marked = np.flatnonzero(markers)
        assert markers.sum() == 2 and len(marked) == 2
        assert marked[0] < 15 <= marked[1]
        assert np.all((values >= 0) & (values <= 1))
        assert ex["target"] == pytest.approx(values[marked].sum(), abs=1e-6)


def test_adding_problem_constant_baseline_is_one_sixth(data_dir):
    builder = data.load_builder("adding_problem", data_dir, length=10, num_train=5000, num_eval=10)
    targets = np.array([ex["target"] for ex in _examples(builder, "train")])
    assert np.mean((targets - 1.0) ** 2) == pytest.approx(1 / 6, abs=0.01)


def test_copy_memory_layout(data_dir):
    length = 12
    builder = data.load_builder("copy_memory", data_dir, length=length, num_train=50, num_eval=5)
    for ex in _examples(builder, "validation"):
        x, y = ex["inputs"], ex["target"]
        assert x.shape == y.shape == (length + 20,)
        assert np.all((x[:10] >= 1) & (x[:10] <= 8))
        assert np.all(x[10 : length + 9] == 0)
        assert x[length + 9] == 9
        assert np.all(x[length + 10 :] == 0)
        assert np.all(y[: length + 10] == 0)
        np.testing.assert_array_equal(y[length + 10 :], x[:10])


def test_parity_target(data_dir):
    builder = data.load_builder("parity", data_dir, length=9, num_train=100, num_eval=10)
    for ex in _examples(builder, "test"):
        assert set(np.unique(ex["inputs"])) <= {0, 1}
        assert ex["target"] == ex["inputs"].sum() % 2


def test_generated_splits_differ_and_are_reproducible(data_dir, tmp_path):
    kwargs = dict(length=8, num_train=20, num_eval=20)
    a = data.load_builder("parity", data_dir, **kwargs)
    b = data.load_builder("parity", str(tmp_path), **kwargs)
    train_a = np.stack([ex["inputs"] for ex in _examples(a, "train")])
    train_b = np.stack([ex["inputs"] for ex in _examples(b, "train")])
    valid_a = np.stack([ex["inputs"] for ex in _examples(a, "validation")])
    np.testing.assert_array_equal(train_a, train_b)
    assert not np.array_equal(train_a, valid_a)


def test_task_dataset_batches(data_dir):
    ds = data.task_dataset("adding_problem", "validation", 4, data_dir=data_dir, length=10, num_train=20, num_eval=8)
    shapes = [(x.shape, y.shape) for x, y in ds]
    assert shapes == [((4, 10, 2), (4,)), ((4, 10, 2), (4,))]
    train = data.task_dataset("adding_problem", "train", 4, data_dir=data_dir, length=10, num_train=20, num_eval=8)
    targets = np.concatenate([y for _, y in train.take(10)])  # 40 examples from 20: it repeats, reshuffled.
    assert train.cardinality() == tf.data.INFINITE_CARDINALITY
    assert sorted(targets[:20]) == sorted(targets[20:]) and not np.array_equal(targets[:20], targets[20:])


@pytest.mark.parametrize(
    "name, kwargs, error, match",
    [
        ("no_such_dataset", {}, ValueError, "python_source"),
        ("", {}, ValueError, "`dataset`"),
        ("adding_problem", {"length": 0}, ValueError, "`length`"),
        ("adding_problem", {"length": 1}, ValueError, "`length` must be >= 2"),
        ("parity", {"num_train": -3}, ValueError, "`num_train`"),
        ("parity", {"length": 2.5}, TypeError, "`length`"),
        ("python_source", {"length": 10}, ValueError, "takes no config"),
        ("tfds:surely_not_a_tfds_dataset", {}, ValueError, "TFDS has no dataset"),
    ],
)
def test_bad_dataset_arguments_are_named(data_dir, name, kwargs, error, match):
    with pytest.raises(error, match=match):
        data.load_builder(name, data_dir, **kwargs)


def test_tfds_dataset_that_cannot_download_names_the_embedded_ones(data_dir, monkeypatch):
    def offline(self, *args, **kwargs):
        raise ConnectionError("network is unreachable")

    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", offline)
    with pytest.raises(RuntimeError, match="could not be downloaded.*python_source"):
        data.load_builder("tfds:tiny_shakespeare", data_dir)


def test_lm_windows_rejects_bad_sizes():
    texts = tf.data.Dataset.from_tensor_slices([b"abc"])
    with pytest.raises(ValueError, match="`seq_len`"):
        data.lm_windows(texts, seq_len=0, batch_size=1)
    with pytest.raises(TypeError, match="`batch_size`"):
        data.lm_windows(texts, seq_len=2, batch_size="4")


def test_embedded_datasets_are_plain_tfds_datasets(python_source, data_dir):
    names = set(tfds.list_builders())
    assert set(data.EMBEDDED_DATASETS) <= names
    assert "sequence_task" not in names  # The abstract base is not a dataset.
    via_tfds = tfds.load("python_source", split="validation", data_dir=data_dir)
    assert len(list(via_tfds)) == python_source.info.splits["validation"].num_examples


def test_finite_lm_pipelines_know_their_length():
    docs = [b"x" * 30, b"", b"y" * 17]  # 29 // 4 + 0 + 16 // 4 = 11 windows -> 5 batches of 2.
    ds = data.lm_windows(tf.data.Dataset.from_tensor_slices(docs), seq_len=4, batch_size=2)
    assert ds.cardinality() == 5 == len(list(ds))
    repeated = data.lm_windows(tf.data.Dataset.from_tensor_slices(docs), seq_len=4, batch_size=2, repeat=True)
    assert repeated.cardinality() == tf.data.INFINITE_CARDINALITY


def test_shuffle_mixes_the_whole_corpus_and_can_keep_a_fixed_order():
    # A long document (20000 windows) then a short one (20): with any buffer smaller than the
    # corpus, the short one's windows could only come out in the second half of a pass.
    docs = [b"a" * 80001, b"b" * 81]
    texts = tf.data.Dataset.from_tensor_slices(docs)
    shuffled = np.concatenate([x[:, 0] for x, _ in data.lm_windows(texts, 4, 1000, shuffle=True, seed=0).as_numpy_iterator()])
    assert len(shuffled) == 20000  # The last partial batch of 20 is dropped.
    assert np.flatnonzero(shuffled == ord("b")).min() < 10000  # P(fails | full shuffle) ~ 2**-20.

    fixed = data.lm_windows(texts, 4, 1000, shuffle=True, seed=1, reshuffle_each_iteration=False)
    first_pass = np.concatenate([x for x, _ in fixed.as_numpy_iterator()])
    second_pass = np.concatenate([x for x, _ in fixed.as_numpy_iterator()])
    np.testing.assert_array_equal(first_pass, second_pass)
