"""Encoder-decoder with attention on an embedded seq2seq task: `keras-dl train seq2seq`.

Offline: the tasks are generated on this machine (`date_normalization`, `text_addition`,
`sequence_reversal`, `sequence_sorting`, keras_dl's TFDS builders). Trains `keras_dl.models.Seq2Seq`
with `fit` (teacher forcing, or `--scheduled-sampling`), stops early once the validation exact
match reaches `--target-exact-match` (teacher-forced exact match over every target token is
exactly greedy decoding's), then decodes the test split greedily and with beam search.
Writes to `--out`: `metrics.json` (exact match on the test split per decoder, epochs, seconds,
the curves), `learning_curve.png`, `attention_<i>.png` (attention maps of test examples) and
the model, `seq2seq.keras`. A killed run continues when the same command runs again.
"""

import argparse
import math
import os
import sys
import time

import keras
import numpy as np
import tensorflow as tf

from keras_dl import _checks
from keras_dl.data import decode_ids
from keras_dl.data import encode_text
from keras_dl.data import load_builder
from keras_dl.data import seq2seq_dataset
from keras_dl.diagnostics import plot_attention
from keras_dl.diagnostics import plot_learning_curves
from keras_dl.metrics import ExactMatch
from keras_dl.metrics import SequenceLoss
from keras_dl.models import ScheduledSampling
from keras_dl.models import Seq2Seq

from . import _clipping
from . import _resume

TASKS = ("date_normalization", "text_addition", "sequence_reversal", "sequence_sorting")
ATTENTIONS = ("luong", "bahdanau", "none")
SCHEDULES = ("none", "linear", "exponential", "inverse_sigmoid")


def build_parser(prog="python -m recipes.seq2seq"):
    parser = argparse.ArgumentParser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--task", default="date_normalization", choices=TASKS)
    parser.add_argument("--attention", default="luong", choices=ATTENTIONS, help="none: a plain encoder-decoder")
    parser.add_argument("--cell", default="lstm", choices=("lstm", "gru"))
    parser.add_argument("--units", type=int, default=128, help="encoder units per direction")
    parser.add_argument("--embedding-dim", type=int, default=32)
    parser.add_argument("--encoder-layers", type=int, default=1)
    parser.add_argument("--bidirectional", action="store_true")
    parser.add_argument("--reverse-source", action="store_true", help="feed the source reversed (Sutskever et al.)")
    parser.add_argument("--scheduled-sampling", default="none", choices=SCHEDULES)
    parser.add_argument("--sampling-k", type=float, default=None,
                        help="the schedule's k (linear: start 1 - c*i with c = 1/k steps; exponential: k ** i; "
                             "inverse_sigmoid: k / (k + exp(i / k)))")
    parser.add_argument("--epochs", type=int, default=30, help="most epochs")
    parser.add_argument("--target-exact-match", type=float, default=1.0,
                        help="stop once the validation exact match reaches this (1.0: never stop early)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=3e-3)
    parser.add_argument("--num-train", type=int, default=None, help="training examples (default: the task's)")
    parser.add_argument("--num-eval", type=int, default=None, help="validation and test examples each")
    parser.add_argument("--beam-width", type=int, default=4)
    parser.add_argument("--attention-maps", type=int, default=3, help="test examples drawn as attention maps")
    parser.add_argument("--data-dir", default=None, help="TFDS data directory")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2), help="Keras fit verbosity (1: progress bar)")
    _clipping.add_arguments(parser)
    return parser


def _sampling(args):
    if args.scheduled_sampling == "none":
        if args.sampling_k is not None:
            raise ValueError("`--sampling-k` needs `--scheduled-sampling`.")
        return None
    k = args.sampling_k
    if args.scheduled_sampling == "linear":
        return ScheduledSampling("linear", k=1.0, c=1.0 / _checks.positive_float("--sampling-k", k or 10000.0))
    if args.scheduled_sampling == "exponential":
        return ScheduledSampling("exponential", k=0.9995 if k is None else k)
    return ScheduledSampling("inverse_sigmoid", k=1000.0 if k is None else k)


class _StopAtExactMatch(keras.callbacks.Callback):
    """Stops training at the end of the first epoch whose validation exact match reaches `target`."""

    def __init__(self, target):
        super().__init__()
        self.target = target

    def on_epoch_end(self, epoch, logs=None):
        if (logs or {}).get("val_exact_match", 0.0) >= self.target:
            self.model.stop_training = True


