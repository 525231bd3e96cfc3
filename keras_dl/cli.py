"""`keras-dl` command line: demo, train, export, bench."""

import argparse
import importlib.metadata
import json
import os
import sys
import zipfile

RECIPE_GROUP = "keras_dl.recipes"
# The deployment tools of the repository's export/ folder, installed as keras_dl.deploy.
DEPLOY_GROUP = "keras_dl.deploy"
MODEL_FILE = "model.keras"
SAVED_MODEL_DIR = "saved_model"
TFLITE_FILE = "step.tflite"
SPARSE_MODEL_FILE = "sparse_model.keras"
SPARSE_TFLITE_FILE = "sparse_step.tflite"


def _entry_points(group=RECIPE_GROUP):
    return {ep.name: ep for ep in importlib.metadata.entry_points(group=group)}


def _load_entry_point(name, group=RECIPE_GROUP):
    """A recipe (or, with group=DEPLOY_GROUP, a deployment tool) module by its name."""
    kind, folder = ("recipe", "recipes/") if group == RECIPE_GROUP else ("tool", "export/")
    found = _entry_points(group)
    if name not in found:
        raise ValueError(f"{kind} {name!r} is unknown; expected one of {', '.join(sorted(found)) or '(none installed)'}.")
    try:
        return found[name].load()
    except ModuleNotFoundError as error:
        if error.name != group:
            raise
        # `python -m keras_dl.cli` run inside a checkout imports its keras_dl/, which has no recipes/ under it.
        raise RuntimeError(f"{kind} {name!r}: keras_dl was imported from {os.path.dirname(__file__)}, a source "
                           f"checkout, where {folder} is not yet {group}; run `keras-dl` (or python -m "
                           "keras_dl.cli) outside the checkout, or install it with `pip install -e .`.") from None


def load_model(path, argument="PATH"):
    """Loads a Keras model from `path`, a `.keras` file or a directory written by `keras-dl train` (its
    model.keras), with errors that say what is wrong with the path (the CLI's and export/ tools' loader)."""
    import keras

    if not os.path.exists(path):
        raise FileNotFoundError(f"`{argument}`: no file or directory {path!r}; pass a .keras file or the --out of "
                                f"`keras-dl train`.")
    file = os.path.join(path, MODEL_FILE) if os.path.isdir(path) else path
    if os.path.isfile(os.path.join(path, "saved_model.pb")):
        raise ValueError(f"`{argument}`: {path!r} is a SavedModel (an export); pass the .keras model it was exported from.")
    if not os.path.isfile(file) or not file.endswith(".keras"):
        raise FileNotFoundError(f"`{argument}`: {path!r} is not a .keras file and holds no {MODEL_FILE}.")
    # A .keras file is a zip archive; Keras answers a truncated one with a misleading "File not found".
    if not zipfile.is_zipfile(file):
        raise ValueError(f"`{argument}`: {file!r} is not a readable .keras file (truncated or corrupt?).")
    try:
        return keras.models.load_model(file)
    except (zipfile.BadZipFile, KeyError, OSError) as error:
        raise ValueError(f"`{argument}`: {file!r} is not a readable .keras file (truncated or corrupt?): {error}") from None


def _load_language_model(directory, filename=MODEL_FILE):
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"`DIR`: no directory {directory!r}; pass the --out of `keras-dl train`.")
    model = load_model(os.path.join(directory, filename))
    if not hasattr(model, "step_model"):
        raise TypeError(f"`DIR`: {directory} holds a {type(model).__name__}, not a language model with a step model.")
    return model


def _export(model, directory, fmt, **converter_options):
    """Exports a language model into `directory`; returns `(path, info)`."""
    from keras_dl import export

    if fmt == "saved_model":
        return export.export_lm_saved_model(model, os.path.join(directory, SAVED_MODEL_DIR)), {}
    path = export.export_lm_tflite(model, os.path.join(directory, TFLITE_FILE), **converter_options)
    return path, export.verify_lm_tflite(model, path)


