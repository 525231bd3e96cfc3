import datetime
import re

import numpy as np
import pytest
import tensorflow_datasets as tfds

from keras_dl import data

SEQ2SEQ = ("date_normalization", "text_addition", "sequence_reversal", "sequence_sorting")
SMALL = {
    "date_normalization": dict(num_train=600, num_eval=60),
    "text_addition": dict(num_train=600, num_eval=60),
    "sequence_reversal": dict(num_train=300, num_eval=30, min_length=2, max_length=7, alphabet_size=5),
    "sequence_sorting": dict(num_train=300, num_eval=30, min_length=2, max_length=7, alphabet_size=5),
}


def _pairs(builder, split):
    return [(ex["source"].decode(), ex["target"].decode()) for ex in tfds.as_numpy(builder.as_dataset(split=split))]


def _all_pairs(builder):
    return {split: _pairs(builder, split) for split in data.SPLITS}


@pytest.fixture(scope="module")
def small(data_dir):
    return {name: _all_pairs(data.load_builder(name, data_dir, **SMALL[name])) for name in SEQ2SEQ}


# Parsers written independently of keras_dl, one per format of data.DATE_FORMATS.
MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december"]
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_MONTH = r"(?P<month_name>[A-Za-z]+)"
PARSERS = {
    "iso": r"(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})",
    "compact": r"(?P<year>\d{4})(?P<month>\d{2})(?P<day>\d{2})",
    "month_slash": r"(?P<month>\d{2})/(?P<day>\d{2})/(?P<year>\d{4})",
    "year_slash": r"(?P<year>\d{4})/(?P<month>[1-9]\d?)/(?P<day>[1-9]\d?)",
    "day_dot": r"(?P<day>\d{2})\.(?P<month>\d{2})\.(?P<year>\d{4})",
    "day_dot_short": r"(?P<day>[1-9]\d?)\.(?P<month>[1-9]\d?)\.(?P<year2>\d{2})",
    "day_month": rf"(?P<day>[1-9]\d?) {_MONTH} (?P<year>\d{{4}})",
    "month_day": rf"{_MONTH} (?P<day>[1-9]\d?), (?P<year>\d{{4}})",
    "month_ordinal": rf"{_MONTH} (?P<day>[1-9]\d?)(?P<suffix>st|nd|rd|th), (?P<year>\d{{4}})",
    "weekday": rf"(?P<weekday>[A-Za-z]+), {_MONTH} (?P<day>[1-9]\d?), (?P<year>\d{{4}})",
    "short_weekday": r"(?P<weekday_short>[A-Z][a-z]{2}) (?P<day>[1-9]\d?) (?P<month_short>[A-Z][a-z]{2}) (?P<year>\d{4})",
    "lower_short": r"(?P<month_short>[a-z]{3}) (?P<day>[1-9]\d?) (?P<year>\d{4})",
    "upper": r"(?P<month_upper>[A-Z]+) (?P<day>\d{2}) (?P<year>\d{4})",
}


