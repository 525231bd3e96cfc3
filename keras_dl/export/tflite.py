"""TFLite (LiteRT) conversion with built-in ops only, and a runner around `ai_edge_litert`."""

import os
import re

import numpy as np
import tensorflow as tf
from ai_edge_litert import interpreter as litert
from keras import tree

# The converter's error type has no public name; the flatbuffer schema and reader are TF's own tooling.
from tensorflow.lite.python import schema_py_generated as schema
from tensorflow.lite.python import schema_util
from tensorflow.lite.python.convert_phase import ConverterError
from tensorflow.lite.tools import flatbuffer_utils

from keras_dl import _checks
from keras_dl._layers import sublayers
from keras_dl.export import contract as _contract
from keras_dl.export._litert_timer import invoke_seconds
from keras_dl.export._litert_timer import set_inputs
from keras_dl.export.atomic import atomic_path
from keras_dl.export.recurrent import input_structure
from keras_dl.export.recurrent import tflite_recurrence

QUANTIZATIONS = ("float32", "float16", "dynamic_int8", "int8")


def export_tflite(model, path, input_signature=None, quantization="float32", sparse=False,
                  representative_dataset=None, timesteps=None, batch_size=1, unroll=None, fused_lstm=None,
                  report=None, verbose=False, contract=None, **converter_options):
    """Converts a Keras model to a `.tflite` file with TFLite built-in ops only, atomically, with its model contract.

    Uses Keras' own LiteRT export (`model.export(format="litert")`) but forbids Flex
    (SELECT_TF_OPS) kernels, which stock LiteRT runtimes on phones do not have: a model
    that needs them fails here rather than on the device. Recurrent layers (Keras' and
    keras_dl's, stacked, in `Bidirectional`, masked) convert through `tflite_recurrence`:
    unrolled when the length is static, a built-in `WHILE` loop that runs any length when
    it is not, LiteRT's fused LSTM op where the layer allows it.

    Args:
        model: a Keras model; for streaming, a step model (`streaming_model(model)`).
        path: output path ending in `.tflite`.
        input_signature: list of `tf.TensorSpec` (structures allowed) for the model's call; by
            default the functional model's inputs with `batch_size` and `timesteps` filled in.
        quantization: `"float32"`; `"float16"` weights; `"dynamic_int8"` (int8 weights,
            float activations); `"int8"` (weights and activations, calibrated on
            `representative_dataset`, float where an op has no int8 kernel).
        sparse: store pruned weights as sparse tensors (`EXPERIMENTAL_SPARSITY`); block
            sparsity in LiteRT's shapes ((4, 1) float, (16, 1) int8 in Keras axes) is kept
            as blocks, anything else becomes element-wise sparse plus a slow DENSIFY op.
        representative_dataset: callable yielding, for `"int8"`, dicts input name -> array, or
            lists of arrays in the order of the file's inputs (sorted by name for a model
            with dict inputs, such as a step model).
        timesteps: fixed sequence length for inputs whose time axis is unknown; `None`
            keeps it unknown: the file then accepts any length (resize the input).
        batch_size: the batch size of inputs whose batch axis is unknown (`None` keeps it
            unknown, which recurrent layers' `WHILE` loops and fused LSTMs do not allow).
        unroll: `None` unrolls recurrent loops of static length and uses `WHILE` otherwise;
            `True`/`False` force one form on every loop that is not a fused LSTM.
        fused_lstm: turn LSTM layers into LiteRT's `UNIDIRECTIONAL_SEQUENCE_LSTM` where the
            layer allows it (static length and batch, no mask, no `return_state`, no initial
            state given, tanh/sigmoid; `report` says why not); by default unless `sparse` (the
            fused kernel has no sparse weights, while the loop's FULLY_CONNECTED ops keep
            their blocks). The fused op keeps its state between `invoke()`s: reset it
            (`TFLiteModel` does) before each sequence.
        report: a dict to fill with the form each recurrent layer took: layer name ->
            `{"layer", "form", "not_fused_because"}`, `form` one of `"UNIDIRECTIONAL_SEQUENCE_LSTM"`,
            `"unrolled"`, `"WHILE"`.
        verbose: print that report, one line a layer.
        contract: dict of `keras_dl.export.contract.model_contract` options (`state`, `tokenizer`,
            `normalization`, `sampling`) for the model contract written beside the file
            (`model.tflite` -> `model.contract.json`), which says what a runtime must send.
        **converter_options: other attributes of `tf.lite.TFLiteConverter`.

    Returns:
        `path`.

    Example:
    >>> model = keras.Sequential([keras.Input((None, 4)), keras.layers.GRU(8)])
    >>> export_tflite(model, "any_length.tflite")                 # WHILE loop, any length
    'any_length.tflite'
    >>> export_tflite(model, "fixed.tflite", timesteps=100)        # unrolled
    'fixed.tflite'
    """
    if not os.fspath(path).endswith(".tflite"):
        raise ValueError(f"`path` must end with '.tflite', got {path!r}.")
    if quantization not in QUANTIZATIONS:
        raise ValueError(f"`quantization` must be one of {QUANTIZATIONS}, got {quantization!r}.")
    if (quantization == "int8") != (representative_dataset is not None):
        raise ValueError("`representative_dataset` is needed for, and only for, quantization='int8'.")
    if quantization == "float16" and sparse:
        # Seen with TF 2.21 and ai-edge-litert 2.x: every output is NaN, even for a plain Dense layer.
        raise ValueError("quantization='float16' with sparse=True gives NaN outputs on LiteRT; use sparse float32 "
                         "or sparse dynamic_int8.")
    if input_signature is None:
        input_signature = [default_input_signature(model, timesteps, batch_size)]
    elif timesteps is not None:
        raise ValueError("Pass `timesteps` or `input_signature`, not both.")
    if unroll and any(len(spec.shape) > 1 and spec.shape[1] is None for spec in tree.flatten(input_signature)):
        raise ValueError("`unroll=True` needs a static sequence length: pass `timesteps`.")
    check_convertible(model)
    if fused_lstm is None:
        fused_lstm = not sparse
    if quantization == "int8" and "WHILE" in _loop_forms(model, input_signature, unroll, fused_lstm):
        # Seen with TF 2.21: the calibrator crashes the process (segmentation fault) on WHILE loops.
        raise ValueError("quantization='int8' needs recurrent loops of static length (LiteRT's calibrator crashes "
                         "on WHILE loops): pass `timesteps`, or use quantization='dynamic_int8'.")
    optimizations = list(converter_options.pop("optimizations", []))
    if quantization != "float32":
        optimizations.append(tf.lite.Optimize.DEFAULT)
    if sparse:
        optimizations.append(tf.lite.Optimize.EXPERIMENTAL_SPARSITY)
    if optimizations:
        converter_options["optimizations"] = optimizations
    if representative_dataset is not None:
        converter_options["representative_dataset"] = representative_dataset
    target_spec = dict(converter_options.pop("target_spec", {}))
    if quantization == "float16":
        target_spec.setdefault("supported_types", [tf.float16])
    target_spec.setdefault("supported_ops", [tf.lite.OpsSet.TFLITE_BUILTINS])
    with atomic_path(path) as tmp, tflite_recurrence(model, unroll, fused_lstm) as forms:
        try:
            model.export(
                tmp, format="litert", verbose=False, input_signature=input_signature,
                target_spec=target_spec, **converter_options,
            )
        except ConverterError as error:
            raise ValueError(_explain_converter_error(model, error)) from error
    _contract.write_contract(path, **(contract or {}))
    if report is not None:
        report.update(forms)
    if verbose:
        for row in forms.values():
            why = f" (not fused: {row['not_fused_because']})" if row["not_fused_because"] else ""
            print(f"{row['layer']}: {row['form']}{why}")
    return path


