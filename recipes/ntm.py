"""Neural Turing Machine on the copy and associative-recall tasks (Graves et al. 2014), against an LSTM.

Offline: the tasks are generated on the machine (`ntm_copy`, `associative_recall`, keras_dl's TFDS
builders). `--model ntm` is `keras.layers.RNN(NTMCell)` with a Dense readout of logits; `--model lstm`
is the baseline, an LSTM whose units are chosen so that it has about the NTM's parameter count (both
counts are printed and recorded). Trained with `fit` on sigmoid cross-entropy over the recall steps
only (the task's weights are `fit`'s sample weights), with gradient clipping (the paper clips each
gradient entry to [-10, 10]: `--clipvalue 10` unless another clipping flag is given).

After training it reports bits wrong per sequence (the paper's measure; 0.5 per bit is chance) on
the test split at the training lengths, at the longest training length and at `--eval-length`
(copy: 40 vectors; recall: 12 items), and writes `metrics.json`, `learning_curve.png` (bits wrong
vs training steps) and `model.keras` to `--out`. A killed run continues where it stopped when the
same command runs again.

Time: the defaults (3000 steps of 32 sequences, NTM with 100 controller units and a 64 x 20 memory,
XLA) take about 9 minutes on 2 CPU cores (0.15 s a step); `--model lstm` (119 units, the same
62k parameters) about 3.5 minutes (0.055 s a step).

NTM training is unstable (Collier & Beel 2018): with these defaults one measured run reached 3 bits wrong
per sequence on lengths 1-20 at step 2700, then fell back to chance within 100 steps (the learning
curve shows it). `metrics.json` records the best validation point next to the final one; a lower
`--learning-rate` or `--global-clipnorm` may help.
"""

import argparse
import os
import sys
import time

import keras

from keras_dl import _checks
from keras_dl.data import EMBEDDED_DATASETS
from keras_dl.data import task_dataset
from keras_dl.diagnostics import plot_learning_curves
from keras_dl.export import atomic_path
from keras_dl.layers import LSTMCell
from keras_dl.layers import NTMCell
from keras_dl.metrics import BitsWrongPerSequence

from . import _clipping
from . import _distribute
from . import _resume

TASKS = ("ntm_copy", "associative_recall")
MODELS = ("ntm", "lstm")
OPTIMIZERS = {"adam": keras.optimizers.Adam, "rmsprop": keras.optimizers.RMSprop}
# Per task: the config's names for the shortest and longest training length, and the defaults of
# --min-length, --max-length, --eval-length and --bits (Graves et al.: copy 1-20 vectors of 8 bits;
# recall 2-6 items of three 6-bit vectors).
LENGTHS = {"ntm_copy": ("min_length", "max_length", 1, 20, 40, 8),
           "associative_recall": ("min_items", "max_items", 2, 6, 12, 6)}
PAPER_CLIPPING = {"clipvalue": 10.0}


def task_config(args, low=None, high=None, num_train=None):
    """The TFDS config arguments of `--task` for lengths `low..high` (default: the training lengths)."""
    low_name, high_name = LENGTHS[args.task][:2]
    config = {low_name: args.min_length if low is None else low, high_name: args.max_length if high is None else high,
              "bits": args.bits, "num_train": num_train or args.num_train, "num_eval": args.num_eval}
    if args.task == "associative_recall":
        config["item_length"] = args.item_length
    return config


def _readout(cell, bits, channels, name):
    inputs = keras.Input((None, channels), name="inputs")
    outputs = keras.layers.RNN(cell, return_sequences=True, name="rnn")(inputs)
    return keras.Model(inputs, keras.layers.Dense(bits, name="logits")(outputs), name=name)


def ntm_model(bits, channels, units=100, memory_size=64, memory_width=20, read_heads=1, write_heads=1,
              shift_range=1):
    """`RNN(NTMCell)` and a Dense layer of `bits` logits per step, over inputs `[batch, time, channels]`."""
    cell = NTMCell(units, output_dim=bits, memory_size=memory_size, memory_width=memory_width,
                   read_heads=read_heads, write_heads=write_heads, shift_range=shift_range)
    return _readout(cell, bits, channels, "ntm")


def lstm_model(bits, channels, units):
    """The baseline: `RNN(LSTMCell(units))` and a Dense layer of `bits` logits per step."""
    return _readout(LSTMCell(units), bits, channels, "lstm")


def matched_lstm_units(params, bits, channels):
    """The LSTM units whose `lstm_model` has the parameter count closest to `params`."""
    def count(units):
        return lstm_model(bits, channels, units).count_params()

    low, high = 1, 1
    while count(high) < params:
        low, high = high, high * 2
    while high - low > 1:  # count(low) < params <= count(high)
        middle = (low + high) // 2
        low, high = (middle, high) if count(middle) < params else (low, middle)
    return min((low, high), key=lambda units: abs(count(units) - params))


