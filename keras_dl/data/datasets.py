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


EMBEDDED_DATASETS = {
    "python_source": PythonSource,
    "adding_problem": AddingProblem,
    "copy_memory": CopyMemory,
    "parity": Parity,
}
