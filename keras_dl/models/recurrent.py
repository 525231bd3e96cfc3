"""A recurrent network with a readout, and Pascanu et al.'s gradient-norm-preserving regulariser."""

import keras
import tensorflow as tf

from keras_dl import _checks
from keras_dl.layers import state_sizes


@keras.saving.register_keras_serializable(package="keras_dl")
class RecurrentNetwork(keras.Model):
    """Any recurrent cell followed by a Dense readout, with an optional Omega regulariser.

    Omega (Pascanu, Mikolov & Bengio 2013, "On the difficulty of training recurrent neural
    networks", eq. 9) asks every step back to keep the size of the error signal:

        Omega = sum_k (||g_{k+1} dh_{k+1}/dh_k|| / ||g_{k+1}|| - 1)^2,   g_k = dE/dh_k,

    with `g` held constant, as in the paper. It is summed over the steps and averaged over
    the batch, and `train_step` minimises `E + omega_weight * Omega`. The total derivatives
    `g_k` come from one extra backward pass (the states are run through `tf.scan` with a
    zero perturbation added to each, whose gradient is `g_k`), and all the products
    `g_{k+1} dh_{k+1}/dh_k` from one batched step over every `(x_{k+1}, h_k)` pair.

    Args:
        cell: a recurrent cell (keras_dl's or Keras'); Omega needs a cell whose single state
            is its output (Elman, IRNN, GRU, leaky, orthogonal) and no dropout.
        output_dim: readout units.
        return_sequences: read out every step (`[batch, T, output_dim]`) or the last one.
        omega_weight: weight of Omega in the training loss; 0 trains on `E` alone.

    Call arguments:
        inputs: `[batch, T, features]`.
        training: Python bool.

    Example:
    >>> from keras_dl.data import task_dataset
    >>> from keras_dl.layers import ElmanCell
    >>> model = RecurrentNetwork(ElmanCell(16), output_dim=1, omega_weight=2.0)
    >>> model.compile(keras.optimizers.SGD(0.01, clipnorm=1.0), "mse")
    >>> train = task_dataset("adding_problem", "train", 50, length=20, num_train=100, num_eval=10)
    >>> history = model.fit(train, steps_per_epoch=2, verbose=0)
    >>> sorted(history.history)
    ['loss', 'omega']
    """

    def __init__(self, cell, output_dim, return_sequences=False, omega_weight=0.0, **kwargs):
        super().__init__(**kwargs)
        if isinstance(cell, dict):
            cell = keras.saving.deserialize_keras_object(cell)
        self.cell = cell
        self.output_dim = _checks.positive_int("output_dim", output_dim)
        self.return_sequences = bool(return_sequences)
        self.omega_weight = _checks.non_negative_float("omega_weight", omega_weight)
        if self.omega_weight:
            if state_sizes(cell) != [cell.output_size]:
                raise ValueError(f"`omega_weight` needs a cell with one state tensor, its output; {type(cell).__name__} "
                                 f"has states {state_sizes(cell)} and output {cell.output_size}.")
            if getattr(cell, "dropout", 0) or getattr(cell, "recurrent_dropout", 0):
                raise ValueError(f"`omega_weight` needs a cell without dropout; {type(cell).__name__} has some.")
        self.rnn = keras.layers.RNN(cell, return_sequences=self.return_sequences, name="rnn")
        self.head = keras.layers.Dense(self.output_dim, name="head")
        self.omega_tracker = keras.metrics.Mean(name="omega")

    def call(self, inputs, training=False):
        if len(inputs.shape) != 3:
            raise ValueError(f"`inputs` must have shape [batch, T, features], got {inputs.shape}.")
        return self.head(self.rnn(inputs, training=training))

    def build(self, input_shape):
        self.rnn.build(input_shape)
        self.head.build(tuple(input_shape[:1]) + ((input_shape[1],) if self.return_sequences else ()) + (self.cell.output_size,))
        super().build(input_shape)

    @property
    def metrics(self):
        return super().metrics + [self.omega_tracker]

    def _scan(self, inputs, perturbation):
        """The cell's states over time, `perturbation[:, k]` added to state k: `[batch, T, units]`."""
        # Omega's cells output their state, so the perturbed state is also the step's output.
        def step(state, elems):
            x_t, eps_t = elems
            _, new_states = self.cell(x_t, [state], training=False)
            new_states = new_states if isinstance(new_states, (list, tuple)) else [new_states]
            return new_states[0] + eps_t

        initial = tf.zeros([tf.shape(inputs)[0], state_sizes(self.cell)[0]], self.compute_dtype)
        time_major = tf.transpose(inputs, [1, 0, 2]), tf.transpose(perturbation, [1, 0, 2])
        return tf.transpose(tf.scan(step, time_major, initializer=initial), [1, 0, 2])

    def predict_and_omega(self, x, y, sample_weight=None):
        """`(y_pred, loss, omega)` on one batch, differentiable in the weights (`g` held constant)."""
        x = tf.cast(x, self.compute_dtype)
        if not self.built:
            self.build(tuple(x.shape))
        shape = tf.shape(x)
        batch, steps, units = shape[0], shape[1], state_sizes(self.cell)[0]
        perturbation = tf.zeros([batch, steps, units], self.compute_dtype)
        with tf.GradientTape() as probe:
            probe.watch(perturbation)
            states = self._scan(x, perturbation)
            y_pred = self.head(states if self.return_sequences else states[:, -1])
            loss = self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=True)
        g = tf.reshape(tf.stop_gradient(probe.gradient(loss, perturbation)), [-1, units])  # g_{k+1}, k = 0..T-1
        previous = tf.concat([tf.zeros([batch, 1, units], states.dtype), states[:, :-1]], axis=1)  # h_k, k = 0..T-1
        previous = tf.reshape(previous, [-1, units])
        with tf.GradientTape() as step_tape:
            step_tape.watch(previous)
            _, following = self.cell(tf.reshape(x, [batch * steps, -1]), [previous], training=False)
            following = following[0] if isinstance(following, (list, tuple)) else following
        carried = step_tape.gradient(following, previous, output_gradients=g)  # g_{k+1} dh_{k+1}/dh_k
        carried, g = tf.cast(carried, "float32"), tf.cast(g, "float32")  # The ratio in float32 under mixed precision.
        # sqrt(. + tiny), not tf.norm: the norm's gradient at a zero vector (dead ReLU units) is NaN.
        ratio = tf.sqrt(tf.reduce_sum(tf.square(carried), -1) + 1e-20) / (tf.norm(g, axis=-1) + 1e-12)
        omega = tf.reduce_mean(tf.reduce_sum(tf.reshape(tf.square(ratio - 1.0), [batch, steps]), axis=1))
        return y_pred, loss, omega

    def omega(self, x, y, sample_weight=None):
        """Omega of the compiled loss on one batch, as a float."""
        return float(self.predict_and_omega(x, y, sample_weight)[2])

    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            if self.omega_weight:
                y_pred, loss, omega = self.predict_and_omega(x, y, sample_weight)
            else:
                y_pred = self(x, training=True)
                loss = self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=True)
                omega = tf.constant(0.0)
            total = loss + self.omega_weight * omega
            # Under mixed_float16 Keras' optimizer is a LossScaleOptimizer; `apply` unscales.
            scaled = self.optimizer.scale_loss(total)
        self.optimizer.apply(tape.gradient(scaled, self.trainable_weights), self.trainable_weights)
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
        self.omega_tracker.update_state(omega)
        return self.compute_metrics(x, y, y_pred, sample_weight)

    def get_config(self):
        config = super().get_config()
        config.update(cell=keras.saving.serialize_keras_object(self.cell), output_dim=self.output_dim,
                      return_sequences=self.return_sequences, omega_weight=self.omega_weight)
        return config
