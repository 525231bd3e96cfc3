"""ConvQueues: the ring buffers of fast generation, against the inputs they should hold."""

import numpy as np
import pytest

from keras_dl.decoding import ConvQueues


@pytest.mark.parametrize("kernel_size", [2, 3, 4, 5])
def test_conv_queues_keep_several_rings_and_give_each_convolutions_taps_oldest_first(kernel_size):
    dilations = (1, 2, 8)
    queues = ConvQueues(list(dilations), kernel_size=kernel_size, channels=1, batch_size=2)
    history = np.random.default_rng(0).normal(size=(60, 2, 3, 1)).astype(np.float32)
    for t in range(60):
        taps = queues.taps()
        assert taps.shape == (2, 3, kernel_size - 1, 1) and taps.dtype == np.float32
        for i, d in enumerate(dilations):
            for j in range(kernel_size - 1):  # tap j reads (kernel_size - 1 - j) * d steps back, zeros before t = 0
                lag = (kernel_size - 1 - j) * d
                np.testing.assert_array_equal(taps[:, i, j], history[t - lag, :, i] if t >= lag else 0.0)
        queues.push(history[t])
    assert queues.time == 60


def test_conv_queues_check_their_arguments_and_what_is_pushed():
    queues = ConvQueues([1, 2, 8], kernel_size=3, channels=1, batch_size=2)
    with pytest.raises(ValueError, match=r"^`pushed` must have shape \(2, 3, 1\) \(\[batch, convolutions, channels\]\), "
                                         r"got \(2, 2, 1\)\.$"):
        queues.push(np.zeros((2, 2, 1)))
    with pytest.raises(ValueError, match=r"^`kernel_size` must be >= 2 \(a kernel of 1 keeps no past\), got 1\.$"):
        ConvQueues([1], kernel_size=1, channels=1)
    with pytest.raises(ValueError, match=r"^`dilations` must be a positive int, got 0\.$"):
        ConvQueues([1, 0], kernel_size=2, channels=1)
    with pytest.raises(ValueError, match=r"^`dilations` must name at least one convolution, got none\.$"):
        ConvQueues([], kernel_size=2, channels=1)
    for name in ("kernel_size", "channels", "batch_size"):
        with pytest.raises(ValueError, match=rf"^`{name}` must be a positive int, got 0\.$"):
            ConvQueues(**{"dilations": [1], "kernel_size": 2, "channels": 1, "batch_size": 1, name: 0})


def test_conv_queues_hold_one_sequence_by_default():
    queues = ConvQueues([2], kernel_size=3, channels=4)
    assert queues.batch_size == 1 and queues.taps().shape == (1, 1, 2, 4)
