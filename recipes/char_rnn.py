"""Byte-level GRU language model (char-RNN) on an embedded corpus, trained with `fit`.

Offline by default: trains on `python_source`, the standard library's source of the
running interpreter. `--dataset tfds:NAME` uses a TFDS text dataset instead.
Writes `model.keras`, `metrics.json` (bits per character on the whole validation
split next to the unigram baseline), `learning_curve.png` and `samples.txt` to `--out`.
With `--prune-to S` it then prunes the trained GRU to sparsity S in LiteRT's int8 blocks
while fine-tuning for `--prune-steps` more steps (Zhu & Gupta's ramp over the first 3/4),
and writes the stripped result as `sparse_model.keras`.
"""

import argparse
import os
import sys
import time

import keras
import numpy as np

from keras_dl import _checks
from keras_dl.data import corpus_byte_counts
from keras_dl.data import lm_dataset
from keras_dl.decoding import generate
from keras_dl.diagnostics import plot_learning_curves
from keras_dl.export import atomic_path
from keras_dl.export import write_text
from keras_dl.metrics import BitsPerCharacter
from keras_dl.metrics import unigram_bits_per_character
from keras_dl.models import RNNLanguageModel
from keras_dl.sparsity import LITERT_INT8_BLOCK
from keras_dl.sparsity import PolynomialDecay
from keras_dl.sparsity import prune_low_magnitude
from keras_dl.sparsity import sparsity_report
from keras_dl.sparsity import strip_pruning

from . import _clipping
from . import _distribute
from . import _resume

PROMPT = b"def "
TEMPERATURES = (0.5, 1.0)


def build_parser(prog="python -m recipes.char_rnn"):
    parser = argparse.ArgumentParser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--dataset", default="python_source", help="python_source (embedded) or tfds:NAME")
    parser.add_argument("--data-dir", default=None, help="TFDS data directory")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--steps-per-epoch", type=int, default=100)
    parser.add_argument("--validation-steps", type=int, default=20,
                        help="validation batches after each epoch, for the learning curve; the reported "
                        "val_bpc is always measured on the whole validation split")
    parser.add_argument("--hidden", type=int, default=256, help="GRU units")
    parser.add_argument("--embedding", type=int, default=64, help="byte embedding size")
    parser.add_argument("--seq-len", type=int, default=100, help="training window in bytes (truncated BPTT length)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=3e-3)
    parser.add_argument("--sample-length", type=int, default=300, help="bytes per text sample")
    parser.add_argument("--prune-to", type=float, default=None, help="after training, prune the GRU to this sparsity")
    parser.add_argument("--prune-steps", type=int, default=300, help="fine-tuning steps while pruning")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2), help="Keras fit verbosity (1: progress bar)")
    _clipping.add_arguments(parser)
    _distribute.add_arguments(parser)
    return parser


def _compile(model, learning_rate=None, clipping=None):
    """Byte-level LM loss and bits-per-character metric; Adam (with `clipping` options) when the model is to be trained."""
    optimizer = {"optimizer": keras.optimizers.Adam(learning_rate, **(clipping or {}))} if learning_rate else {}
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=[BitsPerCharacter()],
                  **optimizer)


