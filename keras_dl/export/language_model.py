"""Export of `RNNLanguageModel`s: SavedModel with sequence and step signatures, streaming TFLite."""

import numpy as np
import tensorflow as tf

from keras_dl.decoding import generate
from keras_dl.export.saved_model import export_saved_model
from keras_dl.export.tflite import TFLiteModel
from keras_dl.export.tflite import export_tflite
from keras_dl.export.verify import compare_step_models


def export_lm_saved_model(model, path):
    """SavedModel with `serving_default` (tokens `int32[batch, time]` -> logits) and `step`
    (`{"token", "state"}` -> `{"logits", "state"}`, any batch size)."""
    tokens = tf.TensorSpec([None, None], tf.int32, name="tokens")
    return export_saved_model(
        path, {"serve": (model, [tokens]), "step": (model.step_model(batch_size=None), None)}
    )


def export_lm_tflite(model, path, **converter_options):
    """`.tflite` of the single-step model (batch 1) for streaming on a device; `converter_options`
    (`quantization`, `sparse`, ...) as in `export_tflite`."""
    return export_tflite(model.step_model(batch_size=1), path, **converter_options)


def verify_lm_tflite(model, tflite_model, steps=200, seed=0):
    """Compares Keras and LiteRT over a `steps`-token sequence sampled from the Keras model
    (so the check runs on text the model finds likely); see `compare_step_models`."""
    keras_step = model.step_model(batch_size=1)
    zero = np.zeros((1, model.units), np.float32)
    tokens = [ord("\n")] + generate(keras_step, zero, [ord("\n")], steps - 1, seed=seed)
    if not isinstance(tflite_model, TFLiteModel):
        tflite_model = TFLiteModel(tflite_model)
    return compare_step_models(keras_step, tflite_model, tokens, model.units)
