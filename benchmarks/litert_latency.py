"""The README's LiteRT step latencies, re-measured with `litert_bench` next to the method that made them.

    python -m benchmarks.litert_latency [--quick] [--out litert_latency_out] [--rounds 5]

For every step file behind a latency figure of the README (the `keras-dl demo` table and the
sparse-RNN table: GRU language models' step models at 128, 256, 384 and 1024 units, dense float32,
dense and 90%-block-sparse int8, sparse float32), a file of the same size and sparsity pattern is
exported from random weights (timing depends on the shapes and the sparsity, not on the values),
then timed two ways in interleaved rounds, 1 thread, batch 1, zero inputs:

- `TFLiteModel.median_latency` (in this process), the method behind the README's figures;
- `keras_dl.export.benchmark_tflite` (`keras-dl deploy litert_bench`), in a fresh process that
  imports only LiteRT, with p90/p99, init time and peak memory.

The ratio of the two says whether `litert_bench` reproduces the README's method; the README's own
figure is listed beside them. Writes `litert_latency.json`. `--quick` times two small files briefly.
"""

import argparse
import json
import os
import statistics
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from keras_dl import _checks  # noqa: E402
from keras_dl.export import TFLiteModel  # noqa: E402
from keras_dl.export import benchmark_tflite  # noqa: E402
from keras_dl.export import export_lm_tflite  # noqa: E402
from keras_dl.export import write_text  # noqa: E402
from keras_dl.models import RNNLanguageModel  # noqa: E402
from keras_dl.sparsity import LITERT_FLOAT_BLOCK  # noqa: E402
from keras_dl.sparsity import LITERT_INT8_BLOCK  # noqa: E402
from keras_dl.sparsity.masks import magnitude_mask  # noqa: E402

# name, units, sparsity, quantization, block, head pruned, XNNPACK (None: TFLiteModel's default), README us, row
ROWS = [
    ("demo256_step", 256, 0.0, "float32", None, False, None, 26.5, "demo: GRU-256 dense float32"),
    ("demo256_sparse_step", 256, 0.9, "dynamic_int8", LITERT_INT8_BLOCK, False, None, 9.6,
     "demo: GRU-256 90% sparse int8 copy"),
    ("demo128_step", 128, 0.0, "float32", None, False, None, 10.3, "demo --quick: GRU-128 dense float32"),
    ("demo128_sparse_step", 128, 0.9, "dynamic_int8", LITERT_INT8_BLOCK, False, None, 6.6,
     "demo --quick: GRU-128 90% sparse int8 copy"),
    ("dense1024_float32", 1024, 0.0, "float32", None, False, True, 330.3, "sparse_rnn: dense float32, 1024"),
    ("dense1024_dynamic_int8", 1024, 0.0, "dynamic_int8", None, False, False, 36.8, "sparse_rnn: dense int8, 1024"),
    ("sparse1024_float32", 1024, 0.9, "float32", LITERT_FLOAT_BLOCK, True, False, 113.2,
     "sparse_rnn: 90% sparse float32 (1x4), 1024"),
    ("sparse1024_dynamic_int8", 1024, 0.9, "dynamic_int8", LITERT_INT8_BLOCK, True, False, 16.4,
     "sparse_rnn: 90% sparse int8 (1x16), 1024"),
    ("dense384_dynamic_int8", 384, 0.0, "dynamic_int8", None, False, False, 15.9,
     "sparse_rnn: equal-latency dense int8, 384"),
]
QUICK_ROWS = ("demo128_step", "demo128_sparse_step")


def step_file(directory, name, units, sparsity, quantization, block, head, seed=0):
    """Exports an `RNNLanguageModel` step model with random weights, the GRU (and head) pruned in `block`s."""
    model = RNNLanguageModel(units=units, embedding_dim=64)
    model.build((None, None))
    rng = np.random.default_rng(seed)
    for weight in model.weights:
        weight.assign(rng.normal(0.0, 0.1, weight.shape).astype("float32"))
    if sparsity:
        cell = model.rnn.cell
        for kernel in (cell.kernel, cell.recurrent_kernel):
            kernel.assign(kernel * magnitude_mask(kernel, sparsity, block, groups=3))
        if head:
            model.head.kernel.assign(model.head.kernel * magnitude_mask(model.head.kernel, sparsity, block))
    return export_lm_tflite(model, os.path.join(directory, f"{name}.tflite"), quantization=quantization,
                            sparse=bool(sparsity))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="two small files, few runs (a smoke run, not figures)")
    parser.add_argument("--out", default="litert_latency_out", help="output directory")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default: 5)")
    parser.add_argument("--runs", type=int, default=2000, help="timed invoke()s per measurement (default: 2000)")
    args = parser.parse_args(argv)
    rounds, runs = _checks.positive_int("--rounds", args.rounds), _checks.positive_int("--runs", args.runs)
    if args.quick:
        rounds, runs = 2, 200
    _checks.writable_directory("--out", args.out)
    rows = [row for row in ROWS if not args.quick or row[0] in QUICK_ROWS]
    files = {}
    for name, units, sparsity, quantization, block, head, *_ in rows:
        files[name] = step_file(args.out, name, units, sparsity, quantization, block, head)
        print(f"exported {files[name]} ({os.path.getsize(files[name]):,} bytes)", flush=True)
    method = {row[0]: [] for row in rows}
    bench = {row[0]: [] for row in rows}
    last = {}
    for r in range(rounds):  # interleaved: a slow spell of the machine hits every file and both methods
        for name, *_, xnnpack, _, _ in rows:
            runner = TFLiteModel(files[name], num_threads=1, default_delegates=xnnpack)
            method[name].append(runner.median_latency(runner.zero_inputs(), runs=runs) * 1e6)
            last[name] = benchmark_tflite(files[name], runs=runs, num_threads=1, default_delegates=xnnpack)
            bench[name].append(last[name]["p50_us"])
        print(f"round {r + 1}/{rounds}", flush=True)
    result = {"mode": "quick" if args.quick else "full", "rounds": rounds, "runs": runs, "rows": []}
    for name, units, sparsity, quantization, _, _, _, readme, label in rows:
        m, b = statistics.median(method[name]), statistics.median(bench[name])
        details = last[name]
        result["rows"].append({
            "row": label, "file": os.path.basename(files[name]), "size_bytes": details["size_bytes"],
            "units": units, "sparsity": sparsity, "quantization": quantization,
            "xnnpack": details["default_delegates"], "readme_us": readme,
            "median_latency_us": m, "litert_bench_p50_us": b, "ratio": b / m,
            "median_latency_rounds_us": method[name], "litert_bench_rounds_us": bench[name],
            **{key: details[key] for key in ("p90_us", "p99_us", "init_ms", "memory_init_mb", "memory_overall_mb",
                                             "tensorflow_imported")},
        })
    write_text(os.path.join(args.out, "litert_latency.json"), json.dumps(result, indent=2))
    print(f"\n{'row':<46} {'README':>7} {'median_latency':>14} {'litert_bench p50':>16} {'ratio':>6} "
          f"{'p99':>7} {'init ms':>7} {'MB':>5}")
    for row in result["rows"]:
        print(f"{row['row']:<46} {row['readme_us']:>7} {row['median_latency_us']:>14.1f} "
              f"{row['litert_bench_p50_us']:>16.1f} {row['ratio']:>6.2f} {row['p99_us']:>7.1f} "
              f"{row['init_ms']:>7.2f} {row['memory_overall_mb']:>5.1f}")
    print(f"wrote {args.out}/litert_latency.json")
    return result


if __name__ == "__main__":
    sys.exit(main() and 0)