def _export_any(model, path, args):
    """Exports any Keras model to `path`; returns `(path, info)`."""
    from keras_dl import export

    if args.format == "saved_model":
        from keras_dl.export import serving

        return serving.export_signatures(path, serving.serving_signatures(model)), {}
    if args.streaming:
        model = export.streaming_model(model)
    forms = {}
    path = export.export_tflite(model, path, quantization=args.quantization, sparse=args.sparse,
                                timesteps=args.timesteps, report=forms)
    return path, {"recurrent_layers": list(forms.values()), **export.verify_tflite(model, path)}


def _bench(path, runs, threads):
    """Median LiteRT step latency of a `.tflite` step model (default delegates off if it is sparse)."""
    from keras_dl.export import TFLiteModel

    model = TFLiteModel(path, num_threads=threads)
    latency = model.median_latency(model.zero_inputs(), runs=runs)
    return {"step_latency_ms": latency * 1e3, "tokens_per_second": 1.0 / latency, "threads": threads}


def _dir_size(path):
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(root, f)) for root, _, files in os.walk(path) for f in files)


def cmd_train(args):
    recipe = _load_entry_point(args.recipe)
    metrics = recipe.run(recipe.build_parser(prog=f"keras-dl train {args.recipe}").parse_args(args.recipe_args))
    print(json.dumps(metrics, indent=2))


def cmd_deploy(args):
    tool = _load_entry_point(args.tool, DEPLOY_GROUP)
    tool.run(tool.build_parser(prog=f"keras-dl deploy {args.tool}").parse_args(args.tool_args))


def cmd_export(args):
    from keras_dl import _checks

    if args.timesteps is not None:
        _checks.positive_int("--timesteps", args.timesteps)
        if args.streaming:
            raise ValueError("`--timesteps` does not apply to `--streaming`: a step model takes one step.")
    if args.format == "saved_model" and (args.streaming or args.timesteps or args.sparse
                                         or args.quantization != "float32"):
        raise ValueError("`--streaming`, `--timesteps`, `--quantization` and `--sparse` are for --format tflite.")
    if args.out and args.format == "tflite" and not args.out.endswith(".tflite"):
        raise ValueError(f"`--out` must end with '.tflite' for --format tflite, got {args.out!r}.")
    model = load_model(args.path)
    options = {"quantization": args.quantization, "sparse": args.sparse}
    from keras_dl.models import RNNLanguageModel

    own_step = not isinstance(model, RNNLanguageModel) and hasattr(model, "step_model")
    if own_step:
        # WaveNet, WaveRNN: what streams (and what a phone runs) is their own step model.
        if args.timesteps is not None:
            raise ValueError(f"`--timesteps` does not apply to a {type(model).__name__}: it exports its step model, "
                             "which takes one step.")
        model, args.streaming = model.step_model(), False
    if isinstance(model, RNNLanguageModel):
        # A language model: its own streaming step export into the training directory.
        if args.timesteps is not None or args.out:
            raise ValueError("`--timesteps` and `--out` are for sequence models; a language model exports its "
                             f"streaming step model as {TFLITE_FILE} beside model.keras.")
        directory = args.path if os.path.isdir(args.path) else os.path.dirname(os.path.abspath(args.path))
        path, info = _export(model, directory, args.format, **(options if args.format == "tflite" else {}))
    else:
        stem = os.path.splitext(os.path.join(args.path, MODEL_FILE) if os.path.isdir(args.path) else args.path)[0]
        suffix = "_step" if args.streaming or own_step else ""
        out = args.out or (stem + suffix + (".tflite" if args.format == "tflite" else "_saved_model"))
        path, info = _export_any(model, out, args)
    print(json.dumps({"path": path, **info}, indent=2))


def cmd_bench(args):
    from keras_dl import _checks

    runs, threads = _checks.positive_int("--runs", args.runs), _checks.positive_int("--threads", args.threads)
    path = os.path.join(args.dir, TFLITE_FILE)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"`DIR`: no {TFLITE_FILE} in {args.dir!r}; run `keras-dl export DIR --format tflite` first.")
    print(json.dumps(_bench(path, runs, threads), indent=2))


