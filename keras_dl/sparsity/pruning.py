"""`prune_low_magnitude` for Keras 3 models: masks applied by Keras' own post-update hook.

Keras 3 optimizers apply each variable's `constraint` right after its update, inside the
compiled train step. A `MagnitudePruning` constraint advances the pruning step, recomputes
the mask on the schedule's steps (a `cond`: the sort runs only then) and returns
`weight * mask`. So pruning needs no callback and no per-batch Python, and works under
`fit`, `jit_compile` and custom training loops alike; zeros stay zero after every update.
"""

import os

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from keras_dl.sparsity.masks import check_block_size
from keras_dl.sparsity.masks import magnitude_mask
from keras_dl.sparsity.schedules import PruningSchedule

_KERNEL_LAYERS = (keras.layers.Dense, keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D)


class MagnitudePruning(keras.constraints.Constraint):
    """Post-update constraint that keeps a weight pruned to its schedule's sparsity.

    Args:
        mask: non-trainable variable of the weight's shape (1 keeps, 0 prunes).
        step: non-trainable int64 variable counting this weight's updates.
        schedule: a `PruningSchedule`, or one per gate (same timing, own sparsities).
        block_size: Keras-axes block pruned as a unit.
        groups: gates of an RNN kernel, pruned each on its own.
        keep: optional 0/1 array of entries never pruned (e.g. a recurrent diagonal).
        previous: the weight's own constraint, applied first.
    """

    def __init__(self, mask, step, schedule, block_size=(1, 1), groups=1, keep=None, previous=None):
        self.mask, self.step = mask, step
        self.schedules = list(schedule) if isinstance(schedule, (list, tuple)) else [schedule]
        self.block_size, self.groups, self.keep, self.previous = block_size, groups, keep, previous

    def __call__(self, weight):
        if self.previous is not None:
            weight = self.previous(weight)
        # Gate schedules share their timing (checked in prune_low_magnitude), so the first decides when.
        decisions = [schedule(self.step.value) for schedule in self.schedules]
        should_prune = decisions[0][0]
        sparsity = ops.stack([s for _, s in decisions]) if len(decisions) > 1 else decisions[0][1]

        def new_mask():
            mask = magnitude_mask(weight, sparsity, self.block_size, self.groups)
            return mask if self.keep is None else ops.maximum(mask, ops.convert_to_tensor(self.keep, mask.dtype))

        mask = ops.cond(should_prune, new_mask, lambda: ops.convert_to_tensor(self.mask.value))
        self.mask.assign(mask)
        self.step.assign_add(1)
        return weight * mask


def _prunable_weights(model, layers=None):
    """(layer, weight, gates, is_recurrent) for every prunable trainable weight of `model` (or of `layers`)."""
    found = []
    # _flatten_layers reaches layers nested in models, RNN layers and their cells.
    roots = [model] if layers is None else layers
    candidates = [sub for root in roots for sub in root._flatten_layers(include_self=layers is not None, recursive=True)]
    for layer in candidates:
        if isinstance(layer, _KERNEL_LAYERS):
            found.append((layer, layer.kernel, 1, False))
        elif isinstance(layer, keras.layers.Embedding):
            found.append((layer, layer.embeddings, 1, False))
        elif hasattr(layer, "recurrent_kernel") and hasattr(layer, "kernel") and hasattr(layer, "state_size"):
            gates = getattr(layer, "gates", None) or layer.kernel.shape[-1] // layer.units
            found.append((layer, layer.kernel, gates, False))
            found.append((layer, layer.recurrent_kernel, gates, True))
    return [entry for entry in found if entry[1].trainable]


def _check_gate_schedules(gate_schedules):
    if not isinstance(gate_schedules, (list, tuple)) or not gate_schedules \
            or not all(isinstance(s, PruningSchedule) for s in gate_schedules):
        raise TypeError(f"`gate_schedules` must be a list of PruningSchedule, one per gate, got {gate_schedules!r}.")
    timings = {(s.begin_step, s.end_step, s.frequency) for s in gate_schedules}
    if len(timings) != 1:
        raise ValueError(f"`gate_schedules` must share begin_step, end_step and frequency, got {sorted(timings)}.")