def decode_split(model, dataset, vocabulary, max_length, beam_width):
    """Exact match of greedy and beam decoding over `dataset`, and the decoded strings of the first batch."""
    greedy = tf.function(lambda s: model.generate(s, max_length)["tokens"][:, 0], reduce_retracing=True)
    beam = tf.function(lambda s: model.generate(s, max_length, beam_width=beam_width)["tokens"][:, 0],
                       reduce_retracing=True)
    right = {"greedy": 0, f"beam{beam_width}": 0}
    total, first = 0, None
    for inputs, target_out in dataset:
        truth = decode_ids(target_out.numpy(), vocabulary)
        for name, decode in (("greedy", greedy), (f"beam{beam_width}", beam)):
            guesses = decode_ids(decode(inputs["source"]).numpy(), vocabulary)
            right[name] += sum(g == t for g, t in zip(guesses, truth))
            if first is None and name == "greedy":
                first = (inputs["source"].numpy(), guesses)
        total += len(truth)
    return {name: count / total for name, count in right.items()}, first


def run(args):
    """Trains the Seq2Seq described by `args`; returns the metrics also written to `metrics.json`."""
    for name in ("units", "embedding_dim", "encoder_layers", "epochs", "batch_size", "beam_width"):
        _checks.positive_int(f"--{name.replace('_', '-')}", getattr(args, name))
    _checks.non_negative_int("--attention-maps", args.attention_maps)
    _checks.positive_float("--learning-rate", args.learning_rate)
    if not 0.0 < args.target_exact_match <= 1.0:
        raise ValueError(f"`--target-exact-match` must be in (0, 1], got {args.target_exact_match}.")
    if args.attention == "none" and args.attention_maps:
        args.attention_maps = 0  # nothing to draw
    sampling = _sampling(args)
    clipping = _clipping.optimizer_options(args)
    config = {k: v for k, v in (("num_train", args.num_train), ("num_eval", args.num_eval)) if v is not None}
    for name, value in config.items():
        _checks.positive_int(f"--{name.replace('_', '-')}", value)
    _checks.writable_directory("--out", args.out)

    builder = load_builder(args.task, args.data_dir, **config)
    vocabulary = builder.vocabulary
    num_train = builder.info.splits["train"].num_examples
    steps_per_epoch = math.ceil(num_train / args.batch_size)

    def data(split, **kwargs):
        return seq2seq_dataset(args.task, split, args.batch_size, data_dir=args.data_dir, **config, **kwargs)

    keras.utils.set_random_seed(args.seed)
    model = Seq2Seq(vocabulary.vocabulary_size, vocabulary.vocabulary_size, embedding_dim=args.embedding_dim,
                    units=args.units, encoder_layers=args.encoder_layers, bidirectional=args.bidirectional,
                    cell=args.cell, attention=None if args.attention == "none" else args.attention,
                    reverse_source=args.reverse_source, scheduled_sampling=sampling,
                    start_token=vocabulary.start_id, end_token=vocabulary.end_id, seed=args.seed)
    model.build()  # BackupAndRestore needs the weights before fit.
    model.compile(keras.optimizers.Adam(args.learning_rate, **clipping), SequenceLoss(),
                  metrics=[ExactMatch(padding_token=vocabulary.padding_id)])
    start = time.perf_counter()
    history = _resume.resumable_fit(model, data("train", shuffle=True, repeat=True, seed=args.seed), "train",
                                    args.out, args.epochs, steps_per_epoch, validation_data=data("validation"),
                                    callbacks=[_StopAtExactMatch(args.target_exact_match)], shuffle=False,
                                    verbose=args.verbose)
    seconds = time.perf_counter() - start
    max_length = max(int(t.shape[1]) for _, t in data("test")) + 2
    exact, (sources, guesses) = decode_split(model, data("test"), vocabulary, max_length, args.beam_width)

    plot_learning_curves(os.path.join(args.out, "learning_curve.png"),
                         {"train exact match (teacher forcing)": history["exact_match"],
                          "validation exact match (= greedy)": history["val_exact_match"]},
                         ylabel="exact match", title=f"{args.task}: attention={args.attention}")
    for i in range(min(args.attention_maps, len(guesses))):
        source = decode_ids(sources[i], vocabulary)
        output = list(guesses[i]) + ["<end>"]
        tokens = encode_text([guesses[i]], vocabulary, add_end=True)
        maps = np.asarray(model.attention_maps(sources[i:i + 1], tokens))[0][:, :len(source)]
        plot_attention(os.path.join(args.out, f"attention_{i}.png"), maps, list(source), output,
                       title=f"{source!r} -> {guesses[i]!r}")
    model.save(os.path.join(args.out, "seq2seq.keras"))
    metrics = {
        "task": args.task, "attention": args.attention, "cell": args.cell, "units": args.units,
        "bidirectional": args.bidirectional, "reverse_source": args.reverse_source,
        "scheduled_sampling": None if sampling is None else sampling.get_config(),
        "exact_match": exact, "epochs": len(history["loss"]), "seconds": seconds, "num_train": num_train,
        "params": int(model.count_params()), "history": history,
    }
    _resume.finish(args.out, metrics)
    return metrics


def main(argv=None):
    _resume.main(run, build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
