"""Embedded offline seq2seq tasks as TFDS builders, and their character vocabulary.

Four string-to-string tasks, generated on this machine (no download): date normalisation,
text addition (keras-io's `addition_rnn`), sequence reversal and sequence sorting. Each
example is `{"source": str, "target": str}`. The splits come from separate random streams
and are disjoint: no source of the test split is in the validation or train split, and none
of the validation split is in train. All splits come from one pool of unique questions,
shuffled and cut (keras-io's `addition_rnn` does the same), so they share one distribution:
drawing the splits one after the other instead gave the first split most of the few short
questions (there are only 55 one-digit additions) and left train almost none of them.

`Seq2SeqVocabulary` maps characters to int ids with reserved ids 0 (padding), 1 (start),
2 (end) and 3 (unknown); each task fixes its characters, so the ids are the same on every
machine.
"""

import datetime
import string

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from keras_dl import _checks

# Fixed English names (not the locale's), so the data is the same on every machine.
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
FIRST_DATE = datetime.date(1950, 1, 1)
LAST_DATE = datetime.date(2049, 12, 31)
_NUM_DAYS = (LAST_DATE - FIRST_DATE).days + 1


def _ordinal(day):
    suffix = "th" if 11 <= day <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


# Each format is one convention, so every string names one date: numbers with slashes put the
# month before the day, numbers with dots put the day first, and two-digit years are 1950-2049
# (50-99 -> 19xx, 00-49 -> 20xx). No two formats write the same string.
DATE_FORMATS = {
    "iso": lambda d: f"{d.year:04d}-{d.month:02d}-{d.day:02d}",  # 1987-05-03
    "compact": lambda d: f"{d.year:04d}{d.month:02d}{d.day:02d}",  # 19870503
    "month_slash": lambda d: f"{d.month:02d}/{d.day:02d}/{d.year:04d}",  # 05/03/1987 (month first)
    "year_slash": lambda d: f"{d.year}/{d.month}/{d.day}",  # 1987/5/3 (year, month, day)
    "day_dot": lambda d: f"{d.day:02d}.{d.month:02d}.{d.year:04d}",  # 03.05.1987 (day first)
    "day_dot_short": lambda d: f"{d.day}.{d.month}.{d.year % 100:02d}",  # 3.5.87 (day first, two-digit year)
    "day_month": lambda d: f"{d.day} {MONTHS[d.month - 1]} {d.year}",  # 3 May 1987
    "month_day": lambda d: f"{MONTHS[d.month - 1]} {d.day}, {d.year}",  # May 3, 1987
    "month_ordinal": lambda d: f"{MONTHS[d.month - 1]} {_ordinal(d.day)}, {d.year}",  # May 3rd, 1987
    "weekday": lambda d: f"{WEEKDAYS[d.weekday()]}, {MONTHS[d.month - 1]} {d.day}, {d.year}",  # Sunday, May 3, 1987
    "short_weekday": lambda d: f"{WEEKDAYS[d.weekday()][:3]} {d.day} {MONTHS[d.month - 1][:3]} {d.year}",  # Sun 3 May 1987
    "lower_short": lambda d: f"{MONTHS[d.month - 1][:3].lower()} {d.day} {d.year}",  # may 3 1987
    "upper": lambda d: f"{MONTHS[d.month - 1].upper()} {d.day:02d} {d.year}",  # MAY 03 1987
}
"""Date formats of `DateNormalization`: name -> function from a `datetime.date` to its string."""
_FORMATTERS = tuple(DATE_FORMATS.values())


