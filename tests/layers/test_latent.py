"""GaussianSample (reparameterisation), InverseAutoregressiveFlow and the likelihoods against formulas."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy import special
from scipy import stats

from keras_dl import layers


def test_gaussian_sample_draws_mean_plus_scaled_noise_in_training_only():
    sample = layers.GaussianSample(seed=3)
    mean = np.full((20000, 2), [1.0, -2.0], np.float32)
    log_variance = np.full((20000, 2), [np.log(4.0), np.log(0.25)], np.float32)
    z = np.asarray(sample([mean, log_variance], training=True))
    np.testing.assert_allclose(z.mean(0), [1.0, -2.0], atol=0.04)
    np.testing.assert_allclose(z.std(0), [2.0, 0.5], rtol=0.03)
    assert np.array_equal(np.asarray(sample([mean, log_variance], training=False)), mean)
    drawing = layers.GaussianSample(sample_at_inference=True, seed=3)
    assert not np.array_equal(np.asarray(drawing([mean, log_variance])), mean)


def test_gaussian_sample_rejects_a_single_tensor():
    with pytest.raises(ValueError, match=r"\[mean, log_variance\]"):
        layers.GaussianSample()(np.zeros((2, 3), np.float32))


def test_reparameterised_gradient_matches_the_score_function_estimate():
    # d/dmu E_{z ~ N(mu, s^2)}[z^2] = 2 mu; d/ds = 2 s. Two unbiased estimators of the same gradient.
    n, mu, s = 200000, 0.7, 1.3
    sample = layers.GaussianSample(seed=5)
    mean = tf.Variable(np.full((n, 1), mu, np.float32))
    log_variance = tf.Variable(np.full((n, 1), 2 * np.log(s), np.float32))
    with tf.GradientTape() as tape:
        z = sample([mean, log_variance], training=True)
        objective = tf.reduce_mean(z ** 2)
    d_mean, d_log_variance = tape.gradient(objective, [mean, log_variance])
    reparameterised = (float(tf.reduce_sum(d_mean)), float(tf.reduce_sum(d_log_variance)))
    # Score function: E[f(z) d log q / d theta], with d log q / d mu = (z - mu) / s^2 and
    # d log q / d log s^2 = ((z - mu)^2 / s^2 - 1) / 2; the baseline E[f] cuts the variance, not the mean.
    z = np.asarray(z)[:, 0].astype(np.float64)
    f = z ** 2 - np.mean(z ** 2)
    score = (np.mean(f * (z - mu) / s ** 2), np.mean(f * ((z - mu) ** 2 / s ** 2 - 1) / 2))
    exact = (2 * mu, s ** 2)  # d/d log s^2 of (mu^2 + s^2) is s^2.
    np.testing.assert_allclose(reparameterised, exact, rtol=0.02)
    np.testing.assert_allclose(score, exact, rtol=0.05)


def test_made_masks_are_autoregressive():
    into, out = layers.made_masks(4, 7)
    connectivity = into @ out  # Paths from input i to output j.
    assert np.all(connectivity[np.tril_indices(4)] == 0)  # Output j never sees inputs >= j.
    assert np.all(connectivity[np.triu_indices(4, 1)] > 0)  # ... and sees every input < j.


@pytest.mark.parametrize("num_steps", [1, 2, 3])
def test_flow_jacobian_is_triangular_and_log_det_is_exact(num_steps):
    keras.utils.set_random_seed(0)
    flow = layers.InverseAutoregressiveFlow(num_steps=num_steps, hidden_units=16)
    z0 = tf.constant(np.random.default_rng(0).normal(size=(1, 4)).astype(np.float32))
    context = tf.constant(np.ones((1, 3), np.float32))
    flow([z0, context])
    for weight in flow.weights:  # Away from the identity-like start, so the test sees real dependencies.
        weight.assign(np.random.default_rng(1).normal(size=weight.shape) * 0.5)
    with tf.GradientTape() as tape:
        tape.watch(z0)
        z, log_det = flow([z0, context])
    jacobian = tape.batch_jacobian(z, z0)[0].numpy()
    np.testing.assert_allclose(float(log_det[0]), np.linalg.slogdet(jacobian)[1], rtol=1e-5, atol=1e-5)
    if num_steps == 1:  # One step: output i depends on inputs <= i only.
        assert np.allclose(np.triu(jacobian, 1), 0)
    else:  # Reversed orders between steps: every output depends on every input.
        assert np.all(np.abs(jacobian) > 0)


def _logits(rng, *shape):
    return rng.normal(size=shape).astype(np.float32)


def test_bernoulli_and_gaussian_log_probs_match_scipy():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 2, (3, 4, 4, 1)).astype(np.float32)
    logits = _logits(rng, 3, 4, 4, 1)
    expected = stats.bernoulli.logpmf(x, special.expit(logits)).reshape(3, -1).sum(1)
    np.testing.assert_allclose(layers.BernoulliLikelihood().log_prob(x, logits), expected, rtol=1e-5)
    params = _logits(rng, 3, 5 * 2)  # (mean, log scale) pairs, channel by channel.
    y = rng.normal(size=(3, 5)).astype(np.float32)
    expected = stats.norm.logpdf(y, params[:, 0::2], np.exp(params[:, 1::2])).sum(1)
    np.testing.assert_allclose(layers.GaussianLikelihood().log_prob(y, params), expected, rtol=1e-5)
    expected = stats.norm.logpdf(y, params[:, :5], 0.3).sum(1)
    np.testing.assert_allclose(layers.GaussianLikelihood(scale=0.3).log_prob(y, params[:, :5]), expected, rtol=1e-5)
    # A log scale of -50 on an exact value is floored at -7: a finite density, not infinity.
    floored = layers.GaussianLikelihood().log_prob(np.zeros((1, 1), np.float32), np.array([[0.0, -50.0]], np.float32))
    np.testing.assert_allclose(floored, stats.norm.logpdf(0.0, 0.0, np.exp(-7.0)), rtol=1e-5)


def test_categorical_reads_data_as_levels():
    rng = np.random.default_rng(0)
    logits = _logits(rng, 2, 3, 2 * 4)  # 2 channels of 4 levels each.
    x = np.array([[[0.0, 1.0], [1 / 3, 2 / 3], [2 / 3, 0.0]]] * 2, np.float32)
    levels = np.round(x * 3).astype(int)
    log_softmax = logits.reshape(2, 3, 2, 4) - special.logsumexp(logits.reshape(2, 3, 2, 4), axis=-1, keepdims=True)
    expected = np.take_along_axis(log_softmax, levels[..., None], -1).reshape(2, -1).sum(1)
    likelihood = layers.CategoricalLikelihood(levels=4)
    np.testing.assert_allclose(likelihood.log_prob(x, logits), expected, rtol=1e-5)
    mean = np.sum(special.softmax(logits.reshape(2, 3, 2, 4), -1) * np.arange(4), -1) / 3
    np.testing.assert_allclose(likelihood.mean(logits), mean, rtol=1e-5)


def test_discretized_logistic_mass_matches_the_cdf_differences():
    # One logistic: P(v) = F(v + 1/2) - F(v - 1/2) inside, the tails folded into 0 and 255.
    loc, log_scale = 0.4, np.log(3.0 / 255)
    params = np.array([[0.0, loc, log_scale]], np.float32)  # 1 channel x (logit, loc, log scale).
    likelihood = layers.DiscretizedLogisticLikelihood(levels=256, num_mixtures=1)
    values = np.arange(256)
    cdf = special.expit((np.concatenate([values - 0.5, [255.5]]) - loc * 255) / 3.0)
    mass = np.diff(cdf)
    mass[0] += cdf[0]
    mass[-1] += 1 - cdf[-1]
    got = [float(np.exp(likelihood.log_prob(np.array([[v / 255]], np.float32), params)[0])) for v in (0, 100, 102, 255)]
    np.testing.assert_allclose(got, mass[[0, 100, 102, 255]], rtol=1e-4, atol=1e-12)
    assert np.isclose(mass.sum(), 1.0)


def test_discretized_logistic_mixture_weights_components():
    likelihood = layers.DiscretizedLogisticLikelihood(levels=256, num_mixtures=2)
    # Component 0 at 0.2, component 1 at 0.8, weights softmax([log 3, 0]) = (0.75, 0.25).
    params = np.array([[np.log(3.0), 0.0, 0.2, 0.8, np.log(0.5 / 255), np.log(0.5 / 255)]], np.float32)
    at = lambda v: float(np.exp(likelihood.log_prob(np.array([[v]], np.float32), params)[0]))  # noqa: E731
    narrow = special.expit(1.0) - special.expit(-1.0)  # Mass of a scale-0.5 logistic within +-1/2 of its centre.
    np.testing.assert_allclose([at(51 / 255), at(204 / 255)], [0.75 * narrow, 0.25 * narrow], rtol=1e-3)
    np.testing.assert_allclose(likelihood.mean(params), [[0.75 * 0.2 + 0.25 * 0.8]], rtol=1e-6)


def test_likelihood_errors_name_the_argument():
    with pytest.raises(ValueError, match="likelihood"):
        layers.get_likelihood("poisson")
    with pytest.raises(ValueError, match="levels"):
        layers.CategoricalLikelihood(levels=1)
    with pytest.raises(ValueError, match="scale"):
        layers.GaussianLikelihood(scale=-1.0)
    with pytest.raises(ValueError, match="3 parameters per data channel"):
        layers.DiscretizedLogisticLikelihood().data_channels(4)


@pytest.mark.parametrize("likelihood", [layers.BernoulliLikelihood(), layers.GaussianLikelihood(scale=0.5),
                                        layers.CategoricalLikelihood(levels=16),
                                        layers.DiscretizedLogisticLikelihood(levels=256, num_mixtures=3)], ids=type)
def test_likelihoods_round_trip(likelihood):
    copy = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(likelihood))
    assert type(copy) is type(likelihood) and copy.get_config() == likelihood.get_config()
