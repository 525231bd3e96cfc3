"""Embedded offline datasets, registered as TFDS builders.

Defining a `tfds.core.GeneratorBasedBuilder` subclass registers it in TFDS under its
snake_case name, so `tfds.builder("python_source")` works once `keras_dl.data` is
imported and the data goes through TFDS splits, caching and `as_dataset`.
"""

import os
import sys
import sysconfig
import zlib

import numpy as np
import tensorflow_datasets as tfds

from keras_dl import _checks
from keras_dl.data.generative import GENERATIVE_DATASETS
from keras_dl.data.seq2seq import SEQ2SEQ_DATASETS

SPLITS = ("train", "validation", "test")
_EXCLUDED_DIRS = {"site-packages", "dist-packages", "test", "tests", "idle_test", "__pycache__"}


def python_source_files(root=None):
    """Lists `(relative_path, absolute_path)` of the standard library's `.py` files.

    Test suites and installed third-party packages are left out, so the corpus is the
    library source of the running interpreter (about 12 MB on CPython 3.11).
    """
    root = root or sysconfig.get_paths()["stdlib"]
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _EXCLUDED_DIRS)
        for filename in sorted(filenames):
            if filename.endswith(".py"):
                path = os.path.join(dirpath, filename)
                files.append((os.path.relpath(path, root).replace(os.sep, "/"), path))
    return files


def split_of(relative_path):
    """Deterministic file-level split: 90% train, 5% validation, 5% test by CRC32 of the path."""
    bucket = zlib.crc32(relative_path.encode("utf-8")) % 20
    return "test" if bucket == 0 else "validation" if bucket == 1 else "train"


class PythonSource(tfds.core.GeneratorBasedBuilder):
    """Byte-level text corpus: the running interpreter's standard-library source files.

    One example per file: `{"path": relative path, "text": raw bytes}`. Files go to
    splits by a hash of their path, so the splits are disjoint and the same on every
    machine with the same Python version (the config name records that version).
    """

    VERSION = tfds.core.Version("1.0.0")
    BUILDER_CONFIGS = [
        tfds.core.BuilderConfig(
            name=f"py{sys.version_info.major}.{sys.version_info.minor}",
            description="Standard library of this Python version, tests excluded.",
        )
    ]

    def _info(self):
        return tfds.core.DatasetInfo(
            builder=self,
            description=self.__doc__,
            features=tfds.features.FeaturesDict(
                {"path": tfds.features.Text(), "text": tfds.features.Tensor(shape=(), dtype=np.object_)}
            ),
        )

    def _split_generators(self, dl_manager):
        del dl_manager  # Nothing to download: the corpus is on this machine.
        files = python_source_files()
        return {split: self._generate_examples(files, split) for split in SPLITS}

    def _generate_examples(self, files, split):
        for relative_path, path in files:
            if split_of(relative_path) == split:
                with open(path, "rb") as f:
                    yield relative_path, {"path": relative_path, "text": f.read()}


class SequenceTaskConfig(tfds.core.BuilderConfig):
    """Config of a generated long-term-dependency task.

    Args:
        length: sequence length T (for `copy_memory`, the delay between the symbols and
            their recall).
        num_train: number of training examples.
        num_eval: number of validation and of test examples.
        seed: seed of the generator; each split draws from its own stream.
    """

    def __init__(self, *, length=100, num_train=20000, num_eval=2000, seed=0, **kwargs):
        self.length = _checks.positive_int("length", length)
        self.num_train = _checks.positive_int("num_train", num_train)
        self.num_eval = _checks.positive_int("num_eval", num_eval)
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"`seed` must be an int >= 0, got {seed!r}.")
        self.seed = seed
        name = f"length{length}_train{num_train}_eval{num_eval}_seed{seed}"
        super().__init__(name=name, **kwargs)


