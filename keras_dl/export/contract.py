"""The model contract: a JSON file beside each `.tflite` saying exactly what its runtime must send and expect.

`model.tflite` gets `model.contract.json`: the file's name and SHA-256, its signature, every
input and output tensor (dtype, shape, byte size, quantisation), the state tensors a
streaming step model carries from one call to the next, the tokenizer, the input
normalisation and the sampling algorithm (`keras_dl.decoding.sample_categorical`'s spec and
its generator). An app (`android_demo/`) validates it against the buffers it will send, so a
model and an app that disagree fail with a message naming the tensor, not with LiteRT's
"Cannot copy to a TensorFlowLite tensor with X bytes from a Java Buffer with Y bytes"
(tensorflow/tensorflow#43965) on the first call.
"""

import hashlib
import json
import math
import os
import re

import numpy as np
from ai_edge_litert import interpreter as litert

from keras_dl import _checks
from keras_dl.decoding import sampling as _sampling
from keras_dl.export.atomic import write_text

FORMAT = "keras_dl.model_contract"
VERSION = 1
SUFFIX = ".contract.json"
BYTE_TOKENIZER = {"type": "bytes", "vocab_size": 256}
AS_GIVEN = "none: the model takes the values as given"
RAW_BYTES = "none: raw byte ids 0-255 (the tokenizer's ids)"
STATE_VALUES = "none: the state output of the previous step (zeros to start a sequence)"
DEFAULT_SAMPLING = {"temperature": 0.8, "top_k": None, "seed": 0, "token_input": "token", "logits_output": "logits"}
_TOKENIZERS = ("bytes",)


def contract_path(tflite_path):
    """The contract's path for a `.tflite` path: `model.tflite` -> `model.contract.json`."""
    tflite_path = os.fspath(tflite_path)
    if not tflite_path.endswith(".tflite"):
        raise ValueError(f"`tflite_path` must end with '.tflite', got {tflite_path!r}.")
    return tflite_path[: -len(".tflite")] + SUFFIX


def _tensor(name, detail):
    shape = [int(d) for d in detail["shape"]]
    dtype = np.dtype(detail["dtype"])
    entry = {"name": name, "dtype": dtype.name, "shape": shape,
             "shape_signature": [int(d) for d in detail["shape_signature"]],
             "bytes": int(np.prod(shape, dtype=np.int64)) * dtype.itemsize}
    scales = detail["quantization_parameters"]["scales"]
    if len(scales):
        entry["quantization"] = {"scale": [float(s) for s in scales],
                                 "zero_point": [int(z) for z in detail["quantization_parameters"]["zero_points"]],
                                 "quantized_dimension": int(detail["quantization_parameters"]["quantized_dimension"])}
    return entry


