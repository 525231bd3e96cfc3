"""Export: SavedModel for TensorFlow Serving, TFLite (LiteRT) files, runners and checks."""

from keras_dl.export.atomic import atomic_path
from keras_dl.export.atomic import write_text
from keras_dl.export.generative import export_generator_saved_model
from keras_dl.export.generative import export_generator_tflite
from keras_dl.export.generative import generator_model
from keras_dl.export.generative import sample_latents
from keras_dl.export.language_model import export_lm_saved_model
from keras_dl.export.language_model import export_lm_tflite
from keras_dl.export.language_model import verify_lm_tflite
from keras_dl.export.recurrent import recurrent_sequence_model
from keras_dl.export.recurrent import recurrent_step_model
from keras_dl.export.recurrent import tflite_recurrence
from keras_dl.export.saved_model import export_saved_model
from keras_dl.export.streaming import StreamingStep
from keras_dl.export.streaming import streaming_model
from keras_dl.export.tflite import QUANTIZATIONS
from keras_dl.export.tflite import TFLiteModel
from keras_dl.export.tflite import export_tflite
from keras_dl.export.tflite import median_invoke_seconds
from keras_dl.export.tflite import op_names
from keras_dl.export.verify import compare_step_models
from keras_dl.export.verify import verify_tflite
