import matplotlib.image
import numpy as np
import pytest

from keras_dl.diagnostics import plot_learning_curves


def test_learning_curve_png_is_written_and_not_blank(tmp_path):
    path = plot_learning_curves(str(tmp_path / "curve.png"), {"train": [3.0, 2.5, 2.1], "val": [2.9, 2.6, 2.4]},
                                {"unigram": 4.7}, ylabel="bpc")
    image = matplotlib.image.imread(path)
    assert image.shape[:2] == (400, 600)
    assert np.unique(image.reshape(-1, image.shape[-1]), axis=0).shape[0] > 10  # Lines, text, legend.


def test_learning_curves_need_data(tmp_path):
    with pytest.raises(ValueError, match="`curves`"):
        plot_learning_curves(str(tmp_path / "x.png"), {"train": []})


def test_attention_map_shows_the_alignments(tmp_path):
    from keras_dl.diagnostics import plot_attention

    path = plot_attention(str(tmp_path / "attention.png"), np.eye(4)[::-1], list("abcd"), list("dcba"))
    image = matplotlib.image.imread(path)
    assert np.unique(image.reshape(-1, image.shape[-1]), axis=0).shape[0] > 10
    with pytest.raises(ValueError, match="alignments"):
        plot_attention(str(tmp_path / "x.png"), np.eye(3), list("ab"), list("ab"))
