"""Diagnostics: measurements of training, drawn as plots."""

from keras_dl.diagnostics.plots import plot_learning_curves
