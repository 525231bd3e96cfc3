"""Layers: recurrent cells, attention mechanisms and the attention decoder cell, memory (NTM) (and, to come, causal convolutions, sampling)."""

from keras_dl.layers.attention import AttentionMechanism
from keras_dl.layers.attention import BahdanauAttention
from keras_dl.layers.attention import BahdanauMonotonicAttention
from keras_dl.layers.attention import LuongAttention
from keras_dl.layers.attention import LuongMonotonicAttention
from keras_dl.layers.attention import hardmax
from keras_dl.layers.attention import monotonic_attention
from keras_dl.layers.cells import ClockworkCell
from keras_dl.layers.cells import CoarseFineGRUCell
from keras_dl.layers.cells import DelayCell
from keras_dl.layers.cells import ElmanCell
from keras_dl.layers.cells import GRUCell
from keras_dl.layers.cells import LeakyCell
from keras_dl.layers.cells import LSTMCell
from keras_dl.layers.cells import OrthogonalCell
from keras_dl.layers.cells import RecurrentCell
from keras_dl.layers.cells import UnitInterval
from keras_dl.layers.cells import state_sizes
from keras_dl.layers.decoder import AttentionDecoderCell
from keras_dl.layers.memory import NTMCell
from keras_dl.layers.reservoir import EchoStateCell
from keras_dl.layers.rnn import GRU
from keras_dl.layers.rnn import LSTM
