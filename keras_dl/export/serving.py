"""TensorFlow Serving model repositories: versioned SavedModels, warm-up requests, server configs, checks.

A repository is the folder TensorFlow Serving watches:

```
ROOT/models.config                  ModelServerConfig: each model's base path, version policy, labels
ROOT/batching_parameters.txt        BatchingParameters for --enable_batching (a template to tune)
ROOT/NAME/1/saved_model.pb          version 1 of model NAME ...
ROOT/NAME/1/variables/
ROOT/NAME/1/assets.extra/tf_serving_warmup_requests   PredictionLogs replayed by the server at load
ROOT/NAME/1/assets.extra/keras_dl_serving.json        the signatures' contract (names, dtypes, shapes)
```

A version directory appears under its number only once complete (it is written under a
hidden name and renamed), so the server never loads half a model. Without a server,
`check_serving_version` loads each version with `tf.saved_model.load`, replays its warm-up
requests through the named signatures and compares them with Keras.
"""

import json
import os
import re
import shlex

import keras
import numpy as np
import tensorflow as tf
from google.protobuf import text_format
from keras import tree
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow_serving.apis import model_pb2
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.apis import prediction_log_pb2
from tensorflow_serving.config import file_system_storage_path_source_pb2
from tensorflow_serving.config import model_server_config_pb2

from keras_dl import _checks
from keras_dl.export.atomic import atomic_path
from keras_dl.export.atomic import write_text
from keras_dl.export.recurrent import input_structure

PREDICT_METHOD = "tensorflow/serving/predict"  # the method name Serving's Predict API and REST expect
WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")
CONTRACT_FILE = os.path.join("assets.extra", "keras_dl_serving.json")
MAX_WARMUP_RECORDS = 1000  # Serving reads at most 1,000 warm-up records
INTEGER_DTYPES = ("int32", "int64")
VERSION_POLICIES = ("latest", "all", "specific")


def _dtype(dtype):
    return keras.backend.standardize_dtype(dtype)


def _numpy_dtype(dtype):
    """The NumPy dtype of a TF dtype; strings are bytes objects, as `tf.make_ndarray` gives them."""
    dtype = tf.dtypes.as_dtype(dtype)
    return np.dtype(object) if dtype == tf.string else dtype.as_numpy_dtype


def _dtype_name(array):
    """The TF dtype name of a NumPy array (`string` for bytes and str arrays)."""
    return "string" if array.dtype.kind in "OSU" else array.dtype.name


# TensorFlow takes signature argument names of this form only ("my feature", "x:0" are refused).
_SIGNATURE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class Signature:
    """One named signature: `fn(inputs: dict name -> tensor) -> dict name -> tensor`, and its input specs.

    `fn` calls the Keras model, so the same object gives the SavedModel's signature and the
    Keras reference that checks it.
    """

    def __init__(self, model, specs, fn, structure):
        # `structure`: the model call's argument with input names in place of tensors (a name, a list, a dict).
        self.model, self.specs, self.fn, self.structure = model, specs, fn, structure

    def keras_outputs(self, inputs):
        """The Keras model's outputs, as NumPy, for named NumPy `inputs`."""
        tensors = {name: tf.constant(np.asarray(inputs[name]), spec.dtype) for name, spec in self.specs.items()}
        return {name: np.asarray(value) for name, value in self.fn(tensors).items()}

    def check_names(self, signature):
        """Raises if an input or output name cannot be a key of a SavedModel signature."""
        names = [("input", name) for name in self.specs]
        try:  # Output names need a trace; a bad input name fails the trace first, so those are checked before.
            for kind, name in names:
                _check_key(signature, kind, name)
            outputs = tf.function(self.fn).get_concrete_function(self.specs).structured_outputs
        except (ValueError, TypeError) as error:
            raise ValueError(f"signature {signature!r}: `model` rejects inputs of the signature "
                             f"{ {k: (v.dtype.name, v.shape.as_list()) for k, v in self.specs.items()} }: {error}") from None
        for name in outputs:
            _check_key(signature, "output", name)


def _check_key(signature, kind, name):
    if not _SIGNATURE_KEY.fullmatch(name):
        raise ValueError(f"signature {signature!r}: {kind} name {name!r} cannot be a SavedModel signature key "
                         f"(letters, digits and '_', not starting with a digit): rename the Keras {kind} "
                         f"(keras.Input(name=...) or the output layer's name).")


