import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# tfmot (a test oracle) keys its PruneRegistry on whatever `tf.keras` is when it is first imported, and sets
# TF_USE_LEGACY_KERAS so that is tf_keras; importing tensorflow_probability (keras_dl does) first resolves
# `tf.keras` to Keras 3, after which tfmot rejects tf_keras layers. So tfmot comes first in every worker.
import pytest  # noqa: E402
import tensorflow_model_optimization  # noqa: E402, F401


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory):
    """One TFDS data directory for the whole run: each dataset is prepared once (across runs with
    KERAS_DL_TEST_DATA_DIR, which the mutation benchmark sets for its thousands of short runs)."""
    return os.environ.get("KERAS_DL_TEST_DATA_DIR") or str(tmp_path_factory.mktemp("tensorflow_datasets"))
