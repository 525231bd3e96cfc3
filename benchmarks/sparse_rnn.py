"""Sparse vs dense GRU language models on LiteRT: step latency, file size and bits per character.

    python -m benchmarks.sparse_rnn [--quick] [--out DIR] [--threads 1]

One run trains a byte-level GRU LM on `python_source` (`--base-steps`), then forks it for
`--fork-steps` more steps, every fork on the same further batches with a fresh Adam:
  - dense: trains on;
  - sparse S for S in 80/90/95%: keras_dl's `prune_low_magnitude` ramps the GRU and the
    output layer to S (Zhu & Gupta's schedule over the first 3/4 of the fork) in LiteRT's
    int8 blocks (16x1 in Keras axes); a 16x1 block mask is also a 4x1 one, so the same
    weights serve the float rows (1x4 blocks) and the int8 rows (1x16 blocks);
  - tfmot: the same fork of the same weights, as a tf_keras model pruned by tfmot to 90%
    with the same schedule and blocks, converted with the same converter flags;
and trains a small dense GRU whose int8 step is as fast as the 90% sparse int8 step (its
size found by measuring random-weight exports) on the same base + fork budget.

Every row is measured on the exported `.tflite` step file (batch 1, `--threads` threads):
median step latency over interleaved rounds (dense files on both XNNPACK and the built-in
kernels, the faster counts; sparse files on the built-in kernels only, XNNPACK is wrong or
slow on them), file size, and bits per character of the file itself streamed over the
first `--eval-bytes` bytes of the validation split. Writes `sparse_rnn.json`,
`sparse_rnn.md` and `sparse_rnn.png` (bits/char against latency) to `--out`; trained
models and exports are kept under `--out/models`, so a rerun skips finished work.
"""

import argparse
import json
import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

# Before keras_dl: tfmot keys its PruneRegistry on `tf.keras` as first resolved (it asks for tf_keras), and
# keras_dl's tensorflow_probability import would resolve it to Keras 3 first (then tfmot rejects tf_keras layers).
import tensorflow_model_optimization as tfmot  # noqa: E402

from keras_dl.data import lm_dataset  # noqa: E402
from keras_dl.data import load_builder  # noqa: E402
from keras_dl.export import TFLiteModel  # noqa: E402
from keras_dl.export import atomic_path  # noqa: E402
from keras_dl.export import export_lm_tflite  # noqa: E402
from keras_dl.export import interleaved_latencies  # noqa: E402
from keras_dl.export import write_text  # noqa: E402
from keras_dl.metrics import streamed_bits_per_character  # noqa: E402
from keras_dl.models import RNNLanguageModel  # noqa: E402
from keras_dl.sparsity import LITERT_INT8_BLOCK  # noqa: E402
from keras_dl.sparsity import PolynomialDecay  # noqa: E402
from keras_dl.sparsity import prune_low_magnitude  # noqa: E402
from keras_dl.sparsity import sparsity_report  # noqa: E402
from keras_dl.sparsity import strip_pruning  # noqa: E402

FULL = dict(units=1024, batch_size=32, seq_len=64, base_steps=400, fork_steps=300, eval_bytes=16384, runs=2000,
            rounds=5)
QUICK = dict(units=128, batch_size=16, seq_len=32, base_steps=40, fork_steps=24, eval_bytes=512, runs=200, rounds=2)
SPARSITIES = (0.8, 0.9, 0.95)
PEER_SPARSITY = 0.9
EMBEDDING = 64
LEARNING_RATE = 2e-3