def run(args):
    """Trains the model described by `args`; returns the metrics also written to `metrics.json`."""
    for name in ("epochs", "steps_per_epoch", "hidden", "embedding", "seq_len", "batch_size", "sample_length",
                 "validation_steps", "prune_steps"):
        _checks.positive_int(f"--{name.replace('_', '-')}", getattr(args, name))
    _checks.positive_float("--learning-rate", args.learning_rate)
    if args.prune_to is not None:
        _checks.non_negative_float("--prune-to", args.prune_to, below=1.0)
        for name in ("embedding", "hidden"):  # Rows of the GRU's matrices, pruned in LiteRT's int8 blocks.
            if getattr(args, name) % LITERT_INT8_BLOCK[0]:
                raise ValueError(f"--prune-to prunes the GRU in {LITERT_INT8_BLOCK} blocks, so --{name} must be a "
                                 f"multiple of {LITERT_INT8_BLOCK[0]}, got {getattr(args, name)}.")
    clipping = _clipping.optimizer_options(args)
    strategy = _distribute.setup(args)
    _checks.writable_directory("--out", args.out)

    data = dict(dataset=args.dataset, data_dir=args.data_dir)

    def train():
        # A new dataset per training phase: a seeded shuffle that reshuffles each pass orders a dataset's
        # later iterators by how many came before, which a resumed run would not repeat.
        return lm_dataset("train", args.seq_len, args.batch_size, seed=args.seed, **data)

    # One fixed random order: the first --validation-steps batches are a stable, representative subset.
    validation = lm_dataset("validation", args.seq_len, args.batch_size, shuffle=True, seed=args.seed,
                            reshuffle_each_iteration=False, **data)

    # Seeded after the data: preparing a dataset the first time draws random numbers, a prepared one does not.
    keras.utils.set_random_seed(args.seed)
    with strategy.scope():
        model = RNNLanguageModel(vocabulary_size=256, embedding_dim=args.embedding, units=args.hidden)
        model.build((None, None))  # BackupAndRestore needs the weights before fit.
        _compile(model, args.learning_rate, clipping)
    start = time.perf_counter()
    # A killed run continues from its last finished epoch when the same command runs again.
    history = _resume.resumable_fit(
        model, train(), "train", args.out, args.epochs, args.steps_per_epoch,
        # The same batches every epoch, so the curve's points are comparable.
        validation_data=validation.take(args.validation_steps),
        shuffle=False,  # lm_dataset already shuffles; Keras cannot shuffle a tf.data pipeline.
        verbose=args.verbose,
    )
    train_seconds = time.perf_counter() - start
    with atomic_path(os.path.join(args.out, "model.keras")) as tmp:
        model.save(tmp)

    # The whole split in its stored order, so the figure is the same in a resumed run.
    whole_validation = lm_dataset("validation", args.seq_len, args.batch_size, **data)
    val_bpc = model.evaluate(whole_validation, verbose=0, return_dict=True)["bpc"]
    unigram_bpc = unigram_bits_per_character(
        corpus_byte_counts("train", **data), corpus_byte_counts("validation", **data)
    )
    curves = {"train (epoch mean)": history["bpc"], "validation": history["val_bpc"]}
    plot_learning_curves(os.path.join(args.out, "learning_curve.png"), curves, {"unigram baseline": unigram_bpc},
                         ylabel="bits per character", title=f"char GRU-{args.hidden} on {args.dataset}")
    step = model.step_model()
    samples = []
    for temperature in TEMPERATURES:
        tokens = generate(step, np.zeros((1, args.hidden), np.float32), list(PROMPT), args.sample_length,
                          temperature=temperature, seed=args.seed)
        samples.append(f"--- temperature {temperature} ---\n{(PROMPT + bytes(tokens)).decode('utf-8', 'replace')}\n")
    write_text(os.path.join(args.out, "samples.txt"), "\n".join(samples))

    metrics = {
        "dataset": args.dataset,
        "val_bpc": float(val_bpc),
        "train_bpc": float(history["bpc"][-1]),
        "unigram_bpc": unigram_bpc,
        "epochs": args.epochs,
        "steps": args.epochs * args.steps_per_epoch,
        "batch_size": args.batch_size,
        "seq_len": args.seq_len,
        "hidden": args.hidden,
        "params": int(model.count_params()),
        "clipping": clipping,
        "train_seconds": train_seconds,
        "train_bytes_per_second": args.epochs * args.steps_per_epoch * args.batch_size * args.seq_len / train_seconds,
        "history": history,
    }
    # Written before pruning, so a failure there loses nothing computed so far.
    _resume.write_metrics(args.out, metrics)
    if args.prune_to is not None:
        metrics["sparse"] = prune_and_finetune(model, train(), whole_validation, args, strategy)
    _resume.finish(args.out, metrics)
    return metrics


def prune_and_finetune(model, train, validation, args, strategy):
    """Prunes the trained GRU gradually while training on; saves the stripped model; returns its metrics."""
    ramp = max(1, args.prune_steps * 3 // 4)
    schedule = PolynomialDecay(0.0, args.prune_to, begin_step=0, end_step=ramp, frequency=max(1, ramp // 20))
    with strategy.scope():  # The masks are variables of the distributed model.
        prune_low_magnitude(model, schedule, block_size=LITERT_INT8_BLOCK, layers=[model.rnn])
        # The compiled train step captured the weights' constraints when it was traced: compile again.
        _compile(model, args.learning_rate / 3, _clipping.optimizer_options(args))
    # Four backups along the ramp when the steps split evenly, so a killed run loses at most a quarter.
    chunks = 4 if args.prune_steps % 4 == 0 else 1
    _resume.resumable_fit(model, train, "prune", args.out, chunks, args.prune_steps // chunks, shuffle=False,
                          verbose=args.verbose)
    sparse = strip_pruning(model)
    with atomic_path(os.path.join(args.out, "sparse_model.keras")) as tmp:
        sparse.save(tmp)  # Before compiling: a compile without an optimizer would save Keras' default one.
    _compile(sparse)
    report = {row["weight"].split("/", 1)[1]: row["sparsity"] for row in sparsity_report(sparse)}
    return {"val_bpc": float(sparse.evaluate(validation, verbose=0, return_dict=True)["bpc"]),
            "prune_steps": args.prune_steps, "target_sparsity": args.prune_to, "sparsity": report}


def main(argv=None):
    _resume.main(run, build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
