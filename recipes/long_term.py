"""Long-term dependency tasks: one recurrent cell trained with `fit` on a generated task.

Offline: the tasks are generated on the machine (`adding_problem`, `copy_memory`, `parity`,
keras_dl's TFDS builders). Writes `metrics.json` (the final validation metric next to the
task's trivial baseline, and the curves) and `learning_curve.png` to `--out`.

`--spectral-radius R` starts an Elman/IRNN recurrence at R times an orthogonal matrix (every
eigenvalue of modulus R): with R > 1 gradients explode through time, which the clipping
flags (`--clipnorm`, ...) contain. `--omega-weight` adds Pascanu et al.'s regulariser.
"""

import argparse
import math
import os
import sys
import time

import keras
import tensorflow as tf

from keras_dl import _checks
from keras_dl.data import task_dataset
from keras_dl.diagnostics import plot_learning_curves
from keras_dl.layers import ClockworkCell
from keras_dl.layers import ElmanCell
from keras_dl.layers import GRUCell
from keras_dl.layers import LeakyCell
from keras_dl.layers import LSTMCell
from keras_dl.layers import OrthogonalCell
from keras_dl.models import RecurrentNetwork

from . import _clipping
from . import _distribute
from . import _resume

CELLS = ("elman", "irnn", "lstm", "gru", "leaky", "orthogonal", "clockwork")
TASKS = ("adding_problem", "copy_memory", "parity")
OPTIMIZERS = {"adam": keras.optimizers.Adam, "rmsprop": keras.optimizers.RMSprop, "sgd": keras.optimizers.SGD}


def task_spec(task, length):
    """Readout, loss, input featurisation and trivial baseline of a task (loss units: MSE or nats)."""
    cross_entropy = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    if task == "adding_problem":
        return dict(outputs=1, sequences=False, loss="mse", metric="mse", baseline=1.0 / 6.0,
                    baseline_name="always predict 1", features=lambda x: x)
    if task == "copy_memory":
        return dict(outputs=10, sequences=True, loss=cross_entropy, metric="cross-entropy (nats)",
                    baseline=10 * math.log(8) / (length + 20), baseline_name="memoryless",
                    features=lambda x: tf.one_hot(x, 10))
    if task == "parity":
        return dict(outputs=2, sequences=False, loss=cross_entropy, metric="cross-entropy (nats)",
                    baseline=math.log(2), baseline_name="coin flip",
                    features=lambda x: tf.cast(x, tf.float32)[..., None])
    raise ValueError(f"`--task` must be one of {TASKS}, got {task!r}.")


def make_cell(name, units, length, spectral_radius=None):
    if spectral_radius is not None:
        if name not in ("elman", "irnn"):
            raise ValueError(f"`--spectral-radius` applies to the elman and irnn cells, got --cell {name}.")
        # R times an orthogonal matrix: every eigenvalue has modulus R.
        recurrent = keras.initializers.Orthogonal(gain=spectral_radius)
        return ElmanCell(units, irnn=name == "irnn", recurrent_initializer=recurrent)
    if name in ("elman", "irnn"):
        return ElmanCell(units, irnn=name == "irnn")
    if name == "lstm":
        return LSTMCell(units)
    if name == "gru":
        return GRUCell(units)
    if name == "leaky":
        return LeakyCell(units, time_constants=(1.0, float(max(2, length))))
    if name == "orthogonal":
        return OrthogonalCell(units)
    if name == "clockwork":
        # Periods 1, 2, 4, ... up to T, as many modules as divide the units.
        periods = [2 ** i for i in range(16) if 2 ** i <= length]
        while units % len(periods):
            periods.pop()
        return ClockworkCell(units, periods=tuple(periods))
    raise ValueError(f"`--cell` must be one of {CELLS}, got {name!r}.")


