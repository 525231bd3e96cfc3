"""WaveNet on mu-law audio, generated fast on LiteRT: `keras-dl train wavenet`.

Offline, mu-law coded to 256 levels; no download. `--audio sines`: `keras_dl.data.sum_of_sines`
(sums of three sines, 100-2000 Hz at 16 kHz, random frequencies, amplitudes and phases per window);
`--audio speech`: `keras_dl.data.espeak_speech` (random English sentences in 8 voices, synthesised by
the espeak-ng program, `apt-get install espeak-ng`, at 22.05 kHz).
Trains `keras_dl.models.WaveNet` (`--num-layers` gated blocks, dilations cycling 1 ..
2^(`--dilation-cycle` - 1); `--output categorical` or `logistic_mixture`) with `fit` on windows of
`--window` samples, then evaluates held-out bits per sample next to the training codes' unigram
(the baseline it must beat). Its step model (`WaveNet.step_model()`: a sample and each convolution's
past taps in, the logits and each convolution's input out) is exported to LiteRT with built-in ops
(checked against Keras), and
`--seconds` of audio are generated from it one sample per `invoke()`, the queues of past inputs kept
in ring buffers (`keras_dl.decoding.generate_cached`).
Writes to `--out`: `metrics.json`, `learning_curve.png` (bits per sample per epoch),
`generated.wav` (16-bit PCM, mono), `generated.png` (waveform and spectrogram), the same of
held-out audio (`held_out.wav`, `held_out.png`) to compare with, the model
(`wavenet.keras`), `step.tflite` and its model contract `step.contract.json`. A killed run continues when the
same command runs again (with other model flags it stops and names the backup to delete).
"""

import argparse
import os
import sys
import time
import wave

import keras
import matplotlib
import numpy as np

from keras_dl import _checks
from keras_dl import export
from keras_dl.data import AUDIO_SOURCES
from keras_dl.data import audio_windows
from keras_dl.data import mu_law_dataset
from keras_dl.data import mu_law_decode
from keras_dl.data import mu_law_encode
from keras_dl.data import pcm16_to_float
from keras_dl.decoding import generate_cached
from keras_dl.diagnostics import plot_learning_curves
from keras_dl.metrics import BitsPerCharacter
from keras_dl.models import WaveNet

from . import _resume

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

SAMPLE_RATE = AUDIO_SOURCES["sines"]


def build_parser(prog="python -m recipes.wavenet"):
    parser = argparse.ArgumentParser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--audio", default="sines", choices=tuple(AUDIO_SOURCES),
                        help="sines: sums of three sines at 16 kHz; speech: English sentences by espeak-ng at 22.05 kHz")
    parser.add_argument("--residual-channels", type=int, default=32)
    parser.add_argument("--skip-channels", type=int, default=64)
    parser.add_argument("--head-channels", type=int, default=64)
    parser.add_argument("--num-layers", type=int, default=10)
    parser.add_argument("--dilation-cycle", type=int, default=10, help="dilations 1 .. 2^(cycle - 1), repeated")
    parser.add_argument("--output", default="categorical", choices=("categorical", "logistic_mixture"))
    parser.add_argument("--window", type=int, default=2048, help="samples each training window predicts")
    parser.add_argument("--train-windows", type=int, default=4000, help="distinct training windows")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--steps-per-epoch", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--seconds", type=float, default=1.0, help="seconds of audio to generate")
    parser.add_argument("--temperature", type=float, default=1.0, help="softmax temperature of generation")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2), help="Keras fit verbosity (1: progress bar)")
    return parser


def unigram_bits(train_codes, eval_codes):
    """Bits per code of `eval_codes` under the add-one-smoothed unigram of `train_codes`."""
    counts = np.bincount(np.ravel(train_codes), minlength=256) + 1.0
    return float(-np.mean(np.log2((counts / counts.sum())[np.ravel(eval_codes)])))


def write_wav(path, codes, sample_rate=SAMPLE_RATE):
    """Mu-law `codes` as a mono 16-bit PCM WAV file, atomically."""
    pcm = np.round(mu_law_decode(np.asarray(codes)) * 32767).astype("<i2")
    with export.atomic_path(path) as tmp:
        with wave.open(tmp, "wb") as f:
            f.setnchannels(1)
            f.setsampwidth(2)
            f.setframerate(sample_rate)
            f.writeframes(pcm.tobytes())
    return path