def build_parser(prog="python -m recipes.ntm"):
    parser = argparse.ArgumentParser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--task", default="ntm_copy", choices=TASKS)
    parser.add_argument("--model", default="ntm", choices=MODELS, help="the NTM, or the LSTM baseline")
    parser.add_argument("--min-length", type=int, default=None,
                        help="shortest training sequence (copy: vectors, default 1; recall: items, default 2)")
    parser.add_argument("--max-length", type=int, default=None, help="longest training sequence (default 20 / 6)")
    parser.add_argument("--eval-length", type=int, default=None,
                        help="longer test length (default 40 vectors / 12 items); the NTM memory should have more rows")
    parser.add_argument("--bits", type=int, default=None, help="bits per vector (default 8 / 6)")
    parser.add_argument("--item-length", type=int, default=3, help="associative_recall: vectors per item")
    parser.add_argument("--units", type=int, default=100, help="NTM controller (LSTM) units")
    parser.add_argument("--memory-size", type=int, default=64, help="NTM memory rows")
    parser.add_argument("--memory-width", type=int, default=20, help="NTM memory row width")
    parser.add_argument("--read-heads", type=int, default=1)
    parser.add_argument("--write-heads", type=int, default=1)
    parser.add_argument("--shift-range", type=int, default=1, help="NTM head shifts -s..s")
    parser.add_argument("--lstm-units", type=int, default=None,
                        help="baseline units (default: the count that matches the NTM's parameters)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=3000, help="training steps")
    parser.add_argument("--eval-every", type=int, default=100, help="steps between validation points of the curve")
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--optimizer", default="adam", choices=sorted(OPTIMIZERS))
    parser.add_argument("--num-train", type=int, default=10000, help="training sequences (cycled)")
    parser.add_argument("--num-eval", type=int, default=500, help="validation and test sequences per length")
    parser.add_argument("--no-jit", action="store_true", help="run without XLA (about 2x slower on CPU)")
    parser.add_argument("--data-dir", default=None, help="TFDS data directory")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2), help="Keras fit verbosity (1: progress bar)")
    _clipping.add_arguments(parser)
    _distribute.add_arguments(parser)
    return parser


def _check(args):
    """Fills the task's defaults and checks every argument, before any data or model is made."""
    if args.task not in LENGTHS:
        raise ValueError(f"`--task` must be one of {TASKS}, got {args.task!r}.")
    if args.model not in MODELS:
        raise ValueError(f"`--model` must be one of {MODELS}, got {args.model!r}.")
    defaults = dict(zip(("min_length", "max_length", "eval_length", "bits"), LENGTHS[args.task][2:]))
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    for name in ("min_length", "max_length", "eval_length", "bits", "item_length", "units", "memory_size",
                 "memory_width", "read_heads", "batch_size", "steps", "eval_every", "num_train", "num_eval"):
        _checks.positive_int(f"--{name.replace('_', '-')}", getattr(args, name))
    _checks.non_negative_int("--write-heads", args.write_heads)
    _checks.non_negative_int("--shift-range", args.shift_range, below=args.memory_size)
    if args.lstm_units is not None:
        _checks.positive_int("--lstm-units", args.lstm_units)
    _checks.positive_float("--learning-rate", args.learning_rate)
    if args.min_length > args.max_length:
        raise ValueError(f"`--min-length` ({args.min_length}) must be <= `--max-length` ({args.max_length}).")
    if args.steps % args.eval_every:
        raise ValueError(f"`--steps` ({args.steps}) must be a multiple of `--eval-every` ({args.eval_every}).")
    builder = EMBEDDED_DATASETS[args.task]
    for low, high in ((None, None), (args.eval_length, args.eval_length)):
        builder.make_config(**task_config(args, low, high))  # Task limits (e.g. recall needs 2 items).


def _chance(args, low, high):
    """Bits wrong per sequence of a coin flip (half the recalled bits), for lengths uniform in `low..high`."""
    recalled = args.bits * (args.item_length if args.task == "associative_recall" else (low + high) / 2)
    return recalled / 2


