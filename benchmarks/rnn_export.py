"""LiteRT latency and file size of keras_dl's export forms of a recurrent model, next to the stock Flex path.

    python -m benchmarks.rnn_export [--quick] [--out rnn_export_out] [--threads 1]

For an LSTM and a GRU model (`Input [1, T, D] -> LSTM/GRU(H, return_sequences) -> Dense(D)`,
Keras' own layers, random weights) at H = 256 and 1024, T = 100, D = 64, every form is
exported from the same Keras model and timed on its own `.tflite` file:

- `unrolled`: `export_tflite(model, timesteps=T, fused_lstm=False)`, one copy of the step per step;
- `WHILE`: `export_tflite(model)`, one file for any length, run at length T;
- `fused LSTM` (LSTM only): `export_tflite(model, timesteps=T)`, LiteRT's UNIDIRECTIONAL_SEQUENCE_LSTM;
- `streaming step x T`: `export_tflite(streaming_model(model))`, one step's `invoke()` times T;
- `Flex (stock)`: Keras' own `model.export(format="litert")` as it comes (unknown batch size),
  which keeps the TensorList loop as Flex (SELECT_TF_OPS) kernels; it runs on TensorFlow's
  `tf.lite.Interpreter` (stock phone runtimes and `ai_edge_litert` have no Flex kernels);
- `Keras' loop, batch 1 (stock)`: the same exporter given a batch-1 signature and built-in ops
  only, which the converter can lower to a WHILE loop of its own.

Latency is the median `invoke()` time at 1 thread, batch 1, default delegates (XNNPACK) on, over
interleaved rounds so drift of a noisy machine hits every form alike. Each file is also checked
against Keras on one random sequence. Writes `rnn_export.json` and `rnn_export.md`.
"""

import argparse
import json
import os
import statistics
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from ai_edge_litert import interpreter as litert  # noqa: E402
from tensorflow.lite.tools import flatbuffer_utils  # noqa: E402

from keras_dl.export import TFLiteModel  # noqa: E402
from keras_dl.export import export_tflite  # noqa: E402
from keras_dl.export import median_invoke_seconds  # noqa: E402
from keras_dl.export import op_names  # noqa: E402
from keras_dl.export import streaming_model  # noqa: E402
from keras_dl.export import write_text  # noqa: E402

FULL = {"units": (256, 1024), "timesteps": 100, "features": 64, "rounds": 5, "runs": 20}
QUICK = {"units": (32,), "timesteps": 20, "features": 8, "rounds": 2, "runs": 5}
FLEX = "Flex (stock)"
STOCK_WHILE = "Keras' loop, batch 1 (stock)"


def build(cell, units, features):
    layer = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU}[cell]
    inputs = keras.Input((None, features), name="inputs")
    model = keras.Model(inputs, keras.layers.Dense(features)(layer(units, return_sequences=True)(inputs)))
    rng = np.random.default_rng(0)
    for w in model.weights:  # Small random weights: outputs neither saturate nor vanish.
        w.assign(rng.normal(0, 1 / np.sqrt(w.shape[0]), w.shape).astype(np.float32))
    return model