def cmd_demo(args):
    """Train -> prune a copy -> export (SavedModel, TFLite dense and sparse int8) -> generate on LiteRT -> time -> table."""
    import numpy as np

    from keras_dl import export
    from keras_dl.decoding import generate
    from keras_dl.export import TFLiteModel
    from keras_dl.export import write_text

    out = args.out
    # 100-step epochs give the learning curve its points; the reported bpc is on the whole validation split.
    if args.quick:
        train_argv = ["--hidden", "128", "--seq-len", "64", "--batch-size", "32", "--epochs", "12",
                      "--validation-steps", "10", "--prune-to", "0.9", "--prune-steps", "300"]
    else:
        train_argv = ["--hidden", "256", "--seq-len", "100", "--batch-size", "64", "--epochs", "18",
                      "--prune-to", "0.9", "--prune-steps", "300"]
    if args.data_dir:
        train_argv += ["--data-dir", args.data_dir]
    recipe = _load_entry_point("char_rnn")
    print(f"[1/4] training the byte-level GRU on python_source, then a 90%-sparse copy -> {out}", flush=True)
    metrics = recipe.run(recipe.build_parser().parse_args(train_argv + ["--out", out]))

    print("[2/4] exporting SavedModel, streaming TFLite (dense float32) and sparse dynamic-int8 TFLite", flush=True)
    model = _load_language_model(out)
    saved_model, _ = _export(model, out, "saved_model")
    tflite, check = _export(model, out, "tflite")
    sparse_model = _load_language_model(out, SPARSE_MODEL_FILE)
    sparse_tflite = export.export_lm_tflite(sparse_model, os.path.join(out, SPARSE_TFLITE_FILE),
                                            quantization="dynamic_int8", sparse=True)
    sparse_check = export.verify_lm_tflite(sparse_model, sparse_tflite)

    print("[3/4] generating text on LiteRT", flush=True)
    step = TFLiteModel(tflite, num_threads=1)
    prompt = b"def "
    tokens = generate(step, np.zeros((1, metrics["hidden"]), np.float32), list(prompt), 300, temperature=0.8, seed=0)
    sample = (prompt + bytes(tokens)).decode("utf-8", "replace")
    write_text(os.path.join(out, "litert_sample.txt"), sample + "\n")

    print("[4/4] timing the dense and sparse TFLite steps side by side (1 thread)", flush=True)
    timed = export.interleaved_latencies({path: TFLiteModel(path, num_threads=1) for path in (tflite, sparse_tflite)},
                                         runs=2000, rounds=10)
    sparse = metrics["sparse"]["sparsity"]
    results = {
        "mode": "quick" if args.quick else "full",
        "val_bpc": metrics["val_bpc"],
        "unigram_bpc": metrics["unigram_bpc"],
        "train_steps": metrics["steps"],
        "train_seconds": metrics["train_seconds"],
        "params": metrics["params"],
        "keras_model_bytes": _dir_size(os.path.join(out, MODEL_FILE)),
        "saved_model_bytes": _dir_size(saved_model),
        "tflite_bytes": _dir_size(tflite),
        "tflite_max_abs_logit_diff": check["max_abs_logit_diff"],
        "tflite_step_latency_ms": timed[tflite] * 1e3,
        "tflite_tokens_per_second": 1.0 / timed[tflite],
        "sparse_gru_sparsity": min(v for k, v in sparse.items() if k.startswith("gru/")),
        "sparse_val_bpc": metrics["sparse"]["val_bpc"],
        "sparse_tflite_bytes": _dir_size(sparse_tflite),
        "sparse_tflite_max_abs_logit_diff": sparse_check["max_abs_logit_diff"],
        "sparse_tflite_argmax_agreement": sparse_check["argmax_agreement"],
        "sparse_tflite_step_latency_ms": timed[sparse_tflite] * 1e3,
        "sparse_tflite_tokens_per_second": 1.0 / timed[sparse_tflite],
        "sparse_step_speedup": timed[tflite] / timed[sparse_tflite],
    }
    write_text(os.path.join(out, "results.json"), json.dumps(results, indent=2))
    print("\n" + _table(results))
    print(f"\nLiteRT sample (temperature 0.8):\n{sample}\n\nwrote {os.path.join(out, 'results.json')}")


