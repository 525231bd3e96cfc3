"""Magnitude pruning for Keras 3 (tfmot's Keras API works only with Keras 2)."""

from keras_dl.sparsity.masks import LITERT_FLOAT_BLOCK
from keras_dl.sparsity.masks import LITERT_INT8_BLOCK
from keras_dl.sparsity.masks import magnitude_mask
from keras_dl.sparsity.pruning import KERAS_PRUNABLE_WEIGHTS
from keras_dl.sparsity.pruning import MagnitudePruning
from keras_dl.sparsity.pruning import PrunableWeight
from keras_dl.sparsity.pruning import SparsitySummaries
from keras_dl.sparsity.pruning import declared_prunable_weights
from keras_dl.sparsity.pruning import prune_low_magnitude
from keras_dl.sparsity.pruning import pruning_constraints
from keras_dl.sparsity.pruning import sparsity_report
from keras_dl.sparsity.pruning import strip_pruning
from keras_dl.sparsity.schedules import ConstantSparsity
from keras_dl.sparsity.schedules import PolynomialDecay
from keras_dl.sparsity.schedules import PruningSchedule