class Seq2SeqVocabulary:
    """Character vocabulary of a seq2seq task, with reserved ids for padding, start, end and unknown.

    Ids 0 (padding), 1 (start), 2 (end) and 3 (unknown) are reserved; the i-th of
    `characters` has id `4 + i`. Characters outside `characters` map to the unknown id.

    Args:
        characters: string of the distinct characters of the task, in id order.

    Example:
    >>> vocabulary = Seq2SeqVocabulary("0123456789+")
    >>> vocabulary.vocabulary_size
    15
    >>> vocabulary.lookup(tf.constant("12+3")).numpy().tolist()
    [5, 6, 14, 7]
    """

    padding_id = 0
    start_id = 1
    end_id = 2
    unknown_id = 3
    num_reserved = 4

    def __init__(self, characters):
        if not isinstance(characters, str):
            raise TypeError(f"`characters` must be a string, got {characters!r} ({type(characters).__name__}).")
        if not characters:
            raise ValueError("`characters` must not be empty.")
        repeated = sorted({c for c in characters if characters.count(c) > 1})
        if repeated:
            raise ValueError(f"`characters` must be distinct, got {characters!r} with {repeated} repeated.")
        self.characters = characters
        # Outside any tf.function being traced, so the table outlives it (tf.data maps trace one).
        with tf.init_scope():
            self._table = tf.lookup.StaticHashTable(
                tf.lookup.KeyValueTensorInitializer(
                    tf.constant([ord(c) for c in characters], tf.int32),
                    tf.range(self.num_reserved, self.vocabulary_size, dtype=tf.int32),
                ),
                default_value=self.unknown_id,
            )

    @property
    def vocabulary_size(self):
        """Number of ids, the reserved ones included: the output size of a model over this vocabulary."""
        return self.num_reserved + len(self.characters)

    def lookup(self, texts):
        """Ids of the characters of a `tf.string` tensor (a graph op, for tf.data maps).

        Args:
            texts: `tf.string` tensor: a scalar gives int32 `[length]`, a `[batch]` vector an int32
                `tf.RaggedTensor` `[batch, None]`.
        """
        codes = tf.strings.unicode_decode(texts, "UTF-8")
        if isinstance(codes, tf.RaggedTensor):
            return tf.ragged.map_flat_values(self._table.lookup, codes)
        return self._table.lookup(codes)

    def __eq__(self, other):
        return isinstance(other, Seq2SeqVocabulary) and other.characters == self.characters

    def __hash__(self):
        return hash(self.characters)

    def __repr__(self):
        return f"Seq2SeqVocabulary({self.characters!r})"


def _check_vocabulary(vocabulary):
    if not isinstance(vocabulary, Seq2SeqVocabulary):
        raise TypeError(f"`vocabulary` must be a Seq2SeqVocabulary, got {type(vocabulary).__name__}.")


def encode_text(texts, vocabulary, *, add_start=False, add_end=False, sequence_length=None):
    """Ids of strings, padded with 0 to one length.

    Args:
        texts: a string, or a list of strings.
        vocabulary: a `Seq2SeqVocabulary`.
        add_start: put the start id before each string (a decoder's input).
        add_end: put the end id after each string (a decoder's target).
        sequence_length: pad to this length (default: the longest string); a longer string
            raises a `ValueError`.

    Returns:
        int32 NumPy array: `[length]` for one string, `[len(texts), length]` for a list.

    Example:
    >>> vocabulary = Seq2SeqVocabulary("abc")
    >>> encode_text(["ab", "c"], vocabulary, add_end=True).tolist()
    [[4, 5, 2], [6, 2, 0]]
    """
    _check_vocabulary(vocabulary)
    single = isinstance(texts, str)
    texts = [texts] if single else list(texts)
    if not all(isinstance(text, str) for text in texts):
        raise TypeError(f"`texts` must be a string or a list of strings, got {texts!r}.")
    ids = vocabulary.lookup(tf.constant(texts, tf.string, shape=[len(texts)]))
    batch = len(texts)
    if add_start:
        ids = tf.concat([tf.fill([batch, 1], vocabulary.start_id), ids], axis=1)
    if add_end:
        ids = tf.concat([ids, tf.fill([batch, 1], vocabulary.end_id)], axis=1)
    longest = int(tf.reduce_max(ids.row_lengths())) if batch else 0
    if sequence_length is not None:
        sequence_length = _checks.positive_int("sequence_length", sequence_length)
        if longest > sequence_length:
            raise ValueError(f"`sequence_length`={sequence_length} is shorter than the longest encoded text "
                             f"({longest} ids, start and end included).")
    padded = ids.to_tensor(default_value=vocabulary.padding_id, shape=[batch, sequence_length or longest]).numpy()
    return padded[0] if single else padded


