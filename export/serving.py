"""Build and check a TensorFlow Serving model repository from a `.keras` model: `keras-dl deploy serving`.

Writes ROOT/NAME/<version>/ (a SavedModel with named signatures, warm-up requests from real
example inputs and its contract), checks it without a server (loads it, replays the warm-up
requests, compares with Keras), updates ROOT/models.config and writes
ROOT/batching_parameters.txt, then prints the server command and example requests.

Example inputs: `--examples FILE.npz` (arrays by input name; a single array for a one-input
model) or `.npy`. A language model (`keras-dl train char_rnn`) needs none: it warms up on
snippets of the Python standard library's source (the test split of the text it was trained on).
"""

import argparse
import json
import os
import shutil
import sys

import numpy as np

from keras_dl import _checks
from keras_dl.export import serving

# Warm-up snippets for a language model: this many rows of this many bytes.
LM_EXAMPLES, LM_EXAMPLE_BYTES = 4, 64


def build_parser(prog="python -m export.serving"):
    parser = argparse.ArgumentParser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", metavar="MODEL",
                        help="a .keras file, or a directory written by `keras-dl train` (its model.keras)")
    parser.add_argument("--repository", required=True, help="the repository folder (ROOT)")
    parser.add_argument("--name", required=True, help="the model's name in requests (/v1/models/NAME)")
    parser.add_argument("--examples", default=None, help=".npz (arrays by input name) or .npy of real inputs, a batch")
    parser.add_argument("--version", type=int, default=None, help="version number (default: newest + 1)")
    parser.add_argument("--version-policy", default="latest", choices=serving.VERSION_POLICIES)
    parser.add_argument("--versions", default=None, help="comma-separated versions for --version-policy specific")
    parser.add_argument("--label", action="append", default=[], metavar="LABEL=VERSION",
                        help="a version label, e.g. stable=1 (repeatable)")
    parser.add_argument("--integer-dtype", default="int64", choices=serving.INTEGER_DTYPES,
                        help="dtype of integer (token) inputs in the signatures")
    parser.add_argument("--docker-root", default="/models", help="where the server mounts ROOT (models.config paths)")
    return parser


def _int_list(flag, text):
    try:
        return [int(v) for v in text.split(",")]
    except ValueError:
        raise ValueError(f"`{flag}` must be comma-separated ints, got {text!r}.") from None


def _labels(pairs):
    labels = {}
    for pair in pairs:
        label, _, version = pair.partition("=")
        if not label or not version.isdigit():
            raise ValueError(f"`--label` must be LABEL=VERSION (e.g. stable=1), got {pair!r}.")
        labels[label] = int(version)
    return labels


def _load_examples(path):
    if not os.path.isfile(path):
        raise FileNotFoundError(f"`--examples`: no file {path!r}.")
    if path.endswith(".npy"):
        return np.load(path)
    if not path.endswith(".npz"):
        raise ValueError(f"`--examples` must be a .npz or .npy file, got {path!r}.")
    with np.load(path) as arrays:
        named = {key: arrays[key] for key in arrays.files}
    return next(iter(named.values())) if len(named) == 1 else named


def _source_snippets():
    """Rows of real text for a byte-level language model's warm-up: the standard library's source (test split)."""
    from keras_dl.data import python_source_files
    from keras_dl.data.datasets import split_of

    rows = []
    for relative, path in python_source_files():
        if split_of(relative) != "test":
            continue
        with open(path, "rb") as f:
            data = f.read()
        if len(data) >= LM_EXAMPLE_BYTES:
            rows.append(np.frombuffer(data[:LM_EXAMPLE_BYTES], np.uint8))
        if len(rows) == LM_EXAMPLES:
            return np.stack(rows).astype(np.int64)
    raise RuntimeError("not enough Python source files found for warm-up examples; pass --examples.")


def run(args):
    """Publishes and checks a version as described by `args`; returns the report (see `publish_serving_version`)."""
    from keras_dl.cli import load_model

    if args.version is not None:
        _checks.positive_int("--version", args.version)
    specific = _int_list("--versions", args.versions) if args.versions else None
    labels = _labels(args.label)
    _checks.writable_directory("--repository", args.repository)
    examples = _load_examples(args.examples) if args.examples else None
    model = load_model(args.model, "MODEL")
    if examples is None:
        if not hasattr(model, "step_model"):
            raise ValueError(f"`--examples` is needed for a {type(model).__name__}: warm-up requests are built from "
                             "real inputs (a .npz of arrays by input name).")
        examples = _source_snippets()
    report = serving.publish_serving_version(
        model, args.repository, args.name, examples, version=args.version, version_policy=args.version_policy,
        specific_versions=specific, labels=labels, integer_dtype=args.integer_dtype, docker_root=args.docker_root)
    print(_summary(report))
    return report


def _summary(report):
    lines = [f"wrote {report['path']} ({report['warmup_records']} warm-up requests); checked against Keras: "
             f"max |difference| {report['max_abs_diff']:.3g}", "", "signatures (as `saved_model_cli show --all`):"]
    for key, signature in report["signatures"].items():
        lines.append(f"  {key} ({signature['method_name']})")
        for kind in ("inputs", "outputs"):
            for name, info in signature[kind].items():
                lines.append(f"    {kind[:-1]} {name}: {info['dtype']} {info['shape']}")
    lines += ["", f"models.config: {report['models_config']}", f"batching: {report['batching_parameters']}", "",
              "serve it with Docker:", "  " + report["commands"]["docker"],
              "or with the binary (one model):", "  " + report["commands"]["tensorflow_model_server"]]
    if shutil.which("tensorflow_model_server") is None:
        lines.append("  (tensorflow_model_server is not on this machine's PATH)")
    lines += ["", "REST, row form:", "  " + report["requests"]["rest_instances"], "REST, columnar form:",
              "  " + report["requests"]["rest_inputs"], "gRPC (Python):", report["requests"]["grpc"]]
    return "\n".join(lines)


def main(argv=None):
    parser = build_parser()
    try:
        report = run(parser.parse_args(argv))
    except (FileNotFoundError, FileExistsError, ValueError, TypeError, RuntimeError) as error:
        parser.exit(2, f"{parser.prog}: error: {error}\n")
    print(json.dumps({k: report[k] for k in ("path", "warmup_records", "max_abs_diff")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
