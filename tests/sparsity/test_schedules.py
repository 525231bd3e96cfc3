import pytest
import tensorflow as tf
import tensorflow_model_optimization as tfmot

from keras_dl.sparsity import ConstantSparsity
from keras_dl.sparsity import PolynomialDecay

POLYNOMIAL = [
    dict(initial_sparsity=0.0, final_sparsity=0.9, begin_step=0, end_step=100, power=3, frequency=1),
    dict(initial_sparsity=0.1, final_sparsity=0.95, begin_step=17, end_step=93, power=3, frequency=7),
    dict(initial_sparsity=0.5, final_sparsity=0.8, begin_step=5, end_step=6, power=1, frequency=2),
    dict(initial_sparsity=0.3, final_sparsity=0.3, begin_step=0, end_step=40, power=2, frequency=10),
    dict(initial_sparsity=0.0, final_sparsity=0.96, begin_step=50, end_step=250, power=5, frequency=25),
]
CONSTANT = [
    dict(target_sparsity=0.9, begin_step=0, end_step=-1, frequency=100),
    dict(target_sparsity=0.5, begin_step=13, end_step=77, frequency=9),
    dict(target_sparsity=0.0, begin_step=3, end_step=3, frequency=1),
    dict(target_sparsity=0.5, begin_step=0, end_step=0, frequency=1),  # step 0 alone (-1 alone means forever)
]


def both(ours, theirs, last_step):
    for step in range(0, last_step + 11):
        ours_prune, ours_sparsity = ours(step)
        theirs_prune, theirs_sparsity = theirs(tf.constant(step, tf.int64))
        yield step, bool(ours_prune), bool(theirs_prune), float(ours_sparsity), float(theirs_sparsity)


@pytest.mark.parametrize("config", POLYNOMIAL)
def test_polynomial_decay_equals_tfmot_at_every_step(config):
    ours, theirs = PolynomialDecay(**config), tfmot.sparsity.keras.PolynomialDecay(**config)
    for step, a, b, sa, sb in both(ours, theirs, config["end_step"]):
        assert a == b, f"should_prune differs at step {step}"
        assert sa == sb, f"sparsity differs at step {step}: {sa} vs {sb}"


def test_default_arguments_are_tfmots():
    ours, theirs = PolynomialDecay(0.0, 0.9, 10, 500), tfmot.sparsity.keras.PolynomialDecay(0.0, 0.9, 10, 500)
    assert [r[1:] for r in both(ours, theirs, 500) if r[1] != r[2] or r[3] != r[4]] == []
    ours, theirs = ConstantSparsity(0.5, 10), tfmot.sparsity.keras.ConstantSparsity(0.5, 10)
    assert [r[1:] for r in both(ours, theirs, 500) if r[1] != r[2] or r[3] != r[4]] == []


@pytest.mark.parametrize("config", CONSTANT)
def test_constant_sparsity_equals_tfmot_at_every_step(config):
    ours, theirs = ConstantSparsity(**config), tfmot.sparsity.keras.ConstantSparsity(**config)
    last = config["end_step"] if config["end_step"] >= 0 else 450
    decisions = []
    for step, a, b, sa, sb in both(ours, theirs, last):
        assert a == b and sa == sb, f"step {step}"
        decisions.append(a)
    assert any(decisions)


def test_zhu_gupta_ramp_by_hand():
    schedule = PolynomialDecay(0.0, 0.8, begin_step=0, end_step=10, power=3, frequency=1)
    for step in (0, 2, 5, 10, 20):
        p = min(step / 10, 1.0)
        assert float(schedule(step)[1]) == pytest.approx(0.8 * (1 - (1 - p) ** 3), abs=1e-6)


def test_schedules_run_inside_a_compiled_function():
    schedule = PolynomialDecay(0.0, 0.5, begin_step=2, end_step=6, frequency=2)

    @tf.function(jit_compile=True)
    def at(step):
        return schedule(step)

    got = [(bool(p), float(s)) for p, s in (at(tf.constant(i, tf.int64)) for i in range(8))]
    assert [p for p, _ in got] == [False, False, True, False, True, False, True, False]
    assert got[6][1] == pytest.approx(0.5) and got[0][1] == pytest.approx(0.0)


def test_config_round_trip():
    schedule = PolynomialDecay(0.1, 0.9, begin_step=3, end_step=30, power=2, frequency=3)
    again = PolynomialDecay.from_config(schedule.get_config())
    assert [float(again(s)[1]) for s in range(35)] == [float(schedule(s)[1]) for s in range(35)]


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: ConstantSparsity(1.0, 0), ValueError, "`target_sparsity`"),
        (lambda: ConstantSparsity(-0.1, 0), ValueError, "`target_sparsity`"),
        (lambda: PolynomialDecay(0.0, 1.2, 0, 10), ValueError, "`final_sparsity`"),
        (lambda: PolynomialDecay(1.0, 0.5, 0, 10), ValueError, "`initial_sparsity`"),
        (lambda: PolynomialDecay(0.0, 0.5, 0, 10.5), TypeError, "`end_step` must be an int, got 10.5"),
        (lambda: ConstantSparsity(0.5, 0.5), ValueError, "`begin_step` must be an int >= 0, got 0.5"),
        (lambda: PolynomialDecay(0.0, 0.5, 0, -1), ValueError,
         r"^`end_step` cannot be -1 for this schedule: it needs an end to reach its final sparsity\.$"),
        (lambda: PolynomialDecay(0.0, 0.5, 10, 5), ValueError, "`end_step` \\(5\\) must be -1 or >= `begin_step`"),
        (lambda: PolynomialDecay(0.0, 0.5, 5, 5), ValueError, "must be > `begin_step`"),
        (lambda: ConstantSparsity(0.5, -1), ValueError, "`begin_step`"),
        (lambda: ConstantSparsity(0.5, 0, frequency=0), ValueError, "`frequency`"),
    ],
)
def test_bad_schedules_are_named(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_the_ramp_is_computed_in_float32_whatever_floatx_is():
    import keras

    schedule = PolynomialDecay(0.1, 0.9, begin_step=2, end_step=9)
    expected = [float(schedule(step)[1]) for step in range(12)]
    floatx = keras.config.floatx()
    keras.config.set_floatx("float16")
    try:
        values = [schedule(step)[1] for step in range(12)]
    finally:
        keras.config.set_floatx(floatx)
    assert all(v.dtype == "float32" for v in values) and [float(v) for v in values] == expected