def export_forms(model, cell, timesteps, directory):
    """`({form: {"path", "invokes" per sequence}}, a random input sequence, Keras' output on it)`."""
    x = np.random.default_rng(1).normal(size=(1, timesteps, model.input.shape[-1])).astype(np.float32)
    reference = np.asarray(model(x))
    forms = {
        "unrolled": (export_tflite(model, f"{directory}/unrolled.tflite", timesteps=timesteps, fused_lstm=False), 1),
        "WHILE": (export_tflite(model, f"{directory}/while.tflite"), 1),
        "streaming step x T": (export_tflite(streaming_model(model), f"{directory}/step.tflite"), timesteps),
    }
    if cell == "lstm":
        forms["fused LSTM"] = (export_tflite(model, f"{directory}/fused.tflite", timesteps=timesteps), 1)
    # Keras' own exporter as a user calls it: its signature has an unknown batch size, so the
    # TensorList loop keeps a dynamic element shape and becomes Flex kernels.
    model.export(f"{directory}/flex.tflite", format="litert", verbose=False)
    forms[FLEX] = (f"{directory}/flex.tflite", 1)
    # The same exporter with batch 1 and built-ins only: the converter then lowers Keras' own loop to WHILE.
    model.export(f"{directory}/stock_while.tflite", format="litert", verbose=False,
                 input_signature=[tf.TensorSpec([1, None, x.shape[-1]], tf.float32, name="inputs")],
                 target_spec={"supported_ops": [tf.lite.OpsSet.TFLITE_BUILTINS]})
    forms[STOCK_WHILE] = (f"{directory}/stock_while.tflite", 1)
    return {name: {"path": path, "invokes": invokes} for name, (path, invokes) in forms.items()}, x, reference


def _interpreter(name, form, threads):
    # Both with their default delegate (XNNPACK) on; only TensorFlow's interpreter has Flex kernels.
    runtime = tf.lite.Interpreter if name == FLEX else litert.Interpreter
    return runtime(model_path=form["path"], num_threads=threads)


def _inputs(interpreter, form, x, threads):
    if form["invokes"] == 1:
        return {next(iter(interpreter.get_signature_runner().get_input_details())): x}
    step = TFLiteModel(form["path"], num_threads=threads)
    return {**step.zero_inputs(), "inputs": x[:, 0]}


def check(name, form, x, reference, threads):
    """Max |LiteRT - Keras| over the sequence (RuntimeError where the runtime lacks the file's ops)."""
    interpreter = _interpreter(name, form, threads)
    if form["invokes"] == 1:
        runner = interpreter.get_signature_runner()
        output = next(iter(runner(**{next(iter(runner.get_input_details())): x}).values()))
    else:
        step = TFLiteModel(form["path"], num_threads=threads)
        feeds, outputs = step.zero_inputs(), []
        for t in range(x.shape[1]):
            feeds["inputs"] = x[:, t]
            result = step(feeds)
            outputs.append(result["outputs"])
            feeds.update({k: v for k, v in result.items() if k != "outputs"})
        output = np.stack(outputs, axis=1)
    return float(np.max(np.abs(output - reference)))


def _op_names(path):
    # From the file itself: LiteRT refuses to load one with Flex ops.
    return op_names(flatbuffer_utils.read_model(path))


def run(cfg, threads):
    rows = []
    for cell in ("lstm", "gru"):
        for units in cfg["units"]:
            print(f"{cell} H={units}: exporting", flush=True)
            model = build(cell, units, cfg["features"])
            with tempfile.TemporaryDirectory() as directory:
                forms, x, reference = export_forms(model, cell, cfg["timesteps"], directory)
                measured, timed = {}, {}
                for name, form in forms.items():
                    measured[name] = {"size_bytes": os.path.getsize(form["path"]), "samples": [],
                                      "flex_ops": sorted(op for op in _op_names(form["path"]) if op.startswith("Flex"))}
                    try:
                        measured[name]["max_abs_diff"] = check(name, form, x, reference, threads)
                        timed[name] = form
                    except RuntimeError as error:  # no Flex kernels in this runtime
                        measured[name].update(max_abs_diff=None, not_run=str(error).split(".")[0])
                for index in range(cfg["rounds"]):
                    for name, form in timed.items():
                        interpreter = _interpreter(name, form, threads)
                        seconds = median_invoke_seconds(interpreter, _inputs(interpreter, form, x, threads),
                                                        runs=cfg["runs"], warmup=2)
                        measured[name]["samples"].append(seconds * form["invokes"])
                    print(f"  latency round {index + 1}/{cfg['rounds']} done", flush=True)
            for name, row in measured.items():
                samples = row.pop("samples")
                rows.append({"cell": cell, "units": units, "form": name,
                             "latency_ms": 1e3 * statistics.median(samples) if samples else None, **row})
    return {"config": {**cfg, "units": list(cfg["units"]), "threads": threads,
                       "runtimes": {"keras_dl": "ai_edge_litert", FLEX: "tf.lite.Interpreter"}},
            "rows": rows, "targets": targets(rows)}


