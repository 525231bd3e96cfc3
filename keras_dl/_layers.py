"""Walking a model's layers (shared by sparsity and export); the loss scaling of custom train steps."""

import tensorflow as tf


def sublayers(model):
    """`model` and every layer inside it, at any depth, in tracking order."""
    # Keras 3 has no public recursive listing of sublayers; `_flatten_layers` is what its own
    # `Model.layers` and weight tracking use.
    return list(model._flatten_layers(include_self=True, recursive=True))


def scale_for_replicas(optimizer, loss):
    """`loss` as a custom `train_step` must differentiate it: divided by the replicas in sync (Keras sums
    gradients over replicas, and scales its own compiled losses the same way), then by the optimizer's loss
    scale (a `LossScaleOptimizer` under mixed_float16, which `apply` undoes)."""
    return optimizer.scale_loss(loss / tf.distribute.get_strategy().num_replicas_in_sync)