def _load(tflite):
    """`(content, interpreter)` of a `.tflite` path or bytes, with LiteRT's built-in kernels (no delegate needed)."""
    if isinstance(tflite, (bytes, bytearray)):
        content, name = bytes(tflite), "bytes"
    else:
        path = os.fspath(tflite)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"`tflite`: no .tflite file at {path!r}.")
        with open(path, "rb") as f:
            content = f.read()
        name = repr(path)
    if content[4:8] != b"TFL3":
        raise ValueError(f"`tflite` {name} is not a TFLite file (no 'TFL3' identifier).")
    try:
        interpreter = litert.Interpreter(
            model_content=content, experimental_op_resolver_type=litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    except ValueError as error:  # LiteRT's flatbuffer verifier: "The model is not a valid Flatbuffer buffer".
        raise ValueError(f"`tflite` {name} is not a valid TFLite model (truncated or corrupt?): {error}") from None
    return content, interpreter


def _signature(interpreter, signature):
    signatures = sorted(interpreter.get_signature_list())
    if signature is None:
        if len(signatures) != 1:
            raise ValueError(f"`signature` must be one of {signatures} for this model.")
        return signatures[0]
    if signature not in signatures:
        raise ValueError(f"`signature`={signature!r} is not in the model; it has {signatures}.")
    return signature


def _state_pairs(state, inputs, outputs):
    if state == "auto":
        # A streaming step model feeds each state output back into the input of the same name.
        return [(name, name) for name, entry in inputs.items() if name in outputs
                and outputs[name]["dtype"] == entry["dtype"] and outputs[name]["shape"] == entry["shape"]
                and entry["dtype"] == "float32"]
    pairs = []
    for pair in state:
        if isinstance(pair, str):
            pair = (pair, pair)
        if len(pair) != 2 or pair[0] not in inputs or pair[1] not in outputs:
            raise ValueError(f"`state` must list (input name, output name) pairs of the model's tensors (inputs "
                             f"{sorted(inputs)}, outputs {sorted(outputs)}), got {pair!r}.")
        if (inputs[pair[0]]["dtype"], inputs[pair[0]]["shape"]) != (outputs[pair[1]]["dtype"], outputs[pair[1]]["shape"]):
            raise ValueError(f"`state` pair {pair!r}: input and output differ in dtype or shape.")
        if inputs[pair[0]]["dtype"] != "float32":
            raise ValueError(f"`state` pair {pair!r}: state tensors must be float32 (what the model contract and the "
                             f"app carry), got {inputs[pair[0]]['dtype']}.")
        pairs.append(tuple(pair))
    return pairs


def _check_tokenizer(tokenizer):
    if tokenizer is None:
        return None
    if (not isinstance(tokenizer, dict) or tokenizer.get("type") not in _TOKENIZERS
            or isinstance(tokenizer.get("vocab_size"), bool) or not isinstance(tokenizer.get("vocab_size"), int)
            or tokenizer["vocab_size"] <= 0):
        raise ValueError(f"`tokenizer` must be a dict with 'type' in {_TOKENIZERS} and a positive int 'vocab_size', "
                         f"e.g. {BYTE_TOKENIZER}, got {tokenizer!r}.")
    if tokenizer["type"] == "bytes" and tokenizer["vocab_size"] != 256:
        raise ValueError(f"`tokenizer` of type 'bytes' has vocab_size 256, got {tokenizer['vocab_size']}.")
    return dict(tokenizer)


def _check_sampling(sampling, inputs, outputs, tokenizer):
    if sampling is None:
        return None
    if not isinstance(sampling, dict) or set(sampling) - set(DEFAULT_SAMPLING):
        raise ValueError(f"`sampling` must be a dict with keys among {sorted(DEFAULT_SAMPLING)}, got {sampling!r}.")
    config = {**DEFAULT_SAMPLING, **sampling}
    temperature = _checks.non_negative_float("sampling['temperature']", config["temperature"])
    if not math.isfinite(temperature):
        raise ValueError(f"`sampling['temperature']` must be finite, got {temperature}.")
    if config["top_k"] is not None:
        _checks.positive_int("sampling['top_k']", config["top_k"])
    _sampling.SplitMix64(config["seed"])  # checks the seed's range
    token, logits = inputs.get(config["token_input"]), outputs.get(config["logits_output"])
    if token is None or token["dtype"] != "int32" or token["shape"] != [1]:
        raise ValueError(f"`sampling['token_input']` must name an int32 input of shape [1] (inputs {sorted(inputs)}), "
                         f"got {config['token_input']!r}.")
    if logits is None or logits["dtype"] != "float32" or len(logits["shape"]) != 2 or logits["shape"][0] != 1:
        raise ValueError(f"`sampling['logits_output']` must name a float32 output of shape [1, vocab] (outputs "
                         f"{sorted(outputs)}), got {config['logits_output']!r}.")
    if tokenizer is not None and logits["shape"][1] != tokenizer["vocab_size"]:
        raise ValueError(f"output {config['logits_output']!r} has {logits['shape'][1]} logits but the tokenizer's "
                         f"vocab_size is {tokenizer['vocab_size']}.")
    return {"algorithm": _sampling.SAMPLING_ALGORITHM, "generator": _sampling.GENERATOR, **config,
            "temperature": temperature}


def model_contract(tflite, signature=None, state="auto", tokenizer=None, normalization=None, sampling=None,
                   file_name=None):
    """The model contract (a JSON-ready dict) of a `.tflite` file.

    Args:
        tflite: path to a `.tflite` file, or its bytes (then pass `file_name`).
        signature: signature key; defaults to the only one.
        state: `"auto"` pairs every float input with the output of the same name, dtype
            and shape (a streaming step model's state); or a list of `(input, output)`
            names; `[]` for none.
        tokenizer: e.g. `{"type": "bytes", "vocab_size": 256}` (`BYTE_TOKENIZER`), or `None`.
        normalization: dict input name -> how the caller must prepare its values (a
            sentence); by default token inputs take raw tokenizer ids, state inputs the
            previous state, other inputs the values as given.
        sampling: dict of defaults for `keras_dl.decoding.stream_tokens`'s sampler, keys among
            `temperature`, `top_k`, `seed`, `token_input`, `logits_output` (`DEFAULT_SAMPLING`
            fills the rest), or `None` for a model that is not sampled from.
        file_name: the model's file name in the contract (default: the basename of `tflite`).

    Returns:
        dict with `format`, `version`, `model`, `signature`, `inputs`, `outputs`, `state`,
        `tokenizer`, `sampling`.

    Example:
    >>> from keras_dl.export import export_tflite
    >>> model = keras.Sequential([keras.Input((3,), name="x"), keras.layers.Dense(2)])
    >>> contract = model_contract(export_tflite(model, "dense.tflite"))
    >>> contract["inputs"][0]["dtype"], contract["inputs"][0]["shape"], contract["inputs"][0]["bytes"]
    ('float32', [1, 3], 12)
    """
    content, interpreter = _load(tflite)
    if file_name is None:
        if isinstance(tflite, (bytes, bytearray)):
            raise ValueError("`file_name` is needed when `tflite` is bytes.")
        file_name = os.path.basename(os.fspath(tflite))
    signature = _signature(interpreter, signature)
    runner = interpreter.get_signature_runner(signature)
    inputs = {name: _tensor(name, d) for name, d in sorted(runner.get_input_details().items())}
    outputs = {name: _tensor(name, d) for name, d in sorted(runner.get_output_details().items())}
    pairs = _state_pairs(state, inputs, outputs)
    tokenizer = _check_tokenizer(tokenizer)
    sampling = _check_sampling(sampling, inputs, outputs, tokenizer)
    normalization = dict(normalization or {})
    unknown = set(normalization) - set(inputs)
    if unknown:
        raise ValueError(f"`normalization` names {sorted(unknown)}, which are not inputs of the model {sorted(inputs)}.")
    for name, entry in inputs.items():
        if name in normalization:
            entry["normalization"] = str(normalization[name])
        elif name in {i for i, _ in pairs}:
            entry["normalization"] = STATE_VALUES
        elif sampling is not None and name == sampling["token_input"] and tokenizer and tokenizer["type"] == "bytes":
            entry["normalization"] = RAW_BYTES
        else:
            entry["normalization"] = AS_GIVEN
    return {
        "format": FORMAT,
        "version": VERSION,
        "model": {"file": file_name, "sha256": hashlib.sha256(content).hexdigest(), "bytes": len(content)},
        "signature": signature,
        "inputs": list(inputs.values()),
        "outputs": list(outputs.values()),
        "state": [{"input": i, "output": o, "dtype": inputs[i]["dtype"], "shape": inputs[i]["shape"],
                   "bytes": inputs[i]["bytes"], "initial": "zeros"} for i, o in pairs],
        "tokenizer": tokenizer,
        "sampling": sampling,
    }


def write_contract(tflite_path, contract=None, **options):
    """Writes the contract of `tflite_path` beside it (`model.tflite` -> `model.contract.json`), atomically.

    Args:
        tflite_path: path of the `.tflite` file.
        contract: the contract to write; by default `model_contract(tflite_path, **options)`.
        **options: arguments of `model_contract`.

    Returns:
        the contract's path.

    Example:
    >>> from keras_dl.export import export_tflite
    >>> model = keras.Sequential([keras.Input((3,), name="pixels"), keras.layers.Dense(2)])
    >>> path = export_tflite(model, "dense.tflite")  # writes dense.contract.json too
    >>> write_contract(path, normalization={"pixels": "divide by 255"})
    'dense.contract.json'
    """
    path = contract_path(tflite_path)
    if contract is None:
        contract = model_contract(tflite_path, **options)
    elif options:
        raise ValueError(f"Pass `contract` or options of model_contract ({sorted(options)}), not both.")
    _validate(contract, repr(path))
    write_text(path, dumps(contract))
    return path


def dumps(document):
    """JSON text of a contract: indented, with each list of numbers (a shape) on one line."""
    text = json.dumps(document, indent=2)
    return re.sub(r"\[([-\d.eE+,\s]*?)\]", lambda m: "[" + ", ".join(v.strip() for v in m.group(1).split(",")) + "]",
                  text) + "\n"


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _validate(contract, where):
    """Raises a `ValueError` naming `where` and the field unless `contract` is a valid model contract of version 1.

    The same acceptance rules as the app's `ModelContract` (android_demo/core), section by
    section, so that a contract Python accepts is one the phone accepts: the model's file,
    SHA-256 and size; every tensor's name, dtype, integer shape and byte size; each state
    entry naming an input and an output of the same float32 layout, starting from zeros;
    the byte tokenizer (256 tokens); the sampling algorithm and generator this keras_dl
    implements, a finite temperature >= 0, a top-k, a seed, an int32 `[1]` token input and a
    float32 `[1, vocab]` logits output with as many logits as the tokenizer has tokens.
    """
    _validate_structure(contract, where)
    _validate_sections(contract, where)


def _fail(where, field, expected, got):
    raise ValueError(f"{where}: the model contract's {field} must be {expected}, got {got!r}.")


def _validate_structure(contract, where):
    """The format, version, model and tensor sections of `_validate`: what comparing with a model needs."""
    def fail(field, expected, got):
        _fail(where, field, expected, got)

    if not isinstance(contract, dict) or contract.get("format") != FORMAT:
        raise ValueError(f"{where} is not a keras_dl model contract (its 'format' must be {FORMAT!r}).")
    if not _is_int(contract.get("version")) or contract.get("version") != VERSION:
        raise ValueError(f"{where} is a model contract of version {contract.get('version')!r}; this keras_dl reads "
                         f"version {VERSION}.")
    for key, kind in (("model", dict), ("signature", str), ("inputs", list), ("outputs", list), ("state", list)):
        if not isinstance(contract.get(key), kind):
            raise ValueError(f"{where}: the model contract's {key!r} must be a {kind.__name__}, got "
                             f"{type(contract.get(key)).__name__}.")
    model = contract["model"]
    for key in ("file", "sha256"):
        if not isinstance(model.get(key), str):
            fail(f"model.{key}", "a string", model.get(key))
    if not _is_int(model.get("bytes")) or model["bytes"] < 0:
        fail("model.bytes", "the file's size in bytes (an int >= 0)", model.get("bytes"))
    for kind in ("inputs", "outputs"):
        for index, tensor in enumerate(contract[kind]):
            field = f"{kind}[{index}]"
            if not isinstance(tensor, dict) or not {"name", "dtype", "shape", "bytes"} <= set(tensor):
                raise ValueError(f"{where}: every input and output needs 'name', 'dtype', 'shape' and 'bytes', got "
                                 f"{tensor!r}.")
            if not isinstance(tensor["name"], str):
                fail(f"{field}.name", "a string", tensor["name"])
            try:
                itemsize = np.dtype(tensor["dtype"]).itemsize if isinstance(tensor["dtype"], str) else None
            except TypeError:
                itemsize = None
            if itemsize is None:
                fail(f"{field}.dtype", "a dtype name such as 'float32'", tensor["dtype"])
            if not isinstance(tensor["shape"], list) or not all(_is_int(d) and d >= 0 for d in tensor["shape"]):
                fail(f"{field}.shape", "a list of ints >= 0", tensor["shape"])
            expected = int(np.prod(tensor["shape"], dtype=np.int64)) * itemsize
            if tensor["bytes"] != expected or not _is_int(tensor["bytes"]):
                raise ValueError(f"{where}: tensor {tensor['name']!r} has {tensor['bytes']} bytes in the contract, but "
                                 f"{tensor['dtype']} {tensor['shape']} is {expected} bytes.")


def _validate_sections(contract, where):
    """The state, tokenizer and sampling sections of `_validate` (after `_validate_structure`)."""
    def fail(field, expected, got):
        _fail(where, field, expected, got)

    inputs = {t["name"]: t for t in contract["inputs"]}
    outputs = {t["name"]: t for t in contract["outputs"]}
    for index, entry in enumerate(contract["state"]):
        field = f"state[{index}]"
        if not isinstance(entry, dict):
            fail(field, "an object with 'input', 'output' and 'initial'", entry)
        if not isinstance(entry.get("input"), str) or entry["input"] not in inputs:
            fail(f"{field}.input", f"the name of an input {sorted(inputs)}", entry.get("input"))
        if not isinstance(entry.get("output"), str) or entry["output"] not in outputs:
            fail(f"{field}.output", f"the name of an output {sorted(outputs)}", entry.get("output"))
        source, target = inputs[entry["input"]], outputs[entry["output"]]
        if source["dtype"] != "float32" or (source["dtype"], source["shape"]) != (target["dtype"], target["shape"]):
            raise ValueError(f"{where}: the model contract's {field} ({entry['input']!r} -> {entry['output']!r}) must "
                             f"be float32 with the same shape in and out; the contract has {_describe(source)} and "
                             f"{_describe(target)}.")
        for key in ("dtype", "shape", "bytes"):
            if key in entry and entry[key] != source[key]:
                fail(f"{field}.{key}", f"{source[key]!r}, as input {entry['input']!r} says", entry[key])
        if entry.get("initial") != "zeros":
            fail(f"{field}.initial", "'zeros' (the only initial state the app supports)", entry.get("initial"))
    tokenizer = contract.get("tokenizer")
    if tokenizer is not None:
        if not isinstance(tokenizer, dict):
            fail("tokenizer", "an object or null", tokenizer)
        if tokenizer.get("type") not in _TOKENIZERS:
            fail("tokenizer.type", f"one of {_TOKENIZERS}", tokenizer.get("type"))
        if not _is_int(tokenizer.get("vocab_size")) or tokenizer["vocab_size"] != BYTE_TOKENIZER["vocab_size"]:
            fail("tokenizer.vocab_size", f"{BYTE_TOKENIZER['vocab_size']} for the byte tokenizer",
                 tokenizer.get("vocab_size"))
    sampling = contract.get("sampling")
    if sampling is not None:
        if not isinstance(sampling, dict):
            fail("sampling", "an object or null", sampling)
        for key, value in (("algorithm", _sampling.SAMPLING_ALGORITHM), ("generator", _sampling.GENERATOR)):
            if sampling.get(key) != value:
                fail(f"sampling.{key}", f"{value!r} (what this keras_dl and the app implement)", sampling.get(key))
        temperature = sampling.get("temperature")
        if not _is_number(temperature) or not math.isfinite(temperature) or temperature < 0:
            fail("sampling.temperature", "a finite number >= 0", temperature)
        top_k = sampling.get("top_k")
        if top_k is not None and (not _is_int(top_k) or top_k <= 0):
            fail("sampling.top_k", "an int > 0 or null (all tokens)", top_k)
        seed = sampling.get("seed")
        if not _is_int(seed) or not 0 <= seed < 2**64:
            fail("sampling.seed", "an int in [0, 2**64)", seed)
        token = inputs.get(sampling.get("token_input")) if isinstance(sampling.get("token_input"), str) else None
        if token is None or token["dtype"] != "int32" or token["shape"] != [1]:
            fail("sampling.token_input", f"the name of an int32 [1] input (inputs {sorted(inputs)})",
                 sampling.get("token_input"))
        logits = (outputs.get(sampling.get("logits_output")) if isinstance(sampling.get("logits_output"), str)
                  else None)
        if logits is None or logits["dtype"] != "float32" or len(logits["shape"]) != 2 or logits["shape"][0] != 1:
            fail("sampling.logits_output", f"the name of a float32 [1, vocab] output (outputs {sorted(outputs)})",
                 sampling.get("logits_output"))
        if tokenizer is not None and logits["shape"][1] != tokenizer["vocab_size"]:
            raise ValueError(f"{where}: the model contract's sampling.logits_output {sampling['logits_output']!r} has "
                             f"{logits['shape'][1]} logits but its tokenizer.vocab_size is {tokenizer['vocab_size']}.")


def read_contract(path):
    """Reads and checks a model contract: every section, with the rules of `android_demo`'s `ModelContract`.

    The model's file, SHA-256 and size; each tensor's name, dtype, integer shape and byte size;
    state entries naming an input and an output of one float32 layout, starting from zeros;
    the byte tokenizer (256 tokens); the sampling algorithm and generator, a finite temperature
    >= 0, top-k, seed, an int32 `[1]` token input and a float32 `[1, vocab]` logits output
    with the tokenizer's number of logits. A `ValueError` names the file and the field.

    Args:
        path: a `.contract.json` file, or a `.tflite` file whose contract lies beside it.

    Returns:
        the contract dict.

    Example:
    >>> from keras_dl.export import export_tflite
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    >>> read_contract(export_tflite(model, "dense.tflite"))["model"]["file"]
    'dense.tflite'
    """
    path = os.fspath(path)
    if path.endswith(".tflite"):
        path = contract_path(path)
    contract = _read_json(path)
    _validate(contract, repr(path))
    return contract


def _read_json(path):
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"`path`: no model contract at {path!r} (export_tflite writes one beside each .tflite).")
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"`path`: {path!r} is not valid JSON (truncated or corrupt?): {error}.") from None


