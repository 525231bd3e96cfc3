"""tf.data pipelines over the embedded datasets and the TFDS catalog."""

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from keras_dl import _checks
from keras_dl.data.datasets import EMBEDDED_DATASETS
from keras_dl.data.seq2seq import SEQ2SEQ_DATASETS

TFDS_PREFIX = "tfds:"


def _embedded_names():
    return ", ".join(sorted(EMBEDDED_DATASETS))


def load_builder(name, data_dir=None, **config):
    """Returns a prepared TFDS builder for an embedded dataset or `tfds:NAME`.

    Args:
        name: an embedded dataset (`python_source`, `adding_problem`, `copy_memory`,
            `parity`, `ntm_copy`, `associative_recall`, `date_normalization`, `text_addition`,
            `sequence_reversal`, `sequence_sorting`, `digits`, `gaussian_mixture_2d`, `shape_pairs`)
            or `"tfds:NAME"` for any TFDS catalog dataset (needs the network the first time, unless
            already prepared in `data_dir`).
        data_dir: TFDS data directory; defaults to TFDS' own (`~/tensorflow_datasets`).
        **config: for the generated tasks, the arguments of the builder's config class:
            `length`, `num_train`, `num_eval`, `seed` (`SequenceTaskConfig`); for the
            seq2seq tasks `num_train`, `num_eval`, `seed` and `digits` (`TextAdditionConfig`)
            or `min_length`, `max_length`, `alphabet_size` (`SymbolSequenceConfig`).

    Example:
    >>> builder = load_builder("adding_problem", length=200, num_train=100, num_eval=10)
    >>> ds = builder.as_dataset(split="train", as_supervised=True)
    >>> [tuple(t.shape) for t in next(iter(ds))]
    [(200, 2), ()]
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"`dataset` must be a non-empty string, got {name!r}.")
    if name.startswith(TFDS_PREFIX):
        return _load_catalog_builder(name, name[len(TFDS_PREFIX):], data_dir, config)
    if name not in EMBEDDED_DATASETS:
        raise ValueError(
            f"`dataset`={name!r} is not an embedded dataset; expected one of "
            f"{_embedded_names()}, or 'tfds:NAME' for a TFDS catalog dataset."
        )
    builder_cls = EMBEDDED_DATASETS[name]
    # Generated tasks check their config (`make_config`) before anything is generated.
    if hasattr(builder_cls, "make_config"):
        task_config = builder_cls.make_config(**config)
        # TFDS refuses an equal copy of a config the class lists: pass the listed one.
        task_config = next((c for c in builder_cls.BUILDER_CONFIGS if c.name == task_config.name), task_config)
        builder = builder_cls(data_dir=data_dir, config=task_config)
    else:
        if config:
            raise ValueError(f"`{name}` takes no config arguments, got {sorted(config)}.")
        builder = builder_cls(data_dir=data_dir)
    builder.download_and_prepare()
    return builder


def _load_catalog_builder(name, catalog_name, data_dir, config):
    if config:
        raise ValueError(f"`{name}` takes no keras_dl config arguments, got {sorted(config)}.")
    try:
        builder = tfds.builder(catalog_name, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError as e:
        raise ValueError(
            f"`dataset`={name!r}: TFDS has no dataset {catalog_name!r}. Embedded "
            f"(offline) datasets: {_embedded_names()}."
        ) from e
    try:
        builder.download_and_prepare()
    except Exception as e:  # Download errors come from many libraries; all mean the same here.
        raise RuntimeError(
            f"`dataset`={name!r} could not be downloaded or prepared ({type(e).__name__}: {e}). "
            f"Without network access use an embedded dataset: {_embedded_names()}."
        ) from e
    return builder


def byte_counts(texts):
    """Histogram (length 256) of the bytes of an iterable of `bytes`/`tf.string` tensors."""
    counts = np.zeros(256, np.int64)
    for text in texts:
        text = text.numpy() if hasattr(text, "numpy") else text
        counts += np.bincount(np.frombuffer(text, np.uint8), minlength=256)
    return counts


def _shard_like_one_process(ds):
    """Under a multi-worker strategy, each worker takes its replicas' share of every global batch.

    TensorFlow's default shards datasets read from files by file, so each worker would see other
    examples than one process does, and a resumed run could not repeat the batches of a killed one.
    """
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return ds.with_options(options)


def _num_windows(num_bytes, seq_len):
    """Windows of `seq_len` inputs (each with a next-byte target) in a document; 0 for an empty one."""
    return tf.maximum(num_bytes - 1, 0) // seq_len


def lm_windows(texts, seq_len, batch_size, *, shuffle=False, repeat=False, seed=None, reshuffle_each_iteration=True):
    """Turns a dataset of byte strings into batches of `(inputs, targets)` windows.

    Each document is cut into non-overlapping windows of `seq_len` bytes; the targets are
    the same bytes shifted by one. Windows never cross a document boundary.

    Args:
        texts: `tf.data.Dataset` of scalar `tf.string` documents.
        seq_len: window length.
        batch_size: windows per batch (the last partial batch is dropped).
        shuffle: shuffle the windows of the whole corpus (a buffer as large as the data:
            documents are stored in order, and a smaller buffer would fill batches with
            windows of neighbouring files).
        repeat: repeat forever (use with `steps_per_epoch`).
        seed: shuffle seed.
        reshuffle_each_iteration: a new order on every pass; False keeps one fixed
            random order (a representative, stable validation subset with `take`).

    Returns:
        `tf.data.Dataset` of `(int32[batch, seq_len], int32[batch, seq_len])`.
    """
    seq_len = _checks.positive_int("seq_len", seq_len)
    batch_size = _checks.positive_int("batch_size", batch_size)

    def windows(text):
        data = tf.io.decode_raw(text, tf.uint8)
        n = _num_windows(tf.shape(data)[0], seq_len)
        inputs = tf.reshape(data[: n * seq_len], [n, seq_len])
        targets = tf.reshape(data[1 : n * seq_len + 1], [n, seq_len])
        return tf.data.Dataset.from_tensor_slices((inputs, targets))

    num_windows = texts.reduce(
        tf.constant(0, tf.int64),
        lambda total, text: total + _num_windows(tf.cast(tf.strings.length(text), tf.int64), seq_len),
    )
    # Cached as uint8 (a quarter of the int32 size), cast per batch.
    ds = texts.flat_map(windows).cache()
    if shuffle:
        ds = ds.shuffle(tf.maximum(num_windows, 1), seed=seed, reshuffle_each_iteration=reshuffle_each_iteration)
    if repeat:
        ds = ds.repeat()
    ds = ds.batch(batch_size, drop_remainder=True)
    if not repeat:
        # flat_map hides the length; stating it lets Keras size its progress bar and
        # restart the same batches every epoch instead of warning that data ran out.
        ds = ds.apply(tf.data.experimental.assert_cardinality(num_windows // batch_size))
    ds = ds.map(lambda x, y: (tf.cast(x, tf.int32), tf.cast(y, tf.int32)), num_parallel_calls=tf.data.AUTOTUNE)
    return _shard_like_one_process(ds.prefetch(tf.data.AUTOTUNE))


def lm_dataset(split, seq_len=100, batch_size=64, *, dataset="python_source", data_dir=None,
               text_key="text", shuffle=None, repeat=None, seed=None, reshuffle_each_iteration=True):
    """Byte-level language-modelling batches from a text dataset.

    Args:
        split: TFDS split, e.g. `"train"` or `"validation"`.
        seq_len: window length in bytes.
        batch_size: windows per batch.
        dataset: `python_source` (embedded) or `tfds:NAME` for a TFDS text dataset.
        data_dir: TFDS data directory.
        text_key: feature holding the text.
        shuffle, repeat: default to True for the train split, False otherwise.
        seed, reshuffle_each_iteration: see `lm_windows`.

    Example:
    >>> train = lm_dataset("train", seq_len=100, batch_size=64)
    >>> tokens, next_tokens = next(iter(train))
    >>> tokens.shape, bool(tf.reduce_all(tokens[:, 1:] == next_tokens[:, :-1]))
    (TensorShape([64, 100]), True)
    """
    builder = load_builder(dataset, data_dir)
    is_train = split == "train"
    texts = builder.as_dataset(split=split, shuffle_files=False).map(lambda ex: ex[text_key])
    return lm_windows(
        texts, seq_len, batch_size,
        shuffle=is_train if shuffle is None else shuffle,
        repeat=is_train if repeat is None else repeat,
        seed=seed,
        reshuffle_each_iteration=reshuffle_each_iteration,
    )


def corpus_byte_counts(split, *, dataset="python_source", data_dir=None, text_key="text"):
    """Byte histogram of one split of a text dataset."""
    builder = load_builder(dataset, data_dir)
    return byte_counts(ex[text_key] for ex in builder.as_dataset(split=split))


def task_dataset(name, split, batch_size, *, data_dir=None, shuffle=None, repeat=None, seed=None, **config):
    """Batched `(inputs, target)` pairs of a generated task (`adding_problem`, `copy_memory`, `parity`).

    Example:
    >>> train = task_dataset("adding_problem", "train", 50, length=200)
    """
    batch_size = _checks.positive_int("batch_size", batch_size)
    builder = load_builder(name, data_dir, **config)
    is_train = split == "train"
    ds = builder.as_dataset(split=split, as_supervised=True).cache()
    if is_train if shuffle is None else shuffle:
        ds = ds.shuffle(builder.info.splits[split].num_examples, seed=seed, reshuffle_each_iteration=True)
    if is_train if repeat is None else repeat:
        ds = ds.repeat()
    return _shard_like_one_process(ds.batch(batch_size, drop_remainder=is_train).prefetch(tf.data.AUTOTUNE))


def seq2seq_dataset(name, split, batch_size, *, shuffle=None, repeat=False, seed=None, data_seed=0, data_dir=None,
                    **config):
    """Teacher-forcing batches of a seq2seq task, as character ids padded per batch.

    Each example becomes `({"source": source ids, "target_in": start + target ids},
    target ids + end)`; batches are padded with 0 to their longest sequence. The ids are those
    of the task's `Seq2SeqVocabulary` (`load_builder(name, **config).vocabulary`).

    Args:
        name: `date_normalization`, `text_addition`, `sequence_reversal` or `sequence_sorting`.
        split: `"train"`, `"validation"` or `"test"`.
        batch_size: examples per batch (the last batch may be smaller).
        shuffle: shuffle the examples (all of them) on every pass; defaults to True for the train split.
        repeat: repeat forever (use with `steps_per_epoch`).
        seed: shuffle seed.
        data_seed: seed of the generated examples (the config's `seed`; `seed` here is the shuffle's).
        data_dir: TFDS data directory.
        **config: the rest of the task's config (`num_train`, `num_eval`, `digits`, ...; see `load_builder`).

    Returns:
        `tf.data.Dataset` of `({"source": int32 [batch, S], "target_in": int32 [batch, U]},
        int32 [batch, U])`.

    Example:
    >>> ds = seq2seq_dataset("text_addition", "validation", 4, num_train=100, num_eval=8)
    >>> inputs, target_out = next(iter(ds))
    >>> inputs["target_in"].shape == target_out.shape, inputs["target_in"][:, 0].numpy().tolist()
    (True, [1, 1, 1, 1])
    """
    if name not in SEQ2SEQ_DATASETS:
        raise ValueError(f"`name`={name!r} is not a seq2seq dataset; expected one of {', '.join(SEQ2SEQ_DATASETS)}.")
    batch_size = _checks.positive_int("batch_size", batch_size)
    builder = load_builder(name, data_dir, seed=data_seed, **config)
    if split not in builder.info.splits:
        raise ValueError(f"`split` must be one of {sorted(builder.info.splits)}, got {split!r}.")
    vocabulary = builder.vocabulary

    def encode(source, target):
        target = vocabulary.lookup(target)
        target_in = tf.concat([[vocabulary.start_id], target], axis=0)
        target_out = tf.concat([target, [vocabulary.end_id]], axis=0)
        return {"source": vocabulary.lookup(source), "target_in": target_in}, target_out

    ds = builder.as_dataset(split=split, as_supervised=True, shuffle_files=False)
    ds = ds.map(encode, num_parallel_calls=tf.data.AUTOTUNE).cache()
    if split == "train" if shuffle is None else shuffle:
        ds = ds.shuffle(builder.info.splits[split].num_examples, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    ds = ds.padded_batch(batch_size, padding_values=vocabulary.padding_id)
    return _shard_like_one_process(ds.prefetch(tf.data.AUTOTUNE))
