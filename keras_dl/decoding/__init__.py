"""Decoding: sampling from step models."""

from keras_dl.decoding.sampling import generate
from keras_dl.decoding.sampling import generate_dual_softmax
from keras_dl.decoding.sampling import sample_from_logits
