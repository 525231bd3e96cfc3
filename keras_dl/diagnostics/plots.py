"""Matplotlib plots written as PNG files (headless: the Agg backend)."""

import io

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from keras_dl.export.atomic import atomic_path  # noqa: E402


def plot_learning_curves(path, curves, baselines=None, xlabel="epoch", ylabel="loss", title=None):
    """Draws learning curves and horizontal baselines into a PNG, atomically.

    Args:
        path: output `.png` path.
        curves: dict label -> sequence of values (x is 1, 2, ...), e.g. a Keras
            `History.history` subset.
        baselines: dict label -> value, drawn as dashed horizontal lines.
        xlabel, ylabel, title: axis labels and title.

    Example:
    >>> plot_learning_curves("curve.png", {"train": h.history["bpc"], "val": h.history["val_bpc"]},
    ...                      {"unigram": 4.7}, ylabel="bits per char")
    """
    if not isinstance(curves, dict) or not curves or not all(len(v) for v in curves.values()):
        raise ValueError(f"`curves` must be a dict of non-empty sequences, got {curves!r}.")
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    for label, values in curves.items():
        ax.plot(range(1, len(values) + 1), values, marker="o", markersize=3, label=label)
    for label, value in (baselines or {}).items():
        ax.axhline(value, linestyle="--", color="gray", label=f"{label} ({value:.3g})")
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(buffer.getvalue())
    return path