def _loop_forms(model, input_signature, unroll, fused_lstm):
    """The form each recurrent layer takes for this signature, by tracing the model once."""
    with tflite_recurrence(model, unroll, fused_lstm) as report:
        tf.function(lambda *args: model(*args, training=False)).get_concrete_function(*input_signature)
    return {row["form"] for row in report.values()}


def default_input_signature(model, timesteps=None, batch_size=1):
    """`tf.TensorSpec`s of a functional model's inputs (its `model.input` structure: one spec, or a dict
    or list of them, with the inputs' names), with the unknown batch axis set to `batch_size` and an
    unknown time axis (axis 1) to `timesteps`."""
    if batch_size is not None:
        batch_size = _checks.positive_int("batch_size", batch_size)
    if timesteps is not None:
        timesteps = _checks.positive_int("timesteps", timesteps)
    inputs = input_structure(model)
    if inputs is None:
        raise ValueError(
            f"`input_signature` is needed for {type(model).__name__}, which has no symbolic inputs (a subclassed "
            f"model): e.g. input_signature=[tf.TensorSpec([1, None], tf.int32)] for token sequences."
        )

    def spec(tensor):
        shape = list(tensor.shape)
        shape[0] = batch_size if shape[0] is None else shape[0]
        if timesteps is not None and len(shape) > 1:
            if shape[1] not in (None, timesteps):
                raise ValueError(f"`timesteps`={timesteps}, but input {tensor.name!r} has the fixed length {shape[1]}.")
            shape[1] = timesteps
        return tf.TensorSpec(shape, tensor.dtype, name=tensor.name)

    return tree.map_structure(spec, inputs)