def targets(rows):
    """The issue's targets, per model: 0 Flex ops in keras_dl's files, best sequence form vs Flex, fused vs unrolled."""
    found = {}
    for cell, units in sorted({(r["cell"], r["units"]) for r in rows}):
        forms = {r["form"]: r for r in rows if (r["cell"], r["units"]) == (cell, units)}
        sequence = [name for name in ("unrolled", "WHILE", "fused LSTM") if name in forms]
        best = min(sequence, key=lambda name: forms[name]["latency_ms"])
        entry = {
            "keras_dl_flex_ops": sum(len(r["flex_ops"]) for name, r in forms.items() if name not in (FLEX, STOCK_WHILE)),
            "best_sequence_form": best,
            "best_vs_flex_speedup": (forms[FLEX]["latency_ms"] / forms[best]["latency_ms"]
                                     if forms[FLEX]["latency_ms"] else None),
            "best_vs_stock_while_speedup": forms[STOCK_WHILE]["latency_ms"] / forms[best]["latency_ms"],
            "while_vs_stock_while_speedup": forms[STOCK_WHILE]["latency_ms"] / forms["WHILE"]["latency_ms"],
        }
        if "fused LSTM" in forms:
            entry["fused_vs_unrolled_speedup"] = forms["unrolled"]["latency_ms"] / forms["fused LSTM"]["latency_ms"]
        found[f"{cell}_{units}"] = entry
    return found


def markdown(result):
    lines = ["| model | form | latency (1 thread) | file | Flex ops | max abs diff vs Keras |", "|---|---|---|---|---|---|"]
    for r in result["rows"]:
        latency = f"{r['latency_ms']:.2f} ms" if r["latency_ms"] is not None else "cannot run here"
        diff = f"{r['max_abs_diff']:.1e}" if r["max_abs_diff"] is not None else "-"
        lines.append(f"| {r['cell'].upper()}-{r['units']} | {r['form']} | {latency} | "
                     f"{r['size_bytes'] / 1e6:.2f} MB | {len(r['flex_ops'])} | {diff} |")
    lines += ["", "| model | best keras_dl sequence form | its speed-up vs Flex | vs Keras' loop, batch 1 | "
                  "keras_dl WHILE vs Keras' loop | fused LSTM vs unrolled |", "|---|---|---|---|---|---|"]
    for name, t in result["targets"].items():
        fused = f"{t['fused_vs_unrolled_speedup']:.2f}x" if "fused_vs_unrolled_speedup" in t else "n/a"
        flex = f"{t['best_vs_flex_speedup']:.2f}x" if t["best_vs_flex_speedup"] else "not measurable"
        lines.append(f"| {name} | {t['best_sequence_form']} | {flex} | "
                     f"{t['best_vs_stock_while_speedup']:.2f}x | {t['while_vs_stock_while_speedup']:.2f}x | {fused} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="H=32, T=20, few runs (a smoke run, not figures)")
    parser.add_argument("--out", default="rnn_export_out", help="output directory")
    parser.add_argument("--threads", type=int, default=1, help="LiteRT threads")
    args = parser.parse_args(argv)
    if args.threads < 1:
        parser.error(f"--threads must be >= 1, got {args.threads}")
    result = run(QUICK if args.quick else FULL, args.threads)
    result["config"]["quick"] = args.quick
    table = markdown(result)
    print(table)
    write_text(os.path.join(args.out, "rnn_export.md"), table)
    write_text(os.path.join(args.out, "rnn_export.json"), json.dumps(result, indent=2))
    print(f"wrote {args.out}/rnn_export.json, rnn_export.md")
    return result


if __name__ == "__main__":
    main()
