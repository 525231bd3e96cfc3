import keras
import numpy as np
import pytest
import scipy.linalg
import tensorflow_probability as tfp

from keras_dl import data
from keras_dl import metrics
from keras_dl.metrics import generative


def _random_covariance(rng, dim, condition=10.0):
    q, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
    return (q * np.linspace(1.0, condition, dim)) @ q.T


def _scipy_frechet(a, b):
    """pytorch-fid's formula: scipy's sqrtm of S_a S_b, real part."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    root = scipy.linalg.sqrtm(cov_a @ cov_b)
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * np.trace(root).real)


def _exact_moments(rng, n, mean, cov):
    """`n` samples whose sample mean and covariance (ddof=1) are exactly `mean` and `cov`."""
    x = rng.normal(size=(n, len(mean)))
    x -= x.mean(0)
    whiten = np.linalg.inv(np.linalg.cholesky(np.cov(x, rowvar=False)))
    return x @ whiten.T @ np.linalg.cholesky(cov).T + mean


# Fréchet distance -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dim", [1, 5, 32])
def test_frechet_distance_matches_scipys_sqrtm_on_well_conditioned_data(dim):
    rng = np.random.default_rng(dim)
    a = rng.multivariate_normal(np.zeros(dim), _random_covariance(rng, dim), size=2000)
    b = rng.multivariate_normal(rng.normal(size=dim), _random_covariance(rng, dim), size=1500)
    assert metrics.frechet_distance(a, b) == pytest.approx(_scipy_frechet(a, b), rel=1e-6)


def test_frechet_distance_of_a_set_with_itself_is_zero():
    rng = np.random.default_rng(0)
    a = rng.multivariate_normal(np.ones(16), _random_covariance(rng, 16, condition=100.0), size=500)
    assert 0.0 <= metrics.frechet_distance(a, a) < 1e-10
    assert metrics.frechet_distance(a, a.copy()) == metrics.frechet_distance(a, a)


def test_frechet_distance_has_the_closed_form_of_two_gaussians():
    # Diagonal covariances commute: tr((S_a S_b)^(1/2)) = sum sqrt(s_a s_b), so
    # FD = ||mu_a - mu_b||^2 + sum (sqrt(s_a) - sqrt(s_b))^2.
    rng = np.random.default_rng(1)
    mu_a, mu_b = np.array([0.0, 1.0, -2.0, 0.5]), np.array([1.0, 1.0, 0.0, -0.5])
    s_a, s_b = np.array([1.0, 4.0, 0.25, 2.0]), np.array([9.0, 1.0, 0.25, 0.5])
    a = _exact_moments(rng, 300, mu_a, np.diag(s_a))
    b = _exact_moments(rng, 200, mu_b, np.diag(s_b))
    expected = ((mu_a - mu_b) ** 2).sum() + ((np.sqrt(s_a) - np.sqrt(s_b)) ** 2).sum()
    assert metrics.frechet_distance(a, b) == pytest.approx(expected, rel=1e-9)
    # A general pair: the closed form through S_a^(1/2) S_b S_a^(1/2), from exact moments.
    cov_a, cov_b = _random_covariance(rng, 4), _random_covariance(rng, 4, condition=3.0)
    root = scipy.linalg.sqrtm(cov_a).real
    cross = np.trace(scipy.linalg.sqrtm(root @ cov_b @ root).real)
    expected = ((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * cross
    value = metrics.frechet_distance(_exact_moments(rng, 100, mu_a, cov_a), _exact_moments(rng, 100, mu_b, cov_b))
    assert value == pytest.approx(expected, rel=1e-9)


def test_frechet_distance_stays_real_and_exact_with_dead_features():
    # Constant features (dead ReLU units) make both covariances singular; the distance is that of the live ones.
    rng = np.random.default_rng(2)
    live_a, live_b = rng.normal(size=(400, 6)), rng.normal(0.3, 1.2, size=(400, 6))
    dead = np.zeros((400, 3))
    value = metrics.frechet_distance(np.hstack([live_a, dead]), np.hstack([live_b, dead]))
    assert isinstance(value, float)
    assert value == pytest.approx(metrics.frechet_distance(live_a, live_b), rel=1e-9)


def test_frechet_distance_needs_more_samples_than_dimensions():
    rng = np.random.default_rng(3)
    with pytest.raises(ValueError, match=r"`features_b` has 8 samples of dimension 8.*pytorch-fid"):
        metrics.frechet_distance(rng.normal(size=(100, 8)), rng.normal(size=(8, 8)))
    assert metrics.frechet_distance(rng.normal(size=(9, 8)), rng.normal(size=(9, 8))) >= 0.0


@pytest.mark.parametrize("a, b, match", [
    (np.zeros((10, 3)), np.zeros((10, 4)), "same feature dimension"),
    (np.zeros(10), np.zeros((10, 1)), "`features_a` must be a 2-D array"),
    (np.zeros((10, 2)), np.full((10, 2), np.nan), "`features_b` has NaN"),
])
def test_frechet_distance_names_bad_inputs(a, b, match):
    with pytest.raises(ValueError, match=match):
        metrics.frechet_distance(a, b)


# Kernel distance ------------------------------------------------------------------------------------------------------

def _loop_mmd2(x, y):
    """The unbiased MMD^2 of Bińkowski et al. (2018), written out pair by pair."""
    d, m = len(x[0]), len(x)

    def k(u, v):
        return (sum(ui * vi for ui, vi in zip(u, v)) / d + 1.0) ** 3

    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / (m * m)
    return xx + yy - 2 * xy


def test_kernel_distance_matches_the_pairwise_loop():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(7, 3)), rng.normal(0.5, 1.0, size=(7, 3))
    # One subset of all samples: a permutation of each set, and the estimate does not depend on order.
    mean, std = metrics.kernel_distance(a, b, subsets=1, subset_size=7)
    assert mean == pytest.approx(_loop_mmd2(a.tolist(), b.tolist()), rel=1e-12) and std == 0.0
    # Several subsets: the mean and std of the loop's value on the same draws.
    a, b = rng.normal(size=(9, 2)), rng.normal(size=(12, 2))
    draws = np.random.default_rng(5)
    values = []
    for _ in range(4):
        x, y = a[draws.choice(9, 5, replace=False)], b[draws.choice(12, 5, replace=False)]
        values.append(_loop_mmd2(x.tolist(), y.tolist()))
    mean, std = metrics.kernel_distance(a, b, subsets=4, subset_size=5, seed=5)
    assert mean == pytest.approx(np.mean(values), rel=1e-12) and std == pytest.approx(np.std(values), rel=1e-9)


def test_kernel_distance_is_near_zero_for_one_distribution_and_positive_for_shifted_ones():
    rng = np.random.default_rng(1)
    same, same_std = metrics.kernel_distance(rng.normal(size=(2000, 16)), rng.normal(size=(2000, 16)), subsets=20,
                                             subset_size=500)
    shifted, _ = metrics.kernel_distance(rng.normal(size=(2000, 16)), rng.normal(0.5, 1.0, size=(2000, 16)),
                                         subsets=20, subset_size=500)
    assert abs(same) < 3 * same_std / np.sqrt(20) + 1e-3
    assert shifted > 100 * max(abs(same), same_std)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"subsets": 0}, ValueError, "`subsets`"),
    ({"subset_size": 11}, ValueError, "`subset_size`"),
    ({"subset_size": 1}, ValueError, "`subset_size`"),
    ({"subset_size": 2.5}, TypeError, "`subset_size`"),
])
def test_kernel_distance_names_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        metrics.kernel_distance(np.zeros((10, 2)), np.zeros((12, 2)), **kwargs)


# Mode coverage --------------------------------------------------------------------------------------------------------

def test_mode_coverage_counts_high_quality_samples_per_nearest_mode():
    centres, std = data.mixture_modes("grid25")
    # Mode 0 gets 3 samples at 0, 1 and 2.9 std; mode 7 one at 2.9 std; mode 12 one at 3.1 std (not high quality);
    # one sample far from every mode.
    direction = np.array([0.6, 0.8])
    samples = np.stack([centres[0], centres[0] + std * direction, centres[0] + 2.9 * std * direction,
                        centres[7] - 2.9 * std * direction, centres[12] + 3.1 * std * direction,
                        np.array([1.0, 1.0])])
    result = metrics.mode_coverage(samples, centres, std)
    expected = np.zeros(25, int)
    expected[0], expected[7] = 3, 1
    np.testing.assert_array_equal(result["per_mode"], expected)
    assert result["modes"] == 2
    assert result["high_quality"] == pytest.approx(4 / 6)
    # Captured only with 2 high-quality samples: mode 0 alone; a wider radius takes mode 12's sample.
    assert metrics.mode_coverage(samples, centres, std, min_samples=2)["modes"] == 1
    assert metrics.mode_coverage(samples, centres, std, quality_threshold=3.2)["modes"] == 3


def test_mode_coverage_edges_a_threshold_no_samples_and_more_than_one_chunk():
    centres, std = np.array([[0.0, 0.0], [10.0, 0.0]]), 1.0
    on_the_radius = metrics.mode_coverage(np.array([[3.0, 0.0]]), centres, std)
    assert on_the_radius["modes"] == 0 and on_the_radius["high_quality"] == 0.0  # strictly within 3 std
    empty = metrics.mode_coverage(np.zeros((0, 2)), centres, std)
    assert empty["modes"] == 0 and empty["high_quality"] == 0.0 and empty["per_mode"].tolist() == [0, 0]
    # 70,000 samples: distances go in chunks of 65,536; the last 4,464 samples are all at mode 1 and off-radius.
    samples = np.zeros((70_000, 2))
    samples[65_536:] = [10.0, 5.0]
    many = metrics.mode_coverage(samples, centres, std)
    assert many["per_mode"].tolist() == [65_536, 0] and many["high_quality"] == pytest.approx(65_536 / 70_000)


def test_mode_coverage_of_a_collapsed_and_a_complete_generator():
    centres, std = data.mixture_modes("ring8")
    points, _ = data.mixture_sample("ring8", 2500, seed=0)
    complete = metrics.mode_coverage(points, centres, std)
    assert complete["modes"] == 8 and complete["per_mode"].sum() == round(complete["high_quality"] * 2500)
    collapsed = metrics.mode_coverage(points[:, :] * 0 + centres[3], centres, std)
    assert collapsed["modes"] == 1 and collapsed["high_quality"] == 1.0
    assert collapsed["per_mode"][3] == 2500


@pytest.mark.parametrize("kwargs, error, match", [
    ({"std": 0.0}, ValueError, "`std`"),
    ({"quality_threshold": -1.0}, ValueError, "`quality_threshold`"),
    ({"min_samples": 0}, ValueError, "`min_samples`"),
    ({"centres": np.zeros((4, 3))}, ValueError, "same dimension"),
    ({"samples": np.zeros(5)}, ValueError, r"^`samples` must be a 2-D array \[num_samples, feature_dim\]"),
    ({"centres": np.full((4, 2), np.nan)}, ValueError, r"^`centres` has NaN or infinite values\.$"),
])
def test_mode_coverage_names_bad_arguments(kwargs, error, match):
    arguments = {"samples": np.zeros((5, 2)), "centres": np.zeros((4, 2)), "std": 0.1, **kwargs}
    with pytest.raises(error, match=match):
        metrics.mode_coverage(**arguments)


# Density ratios -------------------------------------------------------------------------------------------------------

def test_density_ratio_of_two_normals_is_the_closed_form():
    p = tfp.distributions.Normal(np.float64(0.0), np.float64(1.0))
    q = tfp.distributions.Normal(np.float64(1.0), np.float64(2.0))
    x = np.linspace(-3.0, 4.0, 29)
    expected = 2.0 * np.exp(-x**2 / 2 + (x - 1.0) ** 2 / 8)
    np.testing.assert_allclose(metrics.density_ratio(x, p, q), expected, rtol=1e-12)
    with pytest.raises(TypeError, match="`q`"):
        metrics.density_ratio(x, p, "normal")


def test_a_trained_logistic_discriminator_recovers_the_density_ratio():
    # Real N(0, 1) (label 1) against fake N(1, 1) (label 0): the optimal D is p / (p + q) = sigmoid(1/2 - x),
    # logistic in x, so a one-unit logistic discriminator can be exactly optimal and D / (1 - D) = p / q.
    rng = np.random.default_rng(0)
    n = 20000
    x = np.concatenate([rng.normal(0.0, 1.0, n), rng.normal(1.0, 1.0, n)]).astype(np.float32)[:, None]
    y = np.concatenate([np.ones(n), np.zeros(n)]).astype(np.float32)[:, None]
    keras.utils.set_random_seed(0)
    discriminator = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, activation="sigmoid")])
    discriminator.compile(keras.optimizers.Adam(0.05), "binary_crossentropy")
    discriminator.fit(x, y, batch_size=500, epochs=8, shuffle=True, verbose=0)  # 640 steps
    grid = np.linspace(-2.0, 3.0, 51)
    probabilities = discriminator.predict(grid[:, None].astype(np.float32), verbose=0)[:, 0]
    p, q = tfp.distributions.Normal(0.0, 1.0), tfp.distributions.Normal(1.0, 1.0)
    # The sampling error of the fitted logit (about 0.01 in slope and intercept with 40,000 samples) gives a few
    # percent at the ends of the grid; an untrained D (ratio 1) is off by e^2.5 - 1 = 11.
    assert metrics.density_ratio_error(probabilities, grid, p, q) < 0.1
    assert metrics.density_ratio_error(np.full(51, 0.5), grid, p, q) > 10.0


def test_density_ratio_error_names_bad_probabilities():
    p, q = tfp.distributions.Normal(0.0, 1.0), tfp.distributions.Normal(1.0, 1.0)
    with pytest.raises(ValueError, match="open interval"):
        metrics.density_ratio_error(np.array([0.5, 1.0]), np.array([0.0, 1.0]), p, q)
    with pytest.raises(ValueError, match="shape of `x`"):
        metrics.density_ratio_error(np.array([0.5]), np.array([0.0, 1.0]), p, q)


# The shipped digit classifier -----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def digits():
    return {split: data.digits_arrays("mnist", split) for split in ("validation", "test")}


def test_the_shipped_classifier_is_accurate_on_the_test_split(digits):
    images, labels = digits["test"]
    assert metrics.label_accuracy(images / 255.0, labels) >= 0.97
    assert metrics.label_accuracy(images / 255.0, (labels + 1) % 10) < 0.03
    model = metrics.digit_classifier()
    assert model.input_shape == (None, 28, 28, 1) and model.output_shape == (None, 10)
    assert getattr(model, "optimizer", None) is None  # Shipped without optimizer state.


def test_classifier_features_are_the_64_penultimate_activations(digits):
    images = digits["test"][0][:10] / 255.0
    features = metrics.classifier_features(images)
    assert features.shape == (10, 64) and features.dtype == np.float32 and features.min() >= 0.0
    model = metrics.digit_classifier()
    # The logits are the last Dense layer applied to these features (dropout is off at inference).
    logits = features @ model.get_layer("logits").kernel.numpy() + model.get_layer("logits").bias.numpy()
    np.testing.assert_allclose(logits, model.predict(images.astype(np.float32), verbose=0), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(metrics.classifier_features(images, batch_size=3), features, rtol=1e-5, atol=1e-5)


def test_classifier_fid_and_kid_separate_real_digits_from_noise_and_blur(digits):
    test, validation = digits["test"][0] / 255.0, digits["validation"][0] / 255.0
    rng = np.random.default_rng(0)
    noise = rng.uniform(size=test.shape)
    shuffled = rng.permuted(test.reshape(len(test), -1), axis=1).reshape(test.shape)  # the right pixels, no digit
    real = metrics.classifier_fid(test, validation)
    assert metrics.classifier_fid(test, test) < 1e-6
    assert real < 0.1 * metrics.classifier_fid(test, noise)
    assert real < 0.1 * metrics.classifier_fid(test, shuffled)
    real_kid, real_std = metrics.classifier_kid(test, validation, subsets=20, subset_size=200)
    noise_kid, _ = metrics.classifier_kid(test, noise, subsets=20, subset_size=200)
    assert abs(real_kid) < 0.05 * noise_kid and real_std < 0.05 * noise_kid


@pytest.mark.parametrize("images, error, match", [
    (np.zeros((64, 28, 28, 1), np.float32), ValueError, "`fake_images` must hold at least 65 images"),
    (np.zeros((100, 28, 28, 1), np.uint8), TypeError, "divide by 255"),
    (np.full((100, 28, 28, 1), 255.0), ValueError, r"must be in \[0, 1\]"),
    (np.zeros((100, 28, 28), np.float32), ValueError, "add a channel axis"),
    (np.zeros((100, 32, 32, 3), np.float32), ValueError, r"\[N, 28, 28, 1\]"),
    (np.full((100, 28, 28, 1), np.nan, np.float32), ValueError, "NaN"),
])
def test_classifier_metrics_name_bad_images(images, error, match):
    real = np.zeros((100, 28, 28, 1), np.float32)
    with pytest.raises(error, match=match):
        metrics.classifier_fid(real, images)


def test_label_accuracy_names_bad_labels(digits):
    images = digits["test"][0][:5] / 255.0
    with pytest.raises(ValueError, match="`labels`"):
        metrics.label_accuracy(images, np.zeros(4, int))
    with pytest.raises(ValueError, match="0..9"):
        metrics.label_accuracy(images, np.full(5, 10))
    with pytest.raises(ValueError, match="`batch_size`"):
        metrics.classifier_features(images, batch_size=0)


def test_a_missing_classifier_file_says_how_to_make_it(monkeypatch, tmp_path):
    monkeypatch.setattr(generative, "CLASSIFIER_PATH", str(tmp_path / "missing.keras"))
    with pytest.raises(FileNotFoundError, match="keras-dl train digit_classifier"):
        metrics.digit_classifier()


# Arguments reach what they configure, and the float64 promises hold ---------------------------------------------------

def test_frechet_distance_of_float32_features_is_computed_in_float64():
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(50, 6)).astype(np.float32), rng.normal(0.3, 1.2, size=(60, 6)).astype(np.float32)
    assert metrics.frechet_distance(a, b) == pytest.approx(_scipy_frechet(a.astype(np.float64), b.astype(np.float64)),
                                                           rel=1e-10)


def test_too_few_samples_for_a_covariance_is_explained_in_full():
    with pytest.raises(ValueError, match=(
            r"^`features_a` has 3 samples of dimension 3: the Fréchet distance needs more samples than dimensions "
            r"\(at least 4\)\. With fewer, the sample covariance is singular and the distance is not defined by "
            r"the data \(pytorch-fid issue #13: FID on fewer than 2048 Inception features gave complex or "
            r"meaningless values\)\.$")):
        metrics.frechet_distance(np.eye(3), np.ones((10, 3)))


def test_kernel_distance_defaults_are_100_subsets_of_up_to_1000_samples_from_seed_0():
    rng = np.random.default_rng(6)
    a, b = rng.normal(size=(1100, 2)), rng.normal(size=(1200, 2))
    assert metrics.kernel_distance(a, b, subsets=3) == metrics.kernel_distance(a, b, subsets=3, subset_size=1000)
    small_a, small_b = a[:40], b[:30]
    assert (metrics.kernel_distance(small_a, small_b)
            == metrics.kernel_distance(small_a, small_b, subsets=100, subset_size=30, seed=0))
    assert metrics.kernel_distance(small_a, small_b, subset_size=2, subsets=1)[1] == 0.0  # 2 is the smallest size


def test_density_ratio_of_float32_distributions_is_float64_and_names_what_is_not_one():
    p, q = tfp.distributions.Normal(np.float32(0.0), 1.0), tfp.distributions.Normal(np.float32(1.0), 1.0)
    x = np.array([0.0, 0.5, 3.0])
    ratio = metrics.density_ratio(x, p, q)
    assert ratio.dtype == np.float64
    np.testing.assert_allclose(ratio, np.exp(0.5 - x), rtol=1e-6)
    for name, args in (("p", (x, object(), q)), ("q", (x, p, [1.0]))):
        with pytest.raises(TypeError, match=rf"^`{name}` must be a distribution with `log_prob` \(tfp.distributions\), "
                                            rf"got {type(args[1 if name == 'p' else 2]).__name__}\.$"):
            metrics.density_ratio(*args)


def test_density_ratio_error_reads_float32_probabilities_in_float64_and_rejects_0_and_1():
    p, q = tfp.distributions.Normal(0.0, 1.0), tfp.distributions.Normal(1.0, 1.0)
    x = np.linspace(-2.0, 3.0, 11)
    probabilities = (1.0 / (1.0 + np.exp(x - 0.5)) + 0.01).astype(np.float32)
    assert (metrics.density_ratio_error(probabilities, x, p, q)
            == metrics.density_ratio_error(probabilities.astype(np.float64), x, p, q))
    for bad in (0.0, 1.0):
        with pytest.raises(ValueError, match=r"^`probabilities` must be in the open interval \(0, 1\): at 0 or 1 the "
                                             r"ratio D / \(1 - D\) is 0 or infinite; got values in "):
            metrics.density_ratio_error(np.array([0.5, bad]), np.array([0.0, 1.0]), p, q)


@pytest.mark.parametrize("images, error, message", [
    (np.zeros((3, 28, 28)), ValueError, "`images` must be images of shape [N, 28, 28, 1] (add a channel axis: "
                                        "images[..., None]), got (3, 28, 28)."),
    (np.zeros((3, 28, 28, 3)), ValueError, "`images` must be images of shape [N, 28, 28, 1], got (3, 28, 28, 3)."),
    (np.zeros((3, 28, 28, 1), np.uint8), TypeError, "`images` must be float in [0, 1], got uint8 (uint8 0..255: "
                                                     "divide by 255)."),
    (np.zeros((3, 28, 28, 1), np.int32), TypeError, "`images` must be float in [0, 1], got int32."),
    (np.zeros((0, 28, 28, 1)), ValueError, "`images` must hold at least 1 images, got 0."),
    (np.full((3, 28, 28, 1), -0.5), ValueError, "`images` must be in [0, 1], got values in [-0.5, -0.5] (0..255 "
                                                "images: divide by 255; [-1, 1] images: (x + 1) / 2)."),
    (np.full((3, 28, 28, 1), 1.5), ValueError, "`images` must be in [0, 1], got values in [1.5, 1.5] (0..255 "
                                               "images: divide by 255; [-1, 1] images: (x + 1) / 2)."),
])
def test_bad_images_get_the_whole_message(images, error, message):
    with pytest.raises(error) as raised:
        generative._images("images", images)
    assert str(raised.value) == message


def test_images_within_round_off_of_0_and_1_are_clipped_to_float32():
    images = np.full((1, 28, 28, 1), 0.5)
    images[0, 0, 0, 0], images[0, 1, 1, 0] = -1e-6, 1.0 + 1e-6
    checked = generative._images("images", images)
    assert checked.dtype == np.float32 and checked.min() == 0.0 and checked.max() == 1.0
    assert len(generative._images("images", images, min_count=1)) == 1


def test_each_classifier_metric_names_its_own_arguments_and_forwards_them(digits, capsys, monkeypatch):
    test = digits["test"][0] / 255.0
    nan = np.full((65, 28, 28, 1), np.nan)
    calls = (lambda images, **kw: metrics.classifier_features(images, **kw),
             lambda images, **kw: metrics.label_accuracy(images, np.zeros(len(images), int), **kw))
    for call in calls:
        with pytest.raises(ValueError, match="^`images` has NaN"):
            call(nan)
        with pytest.raises(ValueError, match="`batch_size`"):
            call(test[:2], batch_size=0)
    for call in (metrics.classifier_fid, metrics.classifier_kid):
        with pytest.raises(ValueError, match="^`real_images` has NaN"):
            call(nan, test)
        with pytest.raises(ValueError, match="^`fake_images` has NaN"):
            call(test, nan)
        with pytest.raises(ValueError, match="`batch_size`"):
            call(test, test, batch_size=0)
    # FID needs more images than its 64 features; KID two per set.
    for which in ("real", "fake"):
        few = {"real_images": test, "fake_images": test, f"{which}_images": test[:64]}
        with pytest.raises(ValueError, match=f"^`{which}_images` must hold at least 65 images, got 64"):
            metrics.classifier_fid(**few)
        with pytest.raises(ValueError, match=f"^`{which}_images` must hold at least 2 images, got 1"):
            metrics.classifier_kid(**{**few, f"{which}_images": test[:1]})
    assert metrics.classifier_fid(test[:65], test[65:130]) > 0.0
    real, fake = metrics.classifier_features(test[:20]), metrics.classifier_features(test[20:40])
    for kwargs in ({"subset_size": 2}, {"subsets": 3, "subset_size": 5, "seed": 7}):
        expected = metrics.kernel_distance(real, fake, **{"subsets": 100, "seed": 0, **kwargs})
        assert metrics.classifier_kid(test[:20], test[20:40], **kwargs) == pytest.approx(expected, rel=1e-6)
    # Each set's features are computed with the batch size given.
    sizes, features = [], generative.classifier_features
    monkeypatch.setattr(generative, "classifier_features",
                        lambda images, batch_size: sizes.append(batch_size) or features(images, batch_size=batch_size))
    metrics.classifier_fid(test[:65], test[65:130], batch_size=7)
    metrics.classifier_kid(test[:20], test[20:40], subsets=2, batch_size=9)
    assert sizes == [7, 7, 9, 9]
    monkeypatch.undo()
    capsys.readouterr()
    metrics.classifier_features(test[:2])
    metrics.label_accuracy(test[:2], np.zeros(2, int))
    assert capsys.readouterr().out == ""  # no progress bar from predict
