"""Diagnostics: gradient flow through time, spectral radii, sequential Jacobians, and their plots (also image
grids and 2-D scatters of generated samples)."""

from keras_dl.diagnostics.gradient_flow import GradientFlowMonitor
from keras_dl.diagnostics.gradient_flow import gradient_norms_through_time
from keras_dl.diagnostics.gradient_flow import recurrent_spectral_radii
from keras_dl.diagnostics.gradient_flow import sequential_jacobian
from keras_dl.diagnostics.gradient_flow import spectral_radius
from keras_dl.diagnostics.gradient_flow import state_and_weight_gradients
from keras_dl.diagnostics.plots import plot_attention
from keras_dl.diagnostics.plots import plot_gradient_norms
from keras_dl.diagnostics.plots import plot_image_grid
from keras_dl.diagnostics.plots import plot_learning_curves
from keras_dl.diagnostics.plots import plot_log_curves
from keras_dl.diagnostics.plots import plot_points
from keras_dl.diagnostics.plots import plot_sequential_jacobian
from keras_dl.diagnostics.plots import plot_spectral_radii
from keras_dl.diagnostics.receptive_field import plot_receptive_field
from keras_dl.diagnostics.receptive_field import receptive_field