def decode_ids(ids, vocabulary):
    """The string of a sequence of ids, up to the first end id.

    Padding and start ids are skipped; the unknown id becomes U+FFFD.

    Args:
        ids: int array-like `[length]` (or `[batch, length]`, which gives a list of strings).
        vocabulary: a `Seq2SeqVocabulary`.

    Example:
    >>> decode_ids([1, 5, 4, 2, 6], Seq2SeqVocabulary("abc"))
    'ba'
    """
    _check_vocabulary(vocabulary)
    array = np.asarray(ids)
    if array.ndim not in (1, 2) or (array.size and not np.issubdtype(array.dtype, np.integer)):
        raise ValueError(f"`ids` must be ints of shape [length] or [batch, length], got {array.dtype} of shape "
                         f"{array.shape}.")
    if array.ndim == 2:
        return [decode_ids(row, vocabulary) for row in array]
    out = []
    for i in array.tolist():
        if i == vocabulary.end_id:
            break
        if not 0 <= i < vocabulary.vocabulary_size:
            raise ValueError(f"`ids` must be in [0, {vocabulary.vocabulary_size}), got {i}.")
        if i == vocabulary.unknown_id:
            out.append("\ufffd")
        elif i >= vocabulary.num_reserved:
            out.append(vocabulary.characters[i - vocabulary.num_reserved])
    return "".join(out)


class Seq2SeqTaskConfig(tfds.core.BuilderConfig):
    """Config of a generated seq2seq task: split sizes and seed (subclasses add the task's sizes).

    Args:
        num_train: number of training examples.
        num_eval: number of validation and of test examples.
        seed: seed of the generator; each split draws from its own stream.
    """

    def __init__(self, *, num_train, num_eval, seed=0, **kwargs):
        self.num_train = _checks.positive_int("num_train", num_train)
        self.num_eval = _checks.positive_int("num_eval", num_eval)
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"`seed` must be an int >= 0, got {seed!r}.")
        self.seed = seed
        available = self.num_unique()
        requested = self.num_train + 2 * self.num_eval
        if requested > available:
            raise ValueError(
                f"`num_train` + 2 * `num_eval` = {requested} asks for more unique examples than exist: "
                f"{self.task_sizes() or 'this task'} has {available}."
            )
        sizes = "".join(f"{key}{value}_" for key, value in self.task_sizes().items())
        super().__init__(name=f"{sizes}train{num_train}_eval{num_eval}_seed{seed}", **kwargs)

    def task_sizes(self):
        """The task's own sizes, as `{argument: value}` (they name the config in the TFDS data directory)."""
        return {}

    def num_unique(self):
        """Number of distinct examples the task can generate (the splits are disjoint, so at most this many)."""
        raise NotImplementedError


class DateNormalizationConfig(Seq2SeqTaskConfig):
    """Config of `DateNormalization`: `num_train`, `num_eval` and `seed` (see `Seq2SeqTaskConfig`)."""

    def __init__(self, *, num_train=10000, num_eval=1000, seed=0, **kwargs):
        super().__init__(num_train=num_train, num_eval=num_eval, seed=seed, **kwargs)

    def num_unique(self):
        return _NUM_DAYS * len(DATE_FORMATS)


class TextAdditionConfig(Seq2SeqTaskConfig):
    """Config of `TextAddition`.

    Args:
        digits: the most digits of each operand (1 to 9).
        num_train, num_eval, seed: see `Seq2SeqTaskConfig`. The defaults are keras-io's
            50,000 questions: 45,000 to train, 2,500 to validate, 2,500 to test.
    """

    def __init__(self, *, digits=3, num_train=45000, num_eval=2500, seed=0, **kwargs):
        self.digits = _checks.positive_int("digits", digits)
        if self.digits > 9:  # The pair key (a * 10**digits + b) is an int64.
            raise ValueError(f"`digits` must be at most 9, got {digits}.")
        super().__init__(num_train=num_train, num_eval=num_eval, seed=seed, **kwargs)

    def task_sizes(self):
        return {"digits": self.digits}

    def num_unique(self):
        n = 10**self.digits
        return n * (n + 1) // 2  # a+b and b+a are one question, as in keras-io.


