"""Seq2seq tasks table: the attention Seq2Seq next to the plain encoder-decoder, greedy and beam decoding.

    python -m benchmarks.seq2seq_tasks [--quick] [--out DIR]

Every run is `recipes.seq2seq`. The attention model trains until its validation exact match
reaches 99% (at most 30 epochs; teacher-forced exact match over every token equals greedy
decoding's); the plain encoder-decoder then trains for the same number of epochs. Exact match
is measured on the held-out test split, greedy and with beam search (width 4). Writes
`seq2seq_tasks.json` (rows `{task, model, decoder, exact_match, epochs, seconds}`) and
`seq2seq_tasks.md`.

The addition task is keras-io's `addition_rnn` set-up: 50,000 unique 3-digit questions (45,000
train, 2,500 validation, 2,500 test); its LSTM needs about 100 epochs for 99%.
"""

import argparse
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from keras_dl.export import write_text  # noqa: E402
from recipes import seq2seq  # noqa: E402

COMMON = ["--units", "128", "--embedding-dim", "32", "--batch-size", "128", "--beam-width", "4"]
FULL = [("date_normalization", COMMON + ["--epochs", "30"]),
        ("text_addition", COMMON + ["--epochs", "30"])]
QUICK = [("sequence_reversal", ["--units", "32", "--embedding-dim", "16", "--batch-size", "64", "--epochs", "3",
                                "--num-train", "2000", "--num-eval", "200", "--beam-width", "4"])]


def _run(out, flags):
    return seq2seq.run(seq2seq.build_parser().parse_args(["--out", out, "--verbose", "0"] + flags))


def markdown(rows):
    lines = ["| task | model | decoder | exact match | epochs | seconds |", "|" + "---|" * 6]
    for row in rows:
        lines.append(f"| {row['task']} | {row['model']} | {row['decoder']} | {100 * row['exact_match']:.2f}% | "
                     f"{row['epochs']} | {row['seconds']:.0f} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="sequence reversal, tiny (runs in CI)")
    parser.add_argument("--out", default="seq2seq_tasks_out", help="output directory")
    args = parser.parse_args(argv)
    rows = []
    for task, flags in QUICK if args.quick else FULL:
        epochs = None
        for model in ("luong", "none"):
            print(f"{task}: attention={model}", flush=True)
            run_flags = ["--task", task, "--attention", model] + flags
            if epochs is not None:  # the plain model: the attention model's epochs, no early stop
                run_flags += ["--epochs", str(epochs)]
            else:
                run_flags += ["--target-exact-match", "0.99"]
            metrics = _run(os.path.join(args.out, f"{task}_{model}"), run_flags)
            epochs = metrics["epochs"]
            name = "attention Seq2Seq (Luong)" if model == "luong" else "encoder-decoder, no attention"
            for decoder, value in metrics["exact_match"].items():
                rows.append({"task": task, "model": name, "decoder": decoder, "exact_match": value,
                             "epochs": metrics["epochs"], "seconds": metrics["seconds"],
                             "params": metrics["params"]})
    table = markdown(rows)
    print("\n" + table)
    write_text(os.path.join(args.out, "seq2seq_tasks.md"), table)
    write_text(os.path.join(args.out, "seq2seq_tasks.json"), json.dumps({"quick": args.quick, "rows": rows}, indent=2))
    print(f"wrote {args.out}/seq2seq_tasks.json and seq2seq_tasks.md")
    return rows


if __name__ == "__main__":
    main()
