"""TFLite (LiteRT) conversion with built-in ops only, and a runner around `ai_edge_litert`."""

import os
import time

import numpy as np
import tensorflow as tf
from ai_edge_litert import interpreter as litert

from keras_dl.export.atomic import atomic_path


QUANTIZATIONS = ("float32", "float16", "dynamic_int8", "int8")


def export_tflite(model, path, input_signature=None, quantization="float32", sparse=False,
                  representative_dataset=None, **converter_options):
    """Converts a Keras model to a `.tflite` file with TFLite built-in ops only, atomically.

    Uses Keras' own LiteRT export (`model.export(format="litert")`) but forbids Flex
    (SELECT_TF_OPS) kernels, which stock LiteRT runtimes on phones do not have: a model
    that needs them fails here rather than on the device.

    Args:
        model: a Keras model; for streaming, a step model such as
            `RNNLanguageModel.step_model()`.
        path: output path ending in `.tflite`.
        input_signature: passed to `model.export`; by default the model's inputs.
        quantization: `"float32"`; `"float16"` weights; `"dynamic_int8"` (int8 weights,
            float activations); `"int8"` (weights and activations, calibrated on
            `representative_dataset`, float where an op has no int8 kernel).
        sparse: store pruned weights as sparse tensors (`EXPERIMENTAL_SPARSITY`); block
            sparsity in LiteRT's shapes ((4, 1) float, (16, 1) int8 in Keras axes) is kept
            as blocks, anything else becomes element-wise sparse plus a slow DENSIFY op.
        representative_dataset: callable yielding lists of input arrays, for `"int8"`.
        **converter_options: other attributes of `tf.lite.TFLiteConverter`.

    Returns:
        `path`.
    """
    if not os.fspath(path).endswith(".tflite"):
        raise ValueError(f"`path` must end with '.tflite', got {path!r}.")
    if quantization not in QUANTIZATIONS:
        raise ValueError(f"`quantization` must be one of {QUANTIZATIONS}, got {quantization!r}.")
    if (quantization == "int8") != (representative_dataset is not None):
        raise ValueError("`representative_dataset` is needed for, and only for, quantization='int8'.")
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
    with atomic_path(path) as tmp:
        model.export(
            tmp, format="litert", verbose=False, input_signature=input_signature,
            target_spec=target_spec, **converter_options,
        )
    return path


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
        sparse_tensors: the sparse constant tensors, `{"name", "shape", "block"}`, `block` the
            width of the dense blocks along the input axis (1: element-wise sparse).
        default_delegates: whether the default delegate is in use.

    Example:
    >>> step = TFLiteModel("out/step.tflite")
    >>> step({"token": np.array([65], np.int32), "state": np.zeros((1, 256), np.float32)})["logits"]
    """

    def __init__(self, model, num_threads=1, default_delegates=None, signature=None):
        if isinstance(model, (bytes, bytearray)):
            source = {"model_content": bytes(model)}
        elif os.path.isfile(model):
            source = {"model_path": os.fspath(model)}
        else:
            raise FileNotFoundError(f"`model`: no .tflite file at {os.fspath(model)!r}.")
        # The file as written, before any delegate replaces ops with DELEGATE nodes.
        plain = litert.Interpreter(**source, experimental_op_resolver_type=litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
        # LiteRT has no public op listing (its Analyzer only prints text).
        self.op_names = sorted({op["op_name"] for op in plain._get_ops_details()})
        self.sparse_tensors = _sparse_tensors(plain)
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
        self.interpreter = litert.Interpreter(**self._interpreter_args)
        signatures = self.interpreter.get_signature_list()
        if signature is None:
            if len(signatures) != 1:
                raise ValueError(f"`signature` must be one of {sorted(signatures)} for this model.")
            signature = next(iter(signatures))
        elif signature not in signatures:
            raise ValueError(f"`signature`={signature!r} is not in the model; it has {sorted(signatures)}.")
        self.signature = signature
        self.runner = self.interpreter.get_signature_runner(signature)
        self.input_names = sorted(self.runner.get_input_details())

    def _check_inputs(self, inputs):
        if sorted(inputs) != self.input_names:
            raise ValueError(f"`inputs` must have the keys {self.input_names}, got {sorted(inputs)}.")

    def __call__(self, inputs):
        self._check_inputs(inputs)
        return self.runner(**inputs)

    def zero_inputs(self):
        """Zero-filled inputs of the shapes and dtypes the model expects."""
        details = self.runner.get_input_details()
        return {name: np.zeros(d["shape"], d["dtype"]) for name, d in details.items()}

    def median_latency(self, inputs, runs=1000, warmup=50):
        """Median wall time in seconds of one `invoke()` with fixed `inputs` set.

        This is the model's own compute, what LiteRT's `benchmark_model` times on a device;
        a call through the Python signature runner adds about 9 us of binding overhead on
        this project's machine, the same for every model. A second interpreter with the same
        options is timed, so this object's runner is left untouched.
        """
        self._check_inputs(inputs)
        timer = litert.Interpreter(**self._interpreter_args)
        timer.allocate_tensors()
        details = timer.get_signature_runner(self.signature).get_input_details()
        for name, value in inputs.items():
            timer.set_tensor(details[name]["index"], np.asarray(value, details[name]["dtype"]))
        for _ in range(warmup):
            timer.invoke()
        times = np.empty(runs)
        for i in range(runs):
            start = time.perf_counter()
            timer.invoke()
            times[i] = time.perf_counter() - start
        return float(np.median(times))


def _sparse_tensors(interpreter):
    found = []
    for detail in interpreter.get_tensor_details():
        sparsity = detail["sparsity_parameters"]
        if sparsity:
            # Block dimensions follow the tensor's own in dim_metadata; none for element-wise sparsity.
            block_dims = sparsity["dim_metadata"][len(detail["shape"]):]
            found.append({"name": detail["name"], "shape": tuple(int(d) for d in detail["shape"]),
                          "block": int(block_dims[0]["dense_size"]) if block_dims else 1})
    return found
