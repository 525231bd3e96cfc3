"""Long-term dependency table: each cell trained on each task and length, next to the trivial baselines.

    python -m benchmarks.long_term_table [--quick] [--out DIR]

Every run is `recipes.long_term` with the grid's settings (the same budget for every cell of a
task). Writes `long_term_table.json` (rows `{task, length, cell, metric, value, baseline, steps,
seconds}`), `long_term_table.md`, one learning-curve PNG per task and length with every cell,
and `exploding.png`: an Elman RNN started at spectral radius 2 and trained with plain SGD,
without clipping (the loss explodes) and with `clipnorm=1` (it trains), in one plot.
"""

import argparse
import json
import math
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from keras_dl.diagnostics import plot_log_curves  # noqa: E402
from keras_dl.export import write_text  # noqa: E402
from recipes import long_term  # noqa: E402

# (task, length, cells, recipe flags). The full grid is the classic one (Le et al. 2015 for the
# adding problem at T=200; Arjovsky et al. 2016 for copy memory at T=100), on a CPU budget.
# 1500 steps per run keeps the whole grid near 45 minutes on this project's 2-core machine.
FULL = [
    ("adding_problem", 200, long_term.CELLS,
     ["--units", "128", "--steps", "1500", "--eval-every", "100", "--learning-rate", "1e-3", "--batch-size", "50"]),
    ("copy_memory", 100, long_term.CELLS,
     ["--units", "128", "--steps", "1500", "--eval-every", "100", "--learning-rate", "1e-3", "--batch-size", "50"]),
]
QUICK = [
    ("adding_problem", 50, ("elman", "irnn", "lstm", "gru", "orthogonal"),
     ["--units", "32", "--steps", "600", "--eval-every", "100", "--learning-rate", "5e-3", "--num-train", "5000",
      "--num-eval", "500"]),
]
EXPLODING = ["--task", "adding_problem", "--length", "50", "--cell", "elman", "--spectral-radius", "2", "--optimizer",
             "sgd", "--learning-rate", "0.05", "--units", "32", "--num-train", "5000", "--num-eval", "500"]


def _run(out, flags):
    return long_term.run(long_term.build_parser().parse_args(["--out", out, "--verbose", "0"] + flags))


def markdown(rows):
    lines = ["| task | T | cell | metric | value | baseline | value / baseline | steps | seconds |", "|" + "---|" * 9]
    for row in rows:
        value = "diverged" if row["value"] is None else f"{row['value']:.4f}"
        ratio = "" if row["value"] is None else f"{row['value'] / row['baseline']:.3f}"
        lines.append(f"| {row['task']} | {row['length']} | {row['cell']} | {row['metric']} | {value} | "
                     f"{row['baseline']:.4f} | {ratio} | {row['steps']} | {row['seconds']:.0f} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="adding problem at T=50, five cells (runs in CI)")
    parser.add_argument("--out", default="long_term_out", help="output directory")
    args = parser.parse_args(argv)
    rows = []
    for task, length, cells, flags in QUICK if args.quick else FULL:
        curves = {}
        for cell in cells:
            print(f"{task} T={length}: {cell}", flush=True)
            metrics = _run(os.path.join(args.out, f"{task}_{length}_{cell}"),
                           ["--task", task, "--length", str(length), "--cell", cell] + flags)
            rows.append({key: metrics[key] for key in ("task", "length", "cell", "metric", "value", "baseline", "steps",
                                                       "seconds")})
            validation = metrics["history"].get("val_loss", [])
            curves[cell] = ([metrics["eval_every"] * (i + 1) for i in range(len(validation))], validation)
        plot_log_curves(os.path.join(args.out, f"{task}_{length}.png"), curves,
                        {"trivial baseline": rows[-1]["baseline"]}, "training step", rows[-1]["metric"],
                        f"{task}, T={length}: validation loss")

    exploding, exploding_curves = {}, {}
    for name, clip in (("no clipping", []), ("clipnorm=1", ["--clipnorm", "1"])):
        print(f"exploding gradients: {name}", flush=True)
        metrics = _run(os.path.join(args.out, f"exploding_{'clipped' if clip else 'plain'}"),
                       EXPLODING + ["--steps", "300", "--eval-every", "10"] + clip)
        losses = [v if math.isfinite(v) else None for v in metrics["history"]["loss"]]
        exploding[name] = {"diverged": metrics["diverged"], "final_validation": metrics["value"], "train_loss": losses}
        finite = [(10 * (i + 1), v) for i, v in enumerate(losses) if v is not None]
        note = "diverged: loss inf/NaN" if metrics["diverged"] else f"final validation {metrics['value']:.3f}"
        exploding_curves[f"{name} ({note})"] = tuple(zip(*finite))
    plot_log_curves(os.path.join(args.out, "exploding.png"), exploding_curves, {"trivial baseline": 1.0 / 6.0},
                    "training step", "MSE (log scale)", "Elman RNN, spectral radius 2, SGD: training loss")

    table = markdown(rows)
    print("\n" + table)
    write_text(os.path.join(args.out, "long_term_table.md"), table)
    write_text(os.path.join(args.out, "long_term_table.json"),
               json.dumps({"quick": args.quick, "rows": rows, "exploding": exploding}, indent=2))
    print(f"wrote {args.out}/long_term_table.json, long_term_table.md and PNGs")
    return rows, exploding


if __name__ == "__main__":
    main()
