"""Magnitude pruning for Keras 3 (tfmot's Keras API works only with Keras 2)."""

from keras_dl.sparsity.schedules import ConstantSparsity
from keras_dl.sparsity.schedules import PolynomialDecay
from keras_dl.sparsity.schedules import PruningSchedule