def _describe(tensor):
    return f"{tensor['dtype']} {tensor['shape']} ({tensor['bytes']} bytes)"


def check_details(contract, signature, input_details, output_details, content=None, where="the model"):
    """Compares a contract with a loaded model's signature details; raises a `ValueError` naming what disagrees.

    `check_contract` without a second load: `TFLiteModel` calls it with the interpreter it
    has already built and the bytes it has already read.

    Args:
        contract: the contract dict.
        signature: the signature key the model runs.
        input_details, output_details: the signature runner's `get_input_details()` and
            `get_output_details()`.
        content: the file's bytes, to compare with the contract's SHA-256 (`None`: not compared).
        where: how messages name the model (e.g. its path).

    Returns:
        `contract`.
    """
    return _check_details(contract, signature, input_details, output_details, content, where, "`contract`")


def _check_details(contract, signature, input_details, output_details, content, where, contract_where):
    # The document's own structure, then the model, then the sections that refer to its tensors: a contract that
    # disagrees with the model is reported as the byte-size mismatch the app would meet (tensorflow#43965).
    _validate_structure(contract, contract_where)
    if content is not None:
        digest = hashlib.sha256(content).hexdigest()
        if digest != contract["model"]["sha256"]:
            raise ValueError(f"The contract was written for another file than {where}: its sha256 is "
                             f"{contract['model']['sha256']}, the file's is {digest}. Re-export the model (which "
                             f"writes both) or write its contract again with write_contract.")
        if len(content) != contract["model"]["bytes"]:  # the app compares the size too (ModelContract.checkModelBytes)
            raise ValueError(f"{contract_where}: the model contract's model.bytes is {contract['model']['bytes']} but "
                             f"the file has {len(content)} bytes ({where}). Re-export the model (which writes both) or "
                             f"write its contract again with write_contract.")
    if contract["signature"] != signature:
        raise ValueError(f"The contract is for signature {contract['signature']!r}; {where} runs {signature!r}.")
    for kind, details in (("inputs", input_details), ("outputs", output_details)):
        actual = {name: _tensor(name, d) for name, d in details.items()}
        declared = {t["name"]: t for t in contract[kind]}
        if set(actual) != set(declared):
            raise ValueError(f"The contract's {kind} are {sorted(declared)}; {where} has {sorted(actual)}.")
        for name, tensor in declared.items():
            found = actual[name]
            if (tensor["dtype"], list(tensor["shape"]), tensor["bytes"]) != (found["dtype"], found["shape"], found["bytes"]):
                side = "send" if kind == "inputs" else "read"
                raise ValueError(
                    f"{kind[:-1]} {name!r}: the contract says {_describe(tensor)}, {where} has {_describe(found)}. "
                    f"An app that follows the contract would {side} a {tensor['bytes']}-byte buffer and LiteRT would "
                    f"fail with 'Cannot copy {'to' if kind == 'inputs' else 'from'} a TensorFlowLite tensor with "
                    f"{found['bytes']} bytes {'from' if kind == 'inputs' else 'to'} a Java Buffer with "
                    f"{tensor['bytes']} bytes' (tensorflow/tensorflow#43965). Re-export the model and its contract "
                    f"together.")
    _validate_sections(contract, contract_where)
    return contract


