"""Gradient flow through time: per-step state gradients, spectral radii, sequential Jacobians.

BPTT multiplies the gradient by the step Jacobian `dh_k / dh_{k-1} = diag(f'(a_k)) W` once per
step back, so `||dL/dh_k||` decays or grows roughly geometrically in `T - k` unless the
recurrence keeps that product near norm 1 (gates, orthogonal or identity recurrences, leaky
units, skip connections through time). These functions measure it on a real model.
"""

import keras
import numpy as np
import tensorflow as tf

from keras_dl import _checks
from keras_dl._layers import sublayers
from keras_dl.diagnostics.plots import gradient_norms_png
from keras_dl.layers import GRUCell
from keras_dl.layers import LSTMCell
from keras_dl.layers.reservoir import spectral_radius


def _recurrent_layer(model, layer=None):
    """The recurrent layer to inspect: `layer` (a layer or its name) or the model's only layer with a `cell`."""
    if isinstance(layer, str):
        layer = model.get_layer(layer)
    if layer is None:
        found = [sub for sub in sublayers(model)[1:] if hasattr(sub, "cell")]
        if len(found) != 1:
            raise ValueError(f"`layer` must name the recurrent layer to inspect: `model` has {len(found)} layers with "
                             f"a `cell` ({[sub.name for sub in found]}).")
        layer = found[0]
    if not hasattr(layer, "cell"):
        raise ValueError(f"`layer` must be a recurrent layer with a `cell` (keras.layers.RNN and the like), got {layer.name!r}.")
    for flag in ("go_backwards", "return_state", "stateful"):
        if getattr(layer, flag, False):
            raise ValueError(f"`layer` {layer.name!r} has {flag}=True, which the through-time diagnostics do not support.")
    return layer


def _split_at(model, layer):
    """Callables for the parts of a functional `model` before and after `layer`."""
    if not getattr(model, "inputs", None) or len(layer._inbound_nodes) != 1:
        raise TypeError(f"`model` must be a functional or Sequential model that calls the recurrent layer once, "
                        f"got a {type(model).__name__}.")
    before = (lambda x: x) if layer.input is model.inputs[0] else keras.Model(model.inputs, layer.input)
    after = (lambda y: y) if layer.output is model.outputs[0] else keras.Model(layer.output, model.outputs[0])
    return before, after


def _unroll(layer, sequence):
    """Runs `layer`'s cell step by step; returns the layer's output and every step's list of state tensors."""
    cell = layer.cell
    states = cell.get_initial_state(batch_size=tf.shape(sequence)[0])
    states = list(states) if isinstance(states, (list, tuple)) else [states]
    outputs, history = [], []
    for t in range(sequence.shape[1]):
        output, states = cell(sequence[:, t], states, training=False)
        states = list(states) if isinstance(states, (list, tuple)) else [states]
        outputs.append(output)
        history.append(states)
    return (tf.stack(outputs, axis=1) if layer.return_sequences else outputs[-1]), history


def _loss_function(model, loss):
    loss = loss if loss is not None else getattr(model, "loss", None)
    if loss is None:
        raise ValueError("`loss` is needed: `model` is not compiled with one.")
    return keras.losses.get(loss) if isinstance(loss, str) else loss


def state_and_weight_gradients(model, x, y, loss=None, layer=None):
    """`(state_norms, global_norm)`: `||dL/ds_k||` for k = 1..T and the global norm of `dL/dweights`.

    `s_k` is the recurrent layer's whole state after step k (for an LSTM, `h_k` and `c_k`
    together), and `dL/ds_k` its total derivative, through every later step and output.
    The norm is taken over the batch and the units of the mean loss over the batch.
    """
    layer = _recurrent_layer(model, layer)
    before, after = _split_at(model, layer)
    loss_fn = _loss_function(model, loss)
    weights = model.trainable_weights
    with tf.GradientTape() as tape:
        output, history = _unroll(layer, tf.convert_to_tensor(before(x)))
        value = tf.reduce_mean(loss_fn(y, after(output)))
    state_grads, weight_grads = tape.gradient(value, (history, weights))
    norms = [float(tf.sqrt(sum(tf.reduce_sum(tf.square(g)) for g in step if g is not None))) for step in state_grads]
    return np.array(norms), float(tf.linalg.global_norm([g for g in weight_grads if g is not None]))


def gradient_norms_through_time(model, x, y, loss=None, layer=None):
    """`||dL/ds_k||` for every step k = 1..T of a recurrent layer's state, as a numpy array.

    The model is split at the recurrent layer and the layer's cell is run step by step
    under one `tf.GradientTape`, so the gradient of the loss with respect to each step's
    state is read off directly (same weights, same result as the layer itself).

    Args:
        model: a functional or Sequential Keras model.
        x, y: one batch of inputs and targets.
        loss: a Keras loss (name or callable); defaults to the model's compiled loss.
        layer: the recurrent layer (or its name); needed when the model has several.

    Example:
    >>> model = keras.Sequential([keras.Input((20, 1)), keras.layers.SimpleRNN(8), keras.layers.Dense(1)])
    >>> model.compile("sgd", "mse")
    >>> x, y = np.ones((4, 20, 1), "float32"), np.zeros((4, 1), "float32")
    >>> norms = gradient_norms_through_time(model, x, y)   # norms[0] / norms[-1]: how much reaches step 1
    >>> len(norms)
    20
    """
    return state_and_weight_gradients(model, x, y, loss, layer)[0]


