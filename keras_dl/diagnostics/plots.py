"""Matplotlib plots written as PNG files (headless: the Agg backend)."""

import io

import matplotlib
import matplotlib.ticker
import numpy as np

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
    >>> plot_learning_curves("curve.png", {"train": [5.1, 3.9, 3.2], "validation": [4.6, 3.8, 3.4]},
    ...                      {"unigram": 4.7}, ylabel="bits per char")
    'curve.png'
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
    return _write(path, _png(fig))


def _png(fig):
    """The figure as PNG bytes; closes it."""
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def _write(path, png):
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(png)
    return path


def _log_curves_figure(curves, baselines, xlabel, ylabel, title):
    """A log-scale figure of `(x, y)` curves per label and dashed horizontal baselines."""
    if not isinstance(curves, dict) or not curves or not all(len(y) for _, y in curves.values()):
        raise ValueError(f"`curves` must be a dict of non-empty sequences, got {curves!r}.")
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=100)
    for label, (x, y) in curves.items():
        ax.semilogy(x, y, label=label)
    for label, value in (baselines or {}).items():
        ax.axhline(value, linestyle="--", color="gray", label=f"{label} ({value:.3g})")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return fig


def plot_log_curves(path, curves, baselines=None, xlabel="step", ylabel="loss", title=None):
    """Draws curves on a log scale, with dashed horizontal baselines, into a PNG, atomically.

    Args:
        path: output `.png` path.
        curves: dict label -> `(x, y)` sequences (points with non-finite y are the caller's to drop).
        baselines: dict label -> value.
        xlabel, ylabel, title: axis labels and title.

    Example:
    >>> plot_log_curves("val.png", {"lstm": ([100, 200, 300], [0.16, 0.02, 0.004])}, {"always predict 1": 1 / 6})
    'val.png'
    """
    return _write(path, _png(_log_curves_figure(curves, baselines, xlabel, ylabel, title)))


def _over_steps(curves):
    """`{label: values}` -> `{label: (1..T, values)}`."""
    if not isinstance(curves, dict):
        raise ValueError(f"`curves` must be a dict of non-empty sequences, got {curves!r}.")
    return {label: (range(1, len(values) + 1), values) for label, values in curves.items()}


def gradient_norms_png(curves, title=None):
    """PNG bytes of `plot_gradient_norms`' figure (for TensorBoard images)."""
    return _png(_log_curves_figure(_over_steps(curves), None, "step k", "||dL/ds_k|| (log scale)", title))


def plot_gradient_norms(path, curves, title=None):
    """Draws `||dL/ds_k||` over k, one curve per label (e.g. per cell), on a log scale, into a PNG.

    Example:
    >>> plot_gradient_norms("flow.png", {"elman": 0.5 ** np.arange(20.0)[::-1], "lstm": 0.95 ** np.arange(20.0)[::-1]})
    'flow.png'
    """
    return _write(path, gradient_norms_png(curves, title))


def plot_sequential_jacobian(path, curves, title=None):
    """Draws `||dy_t/dx_k||` over input steps k, one curve per label, on a log scale, into a PNG."""
    return _write(path, _png(_log_curves_figure(_over_steps(curves), None, "input step k", "||dy_t/dx_k|| (log scale)",
                                                title)))


def plot_spectral_radii(path, rows, title=None):
    """Bar chart of `recurrent_spectral_radii` rows, with the unit circle's radius 1 marked, into a PNG."""
    if not rows:
        raise ValueError("`rows` must hold at least one spectral radius.")
    fig, ax = plt.subplots(figsize=(max(4, 0.5 * len(rows) + 2), 4), dpi=100)
    labels = [f"{row['cell']}\n{row['gate']}" for row in rows]
    ax.bar(range(len(rows)), [row["spectral_radius"] for row in rows])
    ax.axhline(1.0, linestyle="--", color="gray", label="radius 1")
    ax.set_xticks(range(len(rows)), labels, fontsize=7)
    ax.set_ylabel("spectral radius")
    if title:
        ax.set_title(title)
    ax.legend()
    return _write(path, _png(fig))


