"""Gradient-clipping flags shared by the recipes, handed to the Keras optimizer (no hand-written clipping)."""

from keras_dl import _checks

FLAGS = {"clipnorm": "clip each weight's gradient to this L2 norm",
         "clipvalue": "clip every gradient entry to [-v, v]",
         "global_clipnorm": "clip the gradients of all weights together to this L2 norm"}


def add_arguments(parser):
    group = parser.add_argument_group("gradient clipping (Keras optimizer options; at most one)")
    for name, text in FLAGS.items():
        group.add_argument(f"--{name.replace('_', '-')}", type=float, default=None, help=text)


def optimizer_options(args):
    """`{clipnorm|clipvalue|global_clipnorm: value}` from parsed flags, checked, for a Keras optimizer."""
    chosen = {name: getattr(args, name) for name in FLAGS if getattr(args, name) is not None}
    if len(chosen) > 1:
        raise ValueError(f"set at most one of --clipnorm, --clipvalue, --global-clipnorm, got {sorted(chosen)}.")
    return {name: _checks.positive_float(f"--{name.replace('_', '-')}", value) for name, value in chosen.items()}
