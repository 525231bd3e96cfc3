"""Export of `RNNLanguageModel`s: SavedModel with sequence and step signatures, streaming TFLite."""

import numpy as np

from keras_dl.decoding import generate
from keras_dl.export.contract import BYTE_TOKENIZER
from keras_dl.export.serving import export_signatures
from keras_dl.export.serving import serving_signatures
from keras_dl.export.tflite import TFLiteModel
from keras_dl.export.tflite import export_tflite
from keras_dl.export.verify import compare_step_models


def export_lm_saved_model(model, path, integer_dtype="int64"):
    """SavedModel with `serving_default` (`tokens` `[batch, time]` -> `logits`) and `step`
    (`{"token", "state"}` -> `{"logits", "state"}`), any batch size, tokens `integer_dtype`;
    `export_serving_version` writes the same signatures into a TensorFlow Serving repository."""
    return export_signatures(path, serving_signatures(model, integer_dtype=integer_dtype))


def export_lm_tflite(model, path, sampling=None, **converter_options):
    """`.tflite` of the single-step model (batch 1) for streaming on a device, with its full model contract.

    The contract beside it (`step.tflite` -> `step.contract.json`) names the state tensor
    (`state` in and out, zeros to start), the byte tokenizer (for a 256-token vocabulary)
    and the portable sampler (`keras_dl.decoding.stream_tokens`' spec, its defaults).

    Args:
        model: an `RNNLanguageModel` (anything with `step_model(batch_size)` and `units`).
        path: output path ending in `.tflite`.
        sampling: the contract's sampling defaults, keys among `temperature`, `top_k`, `seed`
            (`keras_dl.export.contract.DEFAULT_SAMPLING` fills the rest).
        **converter_options: `quantization`, `sparse`, ... as in `export_tflite`.

    Returns:
        `path`.
    """
    vocabulary_size = getattr(model, "vocabulary_size", None)
    contract = {"state": [("state", "state")], "sampling": dict(sampling or {}),
                "tokenizer": BYTE_TOKENIZER if vocabulary_size == 256 else None}
    return export_tflite(model.step_model(batch_size=1), path, contract=contract, **converter_options)


def verify_lm_tflite(model, tflite_model, steps=200, seed=0):
    """Compares Keras and LiteRT over a `steps`-token sequence sampled from the Keras model
    (so the check runs on text the model finds likely); see `compare_step_models`."""
    keras_step = model.step_model(batch_size=1)
    zero = np.zeros((1, model.units), np.float32)
    tokens = [ord("\n")] + generate(keras_step, zero, [ord("\n")], steps - 1, seed=seed)
    if not isinstance(tflite_model, TFLiteModel):
        tflite_model = TFLiteModel(tflite_model)
    return compare_step_models(keras_step, tflite_model, tokens, model.units)