def build_parser(prog="python -m recipes.long_term"):
    parser = argparse.ArgumentParser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--task", default="adding_problem", choices=TASKS)
    parser.add_argument("--length", type=int, default=100, help="sequence length T (copy memory: the delay)")
    parser.add_argument("--cell", default="lstm", choices=CELLS)
    parser.add_argument("--units", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--steps", type=int, default=1000, help="training steps")
    parser.add_argument("--eval-every", type=int, default=100, help="steps between validation points of the curve")
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--optimizer", default="adam", choices=sorted(OPTIMIZERS),
                        help="sgd shows exploding gradients plainly; adam rescales them")
    parser.add_argument("--num-train", type=int, default=20000)
    parser.add_argument("--num-eval", type=int, default=1000)
    parser.add_argument("--spectral-radius", type=float, default=None, help="Elman/IRNN only: initial |eigenvalues|")
    parser.add_argument("--omega-weight", type=float, default=0.0, help="weight of Pascanu et al.'s Omega regulariser")
    parser.add_argument("--data-dir", default=None, help="TFDS data directory")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2), help="Keras fit verbosity (1: progress bar)")
    _clipping.add_arguments(parser)
    _distribute.add_arguments(parser)
    return parser


def run(args):
    """Trains the cell described by `args`; returns the metrics also written to `metrics.json`."""
    for name in ("length", "units", "batch_size", "steps", "eval_every", "num_train", "num_eval"):
        _checks.positive_int(f"--{name.replace('_', '-')}", getattr(args, name))
    _checks.positive_float("--learning-rate", args.learning_rate)
    if args.spectral_radius is not None:
        _checks.positive_float("--spectral-radius", args.spectral_radius)
    if args.steps % args.eval_every:
        raise ValueError(f"`--steps` ({args.steps}) must be a multiple of `--eval-every` ({args.eval_every}).")
    spec = task_spec(args.task, args.length)
    clipping = _clipping.optimizer_options(args)
    strategy = _distribute.setup(args)
    _checks.writable_directory("--out", args.out)

    config = dict(length=args.length, num_train=args.num_train, num_eval=args.num_eval, data_dir=args.data_dir)

    def data(split):
        ds = task_dataset(args.task, split, args.batch_size, seed=args.seed, **config)
        return ds.map(lambda x, y: (spec["features"](x), y))

    train = data("train")
    # Seeded after the data: preparing a dataset the first time draws random numbers, a prepared one does not.
    keras.utils.set_random_seed(args.seed)
    with strategy.scope():
        model = RecurrentNetwork(make_cell(args.cell, args.units, args.length, args.spectral_radius), spec["outputs"],
                                 return_sequences=spec["sequences"], omega_weight=args.omega_weight)
        model.build(tuple(train.element_spec[0].shape))  # BackupAndRestore needs the weights before fit.
        model.compile(OPTIMIZERS[args.optimizer](args.learning_rate, **clipping), spec["loss"])
    start = time.perf_counter()
    # A killed run continues from its last evaluation when the same command runs again; a diverged run
    # (exploding gradients) stops at its first NaN loss and says so (TerminateOnNaN).
    history = _resume.resumable_fit(model, train, "train", args.out, args.steps // args.eval_every, args.eval_every,
                                    validation_data=data("validation"), shuffle=False, verbose=args.verbose)
    seconds = time.perf_counter() - start
    diverged = not all(math.isfinite(v) for v in history["loss"])
    curves = {"train (mean over interval)": history["loss"], "validation": history.get("val_loss", [])}
    curves = {label: values for label, values in curves.items() if values}
    title = f"{args.cell} on {args.task}, T={args.length}" + (f", {sorted(clipping.items())}" if clipping else "")
    plot_learning_curves(os.path.join(args.out, "learning_curve.png"), curves,
                         {f"baseline: {spec['baseline_name']}": spec["baseline"]},
                         xlabel=f"training steps / {args.eval_every}", ylabel=spec["metric"], title=title)
    metrics = {
        "task": args.task, "length": args.length, "cell": args.cell, "units": args.units,
        "metric": spec["metric"], "value": None if diverged else float(history["val_loss"][-1]),
        "baseline": spec["baseline"], "diverged": diverged,
        "steps": args.steps, "eval_every": args.eval_every, "seconds": seconds, "optimizer": args.optimizer,
        "clipping": clipping, "omega_weight": args.omega_weight,
        "spectral_radius": args.spectral_radius, "params": int(model.count_params()),
        "history": history,
    }
    _resume.finish(args.out, metrics)
    return metrics


def main(argv=None):
    _resume.main(run, build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
