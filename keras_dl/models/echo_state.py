"""Echo-state network: fixed reservoir, linear readout fitted by ridge regression."""

import keras
import numpy as np

from keras_dl import _checks
from keras_dl.layers.reservoir import EchoStateCell


@keras.saving.register_keras_serializable(package="keras_dl")
class EchoStateNetwork(keras.Model):
    """Reservoir of `EchoStateCell` units and a linear readout per time step.

    Training an ESN is a convex problem: the reservoir is fixed, so the readout that
    minimises squared error plus `ridge * ||W||^2` has a closed form,
    `fit_readout`. The model is also an ordinary Keras model: `compile` + `fit` trains
    the readout by gradient descent (the reservoir's weights are not trainable).

    Args:
        units: reservoir size.
        output_dim: readout size.
        **reservoir_kwargs: `spectral_radius`, `leak_rate`, `input_scaling`,
            `bias_scaling`, `connectivity`, `seed` of `EchoStateCell`.

    Call arguments:
        inputs: `[batch, time, features]`.

    Returns `[batch, time, output_dim]`.

    Example:
    >>> wave = np.sin(np.linspace(0, 20, 201, dtype="float32"))
    >>> x, y = wave[None, :-1, None], wave[None, 1:, None]  # predict the next value
    >>> esn = EchoStateNetwork(100, 1, spectral_radius=0.9, seed=0)
    >>> esn.fit_readout(x, y, ridge=1e-6, washout=50)  # the readout's training error
    {'mse': ...}
    >>> float(np.abs(esn.predict(x, verbose=0) - y)[:, 50:].max()) < 0.05
    True
    """

    def __init__(self, units, output_dim, spectral_radius=0.9, leak_rate=1.0, input_scaling=1.0, bias_scaling=0.0,
                 connectivity=0.1, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.output_dim = _checks.positive_int("output_dim", output_dim)
        self.cell = EchoStateCell(units, spectral_radius=spectral_radius, leak_rate=leak_rate,
                                  input_scaling=input_scaling, bias_scaling=bias_scaling,
                                  connectivity=connectivity, seed=seed)
        self.reservoir = keras.layers.RNN(self.cell, return_sequences=True, name="reservoir")
        self.readout = keras.layers.Dense(output_dim, name="readout")

    def build(self, input_shape):
        # Built here, not on first call, so `load_model` creates the weights before it restores them.
        self.reservoir.build(input_shape)
        self.readout.build(tuple(input_shape[:-1]) + (self.cell.units,))
        super().build(input_shape)

    def call(self, inputs):
        return self.readout(self.reservoir(inputs))

    def fit_readout(self, inputs, targets, ridge=1e-6, washout=0):
        """Sets the readout to the ridge-regression solution on the reservoir's states.

        Args:
            inputs: `[batch, time, features]`.
            targets: `[batch, time, output_dim]`.
            ridge: L2 penalty on the readout weights (not on its bias), >= 0.
            washout: leading steps of every sequence left out of the fit, while the
                reservoir forgets its zero initial state.

        Returns:
            dict with the training mean squared error.
        """
        inputs, targets = np.asarray(inputs, np.float32), np.asarray(targets, np.float64)
        if inputs.ndim != 3:
            raise ValueError(f"`inputs` must have shape [batch, time, features], got {inputs.shape}.")
        if targets.shape != inputs.shape[:2] + (self.output_dim,):
            raise ValueError(
                f"`targets` must have shape {inputs.shape[:2] + (self.output_dim,)} (batch, time, output_dim), "
                f"got {targets.shape}."
            )
        ridge = _checks.non_negative_float("ridge", ridge)
        if isinstance(washout, bool) or not isinstance(washout, int) or not 0 <= washout < inputs.shape[1]:
            raise ValueError(f"`washout` must be an int in [0, time={inputs.shape[1]}), got {washout!r}.")
        self(inputs[:1, :1])  # Builds the readout.
        states = np.asarray(self.reservoir(inputs), np.float64)[:, washout:].reshape(-1, self.cell.units)
        features = np.concatenate([states, np.ones((len(states), 1))], axis=1)
        y = targets[:, washout:].reshape(-1, self.output_dim)
        penalty = ridge * np.eye(features.shape[1])
        penalty[-1, -1] = 0.0
        solution = np.linalg.solve(features.T @ features + penalty, features.T @ y)
        self.readout.kernel.assign(solution[:-1])
        self.readout.bias.assign(solution[-1])
        return {"mse": float(np.mean((features @ solution - y) ** 2))}

    def get_config(self):
        config = super().get_config()
        cell = self.cell.get_config()
        config.update(units=self.cell.units, output_dim=self.output_dim,
                      **{k: cell[k] for k in ("spectral_radius", "leak_rate", "input_scaling", "bias_scaling",
                                             "connectivity", "seed")})
        return config
