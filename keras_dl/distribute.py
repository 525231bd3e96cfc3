"""`tf.distribute` strategies by name, for `fit` on one device, several, several machines or a TPU.

Keras 3's `fit` runs under any strategy's `scope()`. One needs a fix: under
`tf.distribute.MultiWorkerMirroredStrategy` (several processes or machines) Keras 3.15's
`fit` calls `strategy.reduce` on the whole `(x, y)` batch and `reduce(..., axis=0)` on scalar
metrics, which that strategy cannot do (keras-team/keras#20585, #20329).
`MultiWorkerMirroredStrategy` here is TensorFlow's with a `reduce` that takes nested values and
treats a per-replica scalar as one value per replica, which is what `fit` means by both.
"""

import tensorflow as tf

STRATEGIES = ("default", "mirrored", "multiworker", "tpu")


class MultiWorkerMirroredStrategy(tf.distribute.MultiWorkerMirroredStrategy):
    """TensorFlow's synchronous multi-worker strategy, with a `reduce` that Keras 3's `fit` can use.

    Reads the cluster from the `TF_CONFIG` environment variable as TensorFlow documents it
    (https://www.tensorflow.org/guide/distributed_training#setting_up_the_tf_config_environment_variable).

    Example:

    ```python
    strategy = keras_dl.distribute.MultiWorkerMirroredStrategy()
    with strategy.scope():
        model = ...  # build and compile
    model.fit(dataset)  # the global batch, split across all workers' replicas
    ```
    """

    def reduce(self, reduce_op, value, axis):
        def reduce_one(v):
            per_replica = self.experimental_local_results(v)[0]
            # A scalar has no axis 0: its replicas' values are what there is to reduce.
            return super(MultiWorkerMirroredStrategy, self).reduce(reduce_op, v, axis if per_replica.shape.rank else None)

        return tf.nest.map_structure(reduce_one, value)


def get_strategy(name="default", tpu=None):
    """The `tf.distribute.Strategy` called `name`.

    Args:
        name: `"default"` (TensorFlow's current strategy: one device), `"mirrored"` (all local GPUs,
            or the CPU), `"multiworker"` (`MultiWorkerMirroredStrategy` over the cluster in `TF_CONFIG`)
            or `"tpu"` (`TPUStrategy`).
        tpu: for `"tpu"`, the TPU's name or address as `TPUClusterResolver` takes it (`None`: the TPU
            of this VM or the one named by the environment).

    Returns:
        The strategy; build and compile the model inside its `scope()`.
    """
    if name not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {name!r}.")
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        return MultiWorkerMirroredStrategy()
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu)
    except ValueError as e:
        raise ValueError(f"strategy 'tpu': no TPU found ({e}).") from e
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)


def is_chief(strategy):
    """Whether this process writes the run's results: True except on the non-chief workers of a cluster."""
    resolver = strategy.cluster_resolver
    if resolver is None or not resolver.task_type:
        return True
    if resolver.task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_type == "worker" and resolver.task_id == 0 and not has_chief
