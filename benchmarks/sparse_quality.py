"""Does a large sparse GRU beat the dense GRU of equal LiteRT latency? WaveRNN's claim, at this machine's scale.

    python -m benchmarks.sparse_quality [--quick] [--out DIR] [--seeds 3] [--gate-sparsities 0.95,0.95,0.8]

For each seed, three byte-level GRU language models train from scratch on the same `python_source`
batches (`--steps` steps of `--batch-size` x `--seq-len` bytes, Adam) and are validated on the same
windows every `--eval-every` steps (the learning curves):
  - sparse: GRU-`--units` whose GRU matrices (gate by gate) and output layer are pruned to `--sparsity`
    in LiteRT's int8 blocks (16x1 in Keras axes), along Zhu & Gupta's ramp from 10% to 75% of
    training; `--gate-sparsities z,r,h` gives the GRU's gates their own targets (LPCNet: 0.95,0.95,0.8);
  - dense: GRU-`--units`, dense;
  - equal-latency dense: the largest GRU (a multiple of 32) whose dense int8 step file is no slower
    than the sparse int8 step file, found by timing random-weight exports side by side (the width sweep).

Each trained model is exported as shipped (dynamic int8; the sparse one with sparse tensors) and
measured on its `.tflite` step file: bits per character streamed over the first `--eval-bytes` bytes
of the validation split, median step latency over interleaved rounds (1 thread, batch 1), file size.
The width sweep times random-weight sparse int8 step files of 256 to 1024 units and dense int8 ones
of 32 to 1024 units in the same interleaved rounds, to show where the sparse step starts to pay.
Writes `sparse_quality.json`, `.md` and `.png` (learning curves) to `--out`. Training is checkpointed
per epoch of `--eval-every` steps: run the same command again after a crash and it continues.
"""

import argparse
import json
import math
import os
import shutil
import statistics

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

from benchmarks.litert_latency import step_file  # noqa: E402
from benchmarks.sparse_rnn import EMBEDDING  # noqa: E402
from benchmarks.sparse_rnn import LEARNING_RATE  # noqa: E402
from benchmarks.sparse_rnn import add_config_flags  # noqa: E402
from benchmarks.sparse_rnn import cached  # noqa: E402
from benchmarks.sparse_rnn import latencies  # noqa: E402
from benchmarks.sparse_rnn import new_model  # noqa: E402
from benchmarks.sparse_rnn import pruned_fraction  # noqa: E402
from benchmarks.sparse_rnn import read_config  # noqa: E402
from benchmarks.sparse_rnn import validation_bytes  # noqa: E402
from keras_dl.data import lm_dataset  # noqa: E402
from keras_dl.export import TFLiteModel  # noqa: E402
from keras_dl.export import atomic_path  # noqa: E402
from keras_dl.export import export_lm_tflite  # noqa: E402
from keras_dl.export import write_text  # noqa: E402
from keras_dl.metrics import streamed_bits_per_character  # noqa: E402
from keras_dl.sparsity import LITERT_INT8_BLOCK  # noqa: E402
from keras_dl.sparsity import PolynomialDecay  # noqa: E402
from keras_dl.sparsity import prune_low_magnitude  # noqa: E402
from keras_dl.sparsity import strip_pruning  # noqa: E402
from recipes._resume import resumable_fit  # noqa: E402

FULL = dict(units=384, steps=2000, eval_every=100, batch_size=32, seq_len=64, validation_batches=16, seeds=3,
            eval_bytes=16384, runs=2000, rounds=5)
QUICK = dict(units=64, steps=40, eval_every=20, batch_size=8, seq_len=32, validation_batches=2, seeds=2,
             eval_bytes=256, runs=200, rounds=2)
KINDS = ("sparse", "dense", "equal-latency dense")
# Widths of the latency sweep: where does the sparse int8 step start to pay for itself?
SWEEP = (256, 384, 512, 768, 1024)
QUICK_SWEEP = (64, 128)


