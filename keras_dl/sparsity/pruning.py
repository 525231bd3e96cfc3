"""`prune_low_magnitude` for Keras 3 models: masks applied by Keras' own post-update hook.

Keras 3 optimizers apply each variable's `constraint` right after its update, inside the
compiled train step. A `MagnitudePruning` constraint advances the pruning step, recomputes
the mask on the schedule's steps (a `cond`: the sort runs only then) and returns
`weight * mask`. So pruning needs no callback and no per-batch Python, and works under
`fit`, `jit_compile` and custom training loops alike; zeros stay zero after every update.

The constraint is also set as the layer's `kernel_constraint` (or `recurrent_constraint`,
`embeddings_constraint`), so it is in the layer's config, and it is a Keras layer holding
the mask and the step, so Keras saves them with the layer: a `.keras` file or a
`BackupAndRestore` checkpoint taken mid-ramp resumes with the same masks and step.

Which weights a layer lets be pruned is explicit (`PrunableWeight`): Keras' built-in
layers are listed in `KERAS_PRUNABLE_WEIGHTS`; any other layer declares its own with a
`prunable_weights()` method, and may name weights that must stay dense, with why, in an
`unprunable_weights` dict. A layer with trainable matrices and no declaration is an error.
"""

import dataclasses
import os

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from keras_dl._layers import sublayers
from keras_dl.sparsity.masks import check_block_size
from keras_dl.sparsity.masks import magnitude_mask
from keras_dl.sparsity.schedules import PruningSchedule


@dataclasses.dataclass(frozen=True)
class PrunableWeight:
    """A weight that a layer lets `prune_low_magnitude` prune.

    Args:
        weight: attribute of the layer holding the variable, e.g. `"kernel"`.
        constraint: attribute holding that variable's constraint, which the layer's
            `get_config` serialises and its `build` passes to `add_weight`, e.g.
            `"kernel_constraint"` (pruning lives there, so it is saved and restored).
        gates: equal parts of the last axis pruned each on its own (an RNN kernel's gates).
        recurrent: a recurrent matrix (for `keep_recurrent_diagonal`).

    Example:
    >>> class MyCell(keras.layers.Layer):
    ...     unprunable_weights = {"scale": "a per-unit gain, not a matrix product"}
    ...     def prunable_weights(self):
    ...         return [PrunableWeight("kernel", "kernel_constraint", gates=3)]
    """

    weight: str
    constraint: str
    gates: int = 1
    recurrent: bool = False


_KERNEL = [PrunableWeight("kernel", "kernel_constraint")]
# Keras' built-in layers with matrices worth pruning (tfmot's PruneRegistry, for Keras 3).
KERAS_PRUNABLE_WEIGHTS = {
    keras.layers.Dense: _KERNEL,
    keras.layers.EinsumDense: _KERNEL,
    keras.layers.Conv1D: _KERNEL,
    keras.layers.Conv2D: _KERNEL,
    keras.layers.Conv3D: _KERNEL,
    keras.layers.Conv1DTranspose: _KERNEL,
    keras.layers.Conv2DTranspose: _KERNEL,
    keras.layers.Conv3DTranspose: _KERNEL,
    keras.layers.Embedding: [PrunableWeight("embeddings", "embeddings_constraint")],
    **{cell: [PrunableWeight("kernel", "kernel_constraint", gates),
              PrunableWeight("recurrent_kernel", "recurrent_constraint", gates, recurrent=True)]
       for cell, gates in ((keras.layers.SimpleRNNCell, 1), (keras.layers.LSTMCell, 4), (keras.layers.GRUCell, 3))},
}


def declared_prunable_weights(layer):
    """`layer`'s `PrunableWeight`s (its own declaration, else Keras' registry), or `None` if it declares none."""
    if hasattr(layer, "prunable_weights"):
        return list(layer.prunable_weights())
    for cls in type(layer).__mro__:
        if cls in KERAS_PRUNABLE_WEIGHTS:
            return KERAS_PRUNABLE_WEIGHTS[cls]
    return None


