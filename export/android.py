"""Packages a streaming step model for the Android demo: `python -m export.android sparse_step.tflite`.

Copies a `.tflite` step model and its model contract (`NAME.contract.json`, written beside
it by `keras_dl.export.export_lm_tflite`, hence by `keras-dl demo`) into the app's assets as
`model.tflite` and `model.contract.json`, after checking that the contract describes this very
file (SHA-256, every tensor's dtype, shape and byte size), that the model is a streaming
language model (state tensors, the byte tokenizer, the portable sampler) and that it runs on
LiteRT's built-in ops. The app reads exactly these two files.

`MODEL` may be the `.tflite` file or a `keras-dl demo` output directory (its sparse int8
`sparse_step.tflite`, else its `step.tflite`). `--out DIR` packs elsewhere than
`android_demo/app/src/main/assets`. `--golden DIR` also writes golden vectors for the
app's JVM and instrumented tests: the logits LiteRT produces at each sampled step of a few
prompts, seeds, temperatures and top-k values, and the tokens Python's
`keras_dl.decoding.stream_tokens` samples from them, which Java must reproduce exactly.
Offline: needs only the files.
"""

import argparse
import base64
import json
import os
import shutil
import struct
import sys

import numpy as np

from keras_dl.decoding import stream_tokens
from keras_dl.decoding import strict_exp
from keras_dl.export import TFLiteModel
from keras_dl.export import atomic
from keras_dl.export import contract as contracts

ASSET_MODEL = "model.tflite"
ASSET_CONTRACT = "model.contract.json"
# The dtypes android_demo's TensorSpec.itemSize knows; its ModelContract rejects a contract with any other.
APP_DTYPES = frozenset({"float64", "int64", "float32", "int32", "float16", "int16", "int8", "uint8", "bool"})
DEMO_FILES = ("sparse_step.tflite", "step.tflite")  # keras-dl demo's outputs, preferred first
GOLDEN_FORMAT = "keras_dl.golden_vectors"
# Prompts, sampling settings and lengths of the golden cases: greedy, plain, top-k, and a seed above 2**63
# (Java holds it as a negative long).
GOLDEN_CASES = (
    {"name": "greedy", "prompt": "def ", "temperature": 0.0, "top_k": None, "seed": 0, "length": 8},
    {"name": "t1", "prompt": "def ", "temperature": 1.0, "top_k": None, "seed": 1, "length": 10},
    {"name": "t0.8_top5", "prompt": "import ", "temperature": 0.8, "top_k": 5, "seed": 2, "length": 10},
    {"name": "t1.5_top40_seed2^64-1", "prompt": "\n", "temperature": 1.5, "top_k": 40, "seed": 2**64 - 1,
     "length": 10},
)


