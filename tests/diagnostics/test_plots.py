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


def test_image_grid_draws_each_image_where_it_belongs(tmp_path):
    from keras_dl.diagnostics import plot_image_grid

    images = np.zeros((4, 8, 8, 1), np.float32)
    images[3] = 1.0  # Only the last image is white: the bottom-right quarter of a 2x2 grid is bright.
    image = matplotlib.image.imread(plot_image_grid(str(tmp_path / "grid.png"), images, columns=2))
    grey = image[..., :3].mean(-1)
    h, w = grey.shape
    assert grey[h // 2:, w // 2:].mean() > grey[:h // 2, :w // 2].mean() + 0.3
    with pytest.raises(ValueError, match="images"):
        plot_image_grid(str(tmp_path / "x.png"), np.zeros((4, 8, 8)))


def test_points_plot_needs_2d_samples(tmp_path):
    from keras_dl.diagnostics import plot_points

    image = matplotlib.image.imread(plot_points(str(tmp_path / "p.png"), np.zeros((10, 2)), centres=[[1.0, 1.0]]))
    assert np.unique(image.reshape(-1, image.shape[-1]), axis=0).shape[0] > 10
    with pytest.raises(ValueError, match="samples"):
        plot_points(str(tmp_path / "x.png"), np.zeros((10, 3)))