def _output_dict(model, outputs, names=None):
    """Outputs named: a dict keeps its keys; tensors take `names`, else the functional model's output names
    (else `outputs`)."""
    if isinstance(outputs, dict):
        return dict(outputs)
    flat = tree.flatten(outputs)
    names = list(names or getattr(model, "output_names", None) or [])
    if len(names) != len(flat) or len(set(names)) != len(names):
        names = ["outputs"] if len(flat) == 1 else [f"outputs_{i}" for i in range(len(flat))]
    return dict(zip(names, flat))


def _signature(model, structure, specs, integer_dtype, output_names=None):
    """A `Signature` over `model.__call__`, whose argument has `structure` (tensors are input names)."""
    model_dtypes = {name: spec.dtype for name, spec in specs.items()}
    specs = {name: tf.TensorSpec(spec.shape, integer_dtype if _dtype(spec.dtype) in INTEGER_DTYPES else spec.dtype,
                                 name=name) for name, spec in specs.items()}

    def fn(inputs):
        # Integer inputs arrive as `integer_dtype` (REST and most clients send int64) and are cast to the model's.
        args = tree.map_structure(lambda name: tf.cast(inputs[name], model_dtypes[name]), structure)
        return _output_dict(model, model(args, training=False), output_names)

    return Signature(model, specs, fn, structure)


def _functional_signature(model, integer_dtype):
    structure = input_structure(model)
    flat = tree.flatten(structure)
    generic = [t.name.startswith("keras_tensor") for t in flat]
    names = [("inputs" if len(flat) == 1 else f"inputs_{i}") if g else t.name
             for i, (t, g) in enumerate(zip(flat, generic))]
    specs = {name: tf.TensorSpec([None, *t.shape[1:]], t.dtype, name=name) for name, t in zip(names, flat)}
    return _signature(model, tree.pack_sequence_as(structure, names), specs, integer_dtype)


def _example_signature(model, examples, integer_dtype):
    """A subclassed model's signature from example inputs: their names, dtypes and shapes, any batch size."""
    if examples is None:
        raise ValueError(f"`examples` are needed for {type(model).__name__}, a subclassed model without symbolic "
                         "inputs: its signature (names, dtypes, shapes) is taken from them. Or build the model "
                         "functionally (keras.Input).")
    if isinstance(examples, dict):
        structure = {key: key for key in examples}
    elif isinstance(examples, (list, tuple)):
        structure = [f"inputs_{i}" for i in range(len(examples))]
    else:
        structure = "inputs"
    arrays = dict(zip(tree.flatten(structure), tree.flatten(examples)))
    specs = {name: tf.TensorSpec([None, *np.shape(a)[1:]], _dtype(np.asarray(a).dtype), name=name)
             for name, a in arrays.items()}
    return _signature(model, structure, specs, integer_dtype)


def serving_signatures(model, examples=None, integer_dtype="int64"):
    """The signatures `export_serving_version` writes for `model`: dict name -> `Signature`.

    - A language model with a `step_model()` (`RNNLanguageModel`): `serving_default` (`tokens`
      `[batch, time]` -> `logits`) and `step` (`token`, `state` -> `logits`, `state`), the
      streaming form.
    - A functional model: `serving_default` with its inputs' and outputs' names.
    - A subclassed model: `serving_default` with the names, dtypes and shapes of `examples` (an
      array is named `inputs`, a dict keeps its keys), any batch size.

    Integer inputs are declared as `integer_dtype` (`"int64"`, what REST and NumPy clients send,
    or `"int32"`) and cast to the model's dtype inside the graph.
    """
    if not isinstance(model, keras.Model):
        raise TypeError(f"`model` must be a keras.Model, got {type(model).__name__}.")
    if integer_dtype not in INTEGER_DTYPES:
        raise ValueError(f"`integer_dtype` must be one of {INTEGER_DTYPES}, got {integer_dtype!r}.")
    if hasattr(model, "step_model"):
        if not model.built:
            model.build((None, None))
        tokens = {"tokens": tf.TensorSpec([None, None], "int32", name="tokens")}
        step = model.step_model(batch_size=None)
        return {"serving_default": _signature(model, "tokens", tokens, integer_dtype, ["logits"]),
                "step": _functional_signature(step, integer_dtype)}
    if input_structure(model) is not None:
        return {"serving_default": _functional_signature(model, integer_dtype)}
    return {"serving_default": _example_signature(model, examples, integer_dtype)}