# Layers whose ops LiteRT has no built-in kernels for (string tables, hashing).
_NOT_CONVERTIBLE = {
    "StringLookup": "string tables", "TextVectorization": "string ops", "Hashing": "string hashing",
}


def check_convertible(model):
    """Raises a `ValueError` naming the first layer of `model` that cannot convert to built-in ops."""
    for layer in sublayers(model):
        what = _NOT_CONVERTIBLE.get(type(layer).__name__)
        if what:
            raise ValueError(
                f"Layer {layer.name!r} ({type(layer).__name__}) needs {what}, which LiteRT's built-in ops do not "
                f"have. Run it before the model (in the app or the tf.data pipeline) and export the model from its "
                f"output (token ids) on."
            )


def _explain_converter_error(model, error):
    # Each error names the TF op and where it was traced: "model/layer_1/Op@__inference_...".
    ops = sorted({data.operator.name for data in error.errors if data.operator.name})
    places = " ".join(call.name for data in error.errors for call in data.location.call)
    layers = [layer.name for layer in sublayers(model)[1:]
              if re.search(rf"/{re.escape(layer.name)}(_\d+)?/", places)]
    where = f" in layer(s) {', '.join(repr(n) for n in dict.fromkeys(layers))}" if layers else ""
    if any(op.startswith("tf.TensorList") for op in ops):
        # keras_dl's loops have static element shapes unless the batch size is unknown.
        where += " (a loop over an unknown batch size: pass `batch_size`)"
    return (
        f"`model` does not convert to LiteRT built-in ops: {', '.join(ops) or 'see the converter message below'}"
        f"{where}. Flex (SELECT_TF_OPS) kernels would run them, but stock phone runtimes do not ship them: "
        f"replace those layers or compute them outside the model.\nConverter message (last lines):\n"
        + "\n".join(str(error).strip().splitlines()[-6:])
    )


