"""Pruning schedules with tfmot's semantics, in `keras.ops` so they run inside a compiled train step.

`schedule(step)` returns `(should_prune, sparsity)`: prune on steps `begin_step,
begin_step + frequency, ...` up to `end_step` (`-1`: forever), to the returned fraction
of zeros. Decisions and values equal `tfmot.sparsity.keras.ConstantSparsity` /
`PolynomialDecay` step for step (tests compare them with tfmot itself).
"""

import keras
from keras import ops

from keras_dl import _checks


def _check_steps(begin_step, end_step, frequency, allow_forever):
    if isinstance(begin_step, bool) or not isinstance(begin_step, int) or begin_step < 0:
        raise ValueError(f"`begin_step` must be an int >= 0, got {begin_step!r}.")
    if isinstance(end_step, bool) or not isinstance(end_step, int):
        raise TypeError(f"`end_step` must be an int, got {end_step!r}.")
    if end_step == -1 and not allow_forever:
        raise ValueError("`end_step` cannot be -1 for this schedule: it needs an end to reach its final sparsity.")
    if end_step != -1 and end_step < begin_step:
        raise ValueError(f"`end_step` ({end_step}) must be -1 or >= `begin_step` ({begin_step}).")
    _checks.positive_int("frequency", frequency)


def _check_sparsity(name, value):
    return _checks.non_negative_float(name, value, below=1.0)


class PruningSchedule:
    """Base: when to prune (`begin_step`, `end_step`, `frequency`) and to which sparsity."""

    def should_prune(self, step):
        step = ops.convert_to_tensor(step, "int64")
        in_range = ops.logical_and(
            ops.greater_equal(step, self.begin_step),
            ops.logical_or(ops.less_equal(step, self.end_step), self.end_step < 0),
        )
        return ops.logical_and(in_range, ops.equal(ops.mod(step - self.begin_step, self.frequency), 0))

    def get_config(self):
        raise NotImplementedError

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@keras.saving.register_keras_serializable(package="keras_dl")
class ConstantSparsity(PruningSchedule):
    """The same sparsity at every pruning step.

    Args:
        target_sparsity: fraction of zeros, in [0, 1).
        begin_step: first pruning step.
        end_step: last pruning step, or -1 to prune until training ends.
        frequency: prune every `frequency` steps.

    Example:
    >>> should_prune, sparsity = ConstantSparsity(0.9, begin_step=0, frequency=100)(200)
    >>> bool(should_prune), round(float(sparsity), 4)
    (True, 0.9)
    """

    def __init__(self, target_sparsity, begin_step, end_step=-1, frequency=100):
        self.target_sparsity = _check_sparsity("target_sparsity", target_sparsity)
        _check_steps(begin_step, end_step, frequency, allow_forever=True)
        self.begin_step, self.end_step, self.frequency = begin_step, end_step, frequency

    def __call__(self, step):
        return self.should_prune(step), ops.convert_to_tensor(self.target_sparsity, "float32")

    def get_config(self):
        return {"target_sparsity": self.target_sparsity, "begin_step": self.begin_step,
                "end_step": self.end_step, "frequency": self.frequency}


@keras.saving.register_keras_serializable(package="keras_dl")
class PolynomialDecay(PruningSchedule):
    """Gradual pruning (Zhu & Gupta 2017): sparsity rises fast, then levels off at `final_sparsity`.

    `s(step) = final + (initial - final) * (1 - p) ** power`, with
    `p = clip((step - begin_step) / (end_step - begin_step), 0, 1)`.

    Args:
        initial_sparsity, final_sparsity: fractions of zeros, in [0, 1).
        begin_step, end_step: the ramp, `end_step > begin_step`.
        power: exponent of the ramp (3 in Zhu & Gupta).
        frequency: prune every `frequency` steps.

    Example:
    >>> schedule = PolynomialDecay(0.0, 0.9, begin_step=1000, end_step=20000)
    >>> round(float(schedule(20000)[1]), 4)
    0.9
    """

    def __init__(self, initial_sparsity, final_sparsity, begin_step, end_step, power=3, frequency=100):
        self.initial_sparsity = _check_sparsity("initial_sparsity", initial_sparsity)
        self.final_sparsity = _check_sparsity("final_sparsity", final_sparsity)
        _check_steps(begin_step, end_step, frequency, allow_forever=False)
        if end_step == begin_step:
            # tfmot divides by zero here; a ramp of no length is a ConstantSparsity.
            raise ValueError(f"`end_step` must be > `begin_step` ({begin_step}) for a ramp; use ConstantSparsity.")
        self.begin_step, self.end_step, self.power, self.frequency = begin_step, end_step, power, frequency

    def __call__(self, step):
        step = ops.convert_to_tensor(step, "int64")
        # float32 throughout, in tfmot's order of operations, so values match to the bit.
        progress = ops.cast(step - self.begin_step, "float32") / float(self.end_step - self.begin_step)
        progress = ops.minimum(1.0, ops.maximum(0.0, progress))
        sparsity = (self.initial_sparsity - self.final_sparsity) * ops.power(1.0 - progress, self.power) + self.final_sparsity
        return self.should_prune(step), sparsity

    def get_config(self):
        return {"initial_sparsity": self.initial_sparsity, "final_sparsity": self.final_sparsity,
                "begin_step": self.begin_step, "end_step": self.end_step, "power": self.power,
                "frequency": self.frequency}
