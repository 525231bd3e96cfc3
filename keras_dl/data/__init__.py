"""Data: embedded offline datasets as TFDS builders, and tf.data pipelines."""

from keras_dl.data.audio import coarse_fine
from keras_dl.data.audio import dual_softmax_dataset
from keras_dl.data.audio import sum_of_sines
from keras_dl.data.datasets import EMBEDDED_DATASETS
from keras_dl.data.datasets import SPLITS
from keras_dl.data.datasets import AddingProblem
from keras_dl.data.datasets import CopyMemory
from keras_dl.data.datasets import Parity
from keras_dl.data.datasets import PythonSource
from keras_dl.data.datasets import SequenceTask
from keras_dl.data.datasets import SequenceTaskConfig
from keras_dl.data.datasets import python_source_files
from keras_dl.data.datasets import split_of
from keras_dl.data.pipelines import byte_counts
from keras_dl.data.pipelines import corpus_byte_counts
from keras_dl.data.pipelines import lm_dataset
from keras_dl.data.pipelines import lm_windows
from keras_dl.data.pipelines import load_builder
from keras_dl.data.pipelines import task_dataset
