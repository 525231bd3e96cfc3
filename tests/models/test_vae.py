"""VAE: KL and ELBO against closed forms, IWAE against log p(x), beta, conditioning, resuming, errors."""

import keras
import numpy as np
import pytest
from scipy import stats

from keras_dl import layers
from keras_dl import models

D, L, SIGMA = 3, 2, 0.5
MU, LOG_VARIANCE = np.array([0.3, -0.6]), np.log([0.5, 1.5])
W = np.array([[1.0, 0.5, -0.3], [0.2, -1.0, 0.4]])
BIAS = np.array([0.1, 0.0, -0.2])
X = np.array([0.8, -0.4, 0.3])


def linear_gaussian_vae(**kwargs):
    """Posterior N(MU, exp(LOG_VARIANCE)) whatever x is; p(x | z) = N(z W + BIAS, SIGMA^2 I)."""
    encoder = keras.Sequential([keras.Input((D,)), keras.layers.Dense(
        2 * L, kernel_initializer="zeros", bias_initializer=keras.initializers.Constant(
            np.concatenate([MU, LOG_VARIANCE])))])
    decoder = keras.Sequential([keras.Input((L,)), keras.layers.Dense(D)])
    decoder.layers[0].set_weights([W, BIAS])
    return models.VAE(encoder, decoder, likelihood=layers.GaussianLikelihood(scale=SIGMA), seed=1, **kwargs)


def closed_form_kl():
    variance = np.exp(LOG_VARIANCE)
    return 0.5 * np.sum(variance + MU ** 2 - 1 - LOG_VARIANCE)


def closed_form_expected_log_likelihood():
    residual = X - MU @ W - BIAS
    trace = np.trace(W.T @ np.diag(np.exp(LOG_VARIANCE)) @ W)
    return -D / 2 * np.log(2 * np.pi * SIGMA ** 2) - (residual @ residual + trace) / (2 * SIGMA ** 2)


def test_analytic_kl_and_elbo_match_their_closed_forms():
    vae = linear_gaussian_vae()
    vae.compile(keras.optimizers.SGD(0.0))
    logs = vae.evaluate(X[None].astype(np.float32), verbose=0, return_dict=True)
    np.testing.assert_allclose(logs["kl"], closed_form_kl(), rtol=1e-6)  # Analytic: no noise at all.
    elbo = vae.elbo(np.tile(X, (40000, 1)))  # One sample each: the mean is within ~0.01 of the expectation.
    expected = closed_form_expected_log_likelihood() - closed_form_kl()
    np.testing.assert_allclose(elbo.mean(), expected, atol=0.03)


def test_monte_carlo_kl_is_unbiased():
    analytic = linear_gaussian_vae().elbo(np.tile(X, (40000, 1)))
    monte_carlo = linear_gaussian_vae().elbo(np.tile(X, (40000, 1)), kl="monte_carlo")
    assert abs(monte_carlo.mean() - analytic.mean()) < 0.03
    assert monte_carlo.std() > analytic.std()  # Its noise is the estimate's, not the bound's.


def test_iwae_with_one_sample_is_the_monte_carlo_elbo():
    vae = linear_gaussian_vae()
    x = np.tile(X, (5, 1)).astype(np.float32)
    state = np.asarray(vae.sampler.seed_generator.state)
    elbo = vae.elbo(x, kl="monte_carlo")
    vae.sampler.seed_generator.state.assign(state)
    np.testing.assert_allclose(vae.iwae_bound(x, num_samples=1), elbo, rtol=1e-6)


def test_iwae_tightens_towards_the_exact_log_likelihood():
    # Linear-Gaussian: p(x) = N(BIAS, W^T W + SIGMA^2 I) exactly.
    exact = stats.multivariate_normal(BIAS, W.T @ W + SIGMA ** 2 * np.eye(D)).logpdf(X)
    vae = linear_gaussian_vae()
    x = np.tile(X, (200, 1))
    elbo, iwae10, iwae1000 = vae.elbo(x).mean(), vae.iwae_bound(x, num_samples=10).mean(), \
        vae.iwae_bound(x, num_samples=1000, batch_size=20).mean()
    assert elbo < iwae10 < iwae1000 <= exact + 0.01
    assert exact - iwae1000 < 0.25 * (exact - elbo)


def test_loss_weights_the_kl_by_beta():
    vae = linear_gaussian_vae(beta=4.0)
    vae.compile(keras.optimizers.SGD(0.0))
    logs = vae.evaluate(np.tile(X, (8, 1)).astype(np.float32), verbose=0, return_dict=True)
    np.testing.assert_allclose(logs["loss"], logs["reconstruction"] + 4.0 * logs["kl"], rtol=1e-5)
    np.testing.assert_allclose(logs["elbo"], -(logs["reconstruction"] + logs["kl"]), rtol=1e-5)


def prototypes_data(n, seed):
    """16 binary pixels: one of 4 prototypes with 5% of pixels flipped (about 4.6 nats of entropy per example)."""
    rng = np.random.default_rng(seed)
    prototypes = np.random.default_rng(0).integers(0, 2, (4, 16))
    labels = rng.integers(0, 4, n)
    flips = rng.random((n, 16)) < 0.05
    return np.abs(prototypes[labels] - flips).astype(np.float32), labels, prototypes