def check_contract(tflite, contract=None):
    """Checks a `.tflite` file against its model contract; raises a `ValueError` naming what disagrees.

    Compares the SHA-256, the size, the signature, and each input's and output's dtype, shape
    and byte size: the mismatch an app would otherwise meet as LiteRT's "Cannot copy to a
    TensorFlowLite tensor with X bytes from a Java Buffer with Y bytes" (tensorflow/tensorflow#43965);
    then the state, tokenizer and sampling sections, with the app's rules (see `read_contract`).

    Args:
        tflite: path to the `.tflite` file, or its bytes.
        contract: the contract (dict) or its path; by default the one beside `tflite`.

    Returns:
        the contract dict.

    Example:
    >>> from keras_dl.export import export_tflite
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    >>> check_contract(export_tflite(model, "dense.tflite"))["outputs"][0]["bytes"]
    8
    """
    if contract is None:
        if isinstance(tflite, (bytes, bytearray)):
            raise ValueError("`contract` is needed when `tflite` is bytes.")
        contract = contract_path(tflite)
    if isinstance(contract, dict):
        contract_where = "`contract`"
    else:
        contract, contract_where = _read_json(contract), repr(os.fspath(contract))
    _validate_structure(contract, contract_where)
    content, interpreter = _load(tflite)
    where = "the model" if isinstance(tflite, (bytes, bytearray)) else repr(os.fspath(tflite))
    signature = contract["signature"]
    signatures = interpreter.get_signature_list()
    if signature not in signatures:
        raise ValueError(f"The contract is for signature {signature!r}; {where} has {sorted(signatures)}.")
    runner = interpreter.get_signature_runner(signature)
    return _check_details(contract, signature, runner.get_input_details(), runner.get_output_details(), content, where,
                          contract_where)