def ramp(steps, target, gate_sparsities=None):
    """Zhu & Gupta's cubic ramp from 10% to 75% of training, pruning 50 times on the way: one schedule, or one
    per GRU gate when `gate_sparsities` is given."""
    begin, end = steps // 10, steps * 3 // 4

    def schedule(sparsity):
        return PolynomialDecay(0.0, sparsity, begin_step=begin, end_step=end, frequency=max(1, (end - begin) // 50))

    return schedule(target), None if gate_sparsities is None else [schedule(s) for s in gate_sparsities]


def _train(cfg, kind, units, seed, directory, name, schedules, verbose):
    """Trains one model from scratch; returns (stripped model, learning curve). Cached as `directory/name.keras`,
    resumable in `directory/name`."""
    out = os.path.join(directory, name)
    final, curve_path = os.path.join(directory, f"{name}.keras"), os.path.join(directory, f"{name}_curve.json")
    if os.path.exists(final) and os.path.exists(curve_path):
        with open(curve_path) as f:
            return keras.models.load_model(final), json.load(f)
    os.makedirs(out, exist_ok=True)
    keras.utils.set_random_seed(seed)
    model = new_model(units)
    if kind == "sparse":
        schedule, gate_schedules = schedules
        prune_low_magnitude(model, schedule, block_size=LITERT_INT8_BLOCK, gate_schedules=gate_schedules,
                            layers=[model.rnn, model.head])
    model.compile(keras.optimizers.Adam(LEARNING_RATE), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    validation = lm_dataset("validation", cfg["seq_len"], cfg["batch_size"]).take(cfg["validation_batches"]).cache()
    print(f"seed {seed}: training {kind} GRU-{units} for {cfg['steps']} steps", flush=True)
    history = resumable_fit(model, lm_dataset("train", cfg["seq_len"], cfg["batch_size"], seed=seed), "fit", out,
                            epochs=cfg["steps"] // cfg["eval_every"], steps_per_epoch=cfg["eval_every"],
                            validation_data=validation, verbose=verbose)
    curve = {"step": [cfg["eval_every"] * (i + 1) for i in range(len(history["loss"]))],
             "train_bpc": [v / math.log(2) for v in history["loss"]],
             "validation_bpc": [v / math.log(2) for v in history["val_loss"]]}
    model = strip_pruning(model) if kind == "sparse" else model
    with atomic_path(final) as tmp:
        model.save(tmp)
    write_text(curve_path, json.dumps(curve))
    shutil.rmtree(out)  # The per-epoch backup and log, no longer needed once the model and its curve are saved.
    return model, curve


def width_sweep(directory, widths, sparsity, threads, runs, rounds):
    """Per width, from random-weight step files (latency depends on shapes and sparsity, not values): the sparse
    int8 step (GRU and output layer pruned to `sparsity` in 16x1 blocks), the dense int8 step of the same width,
    and the widest dense int8 GRU (a multiple of 32) no slower than the sparse one. Every file is timed in the
    same interleaved rounds, so each comparison is side by side (single timings here vary by up to 2x)."""
    files = {}
    for units, sparse in [(units, True) for units in widths] + [(u, False) for u in range(32, max(widths) + 1, 32)]:
        name = f"sweep_{'sparse' if sparse else 'dense'}{units}"
        files[name] = os.path.join(directory, f"{name}.tflite")
        if not os.path.exists(files[name]):
            step_file(directory, name, units, sparsity if sparse else 0.0, "dynamic_int8",
                      LITERT_INT8_BLOCK if sparse else None, head=sparse)
    print(f"timing the width sweep ({len(files)} files), {rounds} interleaved rounds", flush=True)
    timed = {name: value[0] * 1e6 for name, value in latencies(files, threads, runs, rounds).items()}
    dense = {int(name[len("sweep_dense"):]): us for name, us in timed.items() if name.startswith("sweep_dense")}
    rows = []
    for units in widths:
        sparse_us = timed[f"sweep_sparse{units}"]
        equal = max([u for u, us in dense.items() if us <= sparse_us], default=0)
        rows.append(dict(units=units, sparse_us=sparse_us, dense_us=dense[units], speedup=dense[units] / sparse_us,
                         equal_latency_units=equal, equal_latency_dense_us=dense.get(equal)))
    return rows


def _spread(values):
    return {"mean": statistics.fmean(values), "min": min(values), "max": max(values),
            "spread": max(values) - min(values), "values": values}


def run(cfg, out, sparsity, gate_sparsities, threads, verbose):
    directory = os.path.join(out, "models")
    os.makedirs(directory, exist_ok=True)
    units, schedules = cfg["units"], ramp(cfg["steps"], sparsity, gate_sparsities)

    def export(name, model, sparse):
        path = os.path.join(directory, f"{name}.tflite")
        return path if os.path.exists(path) else export_lm_tflite(model, path, quantization="dynamic_int8", sparse=sparse)

    tokens = validation_bytes(cfg["eval_bytes"])
    runs = {kind: [] for kind in KINDS}
    # Measured once and kept, so that a rerun trains the same equal-latency width.
    sweep_path = cached(os.path.join(directory, "width_sweep.json"), lambda tmp: write_text(tmp, json.dumps(
        width_sweep(directory, sorted({*cfg["sweep"], units}), sparsity, threads, cfg["runs"], cfg["rounds"]))))
    with open(sweep_path) as f:
        sweep = json.load(f)
    matched = next(row for row in sweep if row["units"] == units)
    if not matched["equal_latency_units"]:
        raise ValueError(f"no dense GRU of 32 units or more is as fast as the sparse GRU-{units} step "
                         f"({matched['sparse_us']:.1f} us); use a larger --units.")
    widths = {"sparse": units, "dense": units, "equal-latency dense": matched["equal_latency_units"]}
    for seed in range(cfg["seeds"]):
        for kind in KINDS:
            # Named by what is trained, so an equal-latency dense model as wide as the sparse one is the dense run.
            name = f"{'sparse' if kind == 'sparse' else 'dense'}{widths[kind]}_seed{seed}"
            model, curve = _train(cfg, kind, widths[kind], seed, directory, name, schedules, verbose)
            path = export(name, model, kind == "sparse")
            print(f"seed {seed}: scoring {kind} on {tokens.size} validation bytes", flush=True)
            runs[kind].append(dict(seed=seed, units=widths[kind], file=path, curve=curve,
                                   sparsity=pruned_fraction(model), size_bytes=os.path.getsize(path),
                                   keras_bpc=curve["validation_bpc"][-1],
                                   tflite_bpc=streamed_bits_per_character(TFLiteModel(path), tokens, widths[kind])))

    print(f"timing the seed-0 files, {cfg['rounds']} interleaved rounds", flush=True)
    timed = latencies({kind: runs[kind][0]["file"] for kind in KINDS}, threads, cfg["runs"], cfg["rounds"])
    rows = {}
    for kind in KINDS:
        first = runs[kind][0]
        rows[kind] = dict(units=first["units"], sparsity=first["sparsity"], size_bytes=first["size_bytes"],
                          latency_us=timed[kind][0] * 1e6, runtime=timed[kind][1],
                          tflite_bpc=_spread([r["tflite_bpc"] for r in runs[kind]]),
                          keras_bpc=_spread([r["keras_bpc"] for r in runs[kind]]))
        for r in runs[kind]:
            r["file"] = os.path.relpath(r["file"], out)
    sparse, dense, small = (rows[kind]["tflite_bpc"] for kind in KINDS)
    margin = small["mean"] - sparse["mean"]
    spread = max(sparse["spread"], small["spread"])
    targets = {
        f"sparse bpc within 5% of dense GRU-{units} (ratio <= 1.05)": sparse["mean"] / dense["mean"] <= 1.05,
        "sparse beats equal-latency dense by more than the seed spread": margin > spread,
    }
    return {"config": dict(cfg, threads=threads, embedding=EMBEDDING, learning_rate=LEARNING_RATE,
                           sparsity=sparsity, gate_sparsities=gate_sparsities, block=list(LITERT_INT8_BLOCK),
                           ramp={"begin_step": schedules[0].begin_step, "end_step": schedules[0].end_step,
                                 "frequency": schedules[0].frequency}),
            "rows": [dict(name=kind, **row) for kind, row in rows.items()], "runs": runs, "width_sweep": sweep,
            "bpc_ratio_sparse_vs_dense": sparse["mean"] / dense["mean"],
            "bpc_margin_vs_equal_latency": margin, "seed_spread": spread, "targets": targets}


def markdown(result):
    lines = ["| model | units | sparsity | step latency | file size | bits/char (.tflite, mean [min, max]) "
             "| bits/char (Keras) |", "|" + "---|" * 7]
    for row in result["rows"]:
        t, k = row["tflite_bpc"], row["keras_bpc"]
        lines.append(f"| {row['name']} | {row['units']} | {row['sparsity']:.1%} | {row['latency_us']:.1f} us "
                     f"| {row['size_bytes'] / 1e6:.2f} MB | {t['mean']:.3f} [{t['min']:.3f}, {t['max']:.3f}] "
                     f"| {k['mean']:.3f} [{k['min']:.3f}, {k['max']:.3f}] |")
    lines += ["", "| width | sparse int8 step | dense int8 step | sparse speed-up | equal-latency dense width |",
              "|---|---|---|---|---|"]
    lines += [f"| {r['units']} | {r['sparse_us']:.1f} us | {r['dense_us']:.1f} us | {r['speedup']:.2f}x "
              f"| {r['equal_latency_units']} |" for r in result["width_sweep"]]
    lines += ["", f"sparse / dense bits/char: {result['bpc_ratio_sparse_vs_dense']:.3f}; equal-latency dense minus "
              f"sparse: {result['bpc_margin_vs_equal_latency']:+.3f} bits/char (seed spread "
              f"{result['seed_spread']:.3f})", "", "Targets:"]
    lines += [f"- {name}: {'met' if met else 'NOT met'}" for name, met in result["targets"].items()]
    return "\n".join(lines) + "\n"


def plot(result, path):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    ramp_ = result["config"]["ramp"]
    ax.axvspan(ramp_["begin_step"], ramp_["end_step"], color="0.9", label="pruning ramp (sparse)")
    for color, row in zip(("C3", "C0", "C2"), result["rows"]):
        for index, run_ in enumerate(result["runs"][row["name"]]):
            label = f"{row['name']} GRU-{row['units']}" if index == 0 else None
            ax.plot(run_["curve"]["step"], run_["curve"]["validation_bpc"], color=color, alpha=0.8, label=label)
    ax.set_xlabel("training step")
    ax.set_ylabel("validation bits per character (Keras)")
    ax.set_title(f"Sparse vs dense GRU LMs, {len(result['runs']['sparse'])} seeds each")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)


def _gate_sparsities(text):
    values = [float(v) for v in text.split(",")]
    if len(values) != 3 or not all(0.0 <= v < 1.0 for v in values):
        raise argparse.ArgumentTypeError(f"expected 3 sparsities in [0, 1) for the gates z,r,h, got {text!r}")
    return values


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="GRU-64 and a few steps (a smoke run, not figures)")
    parser.add_argument("--out", default="sparse_quality_out", help="output directory")
    parser.add_argument("--sparsity", type=float, default=0.9, help="target of the GRU (unless --gate-sparsities) "
                        "and output layer")
    parser.add_argument("--gate-sparsities", type=_gate_sparsities, default=None, help="z,r,h targets of the GRU")
    parser.add_argument("--verbose", type=int, default=2, choices=(0, 1, 2), help="Keras fit verbosity")
    add_config_flags(parser, FULL, QUICK)
    args = parser.parse_args(argv)
    cfg = read_config(parser, args, FULL, QUICK)
    if cfg["steps"] % cfg["eval_every"]:
        parser.error(f"--steps must be a multiple of --eval-every ({cfg['eval_every']}), got {cfg['steps']}")
    if not 0.0 < args.sparsity < 1.0:
        parser.error(f"--sparsity must be in (0, 1), got {args.sparsity}")
    cfg["sweep"] = list(QUICK_SWEEP if args.quick else SWEEP)
    result = run(cfg, args.out, args.sparsity, args.gate_sparsities, args.threads, args.verbose)
    table = markdown(result)
    print("\n" + table)
    write_text(os.path.join(args.out, "sparse_quality.md"), table)
    write_text(os.path.join(args.out, "sparse_quality.json"), json.dumps(result, indent=2))
    plot(result, os.path.join(args.out, "sparse_quality.png"))
    print(f"wrote {args.out}/sparse_quality.json, sparse_quality.md, sparse_quality.png")
    return result


if __name__ == "__main__":
    main()