def mlp_vae(inputs=16, conditions=0, **kwargs):
    x = keras.Input((inputs,))
    c = keras.Input((conditions,)) if conditions else None
    h = keras.layers.Dense(64, activation="relu")(x if c is None else keras.layers.Concatenate()([x, c]))
    encoder = keras.Model(x if c is None else [x, c], keras.layers.Dense(2 * L)(h))
    z = keras.Input((L,))
    c2 = keras.Input((conditions,)) if conditions else None
    h = keras.layers.Dense(64, activation="relu")(z if c2 is None else keras.layers.Concatenate()([z, c2]))
    decoder = keras.Model(z if c2 is None else [z, c2], keras.layers.Dense(inputs)(h))
    return models.VAE(encoder, decoder, seed=2, conditional=bool(conditions), **kwargs)


def test_trained_vae_beats_the_independent_pixel_baseline():
    keras.utils.set_random_seed(0)
    train, _, _ = prototypes_data(2000, 1)
    test, _, _ = prototypes_data(500, 2)
    marginal = train.mean(0).clip(1e-3, 1 - 1e-3)
    baseline = np.mean(np.sum(test * np.log(marginal) + (1 - test) * np.log(1 - marginal), 1))
    vae = mlp_vae()
    vae.compile(keras.optimizers.Adam(3e-3))
    vae.fit(train, epochs=30, batch_size=64, verbose=0)
    elbo, iwae = vae.elbo(test).mean(), vae.iwae_bound(test, num_samples=100).mean()
    assert elbo > baseline + 3.0, (elbo, baseline)  # Baseline about -10.6 nats; the true entropy about 4.6.
    assert iwae >= elbo


def test_conditional_vae_generates_the_conditioned_prototype():
    keras.utils.set_random_seed(0)
    train, labels, prototypes = prototypes_data(2000, 1)
    vae = mlp_vae(conditions=4)
    vae.compile(keras.optimizers.Adam(3e-3))
    vae.fit(train, keras.ops.one_hot(labels, 4), epochs=20, batch_size=64, verbose=0)
    wanted = np.repeat(np.arange(4), 50)
    images = np.asarray(vae.generate(200, condition=np.eye(4, dtype=np.float32)[wanted], seed=0)) > 0.5
    assert np.mean(np.all(images == prototypes[wanted], axis=1)) > 0.9


def test_flow_posterior_trains_and_reloads(tmp_path):
    keras.utils.set_random_seed(0)
    x = keras.Input((16,))
    h = keras.layers.Dense(32, activation="relu")(x)
    encoder = keras.Model(x, [keras.layers.Dense(L)(h), keras.layers.Dense(L)(h), keras.layers.Dense(8)(h)])
    decoder = keras.Sequential([keras.Input((L,)), keras.layers.Dense(32, activation="relu"), keras.layers.Dense(16)])
    vae = models.VAE(encoder, decoder, kl="monte_carlo", flow=layers.InverseAutoregressiveFlow(2, 16), seed=1)
    vae.compile(keras.optimizers.Adam(3e-3))
    data, _, _ = prototypes_data(256, 1)
    history = vae.fit(data, epochs=5, batch_size=64, verbose=0).history
    assert history["elbo"][-1] > history["elbo"][0] + 1.0
    vae.save(tmp_path / "flow.keras")  # Never called: fit builds nothing that saving needs.
    loaded = keras.models.load_model(tmp_path / "flow.keras")
    np.testing.assert_allclose(loaded.predict(data[:4], verbose=0), vae.predict(data[:4], verbose=0), atol=1e-6)


def test_resumed_fit_draws_the_same_noise_and_ends_with_the_same_weights(tmp_path):
    data, _, _ = prototypes_data(128, 1)

    def run(backup, interrupt):
        keras.utils.set_random_seed(0)
        vae = mlp_vae()
        vae.compile(keras.optimizers.Adam(3e-3))
        callbacks = [keras.callbacks.BackupAndRestore(str(backup))]
        if interrupt:
            class Stop(keras.callbacks.Callback):
                def on_epoch_end(self, epoch, logs=None):
                    if epoch == 1:
                        raise RuntimeError("killed")
            try:
                vae.fit(data, epochs=3, batch_size=32, shuffle=False, verbose=0, callbacks=[*callbacks, Stop()])
            except RuntimeError:
                pass
            keras.utils.set_random_seed(0)
            vae = mlp_vae()
            vae.compile(keras.optimizers.Adam(3e-3))
        vae.fit(data, epochs=3, batch_size=32, shuffle=False, verbose=0, callbacks=callbacks)
        return vae

    straight, resumed = run(tmp_path / "a", False), run(tmp_path / "b", True)
    assert int(resumed.optimizer.iterations) == int(straight.optimizer.iterations) == 12
    for a, b in zip(straight.weights, resumed.weights, strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-6)