class SymbolSequenceConfig(Seq2SeqTaskConfig):
    """Config of `SequenceReversal` and `SequenceSorting`.

    Args:
        min_length: shortest string.
        max_length: longest string.
        alphabet_size: the strings use the first `alphabet_size` lowercase letters (1 to 26).
        num_train, num_eval, seed: see `Seq2SeqTaskConfig`.
    """

    def __init__(self, *, min_length=1, max_length=10, alphabet_size=10, num_train=20000, num_eval=1000, seed=0,
                 **kwargs):
        self.min_length = _checks.positive_int("min_length", min_length)
        self.max_length = _checks.positive_int("max_length", max_length)
        if self.min_length > self.max_length:
            raise ValueError(f"`min_length` must be <= `max_length`, got min_length={min_length} > "
                             f"max_length={max_length}.")
        self.alphabet_size = _checks.positive_int("alphabet_size", alphabet_size)
        if self.alphabet_size > 26:
            raise ValueError(f"`alphabet_size` must be at most 26 (the letters a-z), got {alphabet_size}.")
        super().__init__(num_train=num_train, num_eval=num_eval, seed=seed, **kwargs)

    def task_sizes(self):
        return {"min_length": self.min_length, "max_length": self.max_length, "alphabet_size": self.alphabet_size}

    def num_unique(self):
        return sum(self.alphabet_size**length for length in range(self.min_length, self.max_length + 1))