def _own_matrices(layer):
    """Trainable weights of rank >= 2 that `layer` holds itself, not through a sublayer."""
    inner = {id(w) for sub in sublayers(layer)[1:] for w in sub.weights}
    return [w for w in layer.trainable_weights if id(w) not in inner and len(w.shape) >= 2]


@keras.saving.register_keras_serializable(package="keras_dl")
class MagnitudePruning(keras.layers.Layer):
    """Post-update constraint that keeps a weight pruned to its schedule's sparsity.

    It is a Keras layer only so that Keras tracks and saves its state with the layer that
    owns the weight; it is never called as a layer. `prune_low_magnitude` makes one per
    pruned weight; a loaded model rebuilds it from the owner's config.

    Args:
        shape: the weight's shape.
        schedule: a `PruningSchedule`, or one per gate (same timing, own sparsities).
        block_size: Keras-axes block pruned as a unit.
        gates: gates of an RNN kernel, pruned each on its own.
        keep_diagonal: never prune the diagonal of each square `[units, units]` block, one per gate (or per
            delay of a `DelayCell`): a unit's connection to its own past.
        previous: the weight's own constraint, applied first.
        weight_dtype: the weight's dtype (the mask's).

    Its weights: `mask` (1 keeps, 0 prunes) and `step` (this weight's updates so far).
    """

    def __init__(self, shape, schedule, block_size=(1, 1), gates=1, keep_diagonal=False, previous=None,
                 weight_dtype="float32", **kwargs):
        super().__init__(**kwargs)
        self.weight_shape = tuple(int(n) for n in shape)
        schedules = schedule if isinstance(schedule, (list, tuple)) else [schedule]
        self.schedules = [keras.saving.deserialize_keras_object(s) if isinstance(s, dict) else s for s in schedules]
        self.block_size = check_block_size(block_size, self.weight_shape, self.name)
        self.gates = int(gates)
        self.keep_diagonal = bool(keep_diagonal)
        self.previous = keras.constraints.get(previous)
        self.weight_dtype = weight_dtype
        self.mask = self.add_weight(shape=self.weight_shape, initializer="ones", dtype=weight_dtype,
                                    trainable=False, name="mask")
        self.step = self.add_weight(shape=(), initializer="zeros", dtype="int64", trainable=False, name="step")

    def _keep(self):
        """The diagonal of every square `[units, units]` block of a recurrent matrix: each gate of a
        `[units, gates * units]` kernel, each delay of a `[delays * units, units]` one (a unit's own past)."""
        width = self.weight_shape[-1] // self.gates
        return np.tile(np.eye(width), (self.weight_shape[0] // width, self.gates))

    def __call__(self, weight):
        if self.previous is not None:
            weight = self.previous(weight)
        # Gate schedules share their timing (checked in prune_low_magnitude), so the first decides when.
        decisions = [schedule(self.step.value) for schedule in self.schedules]
        should_prune = decisions[0][0]
        sparsity = ops.stack([s for _, s in decisions])  # one per gate, or one for the whole weight

        def new_mask():
            mask = magnitude_mask(weight, sparsity, self.block_size, self.gates)
            return ops.maximum(mask, ops.convert_to_tensor(self._keep(), mask.dtype)) if self.keep_diagonal else mask

        mask = ops.cond(should_prune, new_mask, lambda: ops.convert_to_tensor(self.mask.value))
        self.mask.assign(mask)
        self.step.assign_add(1)
        return weight * mask

    def get_config(self):
        config = super().get_config()
        schedules = [keras.saving.serialize_keras_object(s) for s in self.schedules]
        config.update(shape=list(self.weight_shape), schedule=schedules,
                      block_size=list(self.block_size), gates=self.gates, keep_diagonal=self.keep_diagonal,
                      previous=keras.constraints.serialize(self.previous), weight_dtype=self.weight_dtype)
        return config


@dataclasses.dataclass
class _Target:
    layer: keras.layers.Layer
    spec: PrunableWeight

    @property
    def weight(self):
        return getattr(self.layer, self.spec.weight)


def _targets(model, layers=None):
    """A `_Target` for every declared prunable trainable weight of `model` (or of `layers`).

    Raises for a layer with trainable matrices and no declaration, so nothing is skipped silently.
    """
    roots = [model] if layers is None else list(layers)
    seen, found = set(), []
    for root in roots:
        for layer in sublayers(root):
            if id(layer) in seen:
                continue
            seen.add(id(layer))
            declared = declared_prunable_weights(layer)
            if declared is None and _own_matrices(layer):
                raise ValueError(
                    f"layer {layer.name!r} ({type(layer).__name__}) has trainable matrices "
                    f"{[w.path for w in _own_matrices(layer)]} but does not say which may be pruned. Give its class "
                    f"a `prunable_weights()` method returning `keras_dl.sparsity.PrunableWeight`s (and an "
                    f"`unprunable_weights` dict of name -> reason for those that must stay dense), or leave it out "
                    f"with `layers=`.")
            found += [_Target(layer, spec) for spec in declared or [] if getattr(layer, spec.weight).trainable]
    return found


def _unprunable_reason(model, weight):
    for layer in sublayers(model):
        for name, reason in getattr(layer, "unprunable_weights", {}).items():
            if getattr(layer, name) is weight:
                return f" {weight.path} is not prunable: {reason}."
    return ""


def _check_gate_schedules(gate_schedules, targets):
    if not isinstance(gate_schedules, (list, tuple)) or not gate_schedules \
            or not all(isinstance(s, PruningSchedule) for s in gate_schedules):
        raise TypeError(f"`gate_schedules` must be a list of PruningSchedule, one per gate, got {gate_schedules!r}.")
    timings = {(s.begin_step, s.end_step, s.frequency) for s in gate_schedules}
    if len(timings) != 1:
        raise ValueError(f"`gate_schedules` must share begin_step, end_step and frequency, got {sorted(timings)}.")
    gated = {t.weight.path: t.spec.gates for t in targets if t.spec.gates > 1}
    if not any(gates == len(gate_schedules) for gates in gated.values()):
        raise ValueError(f"`gate_schedules` has {len(gate_schedules)} schedules but no pruned weight has that many "
                         f"gates; gated weights: {gated or 'none (no recurrent cell is pruned)'}.")


def prune_low_magnitude(model, schedule, block_size=(1, 1), keep_recurrent_diagonal=False, gate_schedules=None,
                        layers=None, weights=None):
    """Makes `model`'s prunable weights prune themselves while it trains.

    Each weight gets a `MagnitudePruning` constraint holding its mask and step counter;
    Keras saves both with the layer, so `.keras` files and checkpoints keep them.
    Recurrent kernels are pruned gate by gate, as in WaveRNN. At least one block of every
    weight (and gate) survives, as in tfmot. Save the trained result with `strip_pruning`.

    Prunable: the weights in `KERAS_PRUNABLE_WEIGHTS` (Dense, EinsumDense, Conv, Embedding,
    Keras' RNN cells) and those a layer declares with `prunable_weights()` (every keras_dl
    cell). A layer with trainable matrices and no declaration raises `ValueError`.

    Args:
        model: a built Keras model (modified in place and returned).
        schedule: `ConstantSparsity` or `PolynomialDecay`.
        block_size: block in Keras kernel axes `(input rows, output cols)`: `(4, 1)` for
            LiteRT's fast float sparse kernels, `(16, 1)` for int8. Must divide every
            pruned weight (per gate for recurrent ones).
        keep_recurrent_diagonal: never prune the diagonal of each gate's recurrent matrix
            (a unit's connection to itself; in a `DelayCell`, to its own past at each delay).
            A recurrent weight that is not a stack of square blocks per gate raises `ValueError`.
        gate_schedules: for recurrent cells, one schedule per gate in the cell's gate order
            (GRU `[z, r, h]`, LSTM `[i, f, c, o]`), e.g. LPCNet's 95/95/80% for a GRU's
            update/reset/state gates; they must share `begin_step`, `end_step`, `frequency`,
            and at least one pruned weight must have that many gates. Other weights keep `schedule`.
        layers: prune only these layers of `model` (and the layers inside them); all by default.
        weights: prune only these variables (e.g. a cell's `recurrent_kernel` alone); each
            must be one of the prunable weights of `model` (or of `layers`).

    Example:
    >>> from keras_dl.sparsity import PolynomialDecay
    >>> model = keras.Sequential([keras.Input((16,)), keras.layers.Dense(8), keras.layers.Dense(1)])
    >>> model = prune_low_magnitude(model, PolynomialDecay(0.0, 0.5, 0, 4, frequency=1), block_size=(4, 1))
    >>> model.compile("adam", "mse")
    >>> history = model.fit(np.ones((32, 16)), np.ones((32, 1)), epochs=5, verbose=0)
    >>> plain = strip_pruning(model)
    >>> float(np.mean(plain.layers[0].kernel.numpy() == 0))
    0.5
    """
    if not isinstance(model, keras.layers.Layer):
        raise TypeError(f"`model` must be a Keras model or layer, got {type(model).__name__}.")
    if not isinstance(schedule, PruningSchedule):
        raise TypeError(f"`schedule` must be a keras_dl.sparsity PruningSchedule, got {type(schedule).__name__}.")
    if not model.built:
        raise ValueError("`model` must be built (call it on a batch or build it) before pruning.")
    if layers is not None and (not isinstance(layers, (list, tuple)) or not layers
                               or not all(isinstance(layer, keras.layers.Layer) for layer in layers)):
        raise TypeError(f"`layers` must be a non-empty list of layers of `model`, got {layers!r}.")
    targets = _targets(model, layers)
    if not targets:
        raise ValueError(f"`model` {model.name!r} has no prunable weights (Dense, Conv, Embedding or recurrent-cell "
                         f"kernels, or weights a layer declares with `prunable_weights()`).")
    if weights is not None:
        chosen = {id(w) for w in weights} if isinstance(weights, (list, tuple)) else set()
        unknown = [w for w in weights if id(w) not in {id(t.weight) for t in targets}] if chosen else []
        if not chosen or unknown:
            reasons = "".join(_unprunable_reason(model, w) for w in unknown)
            raise ValueError(f"`weights` must be a non-empty list of prunable weights of `model`; prunable: "
                             f"{[t.weight.path for t in targets]}.{reasons}")
        targets = [t for t in targets if id(t.weight) in chosen]
    if gate_schedules is not None:
        _check_gate_schedules(gate_schedules, targets)
    for target in targets:  # Every check before any weight changes.
        weight, gates = target.weight, target.spec.gates
        if isinstance(weight.constraint, MagnitudePruning):
            raise ValueError(f"{weight.path} is already pruned; call prune_low_magnitude once per model.")
        if weight.shape[-1] % gates:
            raise ValueError(f"{weight.path} of shape {tuple(weight.shape)} cannot be split into the {gates} gates its "
                             f"layer {target.layer.name!r} declares in `prunable_weights()`.")
        width = weight.shape[-1] // gates
        if keep_recurrent_diagonal and target.spec.recurrent and (len(weight.shape) != 2 or weight.shape[0] % width):
            raise ValueError(f"`keep_recurrent_diagonal`: {weight.path} of shape {tuple(weight.shape)} is not a stack of "
                             f"square [{width}, {width}] blocks per gate, so it has no recurrent diagonal to keep "
                             f"(layer {target.layer.name!r}).")
        block = check_block_size(block_size, weight.shape, weight.path)
        if width % block[1]:
            raise ValueError(f"`block_size` {block} does not divide the gates (width {width}) "
                             f"of {weight.path}.")
    for target in targets:
        weight, gates = target.weight, target.spec.gates
        per_gate = gate_schedules is not None and gates == len(gate_schedules)  # never 1 (checked above)
        pruning = MagnitudePruning(
            weight.shape, list(gate_schedules) if per_gate else schedule, block_size, gates,
            keep_diagonal=target.spec.recurrent and keep_recurrent_diagonal, previous=weight.constraint,
            weight_dtype=weight.dtype, name=f"{target.layer.name}_{weight.name}_pruning")
        # A built layer's state is locked; Keras' own Layer.quantize() unlocks it the same way to add weights.
        target.layer._tracker.unlock()
        setattr(target.layer, target.spec.constraint, pruning)
        target.layer._tracker.lock()
        weight.constraint = pruning
    return model


def _without_pruning(config):
    """A serialised model with every `MagnitudePruning` replaced by the constraint it wrapped."""
    if isinstance(config, dict):
        if config.get("registered_name") == "keras_dl>MagnitudePruning":
            return _without_pruning(config["config"]["previous"])
        return {key: _without_pruning(value) for key, value in config.items()}
    if isinstance(config, list):
        return [_without_pruning(value) for value in config]
    return config


def pruning_constraints(model):
    """Every `MagnitudePruning` in `model`."""
    return [layer for layer in sublayers(model) if isinstance(layer, MagnitudePruning)]


def strip_pruning(model):
    """A plain copy of a pruned `model`: same architecture and weights (zeros baked in), no masks.

    The result saves and loads as an ordinary Keras model.
    """
    plain = keras.saving.deserialize_keras_object(_without_pruning(keras.saving.serialize_keras_object(model)))
    if not plain.built:
        plain.build(**model._build_shapes_dict)
    pruning = {id(w) for constraint in pruning_constraints(model) for w in constraint.weights}
    source = [w for w in model.weights if id(w) not in pruning]
    if [tuple(w.shape) for w in source] != [tuple(w.shape) for w in plain.weights]:
        raise ValueError(f"the copy of `model` {model.name!r} does not have the same weights as the original.")
    for target, weight in zip(plain.weights, source):
        target.assign(weight)
    return plain


def sparsity_report(model, block_size=(1, 1)):
    """Per prunable weight: size, fraction of zeros and, for a block size, fraction of all-zero blocks.

    Returns a list of dicts `{"weight", "shape", "size", "sparsity", "block_sparsity"}`.
    """
    rows = []
    for layer in sublayers(model):
        for spec in declared_prunable_weights(layer) or []:
            weight = getattr(layer, spec.weight)
            if not weight.trainable:
                continue
            value = np.asarray(weight)
            row = {"weight": weight.path, "shape": tuple(value.shape), "size": int(value.size),
                   "sparsity": float(np.mean(value == 0))}
            if tuple(block_size) != (1, 1) and value.ndim == 2 and value.shape[0] % block_size[0] == 0 \
                    and value.shape[1] % block_size[1] == 0:
                blocks = value.reshape(value.shape[0] // block_size[0], block_size[0],
                                       value.shape[1] // block_size[1], block_size[1])
                row["block_sparsity"] = float(np.mean(np.all(blocks == 0, axis=(1, 3))))
            rows.append(row)
    return rows


class SparsitySummaries(keras.callbacks.Callback):
    """Writes each pruned weight's sparsity to TensorBoard (`sparsity/<weight path>`) after every epoch.

    Args:
        log_dir: TensorBoard log directory (a `sparsity` run is written under it).

    Example:
    >>> from keras_dl.sparsity import ConstantSparsity
    >>> model = keras.Sequential([keras.Input((16,)), keras.layers.Dense(8)])
    >>> model = prune_low_magnitude(model, ConstantSparsity(0.5, 0, frequency=1))
    >>> model.compile("adam", "mse")
    >>> history = model.fit(np.ones((8, 16)), np.ones((8, 8)), verbose=0, callbacks=[SparsitySummaries("logs")])
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
