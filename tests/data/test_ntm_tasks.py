"""The NTM tasks (Graves et al. 2014): copy and associative recall, checked example by example."""

import numpy as np
import pytest
import tensorflow_datasets as tfds

from keras_dl import data

COPY = dict(min_length=1, max_length=6, bits=5, num_train=60, num_eval=10)
RECALL = dict(min_items=2, max_items=5, item_length=2, bits=3, num_train=60, num_eval=10)


def _examples(builder, split="train"):
    return list(tfds.as_numpy(builder.as_dataset(split=split, shuffle_files=False)))


@pytest.fixture(scope="module")
def copy(data_dir):
    return data.load_builder("ntm_copy", data_dir, **COPY)


@pytest.fixture(scope="module")
def recall(data_dir):
    return data.load_builder("associative_recall", data_dir, **RECALL)


def test_copy_recall_phase_is_the_presented_sequence_and_only_it_is_weighted(copy):
    examples = _examples(copy)
    assert {int(ex["length"]) for ex in examples} == set(range(1, 7))  # Every length of 1..6 occurs in 60.
    for ex in examples:
        inputs, target, weights, length = ex["inputs"], ex["target"], ex["weights"], int(ex["length"])
        assert inputs.shape == (13, 6) and target.shape == (13, 5) and weights.shape == (13,)
        presented = inputs[:length, :5]
        assert set(np.unique(presented)) <= {0.0, 1.0} and not inputs[:length, 5].any()
        # The delimiter: its own channel, once, right after the sequence.
        np.testing.assert_array_equal(inputs[length], [0, 0, 0, 0, 0, 1])
        assert not inputs[length + 1:].any()
        np.testing.assert_array_equal(np.flatnonzero(weights), np.arange(length + 1, 2 * length + 1))
        np.testing.assert_array_equal(target[length + 1:2 * length + 1], presented)
        assert not target[weights == 0].any()


def test_recall_target_is_the_item_after_the_query(recall):
    examples = _examples(recall)
    assert {int(ex["length"]) for ex in examples} == {2, 3, 4, 5}
    queried = set()
    for ex in examples:
        inputs, target, weights, k = ex["inputs"], ex["target"], ex["weights"], int(ex["length"])
        assert inputs.shape == (21, 5) and target.shape == (21, 3)  # 5 * 3 + 2 * 2 + 2 steps
        items = np.stack([inputs[j * 3 + 1:j * 3 + 3, :3] for j in range(k)])
        assert len({item.tobytes() for item in items}) == k  # Distinct, so the answer is unique.
        for j in range(k):  # Item delimiters on channel 3, none of the query's.
            np.testing.assert_array_equal(inputs[j * 3, 3:], [1, 0])
        start = k * 3
        np.testing.assert_array_equal(inputs[start, 3:], [0, 1])
        np.testing.assert_array_equal(inputs[start + 3, 3:], [0, 1])
        query = inputs[start + 1:start + 3, :3]
        (position,) = [j for j in range(k) if np.array_equal(items[j], query)]
        assert position < k - 1
        queried.add(position)
        np.testing.assert_array_equal(np.flatnonzero(weights), [start + 4, start + 5])
        np.testing.assert_array_equal(target[start + 4:start + 6], items[position + 1])
        assert not target[weights == 0].any() and not inputs[start + 4:].any()
    assert queried == {0, 1, 2, 3}


def test_the_longer_evaluation_length_is_its_own_config(data_dir):
    builder = data.load_builder("ntm_copy", data_dir, min_length=40, max_length=40, num_train=1, num_eval=3)
    (x, y, w), = data.task_dataset("ntm_copy", "test", 3, data_dir=data_dir, min_length=40, max_length=40,
                                   num_train=1, num_eval=3).take(1).as_numpy_iterator()
    assert x.shape == (3, 81, 9) and y.shape == (3, 81, 8) and w.sum() == 3 * 40
    assert builder.info.supervised_keys == ("inputs", "target", "weights")


def test_each_seed_gives_the_same_examples_in_any_data_dir_and_another_seed_others(copy, tmp_path):
    again = data.load_builder("ntm_copy", str(tmp_path / "a"), **COPY)
    other = data.load_builder("ntm_copy", str(tmp_path / "b"), **COPY, seed=1)
    for split in data.SPLITS:
        first, second = _examples(copy, split), _examples(again, split)
        for a, b in zip(first, second):
            for key in a:
                np.testing.assert_array_equal(a[key], b[key])
    assert not np.array_equal(_examples(copy)[0]["inputs"], _examples(other)[0]["inputs"])
    # The splits come from different streams.
    assert not np.array_equal(_examples(copy, "validation")[0]["inputs"], _examples(copy, "test")[0]["inputs"])


@pytest.mark.parametrize("name, config, error, match", [
    ("ntm_copy", dict(min_length=5, max_length=3), ValueError, "`min_length` must be <= `max_length`"),
    ("ntm_copy", dict(min_length=0), ValueError, "`min_length`"),
    ("ntm_copy", dict(bits=0), ValueError, "`bits`"),
    ("ntm_copy", dict(max_length=2.5), TypeError, "`max_length`"),
    ("ntm_copy", dict(num_train=0), ValueError, "`num_train`"),
    ("ntm_copy", dict(seed=-1), ValueError, "`seed`"),
    ("associative_recall", dict(min_items=1), ValueError, "`min_items` must be >= 2"),
    ("associative_recall", dict(min_items=4, max_items=3), ValueError, "`min_items` must be <= `max_items`"),
    ("associative_recall", dict(item_length=0), ValueError, "`item_length`"),
    ("associative_recall", dict(bits=1, item_length=1, max_items=3), ValueError, "distinct items"),
    ("associative_recall", dict(length=10), TypeError, "length"),
])
def test_bad_configs_name_the_argument_before_anything_is_generated(tmp_path, name, config, error, match):
    with pytest.raises(error, match=match):
        data.load_builder(name, str(tmp_path), **config)
    assert not list(tmp_path.iterdir())