def run(args):
    """Trains the model described by `args`; returns the metrics also written to `metrics.json`."""
    _check(args)
    clipping = _clipping.optimizer_options(args) or dict(PAPER_CLIPPING)
    strategy = _distribute.setup(args)
    _checks.writable_directory("--out", args.out)

    def data(split, low=None, high=None, num_train=None, **kwargs):
        return task_dataset(args.task, split, args.batch_size, data_dir=args.data_dir, seed=args.seed,
                            **kwargs, **task_config(args, low, high, num_train))

    # Seeded before the data too: a tf.data shuffle's order depends on whether a global seed is set.
    keras.utils.set_random_seed(args.seed)
    train = data("train")
    channels, bits = train.element_spec[0].shape[-1], args.bits
    # Seeded after the data: preparing a dataset the first time draws random numbers, a prepared one does not.
    keras.utils.set_random_seed(args.seed)
    ntm_params = ntm_model(bits, channels, args.units, args.memory_size, args.memory_width, args.read_heads,
                           args.write_heads, args.shift_range).count_params()
    lstm_units = args.lstm_units or matched_lstm_units(ntm_params, bits, channels)
    lstm_params = lstm_model(bits, channels, lstm_units).count_params()
    print(f"parameters: NTM {ntm_params} ({args.units} controller units, {args.memory_size} x {args.memory_width} "
          f"memory), LSTM baseline {lstm_params} ({lstm_units} units); training the {args.model.upper()}", flush=True)
    keras.utils.set_random_seed(args.seed)
    with strategy.scope():
        if args.model == "ntm":
            model = ntm_model(bits, channels, args.units, args.memory_size, args.memory_width, args.read_heads,
                              args.write_heads, args.shift_range)
        else:
            model = lstm_model(bits, channels, lstm_units)
        # Mean cross-entropy per recalled bit: the weights select the recall steps, and divide by their number.
        loss = keras.losses.BinaryCrossentropy(from_logits=True, reduction="mean_with_sample_weight")
        model.compile(OPTIMIZERS[args.optimizer](args.learning_rate, **clipping), loss,
                      weighted_metrics=[BitsWrongPerSequence()], jit_compile=not args.no_jit)
    start = time.perf_counter()
    history = _resume.resumable_fit(model, train, "train", args.out, args.steps // args.eval_every, args.eval_every,
                                    validation_data=data("validation"), shuffle=False, verbose=args.verbose)
    seconds = time.perf_counter() - start
    with atomic_path(os.path.join(args.out, "model.keras")) as tmp:
        model.save(tmp)

    low, high = args.min_length, args.max_length
    lengths = {f"{low}-{high}": (low, high), str(high): (high, high), str(args.eval_length): (args.eval_length,) * 2}
    bits_wrong, chance = {}, {}
    for label, (shortest, longest) in lengths.items():
        # num_train=1: only the test split of these configs is used.
        test = data("test", shortest, longest, num_train=1, shuffle=False, repeat=False)
        bits_wrong[label] = float(model.evaluate(test, verbose=0, return_dict=True)["bits_wrong"])
        chance[label] = _chance(args, shortest, longest)

    unit = "items" if args.task == "associative_recall" else "vectors"
    curves = {"train (mean over interval)": history.get("bits_wrong", []),
              f"validation ({low}-{high} {unit})": history.get("val_bits_wrong", [])}
    plot_learning_curves(os.path.join(args.out, "learning_curve.png"), {k: v for k, v in curves.items() if v},
                         {f"chance at {low}-{high} {unit}": chance[f"{low}-{high}"]},
                         xlabel=f"training steps / {args.eval_every}", ylabel="bits wrong per sequence",
                         title=f"{args.model.upper()} on {args.task} ({model.count_params()} parameters)")
    validation = history.get("val_bits_wrong", [])
    best = min(range(len(validation)), key=validation.__getitem__) if validation else None
    metrics = {
        "task": args.task, "model": args.model, "params": int(model.count_params()),
        "ntm_params": int(ntm_params), "lstm_params": int(lstm_params), "lstm_units": lstm_units,
        "units": args.units, "memory_size": args.memory_size, "memory_width": args.memory_width,
        "read_heads": args.read_heads, "write_heads": args.write_heads, "shift_range": args.shift_range,
        "lengths": {"min": low, "max": high, "eval": args.eval_length, "unit": unit}, "bits": bits,
        "bits_wrong_per_sequence": bits_wrong, "chance_bits_wrong_per_sequence": chance,
        # The final weights are the ones evaluated above; a run that collapsed shows it here.
        "best_validation": None if best is None else {"bits_wrong_per_sequence": validation[best],
                                                      "step": (best + 1) * args.eval_every},
        "steps": args.steps, "eval_every": args.eval_every, "batch_size": args.batch_size, "seconds": seconds,
        "optimizer": args.optimizer, "learning_rate": args.learning_rate, "clipping": clipping,
        "history": history,
    }
    _resume.finish(args.out, metrics)
    return metrics


def main(argv=None):
    _resume.main(run, build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