class TFLiteModel:
    """Runs one signature of a `.tflite` model with LiteRT.

    Args:
        model: path to a `.tflite` file, or its bytes.
        num_threads: CPU threads for the interpreter.
        default_delegates: whether LiteRT may apply its default delegate (XNNPACK); by
            default, on for dense models and off for sparse ones (XNNPACK is slow or
            wrong on them).
        signature: signature key; defaults to the only one (usually `serving_default`).

    Call arguments:
        inputs: dict input name -> numpy array.

    Returns from a call a dict output name -> numpy array.

    Attributes:
        op_names: sorted operator names of the file (e.g. `FULLY_CONNECTED`), before delegation.
        contract: the model contract lying beside the file (`model.contract.json`), checked
            against it (a `ValueError` names what disagrees), or `None` if there is none.
        sparse_tensors: the sparse constant tensors, `{"name", "shape", "block"}`, `block` the
            width of the dense blocks along the input axis (1: element-wise sparse).
        has_variables: whether the file holds variable tensors (the state of LiteRT's fused
            LSTM), which LiteRT carries from one `invoke()` to the next; each call here resets
            them first (on Android: `Interpreter.resetVariableTensors()` before each sequence).
        default_delegates: whether the default delegate is in use.

    Example:
    >>> from keras_dl.models import RNNLanguageModel
    >>> lm = RNNLanguageModel(embedding_dim=8, units=16)
    >>> step = TFLiteModel(export_tflite(lm.step_model(), "step.tflite"))
    >>> step({"token": np.array([65], np.int32), "state": np.zeros((1, 16), np.float32)})["logits"].shape
    (1, 256)
    """

    def __init__(self, model, num_threads=1, default_delegates=None, signature=None):
        if isinstance(model, (bytes, bytearray)):
            source = {"model_content": bytes(model)}
        elif os.path.isfile(model):
            source = {"model_path": os.fspath(model)}
        else:
            raise FileNotFoundError(f"`model`: no .tflite file at {os.fspath(model)!r}.")
        # The file as written, every subgraph (a WHILE loop's body is one), before any delegate
        # replaces ops with DELEGATE nodes: LiteRT's interpreter lists the main subgraph only.
        if "model_content" in source:
            content = source["model_content"]
        else:
            with open(source["model_path"], "rb") as f:
                content = f.read()
        if content[4:8] != b"TFL3":  # the flatbuffer file identifier of every .tflite file
            raise ValueError(f"`model` is not a TFLite file (no 'TFL3' identifier): {os.fspath(model)[:200]!r}.")
        name = "bytes" if "model_content" in source else repr(os.fspath(model))
        try:
            flatbuffer = flatbuffer_utils.convert_bytearray_to_object(bytearray(content))
        except Exception as error:  # The flatbuffer reader fails in many ways on a truncated or corrupt file.
            raise ValueError(f"`model` {name} is not a readable TFLite file (truncated or corrupt?): "
                             f"{type(error).__name__}: {error}") from None
        self.op_names = op_names(flatbuffer)
        self.sparse_tensors = _sparse_tensors(flatbuffer)
        # LiteRT's fused LSTM keeps its state in variable tensors, which carry over from one
        # invocation to the next; a call resets them, so every call starts from the zero state.
        self.has_variables = any(t.isVariable for subgraph in flatbuffer.subgraphs for t in subgraph.tensors)
        if default_delegates is None:
            # XNNPACK, the default delegate, is slow or even wrong on sparse tensors: use LiteRT's
            # built-in kernels for every sparse model.
            default_delegates = not self.sparse_tensors
        self.default_delegates = bool(default_delegates)
        resolver = (
            litert.OpResolverType.AUTO if default_delegates
            else litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        )
        # Kept to build a second interpreter for timing (see median_latency).
        self._interpreter_args = dict(source, num_threads=num_threads, experimental_op_resolver_type=resolver)
        try:
            self.interpreter = litert.Interpreter(**self._interpreter_args)
        except ValueError as error:  # LiteRT's flatbuffer verifier rejects the file.
            raise ValueError(f"`model` {name} is not a valid TFLite model: {error}") from None
        signatures = self.interpreter.get_signature_list()
        if signature is None:
            if len(signatures) != 1:
                raise ValueError(f"`signature` must be one of {sorted(signatures)} for this model.")
            signature = next(iter(signatures))
        elif signature not in signatures:
            raise ValueError(f"`signature`={signature!r} is not in the model; it has {sorted(signatures)}.")
        self.signature = signature
        self.interpreter.allocate_tensors()  # so that variables can be reset before the first call
        self.runner = self.interpreter.get_signature_runner(signature)
        self.input_names = sorted(self.runner.get_input_details())
        # The model contract beside the file, if any, must describe this file: checked from the
        # details already loaded (and the bytes already read), so it costs a hash, not a second load.
        self.contract = None
        if "model_path" in source and os.fspath(model).endswith(".tflite"):
            beside = _contract.contract_path(model)
            if os.path.exists(beside):
                self.contract = _contract.check_details(
                    _contract.read_contract(beside), signature, self.runner.get_input_details(),
                    self.runner.get_output_details(), content, where=name)

    def _check_inputs(self, inputs):
        if not isinstance(inputs, dict):
            raise TypeError(f"`inputs` must be a dict input name -> array with the keys {self.input_names}, "
                            f"got {type(inputs).__name__}.")
        if sorted(inputs) != self.input_names:
            raise ValueError(f"`inputs` must have the keys {self.input_names}, got {sorted(inputs)}.")
        for name, detail in self.runner.get_input_details().items():
            expected, shape = detail["shape_signature"], np.shape(inputs[name])
            if len(shape) != len(expected) or any(e not in (-1, s) for e, s in zip(expected, shape)):
                raise ValueError(f"`inputs[{name!r}]` must have shape {[int(e) if e != -1 else None for e in expected]} "
                                 f"(None: any), got {list(shape)}.")
            given = np.asarray(inputs[name]).dtype
            if given != detail["dtype"] and not np.can_cast(given, detail["dtype"], casting="same_kind"):
                raise TypeError(f"`inputs[{name!r}]` must be {np.dtype(detail['dtype']).name} (or castable to it), "
                                f"got {given.name}.")

    def __call__(self, inputs):
        self._check_inputs(inputs)
        if self.has_variables:
            self.interpreter.reset_all_variables()
        # Same-kind casts (float64 -> float32, int64 -> int32), as Keras would take the arrays.
        details = self.runner.get_input_details()
        return self.runner(**{name: np.asarray(value).astype(details[name]["dtype"], copy=False)
                              for name, value in inputs.items()})

    def zero_inputs(self):
        """Zero-filled inputs of the shapes and dtypes the model expects."""
        details = self.runner.get_input_details()
        return {name: np.zeros(d["shape"], d["dtype"]) for name, d in details.items()}

    def median_latency(self, inputs, runs=1000, warmup=50):
        """Median wall time in seconds of one `invoke()` with fixed `inputs` set.

        This is the model's own compute, what LiteRT's `benchmark_model` times on a device;
        a call through the Python signature runner adds about 9 us of binding overhead on
        this project's machine, the same for every model. A second interpreter with the same
        options is timed, so this object's runner is left untouched. Inputs of another shape
        than the file's (a sequence length for a variable-length file) are resized to.
        """
        self._check_inputs(inputs)
        timer = litert.Interpreter(**self._interpreter_args)
        return median_invoke_seconds(timer, inputs, runs, warmup, self.signature)