def _named_examples(signatures, examples):
    """Example inputs per signature: dict signature -> dict input name -> array, checked against the specs."""
    if isinstance(examples, dict) and examples and set(examples) <= set(signatures) and not (
            set(examples) & set(signatures["serving_default"].specs)):
        per_signature = dict(examples)
    else:
        default = signatures["serving_default"]
        names = list(default.specs)
        if isinstance(examples, dict):
            named = dict(examples)
        elif isinstance(examples, (list, tuple)) and len(names) > 1:
            named = dict(zip(names, examples))
        elif len(names) > 1:
            raise ValueError(f"`examples` must hold one array per input of the model, {names} (a dict by name or a "
                             f"list), got one {type(examples).__name__}.")
        else:
            named = {names[0]: examples}
        per_signature = {"serving_default": named}
        if "step" in signatures and "tokens" in named:
            # The streaming signature warms up on each example's first token, from the zero state.
            tokens = np.asarray(named["tokens"])
            state = signatures["step"].specs["state"]
            if tokens.ndim == 2 and tokens.shape[1]:
                per_signature["step"] = {"token": tokens[:, 0],
                                         "state": np.zeros((len(tokens), *state.shape[1:]), _numpy_dtype(state.dtype))}
    for signature, inputs in per_signature.items():
        if signature not in signatures:
            raise ValueError(f"`examples` has inputs for {signature!r}, which is not a signature "
                             f"({sorted(signatures)}).")
        specs = signatures[signature].specs
        if not isinstance(inputs, dict) or sorted(inputs) != sorted(specs):
            got = sorted(inputs) if isinstance(inputs, dict) else type(inputs).__name__
            raise ValueError(f"`examples` for signature {signature!r} must have the inputs {sorted(specs)}, got {got}.")
        rows = set()
        for name, spec in specs.items():
            array = np.asarray(inputs[name])
            if not spec.shape.is_compatible_with(array.shape):
                raise ValueError(f"`examples`: input {name!r} of signature {signature!r} must have shape "
                                 f"{spec.shape.as_list()} (None: any), got {list(array.shape)}.")
            kinds = {"string": "OSU", "bool": "b"}.get(spec.dtype.name, "iu" if spec.dtype.is_integer else "f")
            if array.dtype.kind not in kinds and not (kinds == "f" and array.dtype.kind in "iu"):
                raise TypeError(f"`examples`: input {name!r} of signature {signature!r} must be {spec.dtype.name}, "
                                f"got {array.dtype.name}.")
            if spec.dtype == tf.string:
                array = np.vectorize(lambda v: v.encode() if isinstance(v, str) else v, otypes=[object])(array)
            inputs[name] = array.astype(_numpy_dtype(spec.dtype))
            rows.add(array.shape[0] if array.ndim else None)
        if len(rows) != 1 or not next(iter(rows)):
            raise ValueError(f"`examples` for signature {signature!r} must be one non-empty batch: every input with "
                             f"the same number of rows, got rows {sorted(rows, key=str)}.")
    if not per_signature:
        raise ValueError("`examples` must hold at least one signature's inputs.")
    return per_signature


def warmup_requests(name, examples, max_records=MAX_WARMUP_RECORDS):
    """`PredictionLog`s (Serving's warm-up format) for `examples` (signature -> named inputs): per signature,
    one request with the whole batch and, if the batch has several rows, one with the first row."""
    logs = []
    for signature, inputs in examples.items():
        rows = len(next(iter(inputs.values())))
        for batch in ([rows, 1] if rows > 1 else [rows]):
            request = predict_pb2.PredictRequest(model_spec=model_pb2.ModelSpec(name=name, signature_name=signature))
            for key, value in inputs.items():
                request.inputs[key].CopyFrom(tf.make_tensor_proto(value[:batch]))
            logs.append(prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request)))
    if len(logs) > max_records:
        raise ValueError(f"{len(logs)} warm-up requests; TensorFlow Serving reads at most {max_records}.")
    return logs


def _check_model_name(name):
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
        raise ValueError(f"`name` must be a model name of letters, digits, '_', '.' or '-', got {name!r}.")
    return name


def versions(base_path):
    """The version numbers present (complete) under a model's base path, sorted."""
    if not os.path.isdir(base_path):
        return []
    return sorted(int(d) for d in os.listdir(base_path) if d.isdigit() and os.path.isdir(os.path.join(base_path, d)))


def _write_archive(path, signatures):
    archive = keras.export.ExportArchive()
    for name, signature in signatures.items():
        archive.track(signature.model)
        archive.add_endpoint(name, signature.fn, input_signature=[signature.specs])
    archive.write_out(path, verbose=False)


def export_signatures(path, signatures):
    """Writes a SavedModel of `signatures` (name -> `Signature`, e.g. `serving_signatures(model)`), atomically.

    A plain SavedModel, with no version folder or warm-up: `export_serving_version` writes those.
    """
    if not isinstance(signatures, dict) or "serving_default" not in signatures:
        raise ValueError(f"`signatures` must be a dict name -> Signature with a 'serving_default', got {signatures!r}.")
    with atomic_path(path) as tmp:
        _write_archive(tmp, signatures)
    return path


