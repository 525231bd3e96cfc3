"""LiteRT's `benchmark_model`, in Python: `python -m export.litert_bench model.tflite`.

Times `invoke()` of a `.tflite` file on LiteRT's CPU runtime, as `benchmark_model` does: init
time, first run, warm-up, then `--num_runs` timed runs with fixed inputs (zeros by default),
reported as p50/p90/p99, mean, standard deviation, min and max in microseconds, with the peak
memory of the process. Each configuration (every `--num_threads` value, XNNPACK on and/or off)
runs in a fresh process that imports only numpy and LiteRT, so the memory figures are the
model's and LiteRT's (see `keras_dl.export.benchmark.benchmark_tflite`). Prints a table;
`--json OUT` also writes every figure to OUT. Offline: needs only the file.

By default XNNPACK (LiteRT's default delegate) is on for dense files and off for files with
sparse tensors, whose sparse kernels XNNPACK does not run well; `--use_xnnpack` overrides it.
"""

import argparse
import json
import os
import sys

from keras_dl import _checks
from keras_dl.export import atomic
from keras_dl.export.benchmark import INPUT_FILLS
from keras_dl.export.benchmark import benchmark_tflite
from keras_dl.export.benchmark import check_model_path
from keras_dl.export.tflite import TFLiteModel

XNNPACK_CHOICES = ("auto", "true", "false", "both")


def build_parser(prog="python -m export.litert_bench"):
    parser = argparse.ArgumentParser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", nargs="?", default=None, help="the .tflite file (or --graph)")
    parser.add_argument("--graph", default=None, help="the .tflite file, as benchmark_model names it")
    parser.add_argument("--num_runs", type=int, default=1000, help="timed invoke() calls (default: 1000)")
    parser.add_argument("--warmup_runs", type=int, default=50, help="least invoke() calls before timing (default: 50)")
    parser.add_argument("--warmup_min_secs", type=float, default=0.5,
                        help="least seconds of warm-up, as benchmark_model's flag (default: 0.5)")
    parser.add_argument("--num_threads", default="1", help="CPU threads, or a comma-separated list such as 1,2")
    parser.add_argument("--use_xnnpack", default="auto", choices=XNNPACK_CHOICES,
                        help="LiteRT's default delegate: auto (on for dense files, off for sparse ones), true, "
                             "false, or both (each thread count twice)")
    parser.add_argument("--signature", default=None, help="signature key (default: the only one)")
    parser.add_argument("--input", default="zeros", choices=INPUT_FILLS,
                        help="input values: zeros, or random floats in [-1, 1) (integer inputs stay 0)")
    parser.add_argument("--seed", type=int, default=0, help="seed of --input random")
    parser.add_argument("--json", default=None, metavar="OUT", help="also write every figure to OUT (JSON)")
    return parser


def _threads(value):
    """`--num_threads` as a list of positive ints."""
    try:
        threads = [int(part) for part in str(value).split(",")]
    except ValueError:
        raise ValueError(f"`--num_threads` must be a positive int or a comma-separated list of them (1,2), "
                         f"got {value!r}.") from None
    return [_checks.positive_int("--num_threads", t) for t in threads]


def _delegate_settings(use_xnnpack):
    return {"auto": [None], "true": [True], "false": [False], "both": [False, True]}[use_xnnpack]


def _table(results):
    columns = ("threads", "xnnpack", "init ms", "first us", "p50 us", "p90 us", "p99 us", "mean us", "std us",
               "min us", "max us", "mem init/overall MB")
    rows = [(str(r["num_threads"]), "on" if r["default_delegates"] else "off", f"{r['init_ms']:.2f}",
             f"{r['first_invoke_us']:.1f}", *(f"{r[k]:.1f}" for k in ("p50_us", "p90_us", "p99_us", "mean_us",
                                                                      "std_us", "min_us", "max_us")),
             f"{r['memory_init_mb']:.2f}/{r['memory_overall_mb']:.2f}") for r in results]
    widths = [max(len(c), *(len(row[i]) for row in rows)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.rjust(w) for c, w in zip(row, widths)) for row in [columns, *rows]]
    return "\n".join([lines[0], "  ".join("-" * w for w in widths), *lines[1:]])


def run(args):
    """Benchmarks the file of `args` in every configuration asked for; returns the figures also written to `--json`."""
    if (args.model is None) == (args.graph is None):
        raise ValueError("give the .tflite file once: as the positional `model` or as `--graph`, "
                         f"got model={args.model!r}, --graph={args.graph!r}.")
    path = args.model if args.model is not None else args.graph
    _checks.positive_int("--num_runs", args.num_runs)
    _checks.non_negative_int("--warmup_runs", args.warmup_runs)
    _checks.non_negative_float("--warmup_min_secs", args.warmup_min_secs, finite=True)
    _checks.non_negative_int("--seed", args.seed)
    threads = _threads(args.num_threads)
    if args.use_xnnpack not in XNNPACK_CHOICES:
        raise ValueError(f"`--use_xnnpack` must be one of {XNNPACK_CHOICES}, got {args.use_xnnpack!r}.")
    if args.json is not None:
        if os.path.isdir(args.json):
            raise ValueError(f"`--json` must be a file path, got the directory {args.json!r}.")
        _checks.writable_directory("--json", os.path.dirname(os.path.abspath(args.json)))
    # The file is checked (and loaded once) before any progress line: a missing, misnamed or corrupt file is
    # reported on its own, not after "[1/1] ... warm-up".
    TFLiteModel(check_model_path(path), signature=args.signature)

    results = []
    configurations = [(t, d) for t in threads for d in _delegate_settings(args.use_xnnpack)]
    for index, (num_threads, delegates) in enumerate(configurations):
        setting = {None: "auto", True: "on", False: "off"}[delegates]
        print(f"[{index + 1}/{len(configurations)}] {os.path.basename(path)}: {num_threads} thread(s), "
              f"XNNPACK {setting}, {args.warmup_min_secs:g} s warm-up + {args.num_runs} runs", file=sys.stderr, flush=True)
        results.append(benchmark_tflite(path, inputs=args.input, runs=args.num_runs, warmup_runs=args.warmup_runs,
                                        warmup_seconds=args.warmup_min_secs,
                                        num_threads=num_threads, default_delegates=delegates,
                                        signature=args.signature, seed=args.seed, verbose=True))
    first = results[0]
    report = {key: first[key] for key in ("model", "size_bytes", "signature", "sparse", "op_names", "inputs",
                                          "input_fill")}
    report["results"] = [{k: v for k, v in r.items() if k not in report} for r in results]
    print(_table(results))
    if args.json is not None:
        atomic.write_text(args.json, json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.json}")
    return report


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        run(args)
    except (ValueError, TypeError, FileNotFoundError, RuntimeError) as error:
        parser.exit(2, f"{parser.prog}: error: {error}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