def _parse(name, text):
    """The date `text` names in format `name`, or None if it is not in that format."""
    match = re.fullmatch(PARSERS[name], text)
    if not match:
        return None
    g = match.groupdict()
    if "year2" in g:
        year = int(g["year2"]) + (1900 if int(g["year2"]) >= 50 else 2000)
    else:
        year = int(g["year"])
    if "month" in g:
        month = int(g["month"])
    elif "month_name" in g:
        if g["month_name"] not in [m.capitalize() for m in MONTHS]:
            return None
        month = MONTHS.index(g["month_name"].lower()) + 1
    elif "month_upper" in g:
        if g["month_upper"] not in [m.upper() for m in MONTHS]:
            return None
        month = MONTHS.index(g["month_upper"].lower()) + 1
    else:
        abbreviations = [m[:3] if name == "lower_short" else m[:3].capitalize() for m in MONTHS]
        if g["month_short"] not in abbreviations:
            return None
        month = abbreviations.index(g["month_short"]) + 1
    date = datetime.date(year, month, int(g["day"]))
    if "weekday" in g:
        assert g["weekday"] == WEEKDAYS[date.weekday()].capitalize(), text
    if "weekday_short" in g:
        assert g["weekday_short"] == WEEKDAYS[date.weekday()][:3].capitalize(), text
    if "suffix" in g:
        day = date.day
        assert g["suffix"] == ("th" if day in (11, 12, 13) else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")), text
    return date


def _parses(text):
    return {name: date for name in PARSERS if (date := _parse(name, text)) is not None}


def test_every_date_format_parses_back_with_its_own_format_and_no_other():
    assert set(PARSERS) == set(data.DATE_FORMATS)
    first, last = datetime.date(1950, 1, 1), datetime.date(2049, 12, 31)
    dates = [first + datetime.timedelta(days=d) for d in range(0, (last - first).days + 1, 37)]
    dates += [first, last, datetime.date(2000, 2, 29), datetime.date(1999, 12, 31), datetime.date(2011, 11, 11),
              datetime.date(1972, 3, 12), datetime.date(2023, 1, 13), datetime.date(1986, 5, 22)]
    for date in dates:
        for name, write in data.DATE_FORMATS.items():
            text = write(date)
            assert _parses(text) == {name: date}, (name, date, text)


def test_date_examples_parse_back_to_their_iso_target(small):
    styles = set()
    for pairs in small["date_normalization"].values():
        for source, target in pairs:
            parsed = _parses(source)
            assert len(parsed) == 1, source
            (style, date), = parsed.items()
            styles.add(style)
            assert date.isoformat() == target
            assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", target)
            assert 1950 <= date.year <= 2049
    assert styles == set(data.DATE_FORMATS)  # 720 examples: each of the 13 formats shows up.


def test_addition_targets_are_the_sums_and_questions_are_unique(small):
    pairs = [pair for split in small["text_addition"].values() for pair in split]
    operands = []
    for source, target in pairs:
        a, b = source.split("+")
        assert target == str(int(a) + int(b))
        for x in (a, b):
            assert x == str(int(x)) and 1 <= len(x) <= 3  # No padding, no leading zeros.
        operands += [a, b]
    assert len({tuple(sorted(source.split("+"))) for source, _ in pairs}) == len(pairs)  # a+b and b+a are one question.
    # keras-io draws the number of digits first: about a third of the operands have one digit.
    one_digit = np.mean([len(x) == 1 for x in operands])
    assert 0.25 < one_digit < 0.42


def test_reversal_and_sorting_targets(small):
    for name, answer in [("sequence_reversal", lambda s: s[::-1]), ("sequence_sorting", lambda s: "".join(sorted(s)))]:
        pairs = [pair for split in small[name].values() for pair in split]
        for source, target in pairs:
            assert target == answer(source)
            assert set(source) <= set("abcde") and 2 <= len(source) <= 7
        assert {len(s) for s, _ in pairs} == set(range(2, 8))
        assert set("".join(s for s, _ in pairs)) == set("abcde")
    sorting = small["sequence_sorting"]["train"]
    assert any(source != target for source, target in sorting)


@pytest.mark.parametrize("name", SEQ2SEQ)
def test_splits_have_their_sizes_and_are_disjoint(small, name):
    pairs = small[name]
    sizes = {split: len(pairs[split]) for split in data.SPLITS}
    assert sizes == {"train": SMALL[name]["num_train"], "validation": SMALL[name]["num_eval"],
                     "test": SMALL[name]["num_eval"]}
    sources = {split: {source for source, _ in pairs[split]} for split in data.SPLITS}
    assert all(len(sources[split]) == sizes[split] for split in data.SPLITS)  # Unique within a split.
    assert not sources["test"] & sources["train"]
    assert not sources["test"] & sources["validation"]
    assert not sources["validation"] & sources["train"]


@pytest.mark.parametrize("name", SEQ2SEQ)
def test_generation_is_deterministic_per_seed(small, name, tmp_path):
    again = _all_pairs(data.load_builder(name, str(tmp_path / "a"), **SMALL[name]))
    assert again == small[name]
    other_seed = _all_pairs(data.load_builder(name, str(tmp_path / "b"), **dict(SMALL[name], seed=1)))
    for split in data.SPLITS:
        assert set(other_seed[split]) != set(small[name][split])


def test_splits_share_one_distribution_of_question_sizes(tmp_path):
    # 1- and 2-digit operands are few among unique questions; every split must get its share of them.
    pairs = _all_pairs(data.load_builder("text_addition", str(tmp_path), digits=2, num_train=3000, num_eval=600))
    short = {split: np.mean([min(len(x) for x in source.split("+")) == 1 for source, _ in pairs[split]])
             for split in data.SPLITS}
    assert max(short.values()) - min(short.values()) < 0.05, short


def test_the_whole_question_space_can_be_asked_for(tmp_path):
    # One-digit operands: 10 * 11 / 2 = 55 questions when a+b and b+a are one.
    addition = _all_pairs(data.load_builder("text_addition", str(tmp_path), digits=1, num_train=45, num_eval=5))
    questions = {tuple(sorted(map(int, s.split("+")))) for split in addition.values() for s, _ in split}
    assert questions == {(a, b) for a in range(10) for b in range(a, 10)}
    # Strings of length 3 over {a, b}: 8 sources.
    reversal = _all_pairs(data.load_builder("sequence_reversal", str(tmp_path), min_length=3, max_length=3,
                                            alphabet_size=2, num_train=6, num_eval=1))
    sources = {s for split in reversal.values() for s, _ in split}
    assert sources == {a + b + c for a in "ab" for b in "ab" for c in "ab"}


def test_builders_are_tfds_datasets_with_fixed_characters(data_dir):
    assert set(SEQ2SEQ) <= set(tfds.list_builders()) and set(SEQ2SEQ) <= set(data.EMBEDDED_DATASETS)
    builder = data.load_builder("text_addition", data_dir, **SMALL["text_addition"])
    assert builder.info.supervised_keys == ("source", "target")
    assert builder.characters == "0123456789+" and builder.vocabulary.vocabulary_size == 15
    reversal = data.load_builder("sequence_reversal", data_dir, **SMALL["sequence_reversal"])
    assert reversal.characters == "abcde"
    dates = data.load_builder("date_normalization", data_dir, **SMALL["date_normalization"])
    used = {c for split in _all_pairs(dates).values() for pair in split for text in pair for c in text}
    assert used <= set(dates.characters)


def test_vocabulary_ids_and_round_trip():
    vocabulary = data.Seq2SeqVocabulary("0123456789+")
    assert (vocabulary.padding_id, vocabulary.start_id, vocabulary.end_id, vocabulary.unknown_id) == (0, 1, 2, 3)
    ids = data.encode_text(["12+7", "5", "9x"], vocabulary, add_start=True, add_end=True)
    np.testing.assert_array_equal(ids, [[1, 5, 6, 14, 11, 2], [1, 9, 2, 0, 0, 0], [1, 13, 3, 2, 0, 0]])
    assert ids.dtype == np.int32
    assert data.decode_ids(ids, vocabulary) == ["12+7", "5", "9\ufffd"]
    assert data.decode_ids(ids[0], vocabulary) == "12+7"
    assert data.decode_ids([5, 2, 6, 7], vocabulary) == "1"  # Stops at the end id.
    fixed = data.encode_text("42", vocabulary, sequence_length=5)
    np.testing.assert_array_equal(fixed, [8, 6, 0, 0, 0])
    texts = ["0+0", "999+999", "1998"]
    assert data.decode_ids(data.encode_text(texts, vocabulary, add_end=True), vocabulary) == texts


def test_vocabulary_and_codec_reject_bad_input():
    vocabulary = data.Seq2SeqVocabulary("ab")
    with pytest.raises(ValueError, match="`characters`.*repeated"):
        data.Seq2SeqVocabulary("aba")
    with pytest.raises(ValueError, match="`characters`"):
        data.Seq2SeqVocabulary("")
    with pytest.raises(TypeError, match="`characters`"):
        data.Seq2SeqVocabulary(["a", "b"])
    with pytest.raises(ValueError, match="`sequence_length`"):
        data.encode_text(["abab"], vocabulary, add_end=True, sequence_length=4)
    with pytest.raises(ValueError, match="`ids`"):
        data.decode_ids([4, 6], vocabulary)
    with pytest.raises(ValueError, match="`ids`"):
        data.decode_ids([[[4]]], vocabulary)
    with pytest.raises(TypeError, match="`vocabulary`"):
        data.decode_ids([4], "ab")


@pytest.mark.parametrize("name", SEQ2SEQ)
def test_seq2seq_dataset_pads_per_batch_with_start_and_end(small, name, data_dir):
    vocabulary = data.load_builder(name, data_dir, **SMALL[name]).vocabulary
    batches = list(data.seq2seq_dataset(name, "validation", 16, data_dir=data_dir, **SMALL[name]).as_numpy_iterator())
    num_eval = SMALL[name]["num_eval"]
    assert [len(y) for _, y in batches] == [16] * (num_eval // 16) + [num_eval % 16]  # The last batch is smaller.
    decoded = []
    for inputs, target_out in batches:
        source, target_in = inputs["source"], inputs["target_in"]
        assert source.dtype == target_in.dtype == target_out.dtype == np.int32
        assert target_in.shape == target_out.shape
        source_lengths = (source != 0).sum(axis=1)
        target_lengths = (target_out != 0).sum(axis=1)  # The target and its end id.
        assert source.shape[1] == source_lengths.max() and target_out.shape[1] == target_lengths.max()  # Per batch.
        for row in range(len(target_out)):
            n, m = source_lengths[row], target_lengths[row]
            assert np.all(source[row, :n] >= 4) and np.all(source[row, n:] == 0)  # Padding only at the end.
            assert target_in[row, 0] == 1 and target_out[row, m - 1] == 2
            np.testing.assert_array_equal(target_in[row, 1:m], target_out[row, : m - 1])
            assert np.all(target_out[row, m:] == 0) and np.all(target_in[row, m:] == 0)
            decoded.append((data.decode_ids(source[row], vocabulary), data.decode_ids(target_out[row], vocabulary)))
    assert decoded == small[name]["validation"]  # Not shuffled outside train, and nothing lost.


def test_seq2seq_train_split_is_shuffled_by_default(small, data_dir):
    name = "sequence_reversal"
    vocabulary = data.load_builder(name, data_dir, **SMALL[name]).vocabulary
    ds = data.seq2seq_dataset(name, "train", 300, seed=0, data_dir=data_dir, **SMALL[name])
    (first, _), (second, _) = next(iter(ds)), next(iter(ds))
    first, second = data.decode_ids(first["source"], vocabulary), data.decode_ids(second["source"], vocabulary)
    expected = [source for source, _ in small[name]["train"]]
    assert sorted(first) == sorted(second) == sorted(expected)
    assert first != expected and first != second
    repeated = data.seq2seq_dataset(name, "train", 128, repeat=True, data_dir=data_dir, **SMALL[name])
    assert len(list(repeated.take(5))) == 5
    # `seed` shuffles, `data_seed` is the generator's seed.
    other = data.seq2seq_dataset(name, "validation", 30, seed=0, data_seed=1, data_dir=data_dir, **SMALL[name])
    other_seed = data.load_builder(name, data_dir, seed=1, **SMALL[name])
    assert data.decode_ids(next(iter(other))[0]["source"], vocabulary) == [s for s, _ in _pairs(other_seed, "validation")]


@pytest.mark.parametrize(
    "name, kwargs, error, match",
    [
        ("date_normalization", {"num_train": 0}, ValueError, "`num_train`"),
        ("text_addition", {"num_eval": -1}, ValueError, "`num_eval`"),
        ("sequence_sorting", {"seed": -1}, ValueError, "`seed`"),
        ("text_addition", {"digits": 0}, ValueError, "`digits`"),
        ("text_addition", {"digits": 10}, ValueError, "`digits` must be at most 9"),
        ("text_addition", {"digits": 2.0}, TypeError, "`digits`"),
        ("sequence_reversal", {"min_length": 5, "max_length": 4}, ValueError, "`min_length` must be <= `max_length`"),
        ("sequence_sorting", {"alphabet_size": 27}, ValueError, "`alphabet_size`"),
        ("text_addition", {"digits": 1, "num_train": 46, "num_eval": 5}, ValueError, r"`num_train` \+ 2 \* `num_eval` = 56.*55"),
        ("sequence_reversal", {"max_length": 2, "alphabet_size": 2, "num_train": 5, "num_eval": 1}, ValueError,
         "more unique examples than exist.* 6"),
        ("date_normalization", {"num_train": 10**6}, ValueError, "`num_train`"),
        ("text_addition", {"length": 3}, TypeError, "length"),
    ],
)
def test_bad_config_is_named_before_anything_is_generated(tmp_path, name, kwargs, error, match):
    with pytest.raises(error, match=match):
        data.load_builder(name, str(tmp_path), **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_seq2seq_dataset_rejects_bad_arguments(data_dir):
    with pytest.raises(ValueError, match="`name`"):
        data.seq2seq_dataset("parity", "train", 4, data_dir=data_dir)
    with pytest.raises(ValueError, match="`batch_size`"):
        data.seq2seq_dataset("text_addition", "train", 0, data_dir=data_dir, **SMALL["text_addition"])
    with pytest.raises(ValueError, match="`split`"):
        data.seq2seq_dataset("text_addition", "dev", 4, data_dir=data_dir, **SMALL["text_addition"])