def _schedule(target, fork_steps):
    ramp = max(1, fork_steps * 3 // 4)
    return PolynomialDecay(0.0, target, begin_step=0, end_step=ramp, frequency=max(1, ramp // 20))


def _fit(model, data, steps, verbose):
    model.compile(keras.optimizers.Adam(LEARNING_RATE), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(data, steps_per_epoch=steps, shuffle=False, verbose=verbose)


def new_model(units):
    model = RNNLanguageModel(units=units, embedding_dim=EMBEDDING)
    model.build((None, None))
    return model


def cached(path, make):
    """`path`, made by `make(tmp_path)` unless a previous run left it (written atomically, so whole)."""
    if not os.path.exists(path):
        with atomic_path(path) as tmp:
            make(tmp)
    return path


class Trainer:
    """Trains the base model once and its forks, caching every result under `directory`."""

    def __init__(self, cfg, directory, verbose):
        self.cfg, self.directory, self.verbose = cfg, directory, verbose
        self.train = lm_dataset("train", cfg["seq_len"], cfg["batch_size"], seed=0)
        # Forks continue on the batches after the base's, not on a replay of them.
        self.fork_data = self.train.skip(cfg["base_steps"])

    def path(self, name):
        return os.path.join(self.directory, name)

    def base(self, units):
        """`.keras` file of a dense model of `units` trained for `base_steps`."""
        def make(tmp):
            model = new_model(units)
            print(f"training dense GRU-{units} base, {self.cfg['base_steps']} steps", flush=True)
            _fit(model, self.train, self.cfg["base_steps"], self.verbose)
            model.save(tmp)
        return cached(self.path(f"base_gru{units}.keras"), make)

    def fork(self, units, sparsity=0.0):
        """`.keras` file of the base of `units` trained `fork_steps` more, pruned to `sparsity` if > 0."""
        def make(tmp):
            model = keras.models.load_model(self.base(units))
            if sparsity:
                prune_low_magnitude(model, _schedule(sparsity, self.cfg["fork_steps"]), block_size=LITERT_INT8_BLOCK,
                                    layers=[model.rnn, model.head])
            print(f"fork GRU-{units}, sparsity {sparsity:.0%}, {self.cfg['fork_steps']} steps", flush=True)
            _fit(model, self.fork_data, self.cfg["fork_steps"], self.verbose)
            (strip_pruning(model) if sparsity else model).save(tmp)
        return keras.models.load_model(cached(self.path(f"gru{units}_sparse{round(sparsity * 100)}.keras"), make))

    def tfmot_fork(self, units, sparsity):
        """`.tflite` of the same fork pruned by tfmot in tf_keras (dynamic int8, sparse tensors)."""
        def make(tmp):
            _tfmot_fork(self, units, sparsity, tmp)
        return cached(self.path(f"tfmot_gru{units}_sparse{round(sparsity * 100)}_int8.tflite"), make)


def _tfmot_fork(trainer, units, sparsity, path):
    import tf_keras

    schedule = _schedule(sparsity, trainer.cfg["fork_steps"])
    tfmot_schedule = tfmot.sparsity.keras.PolynomialDecay(
        schedule.initial_sparsity, schedule.final_sparsity, schedule.begin_step, schedule.end_step,
        frequency=schedule.frequency)
    embedding = tf_keras.layers.Embedding(256, EMBEDDING)
    gru = tf_keras.layers.GRU(units, return_sequences=True)
    head = tf_keras.layers.Dense(256)
    plain = tf_keras.Sequential([tf_keras.Input((None,), dtype="int32"), embedding, gru, head])
    source = keras.models.load_model(trainer.base(units))
    # Same layers, same order, same GRU convention (reset_after): the weights map one to one.
    plain.set_weights([np.asarray(w) for w in source.weights])

    def prune(layer):
        return tfmot.sparsity.keras.prune_low_magnitude(layer, pruning_schedule=tfmot_schedule,
                                                        block_size=LITERT_INT8_BLOCK)

    pruned = tf_keras.Sequential([tf_keras.Input((None,), dtype="int32"), embedding, prune(gru), prune(head)])
    pruned.compile(tf_keras.optimizers.Adam(LEARNING_RATE),
                   tf_keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    print(f"fork GRU-{units} pruned by tfmot to {sparsity:.0%}, {trainer.cfg['fork_steps']} steps", flush=True)
    pruned.fit(trainer.fork_data, steps_per_epoch=trainer.cfg["fork_steps"], verbose=trainer.verbose,
               callbacks=[tfmot.sparsity.keras.UpdatePruningStep()])
    stripped = tfmot.sparsity.keras.strip_pruning(pruned)
    embedding, gru, head = stripped.layers

    @tf.function(input_signature=[tf.TensorSpec([1], tf.int32, name="token"),
                                  tf.TensorSpec([1, units], tf.float32, name="state")])
    def step(token, state):
        output, new_state = gru.cell(embedding(token), [state])
        return {"logits": head(output), "state": new_state[0]}

    converter = tf.lite.TFLiteConverter.from_concrete_functions([step.get_concrete_function()], stripped)
    converter.optimizations = [tf.lite.Optimize.DEFAULT, tf.lite.Optimize.EXPERIMENTAL_SPARSITY]
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    with open(path, "wb") as f:
        f.write(converter.convert())


def _runtimes(path, threads):
    """LiteRT runners to time a file on: both runtimes for dense files, built-in kernels for sparse ones."""
    plain = TFLiteModel(path, num_threads=threads, default_delegates=False)
    if plain.sparse_tensors:
        return {"builtin": plain}
    return {"builtin": plain, "xnnpack": TFLiteModel(path, num_threads=threads, default_delegates=True)}


def latencies(files, threads, runs, rounds):
    """Per file: (median step latency in seconds on its faster runtime, that runtime), over interleaved rounds."""
    runners = {(name, runtime): model for name, path in files.items()
               for runtime, model in _runtimes(path, threads).items()}
    timed = interleaved_latencies(runners, runs, rounds,
                                  progress=lambda index: print(f"  latency round {index + 1}/{rounds} done", flush=True))
    best = {}
    for (name, runtime), latency in timed.items():
        if name not in best or latency < best[name][0]:
            best[name] = (latency, runtime)
    return best


def _quick_latency(path, threads, runs=300):
    return min(model.median_latency(model.zero_inputs(), runs=runs) for model in _runtimes(path, threads).values())


def equal_latency_units(target_seconds, max_units, threads):
    """Largest GRU size (a multiple of 16) whose dense dynamic-int8 step is no slower than `target_seconds`."""
    low, high = 1, max_units // 16  # in units of 16
    with tempfile.TemporaryDirectory() as directory:
        while low < high:
            middle = (low + high + 1) // 2
            path = export_lm_tflite(new_model(middle * 16), os.path.join(directory, f"gru{middle * 16}.tflite"),
                                    quantization="dynamic_int8")
            latency = _quick_latency(path, threads)
            print(f"  dense GRU-{middle * 16} int8: {latency * 1e6:.1f} us (target {target_seconds * 1e6:.1f} us)",
                  flush=True)
            low, high = (middle, high) if latency <= target_seconds else (low, middle - 1)
    return low * 16


def validation_bytes(count):
    """The first `count` bytes of `python_source`'s validation split, files in split order."""
    data = bytearray()
    for example in load_builder("python_source").as_dataset(split="validation"):
        data += example["text"].numpy()
        if len(data) >= count:
            break
    if len(data) < count:
        raise ValueError(f"`--eval-bytes` must be at most {len(data)} (the validation split), got {count}.")
    return np.frombuffer(bytes(data[:count]), np.uint8).astype(np.int32)


def pruned_fraction(model):
    """Fraction of zeros in the kernels of the GRU and the output layer (the pruned matrices)."""
    rows = [row for row in sparsity_report(model) if "/embedding/" not in row["weight"]]
    return sum(row["sparsity"] * row["size"] for row in rows) / sum(row["size"] for row in rows)


def run(cfg, out, threads, verbose):
    directory = os.path.join(out, "models")
    os.makedirs(directory, exist_ok=True)
    trainer = Trainer(cfg, directory, verbose)
    units = cfg["units"]

    def export(name, model, quantization, sparse):
        path = os.path.join(directory, f"{name}.tflite")
        return path if os.path.exists(path) else export_lm_tflite(model, path, quantization=quantization, sparse=sparse)

    rows = {}  # name -> row; insertion order is the table's order
    dense = trainer.fork(units)
    for quantization in ("float32", "dynamic_int8"):
        rows[f"dense {quantization}"] = dict(units=units, sparsity=pruned_fraction(dense), quantization=quantization,
                                             file=export(f"dense{units}_{quantization}", dense, quantization, False))
    for target in SPARSITIES:
        model = trainer.fork(units, target)
        for quantization, blocks in (("float32", "1x4"), ("dynamic_int8", "1x16")):
            rows[f"sparse {target:.0%} {quantization} {blocks}"] = dict(
                units=units, sparsity=pruned_fraction(model), quantization=quantization, target_sparsity=target,
                file=export(f"sparse{units}_{round(target * 100)}_{quantization}", model, quantization, True))
    flagship = f"sparse {PEER_SPARSITY:.0%} dynamic_int8 1x16"
    rows[f"tfmot {PEER_SPARSITY:.0%} dynamic_int8 1x16"] = dict(
        units=units, target_sparsity=PEER_SPARSITY, quantization="dynamic_int8",
        file=trainer.tfmot_fork(units, PEER_SPARSITY))

    print("finding the dense GRU as fast as the flagship sparse step", flush=True)
    small_units = equal_latency_units(_quick_latency(rows[flagship]["file"], threads), units, threads)
    small = trainer.fork(small_units)
    rows["equal-latency dense dynamic_int8"] = dict(
        units=small_units, sparsity=pruned_fraction(small), quantization="dynamic_int8",
        file=export(f"dense{small_units}_dynamic_int8", small, "dynamic_int8", False))

    print(f"timing {len(rows)} files, {cfg['rounds']} interleaved rounds", flush=True)
    timed = latencies({name: row["file"] for name, row in rows.items()}, threads, cfg["runs"], cfg["rounds"])
    tokens = validation_bytes(cfg["eval_bytes"])
    for name, row in rows.items():
        model = TFLiteModel(row["file"], num_threads=threads)
        print(f"scoring {name} on {tokens.size} validation bytes", flush=True)
        row.update(latency_us=timed[name][0] * 1e6, runtime=timed[name][1], size_bytes=os.path.getsize(row["file"]),
                   sparse_blocks=sorted({t["block"] for t in model.sparse_tensors}),
                   bpc=streamed_bits_per_character(model, tokens, row["units"]), file=os.path.relpath(row["file"], out))

    reference, small_row = rows["dense float32"], rows["equal-latency dense dynamic_int8"]
    peer = rows[f"tfmot {PEER_SPARSITY:.0%} dynamic_int8 1x16"]
    for row in rows.values():
        row.update(speedup_vs_dense_f32=reference["latency_us"] / row["latency_us"],
                   size_ratio_vs_dense_f32=reference["size_bytes"] / row["size_bytes"],
                   bpc_ratio_vs_dense=row["bpc"] / reference["bpc"],
                   bpc_vs_equal_latency_dense=row["bpc"] / small_row["bpc"],
                   speedup_vs_tfmot=peer["latency_us"] / row["latency_us"])
    top = rows[flagship]
    targets = {"speedup_vs_dense_f32 >= 12": top["speedup_vs_dense_f32"] >= 12,
               "size_ratio_vs_dense_f32 >= 30": top["size_ratio_vs_dense_f32"] >= 30,
               "bpc_ratio_vs_dense <= 1.05": top["bpc_ratio_vs_dense"] <= 1.05,
               "bpc_vs_equal_latency_dense < 1": top["bpc_vs_equal_latency_dense"] < 1,
               "speedup_vs_tfmot >= 1": top["speedup_vs_tfmot"] >= 1}
    return {"config": dict(cfg, threads=threads, embedding=EMBEDDING, learning_rate=LEARNING_RATE,
                           block=list(LITERT_INT8_BLOCK), equal_latency_units=small_units),
            "rows": [dict(name=name, **row) for name, row in rows.items()], "flagship": flagship, "targets": targets}


def markdown(result):
    lines = ["| model | units | quantization | sparsity | blocks | runtime | step latency | file size | bits/char "
             "| speed-up vs dense f32 | smaller than dense f32 | bpc / dense | bpc / equal-latency dense "
             "| speed-up vs tfmot |", "|" + "---|" * 14]
    for row in result["rows"]:
        sparsity = f"{row['sparsity']:.1%}" if "sparsity" in row else f"{row['target_sparsity']:.0%} (tfmot)"
        blocks = ", ".join(f"1x{b}" for b in row["sparse_blocks"]) or "dense"
        lines.append(
            f"| {row['name']} | {row['units']} | {row['quantization']} | {sparsity} | {blocks} | {row['runtime']} "
            f"| {row['latency_us']:.1f} us | {row['size_bytes'] / 1e6:.2f} MB | {row['bpc']:.3f} "
            f"| {row['speedup_vs_dense_f32']:.2f}x | {row['size_ratio_vs_dense_f32']:.1f}x | {row['bpc_ratio_vs_dense']:.3f} "
            f"| {row['bpc_vs_equal_latency_dense']:.3f} | {row['speedup_vs_tfmot']:.2f}x |")
    lines += ["", f"Targets for `{result['flagship']}`:"]
    lines += [f"- {name}: {'met' if met else 'NOT met'}" for name, met in result["targets"].items()]
    return "\n".join(lines) + "\n"


def plot(result, path):
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for row in result["rows"]:
        marker = "o" if row["sparse_blocks"] else "s"
        ax.scatter(row["latency_us"], row["bpc"], marker=marker)
        ax.annotate(row["name"], (row["latency_us"], row["bpc"]), fontsize=7, xytext=(4, 3), textcoords="offset points")
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1, 2, 5)))
    ax.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xlabel("LiteRT step latency, 1 thread, batch 1 (us, log scale)")
    ax.set_ylabel("bits per character (validation bytes)")
    ax.set_title(f"GRU LMs on LiteRT: sparse (o) vs dense (s), {result['config']['units']} units")
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)


def add_config_flags(parser, full, quick):
    """`--threads` and an int flag per key of `full` (`quick`'s value with `--quick`)."""
    parser.add_argument("--threads", type=int, default=1, help="LiteRT threads")
    for key, value in full.items():
        parser.add_argument(f"--{key.replace('_', '-')}", type=int, default=None,
                            help=f"default {value} ({quick[key]} with --quick)")


def read_config(parser, args, full, quick):
    """The run's config from the flags of `add_config_flags`: each >= 1, `units` a multiple of 16."""
    cfg = dict(quick if args.quick else full)
    for key in cfg:
        if getattr(args, key) is not None:
            cfg[key] = getattr(args, key)
    for key, value in dict(cfg, threads=args.threads).items():
        if value < 1:
            parser.error(f"--{key.replace('_', '-')} must be >= 1, got {value}")
    if cfg["units"] % 16:
        parser.error(f"--units must be a multiple of 16 (LiteRT's int8 blocks), got {cfg['units']}")
    return cfg


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="GRU-128 and a few steps (a smoke run, not figures)")
    parser.add_argument("--out", default="sparse_rnn_out", help="output directory")
    parser.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2), help="Keras fit verbosity")
    add_config_flags(parser, FULL, QUICK)
    args = parser.parse_args(argv)
    cfg = read_config(parser, args, FULL, QUICK)
    keras.utils.set_random_seed(0)
    result = run(cfg, args.out, args.threads, args.verbose)
    table = markdown(result)
    print("\n" + table)
    write_text(os.path.join(args.out, "sparse_rnn.md"), table)
    write_text(os.path.join(args.out, "sparse_rnn.json"), json.dumps(result, indent=2))
    plot(result, os.path.join(args.out, "sparse_rnn.png"))
    print(f"wrote {args.out}/sparse_rnn.json, sparse_rnn.md, sparse_rnn.png")
    return result


if __name__ == "__main__":
    main()