class Seq2SeqTask(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """Base of the generated seq2seq tasks: string `source` -> string `target`.

    Subclasses set `config_class` and define `characters`, `_draw(rng, n)` (an array of `n`
    random example keys, each naming one source), `_example(key)` (`(source, target)`) and,
    where two keys are the same question, `_identity(keys)`. Not a dataset itself, so it is
    kept out of the TFDS registry.
    """

    VERSION = tfds.core.Version("1.1.0")
    RELEASE_NOTES = {"1.1.0": "Splits cut from one shuffled pool of unique questions (one distribution).",
                     "1.0.0": "Splits drawn one after the other."}
    config_class = Seq2SeqTaskConfig

    @classmethod
    def make_config(cls, **config):
        """The builder config of `load_builder(name, **config)`, checked before anything is generated."""
        return cls.config_class(**config)

    @property
    def characters(self):
        """The characters of the task's sources and targets, in id order (ids start at 4)."""
        raise NotImplementedError

    @property
    def vocabulary(self):
        """The task's `Seq2SeqVocabulary`."""
        return Seq2SeqVocabulary(self.characters)

    def _info(self):
        return tfds.core.DatasetInfo(
            builder=self,
            description=self.__doc__,
            features=tfds.features.FeaturesDict({"source": tfds.features.Text(), "target": tfds.features.Text()}),
            supervised_keys=("source", "target"),
        )

    def _split_generators(self, dl_manager):
        del dl_manager  # Nothing to download: the examples are generated.
        config = self.builder_config
        rng = np.random.default_rng(config.seed)
        pool, _ = self._draw_unique(rng, config.num_train + 2 * config.num_eval, None)
        pool = pool[rng.permutation(len(pool))]
        n = config.num_eval
        keys = {"test": pool[:n], "validation": pool[n:2 * n], "train": pool[2 * n:]}
        return {split: self._generate_examples(split_keys) for split, split_keys in keys.items()}

    def _generate_examples(self, keys):
        for i, key in enumerate(keys):
            source, target = self._example(key)
            yield i, {"source": source, "target": target}

    def _identity(self, keys):
        return keys

    def _draw_unique(self, rng, size, taken):
        """`size` keys of distinct questions not in `taken`, in the order drawn; returns them and `taken` + theirs."""
        chosen = []
        need, batch = size, max(2 * size, 1024)
        while need:
            keys = self._draw(rng, batch)
            identity = self._identity(keys)
            _, first = np.unique(identity, return_index=True)
            first.sort()  # First occurrences, in the order drawn.
            keys, identity = keys[first], identity[first]
            if taken is not None:
                fresh = ~np.isin(identity, taken)
                keys, identity = keys[fresh], identity[fresh]
            keys, identity = keys[:need], identity[:need]
            chosen.append(keys)
            taken = identity if taken is None else np.concatenate([taken, identity])
            # Near an exhausted space few draws are new: draw as many as the last acceptance rate needs.
            rate = max(len(keys), 1) / batch
            need -= len(keys)
            batch = int(min(max(2 * need / rate, 1024), 2**20))
        return np.concatenate(chosen), taken


class DateNormalization(Seq2SeqTask):
    """Date normalisation: a date written in one of 13 human formats -> ISO 8601 `YYYY-MM-DD`.

    Dates are uniform over 1950-01-01 .. 2049-12-31, formats uniform over `DATE_FORMATS`
    ("3 May 1987", "May 3, 1987", "05/03/1987" (month first), "Sunday, May 3, 1987",
    "3.5.87" (day first), "1987-05-03", "may 3 1987", "MAY 03 1987", ...), with English
    month and weekday names whatever the locale. The set-up of the classic Keras/Coursera
    attention exercise. Source strings are distinct across and within splits.
    """

    BUILDER_CONFIGS = [DateNormalizationConfig()]
    config_class = DateNormalizationConfig
    # Digits, separators and all ASCII letters, so ids do not depend on the month names.
    CHARACTERS = string.digits + " ,-./" + string.ascii_lowercase + string.ascii_uppercase

    @property
    def characters(self):
        return self.CHARACTERS

    def _draw(self, rng, n):
        days = rng.integers(0, _NUM_DAYS, size=n)
        return days * len(_FORMATTERS) + rng.integers(0, len(_FORMATTERS), size=n)

    def _example(self, key):
        day, style = divmod(int(key), len(_FORMATTERS))
        date = FIRST_DATE + datetime.timedelta(days=day)
        return _FORMATTERS[style](date), date.isoformat()


class TextAddition(Seq2SeqTask):
    """Addition of two numbers written as text: `"535+61"` -> `"596"` (keras-io's `addition_rnn`).

    Each operand has a uniform number of digits in 1..`digits`, then uniform digits (so
    `"7+12"` and `"0+5"` occur), as in keras-io. Questions are unique and a+b and b+a count as
    one question (keras-io skips `x+y` when `y+x` was seen), within and across splits. The
    source is not padded: keras-io pads it with spaces to `2 * digits + 1` characters, here
    `seq2seq_dataset` pads each batch with id 0.
    """

    BUILDER_CONFIGS = [TextAdditionConfig()]
    config_class = TextAdditionConfig
    CHARACTERS = string.digits + "+"

    @property
    def characters(self):
        return self.CHARACTERS

    def _draw(self, rng, n):
        lengths = rng.integers(1, self.builder_config.digits + 1, size=(n, 2))
        operands = rng.integers(0, 10**lengths)
        return operands[:, 0] * 10**self.builder_config.digits + operands[:, 1]

    def _identity(self, keys):
        a, b = np.divmod(keys, 10**self.builder_config.digits)
        return np.minimum(a, b) * 10**self.builder_config.digits + np.maximum(a, b)

    def _example(self, key):
        a, b = divmod(int(key), 10**self.builder_config.digits)
        return f"{a}+{b}", str(a + b)


class _SymbolSequenceTask(Seq2SeqTask, skip_registration=True):
    """Random strings over the first `alphabet_size` letters, with a uniform length in `min_length..max_length`."""

    BUILDER_CONFIGS = [SymbolSequenceConfig()]
    config_class = SymbolSequenceConfig

    @property
    def characters(self):
        return string.ascii_lowercase[: self.builder_config.alphabet_size]

    def _draw(self, rng, n):
        config = self.builder_config
        lengths = rng.integers(config.min_length, config.max_length + 1, size=n)
        letters = (ord("a") + rng.integers(0, config.alphabet_size, size=(n, config.max_length))).astype(np.uint8)
        letters[np.arange(config.max_length) >= lengths[:, None]] = 0
        # One fixed-width bytes key per row: NumPy drops the trailing zeros, so the key is the string.
        return np.ascontiguousarray(letters).view(f"S{config.max_length}")[:, 0]

    def _example(self, key):
        source = key.decode("ascii")
        return source, self._target(source)


class SequenceReversal(_SymbolSequenceTask):
    """Sequence reversal: a random string over a small alphabet -> the same string reversed.

    Strings over the first `alphabet_size` letters (default a-j) with a uniform length in
    `min_length..max_length` (default 1..10); sources are distinct across and within splits.
    """

    def _target(self, source):
        return source[::-1]


class SequenceSorting(_SymbolSequenceTask):
    """Sequence sorting: a random string over a small alphabet -> its characters in sorted order.

    Strings over the first `alphabet_size` letters (default a-j) with a uniform length in
    `min_length..max_length` (default 1..10); sources are distinct across and within splits.
    """

    def _target(self, source):
        return "".join(sorted(source))


SEQ2SEQ_DATASETS = {
    "date_normalization": DateNormalization,
    "text_addition": TextAddition,
    "sequence_reversal": SequenceReversal,
    "sequence_sorting": SequenceSorting,
}
