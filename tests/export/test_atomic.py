import os

import pytest

from keras_dl.export import atomic_path
from keras_dl.export import write_text


def test_a_failed_write_leaves_neither_file_nor_temporary(tmp_path):
    target = tmp_path / "out.tflite"
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_path(target) as tmp:
            assert tmp.endswith(".tflite") and os.path.dirname(tmp) == str(tmp_path)
            with open(tmp, "wb") as f:
                f.write(b"half")
            raise RuntimeError("boom")
    assert os.listdir(tmp_path) == []


def test_a_failed_write_keeps_the_previous_export(tmp_path):
    write_text(tmp_path / "metrics.json", "old")
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(tmp_path / "metrics.json") as tmp:
            with open(tmp, "w") as f:
                f.write("new but unfinished")
            raise KeyboardInterrupt
    assert (tmp_path / "metrics.json").read_text() == "old"
    assert os.listdir(tmp_path) == ["metrics.json"]


def test_a_directory_is_replaced_whole(tmp_path):
    target = tmp_path / "saved_model"
    for version in ("v1", "v2"):
        with atomic_path(target) as tmp:
            os.makedirs(tmp)
            (open(os.path.join(tmp, version), "w")).close()
    assert os.listdir(target) == ["v2"]
    assert os.listdir(tmp_path) == ["saved_model"]


def test_writing_nothing_is_an_error(tmp_path):
    with pytest.raises(RuntimeError, match="nothing was written"):
        with atomic_path(tmp_path / "x.keras"):
            pass