class SequenceTask(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """Base of the generated tasks: subclasses define `_features` and `_make`.

    Not a dataset itself, so it is kept out of the TFDS registry.
    """

    VERSION = tfds.core.Version("1.0.0")
    BUILDER_CONFIGS = [SequenceTaskConfig()]
    min_length = 1

    @classmethod
    def make_config(cls, **config):
        """The builder config of `load_builder(name, **config)`, checked before anything is generated."""
        task_config = SequenceTaskConfig(**config)
        if task_config.length < cls.min_length:
            raise ValueError(f"`length` must be >= {cls.min_length} for {cls.name}, got {task_config.length}.")
        return task_config

    def _info(self):
        return tfds.core.DatasetInfo(
            builder=self,
            description=self.__doc__,
            features=tfds.features.FeaturesDict(self._features(self.builder_config.length)),
            supervised_keys=("inputs", "target"),
        )

    def _split_generators(self, dl_manager):
        del dl_manager
        config = self.builder_config
        sizes = {"train": config.num_train, "validation": config.num_eval, "test": config.num_eval}
        return {
            split: self._generate_examples(split_id, sizes[split])
            for split_id, split in enumerate(SPLITS)
        }

    def _generate_examples(self, split_id, size):
        rng = np.random.default_rng([self.builder_config.seed, split_id])
        inputs, target = self._make(rng, size, self.builder_config.length)
        for i in range(size):
            yield i, {"inputs": inputs[i], "target": target[i]}


class AddingProblem(SequenceTask):
    """Adding problem (Hochreiter & Schmidhuber 1997; the form of Le et al. 2015).

    `inputs[t] = (value, marker)`: values uniform in [0, 1]; exactly two markers are 1,
    one in each half of the sequence. `target` is the sum of the two marked values.
    Predicting 1 always gives an MSE of 1/6 (about 0.167), the trivial baseline.
    """

    def _features(self, length):
        return {
            "inputs": tfds.features.Tensor(shape=(length, 2), dtype=np.float32),
            "target": tfds.features.Tensor(shape=(), dtype=np.float32),
        }

    min_length = 2  # One marker in each half.

    def _make(self, rng, size, length):
        values = rng.uniform(0.0, 1.0, size=(size, length)).astype(np.float32)
        half = length // 2
        first = rng.integers(0, half, size=size)
        second = rng.integers(half, length, size=size)
        markers = np.zeros((size, length), np.float32)
        rows = np.arange(size)
        markers[rows, first] = 1.0
        markers[rows, second] = 1.0
        target = values[rows, first] + values[rows, second]
        return np.stack([values, markers], axis=-1), target.astype(np.float32)


class CopyMemory(SequenceTask):
    """Copy memory task (Arjovsky, Shah & Bengio 2016).

    Sequences of `length + 20` symbols: 10 data symbols from {1..8}, then `length - 1`
    blanks (0), the delimiter 9, then 10 blanks. The target is `length + 10` blanks, then
    the 10 data symbols. The memoryless baseline's cross-entropy is 10 log(8) / (length + 20).
    """

    def _features(self, length):
        return {
            "inputs": tfds.features.Tensor(shape=(length + 20,), dtype=np.int32),
            "target": tfds.features.Tensor(shape=(length + 20,), dtype=np.int32),
        }

    def _make(self, rng, size, length):
        symbols = rng.integers(1, 9, size=(size, 10)).astype(np.int32)
        inputs = np.zeros((size, length + 20), np.int32)
        target = np.zeros((size, length + 20), np.int32)
        inputs[:, :10] = symbols
        inputs[:, length + 9] = 9
        target[:, length + 10:] = symbols
        return inputs, target


class Parity(SequenceTask):
    """Parity: `inputs` is a sequence of random bits, `target` is 1 if it holds an odd number of ones."""

    def _features(self, length):
        return {
            "inputs": tfds.features.Tensor(shape=(length,), dtype=np.int32),
            "target": tfds.features.Tensor(shape=(), dtype=np.int32),
        }

    def _make(self, rng, size, length):
        bits = rng.integers(0, 2, size=(size, length)).astype(np.int32)
        return bits, (bits.sum(axis=1) % 2).astype(np.int32)


class _MemoryTaskConfig(tfds.core.BuilderConfig):
    """Split sizes and seed of a memory task; subclasses add the task's sizes (`task_sizes`)."""

    def __init__(self, *, num_train, num_eval, seed, **kwargs):
        self.num_train = _checks.positive_int("num_train", num_train)
        self.num_eval = _checks.positive_int("num_eval", num_eval)
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"`seed` must be an int >= 0, got {seed!r}.")
        self.seed = seed
        sizes = "".join(f"{key}{value}_" for key, value in self.task_sizes().items())
        super().__init__(name=f"{sizes}train{num_train}_eval{num_eval}_seed{seed}", **kwargs)

    def task_sizes(self):
        raise NotImplementedError


def _check_range(low_name, low, high_name, high):
    low, high = _checks.positive_int(low_name, low), _checks.positive_int(high_name, high)
    if low > high:
        raise ValueError(f"`{low_name}` must be <= `{high_name}`, got {low_name}={low} > {high_name}={high}.")
    return low, high