def export_serving_version(model, base_path, examples, version=None, integer_dtype="int64", overwrite=False):
    """Writes one version of `model` for TensorFlow Serving: `base_path/<version>/`, atomically.

    The SavedModel holds the `serving_signatures` (method `tensorflow/serving/predict`), its
    warm-up requests built from `examples` (`assets.extra/tf_serving_warmup_requests`, which
    Serving replays before it answers, so the first user request is not the slow one) and the
    signatures' contract. The version is written under a hidden name, checked against `model`
    (`check_serving_version`) and only then renamed: Serving, which watches `base_path`, never
    sees a half-written version, nor one that fails its check.

    Args:
        model: a Keras model (functional, or subclassed with `examples` giving its inputs).
        base_path: the model's folder in the repository (`ROOT/NAME`); its name is the model name.
        examples: real example inputs, a batch, as the model takes them (an array, a list, or a
            dict by input name), or a dict signature name -> dict input name -> array.
        version: positive int; by default one more than the newest version present (1 if none).
        integer_dtype: dtype of integer inputs in the signatures (`"int64"` or `"int32"`).
        overwrite: replace an existing version (a running server may already have loaded it).

    Returns:
        the path of the version directory.

    Example:
    >>> inputs = keras.Input((4,), name="features")
    >>> model = keras.Model(inputs, keras.layers.Dense(3, name="scores")(inputs))
    >>> export_serving_version(model, "repo/classifier", np.random.rand(8, 4))
    '.../repo/classifier/1'
    >>> sorted(tf.saved_model.load("repo/classifier/1").signatures)
    ['serving_default']
    """
    return _export_version(model, base_path, examples, version, integer_dtype, overwrite)[0]


def _export_version(model, base_path, examples, version, integer_dtype, overwrite=False):
    """`export_serving_version`, returning `(path, the check's report)`."""
    base_path = os.path.abspath(os.fspath(base_path))
    name = _check_model_name(os.path.basename(base_path))
    if version is None:
        version = (versions(base_path) or [0])[-1] + 1
    version = _checks.positive_int("version", version)
    path = os.path.join(base_path, str(version))
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(f"`version`: {path} exists; a served version is immutable. Pass a new version, or "
                              "overwrite=True.")
    signatures = serving_signatures(model, examples, integer_dtype)
    for key, signature in signatures.items():
        signature.check_names(key)
    examples = _named_examples(signatures, examples)
    for key, inputs in examples.items():  # fails here, before writing, if the model rejects its examples
        try:
            signatures[key].keras_outputs(inputs)
        except (ValueError, TypeError, tf.errors.OpError) as error:
            message = getattr(error, "message", None) or str(error)
            raise ValueError(f"`examples`: the model fails on the examples of signature {key!r} (out-of-range token "
                             f"ids, inconsistent shapes?): {message.strip().splitlines()[0]}") from None
    with atomic_path(path) as tmp:
        _write_archive(tmp, signatures)
        os.makedirs(os.path.join(tmp, "assets.extra"), exist_ok=True)
        with tf.io.TFRecordWriter(os.path.join(tmp, WARMUP_FILE)) as writer:
            for log in warmup_requests(name, examples):
                writer.write(log.SerializeToString())
        contract = {"format": "keras_dl.serving_contract", "version": 1, "model_name": name,
                    "model_version": version, "signatures": saved_model_signatures(tmp),
                    "input_structures": {key: signature.structure for key, signature in signatures.items()}}
        with open(os.path.join(tmp, CONTRACT_FILE), "w", encoding="utf-8") as f:
            json.dump(contract, f, indent=2)
        # Checked before it appears under its number: a version that fails is never visible to the server.
        report = _check_version(tmp, name, version, model, atol=1e-4)
    return path, report


def saved_model_signatures(path):
    """What `saved_model_cli show --all` shows of a SavedModel's signatures: name -> method name, and
    each input's and output's dtype and shape (-1: any)."""
    proto = saved_model_pb2.SavedModel()
    with open(os.path.join(path, "saved_model.pb"), "rb") as f:
        proto.ParseFromString(f.read())

    def tensors(infos):
        return {key: {"dtype": tf.dtypes.as_dtype(info.dtype).name,
                      "shape": None if info.tensor_shape.unknown_rank else [d.size for d in info.tensor_shape.dim]}
                for key, info in sorted(infos.items())}

    return {key: {"method_name": s.method_name, "inputs": tensors(s.inputs), "outputs": tensors(s.outputs)}
            for key, s in sorted(proto.meta_graphs[0].signature_def.items()) if not key.startswith("__")}


