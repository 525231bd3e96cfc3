"""SavedModel export for TensorFlow Serving."""

import keras

from keras_dl.export.atomic import atomic_path
from keras_dl.export.tflite import default_input_signature


def export_saved_model(path, endpoints):
    """Writes a SavedModel whose signatures are the given Keras models, atomically.

    Args:
        path: output directory.
        endpoints: dict `name -> (keras.Model, input_signature)`; `input_signature` is a
            list of `tf.TensorSpec` (or a structure of them) for the model's call, or
            `None` to take it from a functional model's inputs. The first endpoint also
            becomes `serving_default`, the signature TensorFlow Serving calls by default.

    Returns:
        `path`.

    Example:
    >>> from keras_dl.models import RNNLanguageModel
    >>> lm = RNNLanguageModel(embedding_dim=8, units=16)
    >>> lm.build((None, None))
    >>> export_saved_model("out/saved_model", {
    ...     "serve": (lm, [tf.TensorSpec([None, None], tf.int32, name="tokens")]),
    ...     "step": (lm.step_model(), None)})
    'out/saved_model'
    >>> sorted(tf.saved_model.load("out/saved_model").signatures)
    ['serve', 'serving_default', 'step']
    """
    if not isinstance(endpoints, dict) or not endpoints:
        raise ValueError(f"`endpoints` must be a non-empty dict name -> (model, input_signature), got {endpoints!r}.")
    archive = keras.export.ExportArchive()
    for name, (model, input_signature) in endpoints.items():
        if not isinstance(model, keras.Model):
            raise TypeError(f"`endpoints[{name!r}]` must hold a keras.Model, got {type(model).__name__}.")
        if input_signature is None:
            # Named specs, any batch size: the signature's inputs carry the model's input names.
            input_signature = [default_input_signature(model, batch_size=None)]
        archive.track(model)
        archive.add_endpoint(name, model.__call__, input_signature=input_signature)
    with atomic_path(path) as tmp:
        archive.write_out(tmp, verbose=False)
    return path