class NTMCopyConfig(_MemoryTaskConfig):
    """Config of `NTMCopy`.

    Args:
        min_length: fewest vectors in a sequence.
        max_length: most vectors; every example is padded to `2 * max_length + 1` steps. Set
            `min_length = max_length` (e.g. 40) to evaluate at one longer length.
        bits: width of each random binary vector.
        num_train: number of training examples.
        num_eval: number of validation and of test examples.
        seed: seed of the generator; each split draws from its own stream.
    """

    def __init__(self, *, min_length=1, max_length=20, bits=8, num_train=10000, num_eval=500, seed=0, **kwargs):
        self.min_length, self.max_length = _check_range("min_length", min_length, "max_length", max_length)
        self.bits = _checks.positive_int("bits", bits)
        super().__init__(num_train=num_train, num_eval=num_eval, seed=seed, **kwargs)

    def task_sizes(self):
        return {"min_length": self.min_length, "max_length": self.max_length, "bits": self.bits}

    @property
    def timesteps(self):
        return 2 * self.max_length + 1

    @property
    def input_channels(self):
        return self.bits + 1


class AssociativeRecallConfig(_MemoryTaskConfig):
    """Config of `AssociativeRecall`.

    Args:
        min_items: fewest items in a sequence (at least 2: the query needs an item after it).
        max_items: most items; every example is padded to `max_items * (item_length + 1) + 2 * item_length + 2`
            steps. Set `min_items = max_items` (e.g. 12) to evaluate at one longer length.
        item_length: vectors per item.
        bits: width of each random binary vector.
        num_train, num_eval, seed: see `NTMCopyConfig`.
    """

    def __init__(self, *, min_items=2, max_items=6, item_length=3, bits=6, num_train=10000, num_eval=500, seed=0,
                 **kwargs):
        self.min_items, self.max_items = _check_range("min_items", min_items, "max_items", max_items)
        if self.min_items < 2:
            raise ValueError(f"`min_items` must be >= 2 (the query needs an item after it), got {min_items}.")
        self.item_length = _checks.positive_int("item_length", item_length)
        self.bits = _checks.positive_int("bits", bits)
        if 2 ** (self.bits * self.item_length) < self.max_items:
            raise ValueError(f"`bits` * `item_length` = {self.bits * self.item_length} bits cannot make "
                             f"`max_items`={max_items} distinct items.")
        super().__init__(num_train=num_train, num_eval=num_eval, seed=seed, **kwargs)

    def task_sizes(self):
        return {"min_items": self.min_items, "max_items": self.max_items, "item_length": self.item_length,
                "bits": self.bits}

    @property
    def timesteps(self):
        return self.max_items * (self.item_length + 1) + 2 * self.item_length + 2

    @property
    def input_channels(self):
        return self.bits + 2


class _MemoryTask(SequenceTask, skip_registration=True):
    """Base of the NTM tasks: `inputs` `[time, channels]`, `target` `[time, bits]` and `weights` `[time]`.

    `weights` is 1 on the recall steps and 0 elsewhere, so a loss or metric weighted by it counts
    only what the model must recall. `as_supervised=True` yields `(inputs, target, weights)`, the
    `(x, y, sample_weight)` of `fit`. `length` is the number of vectors (copy) or items (recall).
    """

    config_class = None

    @classmethod
    def make_config(cls, **config):
        """The builder config of `load_builder(name, **config)`, checked before anything is generated."""
        return cls.config_class(**config)

    def _info(self):
        config = self.builder_config
        return tfds.core.DatasetInfo(
            builder=self,
            description=self.__doc__,
            features=tfds.features.FeaturesDict({
                "inputs": tfds.features.Tensor(shape=(config.timesteps, config.input_channels), dtype=np.float32),
                "target": tfds.features.Tensor(shape=(config.timesteps, config.bits), dtype=np.float32),
                "weights": tfds.features.Tensor(shape=(config.timesteps,), dtype=np.float32),
                "length": tfds.features.Scalar(dtype=np.int32),
            }),
            supervised_keys=("inputs", "target", "weights"),
        )

    def _generate_examples(self, split_id, size):
        rng = np.random.default_rng([self.builder_config.seed, split_id])
        inputs, target, weights, lengths = self._make(rng, size, self.builder_config)
        for i in range(size):
            yield i, {"inputs": inputs[i], "target": target[i], "weights": weights[i], "length": lengths[i]}