def sequential_jacobian(model, x, output_step=-1):
    """`||dy_t / dx_k||` over the input steps k: how much each input moves the output at step t.

    Args:
        model: any Keras model mapping `[batch, T, features]` to `[batch, outputs]` or
            `[batch, T', outputs]` (then `output_step` picks t).
        x: inputs `[batch, T, features]`.
        output_step: the output step t for sequence outputs.

    Returns:
        numpy `[batch, T]`: the Frobenius norm of each example's Jacobian block over
        output units and input features.
    """
    x = tf.convert_to_tensor(np.asarray(x, np.float32))
    if x.shape.rank != 3:
        raise ValueError(f"`x` must have shape [batch, T, features], got {tuple(x.shape)}.")
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = model(x, training=False)
        if y.shape.rank == 3:
            y = y[:, output_step]
    jacobian = tape.batch_jacobian(y, x)  # [batch, outputs, T, features]
    return np.sqrt(np.sum(np.square(jacobian.numpy()), axis=(1, 3)))


def _gate_names(cell, gates):
    if gates == 3 and isinstance(cell, (GRUCell, keras.layers.GRUCell)):
        return ["z", "r", "h"]
    if gates == 4 and isinstance(cell, (LSTMCell, keras.layers.LSTMCell)):
        return ["i", "f", "c", "o"]
    return [str(g) for g in range(gates)]


def recurrent_spectral_radii(model):
    """Spectral radius of every recurrent matrix of `model`, gate by gate.

    Returns a list of `{"cell", "gate", "spectral_radius"}`; cells with a parameterised
    recurrence (`OrthogonalCell`) report their `recurrent_matrix()`.
    """
    rows = []
    for cell in sublayers(model)[1:]:
        if hasattr(cell, "recurrent_matrix"):
            rows.append({"cell": cell.name, "gate": "W", "spectral_radius": spectral_radius(cell.recurrent_matrix())})
        elif hasattr(cell, "recurrent_kernel") and hasattr(cell, "units"):
            kernel = np.asarray(cell.recurrent_kernel)
            gates = kernel.shape[1] // cell.units
            for name, block in zip(_gate_names(cell, gates), np.split(kernel[:, : gates * cell.units], gates, axis=1)):
                rows.append({"cell": cell.name, "gate": name, "spectral_radius": spectral_radius(block)})
    if not rows:
        raise ValueError(f"`model` {model.name!r} has no recurrent matrices.")
    return rows


class GradientFlowMonitor(keras.callbacks.Callback):
    """Logs gradient flow through time to TensorBoard every `every_n_steps` training steps.

    On a fixed batch it writes `gradient_flow/global_norm` (of the weight gradients),
    `gradient_flow/first_step` and `gradient_flow/last_step` (`||dL/ds_1||`, `||dL/ds_T||`),
    `gradient_flow/first_over_last` (how much of the gradient reaches the first step),
    and the whole curve over k as an image, `gradient_flow/through_time`.

    Args:
        log_dir: TensorBoard log directory (a `gradient_flow` run is written under it).
        x, y: the batch to measure on.
        every_n_steps: measuring interval in training steps.
        layer, loss: as in `gradient_norms_through_time`.

    Example:
    >>> model = keras.Sequential([keras.Input((20, 1)), keras.layers.SimpleRNN(8), keras.layers.Dense(1)])
    >>> model.compile("sgd", "mse")
    >>> x, y = np.ones((64, 20, 1), "float32"), np.zeros((64, 1), "float32")
    >>> history = model.fit(x, y, epochs=2, verbose=0,
    ...                     callbacks=[GradientFlowMonitor("logs", x[:32], y[:32], every_n_steps=2)])
    """

    def __init__(self, log_dir, x, y, every_n_steps=100, layer=None, loss=None):
        super().__init__()
        self.log_dir = str(log_dir) + "/gradient_flow"
        self.x, self.y, self.layer, self.loss = x, y, layer, loss
        self.every_n_steps = _checks.positive_int("every_n_steps", every_n_steps)
        self._writer, self._step = None, 0
        self.history = []  # (step, state norms, global norm) per measurement

    def on_train_batch_end(self, batch, logs=None):
        self._step += 1
        if self._step % self.every_n_steps:
            return
        norms, global_norm = state_and_weight_gradients(self.model, self.x, self.y, self.loss, self.layer)
        self.history.append((self._step, norms, global_norm))
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(self.log_dir)
        with self._writer.as_default(step=self._step):
            tf.summary.scalar("gradient_flow/global_norm", global_norm)
            tf.summary.scalar("gradient_flow/first_step", norms[0])
            tf.summary.scalar("gradient_flow/last_step", norms[-1])
            tf.summary.scalar("gradient_flow/first_over_last", norms[0] / max(norms[-1], 1e-30))
            image = tf.image.decode_png(gradient_norms_png({f"step {self._step}": norms}))
            tf.summary.image("gradient_flow/through_time", image[None])
        self._writer.flush()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
