import types

import pytest
import tensorflow as tf

from keras_dl import distribute


def test_strategies_by_name():
    assert distribute.get_strategy("default") is tf.distribute.get_strategy()
    assert isinstance(distribute.get_strategy("mirrored"), tf.distribute.MirroredStrategy)
    with pytest.raises(ValueError, match=r"strategy must be one of \('default', 'mirrored', 'multiworker', 'tpu'\), got 'gpu'"):
        distribute.get_strategy("gpu")


def test_tpu_without_a_tpu_says_so():
    with pytest.raises(ValueError, match="strategy 'tpu': no TPU found"):
        distribute.get_strategy("tpu")


@pytest.mark.parametrize("cluster, task_type, task_id, chief", [
    (None, None, None, True),  # One process.
    ({"worker": ["a:1", "b:1"]}, "worker", 0, True),  # Without a chief task, worker 0 is the chief.
    ({"worker": ["a:1", "b:1"]}, "worker", 1, False),
    ({"chief": ["c:1"], "worker": ["a:1"]}, "chief", 0, True),
    ({"chief": ["c:1"], "worker": ["a:1"]}, "worker", 0, False),
])
def test_only_the_chief_writes_the_results(cluster, task_type, task_id, chief):
    resolver = cluster and tf.distribute.cluster_resolver.SimpleClusterResolver(
        tf.train.ClusterSpec(cluster), task_type=task_type, task_id=task_id)
    assert distribute.is_chief(types.SimpleNamespace(cluster_resolver=resolver)) is chief