def test_bad_arguments_are_named():
    encoder = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4)])
    decoder = keras.Sequential([keras.Input((2,)), keras.layers.Dense(4)])
    with pytest.raises(ValueError, match="kl"):
        models.VAE(encoder, decoder, kl="sampled")
    with pytest.raises(ValueError, match="monte_carlo"):
        models.VAE(encoder, decoder, flow=layers.InverseAutoregressiveFlow())
    with pytest.raises(TypeError, match="flow"):
        models.VAE(encoder, decoder, kl="monte_carlo", flow="iaf")
    with pytest.raises(ValueError, match="beta"):
        models.VAE(encoder, decoder, beta=-1.0)
    with pytest.raises(ValueError, match="`decoder` gives 4 parameters per position"):
        models.VAE(encoder, decoder, likelihood="gaussian")  # A learned scale needs 2 per channel.
    vae = models.VAE(encoder, decoder)
    with pytest.raises(ValueError, match="num_samples"):
        vae.iwae_bound(np.zeros((2, 4)), num_samples=0)
    with pytest.raises(ValueError, match="condition"):
        vae.generate(2, condition=np.zeros((2, 1)))
    conditional = mlp_vae(conditions=2)
    conditional.compile(keras.optimizers.Adam())
    with pytest.raises(ValueError, match="condition"):
        conditional.fit(np.zeros((4, 16), np.float32), epochs=1, verbose=0)


def test_flow_posterior_bound_stays_below_the_exact_log_likelihood():
    # An IAF posterior on the linear-Gaussian model: any proper q gives IWAE <= log p(x); a log-determinant
    # added with the wrong sign would make q improper and the bound overshoot.
    keras.utils.set_random_seed(0)
    x = keras.Input((D,))
    encoder = keras.Model(x, [keras.layers.Dense(L)(x), keras.layers.Dense(L)(x), keras.layers.Dense(3)(x)])
    decoder = keras.Sequential([keras.Input((L,)), keras.layers.Dense(D)])
    decoder.layers[0].set_weights([W, BIAS])
    flow = layers.InverseAutoregressiveFlow(2, 8)
    vae = models.VAE(encoder, decoder, likelihood=layers.GaussianLikelihood(scale=SIGMA), kl="monte_carlo",
                     flow=flow, seed=1)
    for weight in flow.weights:  # A flow far from the identity.
        weight.assign(np.random.default_rng(2).normal(size=weight.shape))
    exact = stats.multivariate_normal(BIAS, W.T @ W + SIGMA ** 2 * np.eye(D)).logpdf(X)
    bound = vae.iwae_bound(np.tile(X, (50, 1)), num_samples=2000).mean()
    assert bound <= exact + 0.01, (bound, exact)


def test_train_step_runs_the_networks_in_training_mode_and_adds_their_regularisers():
    keras.utils.set_random_seed(0)
    encoder = keras.Sequential([keras.Input((16,)), keras.layers.BatchNormalization(), keras.layers.Dense(2 * L)])
    decoder = keras.Sequential([keras.Input((L,)), keras.layers.Dense(16, kernel_regularizer=keras.regularizers.L2(10.0))])
    vae = models.VAE(encoder, decoder, seed=0)
    vae.compile(keras.optimizers.SGD(0.0))
    data, _, _ = prototypes_data(64, 1)
    logs = vae.fit(data, epochs=1, batch_size=64, verbose=0).history
    moving_mean = np.asarray(encoder.layers[0].moving_mean)
    assert np.abs(moving_mean).max() > 1e-3  # Batch statistics were used and tracked.
    penalty = 10.0 * np.sum(np.asarray(decoder.layers[0].kernel) ** 2)
    np.testing.assert_allclose(logs["loss"][0], logs["reconstruction"][0] + logs["kl"][0] + penalty, rtol=1e-4)


MIRRORED = """
import json, numpy as np, tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
from keras_dl import models

def run(strategy):
    with strategy.scope():
        keras.utils.set_random_seed(0)
        # A log-variance of -40 makes the sample the mean: the step is the same however the noise is drawn.
        constant = keras.initializers.Constant([0, 0, -40, -40])
        encoder = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2 * 2, bias_initializer=constant)])
        decoder = keras.Sequential([keras.Input((2,)), keras.layers.Dense(4)])
        vae = models.VAE(encoder, decoder, seed=0)
        vae.compile(keras.optimizers.SGD(0.1))
    x = np.random.default_rng(0).integers(0, 2, (8, 4)).astype("float32")
    vae.fit(x, batch_size=8, epochs=1, shuffle=False, verbose=0)
    return [np.asarray(w).tolist() for w in vae.trainable_weights]

two = run(tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]))
one = run(tf.distribute.get_strategy())
print(json.dumps({"max_diff": max(float(np.max(np.abs(np.subtract(a, b)))) for a, b in zip(one, two))}))
"""


def test_a_step_on_two_replicas_equals_the_step_on_one_device():
    # Keras sums the replicas' gradients: without dividing each replica's loss by 2 the step would be twice as big.
    import json
    import os
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-c", MIRRORED], capture_output=True, text=True, timeout=300,
                            cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1])["max_diff"] < 1e-5
