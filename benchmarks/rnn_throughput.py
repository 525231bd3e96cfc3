"""Training and inference throughput of LSTM/GRU layers: keras_dl vs keras.layers vs torch.nn, on CPU.

    python -m benchmarks.rnn_throughput [--quick] [--threads N] [--out rnn_throughput.json]

Every implementation runs the same work (batch B of sequences of length T with D
features, H units, a mean-squared loss on every step's output, Adam) in one process.
Implementations are measured in interleaved rounds, so drift of a noisy machine hits
them alike, and each figure is the median over rounds. Needs the `bench` extra (torch).
"""

import argparse
import json
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import torch  # noqa: E402

from keras_dl.export import write_text  # noqa: E402
from keras_dl.layers import GRU  # noqa: E402
from keras_dl.layers import LSTM  # noqa: E402

LAYERS = {"lstm": (LSTM, keras.layers.LSTM, torch.nn.LSTM), "gru": (GRU, keras.layers.GRU, torch.nn.GRU)}


def keras_runner(layer_cls, shape, jit):
    batch, steps, features, units = shape
    model = keras.Sequential([keras.Input((steps, features)), layer_cls(units, return_sequences=True)])
    model.compile(keras.optimizers.Adam(1e-3), "mse", jit_compile=jit)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch, steps, features)).astype(np.float32)
    y = rng.normal(size=(batch, steps, units)).astype(np.float32)
    return {"train": lambda: model.train_on_batch(x, y), "infer": lambda: model.predict_on_batch(x)}


def torch_runner(layer_cls, shape):
    batch, steps, features, units = shape
    layer = layer_cls(features, units, batch_first=True)
    optimizer = torch.optim.Adam(layer.parameters(), 1e-3)
    x, y = torch.randn(batch, steps, features), torch.randn(batch, steps, units)

    def train():
        optimizer.zero_grad()
        loss = ((layer(x)[0] - y) ** 2).mean()
        loss.backward()
        optimizer.step()

    def infer():
        with torch.no_grad():
            layer(x)

    return {"train": train, "infer": infer}


def measure(runners, batch, rounds, steps_per_round):
    """Median sequences/s per (implementation, mode) over interleaved rounds."""
    for run in runners.values():  # Warm-up: tracing, XLA compilation, allocator.
        for fn in run.values():
            fn()
            fn()
    samples = {(name, mode): [] for name, run in runners.items() for mode in run}
    for round_index in range(rounds):
        for (name, mode) in samples:
            fn = runners[name][mode]
            start = time.perf_counter()
            for _ in range(steps_per_round):
                fn()
            samples[(name, mode)].append(batch * steps_per_round / (time.perf_counter() - start))
        print(f"  round {round_index + 1}/{rounds} done", flush=True)
    return {key: statistics.median(values) for key, values in samples.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small shapes and few rounds (a smoke run, not figures)")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="CPU threads for TensorFlow and torch alike")
    parser.add_argument("--out", default="rnn_throughput.json")
    args = parser.parse_args(argv)
    if args.threads < 1:
        parser.error(f"--threads must be >= 1, got {args.threads}")
    # Before any TensorFlow op runs: thread pools are fixed at first use.
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    torch.set_num_threads(args.threads)
    shape = (8, 20, 16, 32) if args.quick else (64, 100, 64, 256)
    rounds, steps_per_round = (2, 2) if args.quick else (5, 4)

    rows, ratios = [], {}
    for cell, (ours, theirs, peer) in LAYERS.items():
        print(f"{cell}: B, T, D, H = {shape}", flush=True)
        runners = {
            "keras_dl (jit)": keras_runner(ours, shape, jit=True),
            "keras_dl": keras_runner(ours, shape, jit=False),
            "keras.layers": keras_runner(theirs, shape, jit=False),
            "keras.layers (jit)": keras_runner(theirs, shape, jit=True),
            "torch.nn": torch_runner(peer, shape),
        }
        speeds = measure(runners, shape[0], rounds, steps_per_round)
        rows += [{"cell": cell, "implementation": name, "mode": mode, "sequences_per_second": value}
                 for (name, mode), value in speeds.items()]
        for mode in ("train", "infer"):
            best_ours = max(speeds[("keras_dl (jit)", mode)], speeds[("keras_dl", mode)])
            best_keras = max(speeds[("keras.layers", mode)], speeds[("keras.layers (jit)", mode)])
            ratios[f"{cell}_{mode}"] = {
                "keras_dl_over_keras": best_ours / best_keras,
                "keras_dl_over_torch": best_ours / speeds[("torch.nn", mode)],
            }

    print(f"\n{'cell':5} {'mode':6} {'implementation':20} {'seq/s':>9}")
    for row in rows:
        print(f"{row['cell']:5} {row['mode']:6} {row['implementation']:20} {row['sequences_per_second']:9.1f}")
    print("\nratios (best keras_dl config over best keras.layers config, and over torch.nn):")
    for key, value in ratios.items():
        print(f"  {key:12} over keras {value['keras_dl_over_keras']:.2f}x   over torch {value['keras_dl_over_torch']:.2f}x")
    result = {"shape": dict(zip(("batch", "time", "features", "units"), shape)), "threads": args.threads,
              "rounds": rounds, "steps_per_round": steps_per_round, "quick": args.quick, "rows": rows, "ratios": ratios}
    write_text(args.out, json.dumps(result, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