def median_invoke_seconds(interpreter, inputs, runs=1000, warmup=50, signature=None):
    """Median wall time in seconds of `interpreter.invoke()` with `inputs` (name -> array) set.

    Works for LiteRT's and TensorFlow's `tf.lite.Interpreter` alike; inputs are matched by
    name through `signature` (the only one by default) and resized to where needed.
    `keras_dl.export.benchmark.benchmark_tflite` times the same way (in a fresh process) and
    adds percentiles, init time and peak memory.
    """
    set_inputs(interpreter, inputs, signature)
    invoke_seconds(interpreter, warmup)
    return float(np.median(invoke_seconds(interpreter, runs)))


def interleaved_latencies(models, runs=1000, rounds=5, progress=None):
    """Median `invoke()` seconds of each `TFLiteModel` in `models` (a dict), timed in alternating rounds.

    Timing one file after another lets the machine's load drift between them; alternating rounds
    expose every file to the same drift, so the ratios of the results are what to read. Each round
    times `runs // rounds` invokes per model; the result is the median of the rounds' medians.
    `progress(round_index)` is called after each round.
    """
    rounds = _checks.positive_int("rounds", rounds)
    per_round = max(1, _checks.positive_int("runs", runs) // rounds)
    samples = {key: [] for key in models}
    for index in range(rounds):
        for key, model in models.items():
            samples[key].append(model.median_latency(model.zero_inputs(), runs=per_round))
        if progress is not None:
            progress(index)
    return {key: float(np.median(values)) for key, values in samples.items()}


_BUILTIN_NAMES = {code: name for name, code in vars(schema.BuiltinOperator).items() if not name.startswith("_")}


def op_names(flatbuffer):
    """Sorted operator names of every subgraph of a parsed `.tflite` file (custom ops by their code, e.g.
    `FlexTensorListReserve`); `flatbuffer_utils.read_model(path)` parses one."""
    return sorted({code.customCode.decode() if code.customCode
                   else _BUILTIN_NAMES[schema_util.get_builtin_code_from_operator_code(code)]
                   for subgraph in flatbuffer.subgraphs for code in
                   (flatbuffer.operatorCodes[op.opcodeIndex] for op in subgraph.operators)})


def _sparse_tensors(flatbuffer):
    found = []
    for subgraph in flatbuffer.subgraphs:
        for tensor in subgraph.tensors:
            if tensor.sparsity:
                # Block dimensions follow the tensor's own in dimMetadata; none for element-wise sparsity.
                block_dims = tensor.sparsity.dimMetadata[len(tensor.shape):]
                found.append({"name": tensor.name.decode(), "shape": tuple(int(d) for d in tensor.shape),
                              "block": int(block_dims[0].denseSize) if block_dims else 1})
    return found
