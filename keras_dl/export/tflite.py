"""TFLite (LiteRT) conversion with built-in ops only, and a runner around `ai_edge_litert`."""

import os
import time

import numpy as np
import tensorflow as tf
from ai_edge_litert import interpreter as litert

from keras_dl.export.atomic import atomic_path


def export_tflite(model, path, input_signature=None, **converter_options):
    """Converts a Keras model to a `.tflite` file with TFLite built-in ops only, atomically.

    Uses Keras' own LiteRT export (`model.export(format="litert")`) but forbids Flex
    (SELECT_TF_OPS) kernels, which stock LiteRT runtimes on phones do not have: a model
    that needs them fails here rather than on the device.

    Args:
        model: a Keras model; for streaming, a step model such as
            `RNNLanguageModel.step_model()`.
        path: output path ending in `.tflite`.
        input_signature: passed to `model.export`; by default the model's inputs.
        **converter_options: attributes of `tf.lite.TFLiteConverter` (e.g.
            `optimizations=[tf.lite.Optimize.DEFAULT]`).

    Returns:
        `path`.
    """
    if not os.fspath(path).endswith(".tflite"):
        raise ValueError(f"`path` must end with '.tflite', got {path!r}.")
    target_spec = dict(converter_options.pop("target_spec", {}))
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
        default_delegates: whether LiteRT may apply its default delegate (XNNPACK).
            Turn it off for sparse models: XNNPACK is slow or wrong on them.
        signature: signature key; defaults to the only one (usually `serving_default`).

    Call arguments:
        inputs: dict input name -> numpy array.

    Returns from a call a dict output name -> numpy array.

    Example:
    >>> step = TFLiteModel("out/step.tflite")
    >>> step({"token": np.array([65], np.int32), "state": np.zeros((1, 256), np.float32)})["logits"]
    """

    def __init__(self, model, num_threads=1, default_delegates=True, signature=None):
        resolver = (
            litert.OpResolverType.AUTO if default_delegates
            else litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        )
        if isinstance(model, (bytes, bytearray)):
            source = {"model_content": bytes(model)}
        elif os.path.isfile(model):
            source = {"model_path": os.fspath(model)}
        else:
            raise FileNotFoundError(f"`model`: no .tflite file at {os.fspath(model)!r}.")
        self.interpreter = litert.Interpreter(
            **source, num_threads=num_threads, experimental_op_resolver_type=resolver
        )
        signatures = self.interpreter.get_signature_list()
        if signature is None:
            if len(signatures) != 1:
                raise ValueError(f"`signature` must be one of {sorted(signatures)} for this model.")
            signature = next(iter(signatures))
        elif signature not in signatures:
            raise ValueError(f"`signature`={signature!r} is not in the model; it has {sorted(signatures)}.")
        self.runner = self.interpreter.get_signature_runner(signature)
        self.input_names = sorted(self.runner.get_input_details())

    @property
    def op_names(self):
        """Sorted names of the operators in the model (e.g. `FULLY_CONNECTED`)."""
        # LiteRT has no public op listing; the Analyzer only prints text.
        return sorted({op["op_name"] for op in self.interpreter._get_ops_details()})

    def __call__(self, inputs):
        if sorted(inputs) != self.input_names:
            raise ValueError(f"`inputs` must have the keys {self.input_names}, got {sorted(inputs)}.")
        return self.runner(**inputs)

    def zero_inputs(self):
        """Zero-filled inputs of the shapes and dtypes the model expects."""
        details = self.runner.get_input_details()
        return {name: np.zeros(d["shape"], d["dtype"]) for name, d in details.items()}

    def median_latency(self, inputs, runs=1000, warmup=50):
        """Median wall time in seconds of one call on fixed `inputs`."""
        for _ in range(warmup):
            self(inputs)
        times = np.empty(runs)
        for i in range(runs):
            start = time.perf_counter()
            self(inputs)
            times[i] = time.perf_counter() - start
        return float(np.median(times))