def _default_assets():
    """`android_demo/app/src/main/assets` of the checkout this file lies in, if there is one."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    app = os.path.join(root, "android_demo", "app")
    return os.path.join(app, "src", "main", "assets") if os.path.isdir(app) else None


def build_parser(prog="python -m export.android"):
    parser = argparse.ArgumentParser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="the .tflite step model, or a `keras-dl demo` output directory")
    parser.add_argument("--contract", default=None,
                        help="its model contract (default: NAME.contract.json beside the .tflite file)")
    parser.add_argument("--out", default=None,
                        help="assets directory to write model.tflite and model.contract.json to "
                             "(default: android_demo/app/src/main/assets of this checkout)")
    parser.add_argument("--golden", default=None, metavar="DIR",
                        help="also write golden vectors (LiteRT logits, Python's tokens) for the Java tests to DIR")
    return parser


def find_model(path):
    """The `.tflite` file `path` names: the file itself, or the step model in a `keras-dl demo` directory."""
    path = os.fspath(path)
    if os.path.isdir(path):
        for name in DEMO_FILES:
            if os.path.isfile(os.path.join(path, name)):
                return os.path.join(path, name)
        raise FileNotFoundError(f"`model`: the directory {path!r} holds none of {', '.join(DEMO_FILES)}; pass a "
                                f".tflite file or the --out of `keras-dl demo`.")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"`model`: no file or directory {path!r}.")
    if not path.endswith(".tflite"):
        raise ValueError(f"`model` must be a .tflite file or a directory, got {path!r}.")
    return path


def check_step_model(model_path, contract_file=None):
    """Checks a `.tflite` file against its contract and that it is a streaming language model; returns the contract.

    Args:
        model_path: the `.tflite` file.
        contract_file: its contract (default: beside it).

    Returns:
        the contract dict.
    """
    if contract_file is None:
        contract_file = contracts.contract_path(model_path)
        if not os.path.isfile(contract_file):
            raise FileNotFoundError(
                f"`--contract`: no model contract beside {model_path!r} (expected {contract_file!r}); export the model "
                f"with keras_dl.export.export_lm_tflite (as `keras-dl demo` does), which writes one.")
    # The contract's path, not its dict: messages name the file, and a contract that disagrees with the model is
    # reported as the byte-size mismatch the app would meet before any section that refers to its tensors.
    contract = contracts.check_contract(model_path, contract_file)
    missing = [what for what, ok in (("state tensors", contract["state"]), ("tokenizer", contract.get("tokenizer")),
                                     ("sampling section", contract.get("sampling"))) if not ok]
    if missing:
        raise ValueError(f"`model`: {model_path!r} is not a streaming step model for the app: its contract has no "
                         f"{', no '.join(missing)}. Export a language model with keras_dl.export.export_lm_tflite.")
    odd = sorted({t["dtype"] for t in contract["inputs"] + contract["outputs"]} - APP_DTYPES)
    if odd:
        raise ValueError(f"`model`: {model_path!r} has tensors of dtype {odd}, which the app's contract reader does not "
                         f"know (it knows {sorted(APP_DTYPES)}).")
    if contract["tokenizer"]["type"] != "bytes":
        raise ValueError(f"`model`: the app has the byte tokenizer; {model_path!r} declares "
                         f"{contract['tokenizer']['type']!r}.")
    flex = [name for name in TFLiteModel(model_path).op_names if name.startswith("Flex")]
    if flex:
        raise ValueError(f"`model`: {model_path!r} needs Flex ops {flex}, which LiteRT on Android does not ship.")
    return contract


def _copy(source, target):
    with atomic.atomic_path(target) as tmp:
        shutil.copyfile(source, tmp)


def package(model_path, out, contract_file=None):
    """Writes `model.tflite` and `model.contract.json` (its `model.file` renamed) into `out`; returns their paths."""
    contract = check_step_model(model_path, contract_file)
    out = os.fspath(out)
    os.makedirs(out, exist_ok=True)
    target = os.path.join(out, ASSET_MODEL)
    _copy(model_path, target)
    contract = {**contract, "model": {**contract["model"], "file": ASSET_MODEL}}
    written = contracts.write_contract(target, contract=contract)
    if os.path.basename(written) != ASSET_CONTRACT:  # the app's two names are tied by contract_path
        raise AssertionError(written)
    return target, written


def _hex(x):
    """The 64 bits of a double, as 16 hex digits (what Java's Double.doubleToRawLongBits gives)."""
    return format(struct.unpack("<Q", struct.pack("<d", float(x)))[0], "016x")


def write_golden(model_path, out, cases=GOLDEN_CASES, contract_file=None):
    """Writes golden vectors for `android_demo`'s Java tests into `out`: the packaged model, its contract, `cases.json`.

    `cases.json` holds, for each case, the prompt (bytes as tokens), the sampling settings, the
    float32 logits LiteRT produced at each sampled step (little-endian, base64) and the tokens
    `keras_dl.decoding.stream_tokens` sampled; and `exp`, pairs of doubles (hex bits) `x`,
    `strict_exp(x)` over the `z - max z` the sampler met, which `StrictMath.exp` must give bit for bit.

    Args:
        model_path: the `.tflite` step model (with its contract).
        out: output directory.
        cases: dicts with `name`, `prompt` (str), `temperature`, `top_k`, `seed`, `length`.
        contract_file: the model's contract (default: beside it).

    Returns:
        the path of `cases.json`.
    """
    model, contract_path = package(model_path, out, contract_file)
    contract = contracts.read_contract(contract_path)
    step = TFLiteModel(model)
    state = np.zeros(contract["state"][0]["shape"], np.float32)
    written, exponents = [], set()
    for case in cases:
        prompt = list(case["prompt"].encode("utf-8"))
        tokens, logits = stream_tokens(step, state, prompt, case["length"], temperature=case["temperature"],
                                       top_k=case["top_k"], seed=case["seed"], trace=True)
        if case["temperature"] > 0:
            z = logits.astype(np.float64) / case["temperature"]
            exponents.update((z - z.max(axis=1, keepdims=True))[:, ::7].ravel().tolist())
        written.append({**case, "prompt": prompt, "tokens": tokens,
                        "logits_base64": [base64.b64encode(row.astype("<f4").tobytes()).decode() for row in logits]})
    exponents = sorted(exponents)[:: max(1, len(exponents) // 150)] + [0.0, -1e-30, -0.3, -0.5, -1.0, -20.0, -700.0]
    document = {"format": GOLDEN_FORMAT, "version": 1, "contract": ASSET_CONTRACT,
                "sampling": contract["sampling"]["algorithm"], "cases": written,
                "exp": [[_hex(x), _hex(strict_exp(x))] for x in exponents]}
    path = os.path.join(out, "cases.json")
    atomic.write_text(path, contracts.dumps(document))
    return path


def run(args):
    """Packages the model `args` names; returns what was written."""
    model_path = find_model(args.model)
    out = args.out or _default_assets()
    if out is None:
        raise ValueError("`--out` is needed outside a checkout with android_demo/ (no default assets directory).")
    model, contract_path = package(model_path, out, args.contract)
    contract = contracts.read_contract(contract_path)
    result = {"model": model, "contract": contract_path, "source": model_path, "bytes": contract["model"]["bytes"],
              "sha256": contract["model"]["sha256"],
              "state": [{"input": s["input"], "shape": s["shape"]} for s in contract["state"]],
              "sampling": {k: contract["sampling"][k] for k in ("algorithm", "temperature", "top_k", "seed")}}
    if args.golden:
        result["golden"] = write_golden(model_path, args.golden, contract_file=args.contract)
    print(json.dumps(result, indent=2))
    return result


def main(argv=None):
    parser = build_parser()
    try:
        run(parser.parse_args(argv))
    except (FileNotFoundError, ValueError) as error:
        parser.exit(2, f"{parser.prog}: error: {error}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