def _table(results):
    width = max(map(len, results))
    rows = [f"{k:<{width}}  {v:.4g}" if isinstance(v, float) else f"{k:<{width}}  {v}" for k, v in results.items()]
    return "\n".join(rows)


def build_parser():
    parser = argparse.ArgumentParser(prog="keras-dl", description="keras_dl: sequence models from fit to a phone.")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="the main job: train, export, run on LiteRT, print a results table",
                          description=cmd_demo.__doc__)
    demo.add_argument("--out", default="keras_dl_demo", help="output directory (default: ./keras_dl_demo)")
    demo.add_argument("--quick", action="store_true", help="a GRU-128 for 1,200 steps instead of a GRU-256 for 1,800")
    demo.add_argument("--data-dir", default=None, help="TFDS data directory")
    demo.set_defaults(func=cmd_demo)

    for command, kind, group, func, what in (
            ("train", "recipe", RECIPE_GROUP, cmd_train, "a training recipe"),
            ("deploy", "tool", DEPLOY_GROUP, cmd_deploy, "a deployment tool (TF Serving repository, LiteRT benchmark, "
                                                         "Android)")):
        runner = sub.add_parser(command, help=f"run {what}",
                                description=f"Run {what}; `keras-dl {command} NAME --help` lists its options. "
                                f"{kind.capitalize()}s: {', '.join(sorted(_entry_points(group)))}.")
        runner.add_argument(kind, help=f"{kind} name")
        runner.add_argument(f"{kind}_args", nargs=argparse.REMAINDER, help=f"the {kind}'s own arguments")
        runner.set_defaults(func=func)

    export = sub.add_parser(
        "export", help="export a trained model (a .keras file, or DIR/model.keras) to TFLite or a SavedModel",
        description="Export any Keras model saved as .keras (recurrent layers included) to TFLite with built-in "
        "ops only, check it against Keras on random inputs and print the result as JSON. Without --timesteps "
        "the .tflite file accepts any sequence length; --streaming exports the single-step model instead. A "
        f"language model trained by `keras-dl train char_rnn` (DIR/{MODEL_FILE}) is written as DIR/{TFLITE_FILE}, "
        f"its streaming step model, or DIR/{SAVED_MODEL_DIR} (TensorFlow Serving). A model with its own step "
        "model (WaveNet, WaveRNN) is exported as that step model, NAME_step.tflite beside NAME.keras.")
    export.add_argument("path", help="a .keras file or a directory written by `keras-dl train`")
    export.add_argument("--format", required=True, choices=("saved_model", "tflite"))
    export.add_argument("--quantization", default="float32", choices=("float32", "float16", "dynamic_int8"),
                        help="weight quantization (full int8 needs calibration data: use the Python API)")
    export.add_argument("--sparse", action="store_true", help="store pruned weights as sparse tensors")
    export.add_argument("--timesteps", type=int, default=None, help="fixed sequence length (default: any)")
    export.add_argument("--streaming", action="store_true", help="export the single-step model with explicit state")
    export.add_argument("--out", default=None, help="output path (default: beside the model)")
    export.set_defaults(func=cmd_export)

    bench = sub.add_parser("bench", help="time the exported TFLite step model on LiteRT",
                           description=f"Median latency of one step of DIR/{TFLITE_FILE} on LiteRT, and tokens/s.")
    bench.add_argument("dir", help="directory holding step.tflite")
    bench.add_argument("--runs", type=int, default=2000)
    bench.add_argument("--threads", type=int, default=1)
    bench.set_defaults(func=cmd_bench)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.func(args)
    except (ValueError, TypeError, FileNotFoundError, FileExistsError, RuntimeError) as e:
        parser.exit(2, f"keras-dl {args.command}: error: {e}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