def plot_attention(path, alignments, source_labels, output_labels, title=None):
    """Draws an attention map (`[output steps, source steps]` alignments) as a heat map into a PNG.

    Example:
    >>> plot_attention("attention.png", np.eye(3)[::-1], list("abc"), list("cba"))
    'attention.png'
    """
    alignments = np.asarray(alignments, np.float64)
    if alignments.ndim != 2 or alignments.shape != (len(output_labels), len(source_labels)):
        raise ValueError(f"`alignments` must be [len(output_labels), len(source_labels)] = "
                         f"{(len(output_labels), len(source_labels))}, got shape {alignments.shape}.")
    fig, ax = plt.subplots(figsize=(0.3 * len(source_labels) + 2, 0.3 * len(output_labels) + 1.5), dpi=100)
    image = ax.imshow(alignments, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
    ax.set_xticks(range(len(source_labels)), source_labels)
    ax.set_yticks(range(len(output_labels)), output_labels)
    ax.set_xlabel("source")
    ax.set_ylabel("output")
    if title:
        ax.set_title(title, fontsize=9)
    fig.colorbar(image, ax=ax, fraction=0.046)
    return _write(path, _png(fig))


def plot_image_grid(path, images, columns=10, row_labels=None, title=None):
    """Draws images `[N, H, W, 1 or 3]` (values in [0, 1]) as a grid into a PNG, atomically.

    Args:
        path: output `.png` path.
        images: float array `[N, H, W, C]`, `C` 1 (grey) or 3 (RGB), values in [0, 1].
        columns: images per row.
        row_labels: optional labels written left of each row (e.g. a conditioning class).
        title: figure title.

    Example:
    >>> plot_image_grid("samples.png", np.random.default_rng(0).random((20, 8, 8, 1)), columns=10)
    'samples.png'
    """
    images = np.asarray(images, np.float32)
    if images.ndim != 4 or images.shape[-1] not in (1, 3) or not len(images):
        raise ValueError(f"`images` must be [N, H, W, 1 or 3] with N > 0, got shape {images.shape}.")
    columns = min(int(columns), len(images))
    rows = -(-len(images) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(columns * 0.8, rows * 0.8 + (0.4 if title else 0)), dpi=100,
                             squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_frame_on(False)
        if i < len(images):
            image = np.clip(images[i], 0.0, 1.0)
            ax.imshow(image[..., 0] if image.shape[-1] == 1 else image, cmap="gray", vmin=0.0, vmax=1.0)
    for row, label in enumerate(row_labels or []):
        axes[row, 0].set_ylabel(str(label), rotation=0, labelpad=12, va="center")
    if title:
        fig.suptitle(title)
    return _write(path, _png(fig))


def plot_points(path, samples, centres=None, title=None, limit=None):
    """Scatters 2-D samples `[N, 2]` (and the true mode centres as crosses) into a PNG, atomically.

    Example:
    >>> plot_points("points.png", np.random.default_rng(0).normal(size=(500, 2)), centres=[[0.0, 0.0]])
    'points.png'
    """
    samples = np.asarray(samples, np.float32)
    if samples.ndim != 2 or samples.shape[1] != 2:
        raise ValueError(f"`samples` must be [N, 2], got shape {samples.shape}.")
    fig, ax = plt.subplots(figsize=(4, 4), dpi=100)
    ax.scatter(samples[:, 0], samples[:, 1], s=2, alpha=0.4, label="samples")
    if centres is not None:
        centres = np.asarray(centres, np.float32)
        ax.scatter(centres[:, 0], centres[:, 1], marker="x", color="red", s=30, label="modes")
    if limit:
        ax.set_xlim(-limit, limit)
        ax.set_ylim(-limit, limit)
    ax.set_aspect("equal")
    if title:
        ax.set_title(title)
    ax.legend(loc="upper right", fontsize=7)
    return _write(path, _png(fig))