def plot_audio(path, codes, sample_rate=SAMPLE_RATE, title=None):
    """Waveform (top) and spectrogram (bottom) of mu-law `codes` into a PNG, atomically."""
    audio = mu_law_decode(np.asarray(codes))
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 5), dpi=100)
    top.plot(np.arange(len(audio)) / sample_rate, audio, linewidth=0.5)
    top.set_xlim(0, len(audio) / sample_rate)
    top.set_ylim(-1, 1)
    top.set_ylabel("amplitude")
    nfft = int(min(256, 2 ** np.floor(np.log2(max(len(audio) // 4, 16)))))  # short clips: several segments still
    bottom.specgram(audio, NFFT=nfft, Fs=sample_rate, noverlap=nfft // 2, cmap="magma")
    bottom.set_xlabel("seconds")
    bottom.set_ylabel("Hz")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    with export.atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return path


def run(args):
    """Trains the WaveNet described by `args`; returns the metrics also written to `metrics.json`."""
    for name in ("residual_channels", "skip_channels", "head_channels", "num_layers", "dilation_cycle", "window",
                 "train_windows", "epochs", "steps_per_epoch", "batch_size"):
        _checks.positive_int(f"--{name.replace('_', '-')}", getattr(args, name))
    _checks.positive_float("--learning-rate", args.learning_rate)
    _checks.positive_float("--seconds", args.seconds)
    _checks.non_negative_float("--temperature", args.temperature)
    if args.batch_size > args.train_windows:
        raise ValueError(f"`--batch-size` {args.batch_size} is larger than the {args.train_windows} training windows.")
    _checks.writable_directory("--out", args.out)

    # Window rows are window + 1 samples: the model reads the first `window` and predicts the last `window`.
    train, sample_rate = audio_windows(args.audio, args.train_windows, args.window + 1, seed=args.seed)
    held_out, _ = audio_windows(args.audio, max(args.train_windows // 10, args.batch_size), args.window + 1,
                                seed=args.seed + 1)
    keras.utils.set_random_seed(args.seed)
    model = WaveNet(residual_channels=args.residual_channels, skip_channels=args.skip_channels,
                    head_channels=args.head_channels, num_layers=args.num_layers, dilation_cycle=args.dilation_cycle,
                    output=args.output)
    model.build((None, None))
    model.compile(keras.optimizers.Adam(args.learning_rate), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=[BitsPerCharacter(name="bits_per_sample")])
    start = time.perf_counter()
    history = _resume.resumable_fit(
        model, mu_law_dataset(train, args.batch_size, seed=args.seed), "train", args.out, args.epochs,
        args.steps_per_epoch, validation_data=mu_law_dataset(held_out, args.batch_size, shuffle=False, repeat=False),
        shuffle=False, verbose=args.verbose)
    seconds = time.perf_counter() - start

    train_codes, held_codes = (mu_law_encode(pcm16_to_float(x)) for x in (train, held_out))
    baseline = unigram_bits(train_codes[:, 1:], held_codes[:, 1:])
    plot_learning_curves(os.path.join(args.out, "learning_curve.png"),
                         {"train": history["bits_per_sample"], "held out": history["val_bits_per_sample"]},
                         baselines={"unigram": baseline}, ylabel="bits per sample",
                         title=f"WaveNet (receptive field {model.receptive_field}) on mu-law {args.audio}")
    model.save(os.path.join(args.out, "wavenet.keras"))
    step = model.step_model()
    tflite = export.export_tflite(step, os.path.join(args.out, "step.tflite"))
    litert = export.verify_tflite(step, tflite)
    length = int(round(args.seconds * sample_rate))
    start = time.perf_counter()
    codes = generate_cached(export.TFLiteModel(tflite), length, model.queues(), temperature=args.temperature,
                            seed=args.seed)
    generation_seconds = time.perf_counter() - start
    write_wav(os.path.join(args.out, "generated.wav"), codes, sample_rate)
    plot_audio(os.path.join(args.out, "generated.png"), codes, sample_rate,
               title=f"{args.seconds:g} s generated on LiteRT (temperature {args.temperature:g})")
    real = held_codes[:, 1:].ravel()[:length]  # held-out windows end to end, for comparison
    write_wav(os.path.join(args.out, "held_out.wav"), real, sample_rate)
    plot_audio(os.path.join(args.out, "held_out.png"), real, sample_rate, title=f"held-out {args.audio}")
    metrics = {
        "residual_channels": args.residual_channels, "skip_channels": args.skip_channels,
        "head_channels": args.head_channels, "num_layers": args.num_layers, "dilation_cycle": args.dilation_cycle,
        "audio": args.audio, "sample_rate": sample_rate, "output": args.output,
        "receptive_field": model.receptive_field, "window": args.window,
        "held_out_bits_per_sample": float(history["val_bits_per_sample"][-1]), "unigram_bits_per_sample": baseline,
        "epochs": len(history["loss"]), "steps": len(history["loss"]) * args.steps_per_epoch, "seconds": seconds,
        "params": int(model.count_params()), "litert_max_abs_diff": litert["max_abs_diff"],
        "generated_samples": len(codes), "generation_samples_per_second": len(codes) / generation_seconds,
        "temperature": args.temperature, "history": history,
    }
    _resume.finish(args.out, metrics)
    return metrics


def main(argv=None):
    _resume.main(run, build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