def prune_low_magnitude(model, schedule, block_size=(1, 1), keep_recurrent_diagonal=False, gate_schedules=None,
                        layers=None, weights=None):
    """Makes `model`'s Dense, Conv, Embedding and recurrent-cell weights prune themselves while it trains.

    Each weight gets a mask and a step counter (non-trainable weights of its layer, so
    checkpoints keep them) and a `MagnitudePruning` constraint. Recurrent kernels are
    pruned gate by gate, as in WaveRNN. Save the trained result with `strip_pruning`.

    Args:
        model: a built Keras model (modified in place and returned).
        schedule: `ConstantSparsity` or `PolynomialDecay`.
        block_size: block in Keras kernel axes `(input rows, output cols)`: `(4, 1)` for
            LiteRT's fast float sparse kernels, `(16, 1)` for int8. Must divide every
            pruned weight (per gate for recurrent ones).
        keep_recurrent_diagonal: never prune the diagonal of each gate's recurrent matrix
            (a unit's connection to itself).
        gate_schedules: for recurrent cells, one schedule per gate in the cell's gate order
            (GRU `[z, r, h]`, LSTM `[i, f, c, o]`), e.g. LPCNet's 95/95/80% for a GRU's
            update/reset/state gates; they must share `begin_step`, `end_step`, `frequency`.
            Cells with another number of gates keep `schedule`.
        layers: prune only these layers of `model` (and the cells inside them); all by default.
        weights: prune only these variables (e.g. a cell's `recurrent_kernel` alone); each
            must be one of the prunable weights of `model` (or of `layers`).

    Example:
    >>> model = prune_low_magnitude(model, PolynomialDecay(0.0, 0.9, 0, 2000), block_size=(4, 1))
    >>> model.fit(train, epochs=10)
    >>> plain = strip_pruning(model)
    """
    if not isinstance(schedule, PruningSchedule):
        raise TypeError(f"`schedule` must be a keras_dl.sparsity PruningSchedule, got {type(schedule).__name__}.")
    if not model.built:
        raise ValueError("`model` must be built (call it on a batch or build it) before pruning.")
    if gate_schedules is not None:
        _check_gate_schedules(gate_schedules)
    found = _prunable_weights(model, layers)
    if not found:
        raise ValueError(f"`model` {model.name!r} has no prunable weights (Dense, Conv, Embedding or recurrent-cell kernels).")
    if weights is not None:
        chosen = {id(w) for w in weights}
        unknown = chosen - {id(entry[1]) for entry in found}
        if unknown or not chosen:
            raise ValueError(f"`weights` must be a non-empty list of prunable weights of `model`; prunable: "
                             f"{[entry[1].path for entry in found]}.")
        found = [entry for entry in found if id(entry[1]) in chosen]
    for layer, weight, gates, recurrent in found:
        if isinstance(weight.constraint, MagnitudePruning):
            raise ValueError(f"{weight.path} is already pruned; call prune_low_magnitude once per model.")
        block = check_block_size(block_size, weight.shape, weight.path)
        if weight.shape[-1] // gates % block[1]:
            raise ValueError(f"`block_size` {block} does not divide the gates (width {weight.shape[-1] // gates}) of {weight.path}.")
        keep = None
        if recurrent and keep_recurrent_diagonal:
            units = weight.shape[0]
            keep = np.tile(np.eye(units, weight.shape[-1] // gates, dtype=np.float32), (1, gates))
        name = weight.name
        # A built layer's state is locked; Keras' own Layer.quantize() unlocks it the same way to add weights.
        layer._tracker.unlock()
        mask = layer.add_weight(shape=weight.shape, initializer="ones", trainable=False, name=f"{name}_prune_mask")
        step = layer.add_weight(shape=(), initializer="zeros", dtype="int64", trainable=False, name=f"{name}_prune_step")
        layer._tracker.lock()
        schedules = gate_schedules if gate_schedules is not None and gates == len(gate_schedules) > 1 else schedule
        weight.constraint = MagnitudePruning(mask, step, schedules, block, gates, keep, weight.constraint)
    return model


def strip_pruning(model):
    """A plain copy of a pruned `model`: same architecture and weights (zeros baked in), no masks.

    The result saves and loads as an ordinary Keras model.
    """
    plain = keras.models.clone_model(model)
    if not plain.built:
        # A subclassed model's clone is built with the shapes the original was built with.
        plain.build(**model._build_shapes_dict)
    # A clone names its variables afresh, so pair them in order (masks left out) and check shapes.
    source = [w for w in model.weights if not w.name.endswith(("_prune_mask", "_prune_step"))]
    if [tuple(w.shape) for w in source] != [tuple(w.shape) for w in plain.weights]:
        raise ValueError(f"the clone of `model` {model.name!r} does not have the same weights as the original.")
    for target, weight in zip(plain.weights, source):
        target.assign(weight)
    return plain


def sparsity_report(model, block_size=(1, 1)):
    """Per weight: size, fraction of zeros and, for a block size, fraction of all-zero blocks.

    Returns a list of dicts `{"weight", "shape", "size", "sparsity", "block_sparsity"}`.
    """
    rows = []
    for _, weight, _, _ in _prunable_weights(model):
        value = np.asarray(weight)
        row = {"weight": weight.path, "shape": tuple(value.shape), "size": int(value.size),
               "sparsity": float(np.mean(value == 0))}
        if tuple(block_size) != (1, 1) and value.ndim == 2 and value.shape[0] % block_size[0] == 0 \
                and value.shape[1] % block_size[1] == 0:
            blocks = value.reshape(value.shape[0] // block_size[0], block_size[0], value.shape[1] // block_size[1], block_size[1])
            row["block_sparsity"] = float(np.mean(np.all(blocks == 0, axis=(1, 3))))
        rows.append(row)
    return rows


class SparsitySummaries(keras.callbacks.Callback):
    """Writes each pruned weight's sparsity to TensorBoard (`sparsity/<weight path>`) after every epoch.

    Args:
        log_dir: TensorBoard log directory (a `sparsity` run is written under it).

    Example:
    >>> model.fit(train, epochs=10, callbacks=[SparsitySummaries("logs")])
    """

    def __init__(self, log_dir):
        super().__init__()
        self.log_dir = os.path.join(os.fspath(log_dir), "sparsity")
        self._writer = None

    def on_epoch_end(self, epoch, logs=None):
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(self.log_dir)
        with self._writer.as_default():
            for row in sparsity_report(self.model):
                tf.summary.scalar(f"sparsity/{row['weight']}", row["sparsity"], step=epoch)
        self._writer.flush()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