def read_warmup_requests(version_path):
    """The warm-up `PredictionLog`s of a version, parsed with TensorFlow Serving's protos."""
    path = os.path.join(version_path, WARMUP_FILE)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{version_path} has no {WARMUP_FILE}.")
    return [prediction_log_pb2.PredictionLog.FromString(record.numpy()) for record in tf.data.TFRecordDataset(path)]


def check_serving_version(version_path, model=None, atol=1e-4):
    """Checks a version as TensorFlow Serving would load it, without a server; returns a report.

    Checks that the signatures in `saved_model.pb` are the contract's (names, dtypes, shapes,
    method `tensorflow/serving/predict`, a `serving_default`), that the warm-up records parse
    with Serving's `PredictionLog` proto (at most 1,000, each naming this model and an existing
    signature with its inputs and dtypes), then loads the SavedModel with `tf.saved_model.load`,
    replays every warm-up request through its signature and, given `model`, compares the
    answers with Keras'. Raises a `ValueError` naming the first disagreement.

    Args:
        version_path: `ROOT/NAME/<version>`.
        model: the Keras model exported (optional): the reference the answers must match.
        atol: largest absolute difference allowed between the SavedModel and Keras.

    Returns:
        dict: `name`, `version`, `signatures` (as `saved_model_signatures`), `warmup_records`,
        `max_abs_diff` (None without `model`).
    """
    version_path = os.path.abspath(os.fspath(version_path))
    version, name = os.path.basename(version_path), os.path.basename(os.path.dirname(version_path))
    if not version.isdigit() or not os.path.isfile(os.path.join(version_path, "saved_model.pb")):
        raise ValueError(f"`version_path` must be a version directory NAME/<number> holding saved_model.pb, got "
                         f"{version_path!r}.")
    return _check_version(version_path, name, int(version), model, atol)