class NTMCopy(_MemoryTask):
    """Copy task of the Neural Turing Machine (Graves et al. 2014, section 4.1).

    A sequence of `L` random `bits`-wide binary vectors (`L` uniform in `min_length..max_length`),
    then a delimiter on its own input channel (channel `bits`), then `L` steps of zero input in which
    the target is the sequence again. Every example is padded to `2 * max_length + 1` steps:
    `inputs` `[time, bits + 1]`, `target` `[time, bits]`, and `weights` `[time]`, 1 exactly on the
    `L` recall steps `L + 1 .. 2 L`.

    Example:
    >>> from keras_dl.data import load_builder
    >>> builder = load_builder("ntm_copy", min_length=3, max_length=3, bits=4, num_train=8, num_eval=2)
    >>> inputs, target, weights = next(iter(builder.as_dataset(split="test", as_supervised=True)))
    >>> inputs.shape, target.shape, weights.numpy().tolist()
    (TensorShape([7, 5]), TensorShape([7, 4]), [0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0])
    >>> bool(tf.reduce_all(target[4:] == inputs[:3, :4]))
    True
    """

    BUILDER_CONFIGS = [NTMCopyConfig()]
    config_class = NTMCopyConfig

    def _make(self, rng, size, config):
        most, steps = config.max_length, config.timesteps
        lengths = rng.integers(config.min_length, most + 1, size=size)
        vectors = rng.integers(0, 2, size=(size, most, config.bits)).astype(np.float32)
        vectors[np.arange(most)[None] >= lengths[:, None]] = 0.0
        rows = np.arange(size)
        inputs = np.zeros((size, steps, config.input_channels), np.float32)
        inputs[:, :most, :config.bits] = vectors
        inputs[rows, lengths, config.bits] = 1.0
        # Recall step t outputs vector t - (L + 1).
        offset = np.arange(steps)[None] - (lengths[:, None] + 1)
        recall = (offset >= 0) & (offset < lengths[:, None])
        target = np.zeros((size, steps, config.bits), np.float32)
        target[recall] = vectors[np.nonzero(recall)[0], offset[recall]]
        return inputs, target, recall.astype(np.float32), lengths.astype(np.int32)


class AssociativeRecall(_MemoryTask):
    """Associative recall task of the Neural Turing Machine (Graves et al. 2014, section 4.3).

    `k` items (`k` uniform in `min_items..max_items`), each `item_length` random `bits`-wide binary
    vectors after an item delimiter (channel `bits`); then a query: one of the first `k - 1` items
    between two query delimiters (channel `bits + 1`). In the next `item_length` steps, of zero
    input, the target is the item that followed the query in the sequence. The items of a sequence
    are distinct, so the answer is unique. Examples are padded to
    `max_items * (item_length + 1) + 2 * item_length + 2` steps: `inputs` `[time, bits + 2]`,
    `target` `[time, bits]`, `weights` `[time]`, 1 exactly on the `item_length` recall steps.

    Example:
    >>> from keras_dl.data import load_builder
    >>> builder = load_builder("associative_recall", min_items=2, max_items=2, item_length=1, bits=3,
    ...                        num_train=8, num_eval=2)
    >>> inputs, target, weights = next(iter(builder.as_dataset(split="test", as_supervised=True)))
    >>> inputs.shape, weights.numpy().tolist()  # |a|b, query |a|, answer b
    (TensorShape([8, 5]), [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0])
    >>> bool(tf.reduce_all(target[7] == inputs[3, :3]))
    True
    """

    BUILDER_CONFIGS = [AssociativeRecallConfig()]
    config_class = AssociativeRecallConfig

    def _make(self, rng, size, config):
        most, width, bits = config.max_items, config.item_length, config.bits
        counts = rng.integers(config.min_items, most + 1, size=size)
        items = rng.integers(0, 2, size=(size, most, width, bits)).astype(np.float32)
        # Redraw a sequence with two equal items, so the query has one answer.
        for i in range(size):
            while len(np.unique(items[i, :counts[i]].reshape(counts[i], -1), axis=0)) < counts[i]:
                items[i] = rng.integers(0, 2, size=(most, width, bits))
        queries = rng.integers(0, counts - 1)
        steps = config.timesteps
        inputs = np.zeros((size, steps, config.input_channels), np.float32)
        target = np.zeros((size, steps, bits), np.float32)
        weights = np.zeros((size, steps), np.float32)
        for i in range(size):
            k, q = counts[i], queries[i]
            for j in range(k):
                start = j * (width + 1)
                inputs[i, start, bits] = 1.0
                inputs[i, start + 1:start + 1 + width, :bits] = items[i, j]
            start = k * (width + 1)
            inputs[i, start, bits + 1] = 1.0
            inputs[i, start + 1:start + 1 + width, :bits] = items[i, q]
            inputs[i, start + 1 + width, bits + 1] = 1.0
            answer = start + width + 2
            target[i, answer:answer + width] = items[i, q + 1]
            weights[i, answer:answer + width] = 1.0
        return inputs, target, weights, counts.astype(np.int32)


EMBEDDED_DATASETS = {
    "python_source": PythonSource,
    "adding_problem": AddingProblem,
    "copy_memory": CopyMemory,
    "parity": Parity,
    "ntm_copy": NTMCopy,
    "associative_recall": AssociativeRecall,
    **SEQ2SEQ_DATASETS,
    **GENERATIVE_DATASETS,
}
