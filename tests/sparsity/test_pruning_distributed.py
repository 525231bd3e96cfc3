import json
import os
import subprocess
import sys

_SCRIPT = r"""
import json, os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras, numpy as np
from keras_dl.layers import GRUCell
from keras_dl.sparsity import ConstantSparsity, prune_low_magnitude, sparsity_report
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
with strategy.scope():
    inputs = keras.Input((6, 8))
    model = keras.Model(inputs, keras.layers.Dense(4)(keras.layers.RNN(GRUCell(8))(inputs)))
    prune_low_magnitude(model, ConstantSparsity(0.5, 0, frequency=2))
    model.compile("adam", "mse")
rng = np.random.default_rng(0)
model.fit(rng.normal(size=(32, 6, 8)).astype("float32"), rng.normal(size=(32, 4)).astype("float32"),
          batch_size=8, epochs=2, verbose=0)
replicas_agree = all(
    all(np.array_equal(part.numpy(), w.value.values[0].numpy()) for part in w.value.values)
    for w in model.weights
)
print(json.dumps({"replicas": strategy.num_replicas_in_sync, "agree": replicas_agree,
                  "sparsity": [r["sparsity"] for r in sparsity_report(model)]}))
"""


def test_pruned_model_trains_under_mirrored_strategy_on_two_cpus():
    result = subprocess.run([sys.executable, "-c", _SCRIPT], capture_output=True, text=True, check=True,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report == {"replicas": 2, "agree": True, "sparsity": [0.5, 0.5, 0.5]}