def _check_version(version_path, name, version, model, atol):
    atol = _checks.non_negative_float("atol", atol)
    if atol != atol or atol == float("inf"):
        raise ValueError(f"`atol` must be finite, got {atol}.")
    contract_path = os.path.join(version_path, CONTRACT_FILE)
    if not os.path.isfile(contract_path):
        raise ValueError(f"{version_path} has no {CONTRACT_FILE}: it was not written by export_serving_version.")
    try:
        with open(contract_path, encoding="utf-8") as f:
            contract = json.load(f)
        contract_signatures, structures = contract["signatures"], contract["input_structures"]
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{contract_path} is not a readable serving contract: {type(error).__name__}: {error}") from None
    try:
        found = saved_model_signatures(version_path)
    except Exception as error:  # protobuf's DecodeError and friends: the file is damaged
        raise ValueError(f"{version_path}/saved_model.pb is not a readable SavedModel: {error}") from None
    if found != contract_signatures:
        raise ValueError(f"{version_path}: the SavedModel's signatures differ from its contract: "
                         f"found {found}, contract {contract_signatures}.")
    if "serving_default" not in found:
        raise ValueError(f"{version_path} has no 'serving_default' signature, which Serving calls by default.")
    for key, signature in found.items():
        if signature["method_name"] != PREDICT_METHOD:
            raise ValueError(f"signature {key!r} has method {signature['method_name']!r}, not {PREDICT_METHOD!r}.")
    try:
        logs = read_warmup_requests(version_path)
    except (tf.errors.OpError, ValueError) as error:  # DataLossError, DecodeError: not TFRecords of PredictionLogs
        message = getattr(error, "message", None) or str(error)
        raise ValueError(f"{version_path}: {WARMUP_FILE} is not a TFRecord file of PredictionLogs: {message}") from None
    if not 0 < len(logs) <= MAX_WARMUP_RECORDS:
        raise ValueError(f"{version_path}: {len(logs)} warm-up records; Serving wants 1 to {MAX_WARMUP_RECORDS}.")
    loaded = tf.saved_model.load(version_path)
    reference = None
    if model is not None:
        # A subclassed model's signature comes from example inputs: zeros of the contract's shapes and structure.
        inputs = found["serving_default"]["inputs"]
        examples = tree.map_structure(
            lambda key: np.zeros([max(d, 1) for d in inputs[key]["shape"]], _numpy_dtype(inputs[key]["dtype"])),
            structures["serving_default"])
        integer = [info["dtype"] for s in found.values() for info in s["inputs"].values() if info["dtype"] in INTEGER_DTYPES]
        try:
            reference = serving_signatures(model, examples, integer[0] if integer else "int64")
        except (ValueError, TypeError, KeyError) as error:
            raise ValueError(f"`model` is not the model of {version_path}: {type(error).__name__}: {error}") from None
        if sorted(reference) != sorted(found):
            raise ValueError(f"`model` has the signatures {sorted(reference)}, the SavedModel {sorted(found)}.")
        for key, signature in reference.items():
            specs = {k: {"dtype": v.dtype.name, "shape": [-1 if d is None else d for d in v.shape.as_list()]}
                     for k, v in signature.specs.items()}
            if specs != found[key]["inputs"]:
                raise ValueError(f"`model` is not the model of {version_path}: signature {key!r} takes {specs}, the "
                                 f"SavedModel {found[key]['inputs']}.")
    max_diff = 0.0
    for i, log in enumerate(logs):
        request = log.predict_log.request
        key = request.model_spec.signature_name or "serving_default"
        if request.model_spec.name != name:
            raise ValueError(f"warm-up record {i} is for model {request.model_spec.name!r}, not {name!r}: Serving "
                             "rejects it.")
        if key not in found:
            raise ValueError(f"warm-up record {i} calls signature {key!r}, which is not in the SavedModel.")
        expected = found[key]["inputs"]
        inputs = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
        if sorted(inputs) != sorted(expected):
            raise ValueError(f"warm-up record {i} has inputs {sorted(inputs)}; signature {key!r} takes {sorted(expected)}.")
        for k, array in inputs.items():
            if _dtype_name(array) != expected[k]["dtype"]:
                raise ValueError(f"warm-up record {i}: input {k!r} is {_dtype_name(array)}, signature {key!r} takes "
                                 f"{expected[k]['dtype']}.")
        answer = {k: v.numpy() for k, v in loaded.signatures[key](**{k: tf.constant(v) for k, v in inputs.items()}).items()}
        if reference is not None:
            keras_answer = reference[key].keras_outputs(inputs)
            if sorted(keras_answer) != sorted(answer):
                raise ValueError(f"signature {key!r} answers {sorted(answer)}; Keras gives {sorted(keras_answer)}.")
            for k in answer:
                if answer[k].dtype.kind in "OSU":  # string outputs must be equal
                    diff = 0.0 if np.array_equal(answer[k], keras_answer[k]) else float("inf")
                else:
                    diff = float(np.max(np.abs(answer[k].astype(np.float64) - keras_answer[k]))) if answer[k].size else 0.0
                if not diff <= atol:
                    raise ValueError(f"warm-up record {i}, signature {key!r}, output {k!r}: the SavedModel differs "
                                     f"from Keras by {diff:.3g} (> atol={atol}).")
                max_diff = max(max_diff, diff)
    return {"name": name, "version": version, "signatures": found, "warmup_records": len(logs),
            "max_abs_diff": max_diff if reference is not None else None}


def _policy(version_policy, specific_versions):
    policy = file_system_storage_path_source_pb2.FileSystemStoragePathSourceConfig.ServableVersionPolicy()
    if version_policy == "latest":
        policy.latest.num_versions = 1
    elif version_policy == "all":
        policy.all.SetInParent()
    elif version_policy == "specific":
        if not specific_versions:
            raise ValueError("`specific_versions` must list the versions to serve for version_policy='specific'.")
        policy.specific.versions.extend(_checks.positive_int("specific_versions", v) for v in specific_versions)
    else:
        raise ValueError(f"`version_policy` must be one of {VERSION_POLICIES}, got {version_policy!r}.")
    return policy


def _read_models_config(root):
    path = os.path.join(root, "models.config")
    config = model_server_config_pb2.ModelServerConfig()
    if os.path.isfile(path):
        with open(path, encoding="utf-8") as f:
            try:
                text_format.Parse(f.read(), config)
            except text_format.ParseError as error:
                raise ValueError(f"{path} is not a ModelServerConfig text proto: {error}") from None
    return config


