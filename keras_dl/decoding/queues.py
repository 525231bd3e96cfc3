"""Ring buffers of past inputs for causal convolutions' step forms (fast WaveNet generation, Paine et al. 2016)."""

import numpy as np

from keras_dl import _checks


class ConvQueues:
    """One ring buffer of past inputs per causal convolution: what fast generation caches.

    A convolution with kernel size `k` and dilation `d` reads, at step `t`, its inputs at
    `t - (k - 1) d, ..., t - d` (its *taps*) and at `t`. Its queue keeps its last
    `d (k - 1)` inputs in a ring: each step reads `k - 1` rows and writes one, so a step
    costs O(number of convolutions) whatever the receptive field. Rings are zeros before
    the first push (the convolutions' causal padding).

    `taps()` gives every convolution's taps as one array for a step model speaking
    `{"taps": [batch, convolutions, k - 1, channels], ...} -> {"pushed": [batch,
    convolutions, channels], ...}` (`WaveNet.step_model()`); `push(pushed)` stores the
    step's inputs and moves time on by one.

    Args:
        dilations: the dilation of each convolution, in the step model's order.
        kernel_size: taps of every convolution (>= 2).
        channels: input channels of every convolution.
        batch_size: rows of the batch.

    Example:
    >>> queues = ConvQueues([1, 4], kernel_size=2, channels=1)
    >>> for t in range(1, 7):
    ...     queues.push(np.full((1, 2, 1), t, np.float32))
    >>> queues.taps()[0, :, :, 0].tolist()   # 1 and 4 steps back from step 6
    [[6.0], [3.0]]
    """

    def __init__(self, dilations, kernel_size, channels, batch_size=1):
        self.dilations = [_checks.positive_int("dilations", d) for d in dilations]
        if not self.dilations:
            raise ValueError("`dilations` must name at least one convolution, got none.")
        self.kernel_size = _checks.positive_int("kernel_size", kernel_size)
        if self.kernel_size < 2:
            raise ValueError(f"`kernel_size` must be >= 2 (a kernel of 1 keeps no past), got {kernel_size}.")
        self.channels = _checks.positive_int("channels", channels)
        self.batch_size = _checks.positive_int("batch_size", batch_size)
        taps = self.kernel_size - 1
        lengths = np.array([d * taps for d in self.dilations])
        offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        # Per (convolution, tap), oldest tap first: how far back it reads, its ring's start and length.
        self._lags = np.array([[d * (taps - j) for j in range(taps)] for d in self.dilations]).ravel()
        self._tap_offsets, self._tap_lengths = np.repeat(offsets, taps), np.repeat(lengths, taps)
        self._offsets, self._lengths = offsets, lengths
        self._rings = np.zeros((self.batch_size, int(lengths.sum()), self.channels), np.float32)
        self.time = 0

    def taps(self):
        """float32 `[batch, convolutions, kernel_size - 1, channels]`: each convolution's past inputs, oldest first."""
        rows = self._tap_offsets + (self.time - self._lags) % self._tap_lengths
        return self._rings[:, rows].reshape(self.batch_size, len(self.dilations), self.kernel_size - 1,
                                            self.channels)

    def push(self, pushed):
        """Stores each convolution's input at this step (`[batch, convolutions, channels]`) and moves on one step."""
        pushed = np.asarray(pushed)
        if pushed.shape != (self.batch_size, len(self.dilations), self.channels):
            raise ValueError(f"`pushed` must have shape {(self.batch_size, len(self.dilations), self.channels)} "
                             f"([batch, convolutions, channels]), got {pushed.shape}.")
        self._rings[:, self._offsets + self.time % self._lengths] = pushed
        self.time += 1