def _models_config(root, name, base_path, version_policy=None, specific_versions=None, labels=None,
                   new_version=None):
    """`ROOT/models.config` with model `name`'s entry added or updated, checked; see `update_models_config`."""
    name = _check_model_name(name)
    config = _read_models_config(root)
    old = next((c for c in config.model_config_list.config if c.name == name), None)
    if version_policy is None and old is not None and old.model_version_policy.WhichOneof("policy_choice"):
        policy = old.model_version_policy  # a new version keeps the policy the model is served under
    else:
        policy = _policy(version_policy or "latest", specific_versions)
    merged = dict(old.version_labels) if old is not None else {}
    for label, version in (labels or {}).items():
        if not isinstance(label, str) or not re.fullmatch(r"[A-Za-z0-9_.-]+", label):
            raise ValueError(f"`labels`: a label must be letters, digits, '_', '.' or '-', got {label!r}.")
        merged[label] = _checks.positive_int(f"labels[{label!r}]", version)
    present = sorted(set(versions(os.path.join(root, name))) | ({new_version} if new_version else set()))
    kind = policy.WhichOneof("policy_choice")
    served = {"latest": present[-policy.latest.num_versions:] if present else [], "all": present,
              "specific": list(policy.specific.versions)}[kind]
    missing = sorted(set(served) - set(present)) if kind == "specific" else []
    if missing:
        raise ValueError(f"`specific_versions`: {missing} not in {os.path.join(root, name)}, which holds {present}.")
    for label, version in merged.items():
        if version not in served:
            # Serving refuses a label on a version it does not load.
            raise ValueError(f"`labels`: {label!r} -> {version}, but the version policy ({kind}) serves {served} of "
                             f"the versions {present}; label a served version, or change the policy.")
    entry = model_server_config_pb2.ModelConfig(name=name, base_path=base_path, model_platform="tensorflow",
                                                model_version_policy=policy, version_labels=merged)
    configs = [c for c in config.model_config_list.config if c.name != name] + [entry]
    del config.model_config_list.config[:]
    config.model_config_list.config.extend(configs)
    return "# TensorFlow Serving --model_config_file, written by keras_dl.export.serving\n" + \
        text_format.MessageToString(config)


def update_models_config(root, name, base_path, version_policy=None, specific_versions=None, labels=None):
    """Adds or updates model `name` in `ROOT/models.config` (Serving's `--model_config_file`), atomically.

    Args:
        root: the repository folder.
        name: model name (the `NAME` of `/v1/models/NAME`).
        base_path: the model's folder as the server sees it (e.g. `/models/NAME` in Docker).
        version_policy: `"latest"` (the newest version), `"all"`, or `"specific"` (`specific_versions`);
            `None` keeps the model's present policy (`"latest"` for a new model).
        labels: dict label -> version (e.g. `{"stable": 1, "canary": 2}`), added to the model's
            present labels; each must name a version the policy serves (Serving refuses others).

    Returns:
        the path of `models.config`.
    """
    text = _models_config(root, name, base_path, version_policy, specific_versions, labels)
    path = os.path.join(root, "models.config")
    write_text(path, text)
    return path


def write_batching_parameters(root, max_batch_size=32, batch_timeout_micros=2000, num_batch_threads=2,
                              max_enqueued_batches=100):
    """Writes `ROOT/batching_parameters.txt` (Serving's `--batching_parameters_file`), a starting point to tune.

    `pad_variable_length_inputs` lets requests of different sequence lengths share a batch
    (padded with zeros: the language model's logits at padded steps are not read).
    """
    values = {"max_batch_size": max_batch_size, "batch_timeout_micros": batch_timeout_micros,
              "num_batch_threads": num_batch_threads, "max_enqueued_batches": max_enqueued_batches}
    for key, value in values.items():
        _checks.positive_int(key, value)
    text = ("# TensorFlow Serving BatchingParameters (--enable_batching --batching_parameters_file=...), written by\n"
            "# keras_dl.export.serving: a starting point; tune max_batch_size and the timeout on the serving machine.\n"
            + "".join(f"{key} {{ value: {value} }}\n" for key, value in values.items())
            + "pad_variable_length_inputs: true\n")
    path = os.path.join(root, "batching_parameters.txt")
    write_text(path, text)
    return path


def client_examples(name, version_path, host="localhost", rest_port=8501, grpc_port=8500):
    """Copy-paste requests for a served version, built from its first warm-up request: dict with `rest_instances`
    (row form) and `rest_inputs` (columnar form) curl commands, and `grpc` (a Python client)."""
    log = read_warmup_requests(version_path)[0]
    request = log.predict_log.request
    signature = request.model_spec.signature_name
    inputs = {k: tf.make_ndarray(v)[:1] for k, v in request.inputs.items()}

    def listed(array):  # JSON: strings as text
        return np.vectorize(lambda v: v.decode("utf-8", "replace"), otypes=[object])(array).tolist() \
            if array.dtype.kind == "O" else array.tolist()

    rows = [{k: listed(v)[0] for k, v in inputs.items()}]
    url = f"http://{host}:{rest_port}/v1/models/{name}:predict"
    instances = json.dumps({"signature_name": signature, "instances": rows})
    columns = json.dumps({"signature_name": signature, "inputs": {k: listed(v) for k, v in inputs.items()}})
    arrays = ", ".join(f"{k!r}: np.array({v.tolist()}, {'object' if v.dtype.kind == 'O' else 'np.' + v.dtype.name})"
                       for k, v in inputs.items())
    grpc = (
        "import grpc, numpy as np, tensorflow as tf\n"
        "from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc\n"
        f"channel = grpc.insecure_channel('{host}:{grpc_port}')\n"
        "stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)\n"
        "request = predict_pb2.PredictRequest()\n"
        f"request.model_spec.name = {name!r}\n"
        f"request.model_spec.signature_name = {signature!r}\n"
        f"for key, value in {{{arrays}}}.items():\n"
        "    request.inputs[key].CopyFrom(tf.make_tensor_proto(value))\n"
        "response = stub.Predict(request, timeout=10.0)\n"
        "print({key: tf.make_ndarray(value) for key, value in response.outputs.items()})\n"
    )
    return {"rest_instances": f"curl -s -X POST {url} -d {shlex.quote(instances)}",
            "rest_inputs": f"curl -s -X POST {url} -d {shlex.quote(columns)}", "grpc": grpc}


def server_commands(root, name, docker_root="/models"):
    """The `tensorflow_model_server` and Docker command lines that serve the repository at `root`."""
    root = os.path.abspath(root)
    quoted = shlex.quote(f"{root}:{docker_root}")
    flags = "--enable_batching --batching_parameters_file={0}/batching_parameters.txt --model_config_file={0}/models.config"
    return {
        "tensorflow_model_server": f"tensorflow_model_server --port=8500 --rest_api_port=8501 --model_name={name} "
                                   f"--model_base_path={shlex.quote(os.path.join(root, name))}",
        "docker": f"docker run --rm -p 8500:8500 -p 8501:8501 -v {quoted} tensorflow/serving "
                  + flags.format(docker_root),
    }


def publish_serving_version(model, root, name, examples, version=None, version_policy=None,
                            specific_versions=None, labels=None, integer_dtype="int64", docker_root="/models"):
    """Adds a checked version of `model` to the TensorFlow Serving repository at `root`, ready to serve.

    Writes `root/name/<version>` (`export_serving_version`), checks it against `model`
    (`check_serving_version`), then updates `root/models.config` (base path
    `docker_root/name`, as the Docker image mounts the repository) and writes
    `root/batching_parameters.txt` if there is none.

    Args:
        model, examples, version, integer_dtype: as in `export_serving_version`.
        root: the repository folder.
        name: the model's name in the repository and in requests (`/v1/models/NAME`).
        version_policy, specific_versions, labels: as in `update_models_config`.
        docker_root: where the server sees `root`.

    Returns:
        the check's report, plus `path`, `models_config`, `batching_parameters`, `commands`
        (`server_commands`) and `requests` (`client_examples`).

    Example:
    >>> inputs = keras.Input((4,), name="features")
    >>> model = keras.Model(inputs, keras.layers.Dense(3, name="scores")(inputs))
    >>> report = publish_serving_version(model, "repo", "classifier", np.random.rand(8, 4))
    >>> report["version"], report["warmup_records"], report["max_abs_diff"]
    (1, 2, 0.0)
    >>> print(report["commands"]["docker"])
    docker run --rm -p 8500:8500 -p 8501:8501 -v .../repo:/models tensorflow/serving ...
    """
    name = _check_model_name(name)
    if not isinstance(docker_root, str) or not docker_root.startswith("/"):
        raise ValueError(f"`docker_root` must be an absolute path (where the server mounts `root`), got {docker_root!r}.")
    base = os.path.join(root, name)
    if version is None:
        version = (versions(base) or [0])[-1] + 1
    version = _checks.positive_int("version", version)
    base_path = f"{docker_root.rstrip('/')}/{name}"
    # Every argument is checked before the version is written: a failed publish leaves the repository as it was.
    _models_config(root, name, base_path, version_policy, specific_versions, labels, new_version=version)
    path, report = _export_version(model, base, examples, version, integer_dtype)
    config = os.path.join(root, "models.config")
    write_text(config, _models_config(root, name, base_path, version_policy, specific_versions, labels))
    batching = os.path.join(root, "batching_parameters.txt")
    if not os.path.isfile(batching):
        write_batching_parameters(root)
    return {**report, "path": path, "models_config": config, "batching_parameters": batching,
            "commands": server_commands(root, name, docker_root), "requests": client_examples(name, path)}
