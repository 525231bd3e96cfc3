"""WaveNet generation: fast (cached queues) vs naive, its LiteRT step latency, and WaveNet vs WaveRNN.

    python -m benchmarks.wavenet [--quick] [--out wavenet_out]

1. Generation speed. For WaveNets of receptive field 256, 1024 and 4096 (kernel 2, two stacks
   of dilations 1 .. 2^(k-1): 14, 18 and 22 blocks; 32 residual, 64 skip and 64 head channels;
   Keras' initial weights, since the cost does not depend on the values), samples per second of

   - `fast`: `keras_dl.decoding.generate_cached` on the step model (`WaveNet.step_model()`),
     one call per sample with every convolution's queue carried: O(layers) per sample;
   - `naive`: `keras_dl.decoding.generate_naive`, the sequence model run over the last
     `receptive_field` codes for every sample: O(receptive field) per sample. It is timed at
     its steady state: the window is left-padded with silence (code 128) to the full receptive
     field from the first sample, so every call reads as many codes as it does after
     `receptive_field` samples (and Keras traces one shape);

   each on two runtimes: Keras (the model under `tf.function`) and LiteRT (the step model's
   `.tflite` file, and a sequence file of fixed length `receptive_field`; 1 thread). Every
   (receptive field, runtime, method) is timed once per round, the rounds interleaved, and the
   median over rounds is reported; `speedup` is fast / naive on the same runtime. Before timing,
   fast generation (Keras and LiteRT) is checked to draw the same samples as the unpadded naive
   generation for one seed (`identical`).
2. The step file's latency: `TFLiteModel.median_latency` of one `invoke()` of each WaveNet's
   step file (float32, 1 thread, zero inputs), and its size.
3. WaveNet vs WaveRNN on the same audio, twice: `sum_of_sines` windows (16 kHz) and
   `espeak_speech` windows (espeak-ng sentences, 22.05 kHz), mu-law coded (256 levels).
   On each, a WaveNet (8 blocks, receptive field 257) and a `keras_dl.models.WaveRNN` (GRU-256,
   dense: its default pruning schedule starts after these steps) train on the same 2,000 windows
   of 257 samples for the same 500 steps (batch 16, Adam 3e-3). WaveRNN reads 16-bit samples; it is
   given each mu-law code as the coarse byte (`code * 256`, fine byte 0), so its coarse softmax
   predicts the same code as WaveNet's and its bits per sample are coarse + fine bits. Held-out bits per sample (against the train
   unigram's), parameters, and step latency per sample on LiteRT (float32, 1 thread): one
   `invoke()` for WaveNet, two for WaveRNN (coarse, then fine given the drawn coarse byte).

Writes `wavenet.json` and prints the tables. `--quick` (a smoke run, not figures) uses receptive
fields 32 and 1024 with narrow models, few samples and a few training steps.
"""

import argparse
import json
import os
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_dl import _checks  # noqa: E402
from keras_dl.data import AUDIO_SOURCES  # noqa: E402
from keras_dl.data import audio_windows  # noqa: E402
from keras_dl.data import dual_softmax_dataset  # noqa: E402
from keras_dl.data import mu_law_dataset  # noqa: E402
from keras_dl.data import mu_law_encode  # noqa: E402
from keras_dl.data import pcm16_to_float  # noqa: E402
from keras_dl.decoding import generate_cached  # noqa: E402
from keras_dl.decoding import generate_naive  # noqa: E402
from keras_dl.export import TFLiteModel  # noqa: E402
from keras_dl.export import export_tflite  # noqa: E402
from keras_dl.export import write_text  # noqa: E402
from keras_dl.metrics import BitsPerCharacter  # noqa: E402
from keras_dl.models import WaveNet  # noqa: E402
from keras_dl.models import WaveRNN  # noqa: E402

SILENCE = 128  # mu-law code of 0.0
FULL = {
    "receptive_fields": (256, 1024, 4096), "channels": (32, 64, 64), "rounds": 3, "fast_samples": 500,
    "naive_samples": {256: 100, 1024: 40, 4096: 20}, "check_samples": 300, "latency_runs": 2000,
    "compare": {"wavenet": dict(residual_channels=32, skip_channels=64, head_channels=64, num_layers=8,
                                dilation_cycle=8),
                "wavernn_units": 256, "window": 257, "train_windows": 2000, "held_out_windows": 200,
                "batch_size": 16, "steps": 500},
}
QUICK = {
    "receptive_fields": (32, 1024), "channels": (8, 8, 16), "rounds": 2, "fast_samples": 40,
    "naive_samples": {32: 20, 1024: 20}, "check_samples": 40, "latency_runs": 200,
    "compare": {"wavenet": dict(residual_channels=8, skip_channels=8, head_channels=16, num_layers=4,
                                dilation_cycle=4),
                "wavernn_units": 32, "window": 65, "train_windows": 256, "held_out_windows": 64,
                "batch_size": 16, "steps": 150},
}


def wavenet_for(receptive_field, channels):
    """A kernel-2 WaveNet of exactly `receptive_field` inputs: two stacks of dilations 1 .. 2^(k-1).

    Its receptive field is `2 + 2 * (2^k - 1) = 2^(k+1)`, so `receptive_field` must be a power of 2, >= 4.
    """
    k = int(np.log2(receptive_field)) - 1
    if k < 1 or 2 ** (k + 1) != receptive_field:
        raise ValueError(f"`receptive_field` must be a power of 2 >= 4, got {receptive_field}.")
    residual, skip, head = channels
    model = WaveNet(residual_channels=residual, skip_channels=skip, head_channels=head, num_layers=2 * k,
                    dilation_cycle=k)
    model.build((None, None))
    assert model.receptive_field == receptive_field, model.receptive_field
    return model


class _PaddedWindow:
    """The naive generator's model at its steady state: every window left-padded with silence to `length`."""

    def __init__(self, fn, length):
        self.fn, self.length = fn, length

    def __call__(self, codes):
        pad = self.length - codes.shape[1]
        if pad > 0:
            codes = np.concatenate([np.full((1, pad), SILENCE, np.int32), codes], axis=1)
        return self.fn(codes)


class _Sequence(keras.layers.Layer):
    """`WaveNet.call` as a layer of a functional model with an int input, as `WaveNet.step_model` does for the step.

    The WaveNet itself stays untracked (Keras' export would trace its default signature with float inputs);
    its layers are tracked, so the functional model holds and exports the weights.
    """

    def __init__(self, wavenet, **kwargs):
        super().__init__(**kwargs)
        object.__setattr__(self, "_wavenet", wavenet)
        self.parts = [wavenet.embedding, wavenet.input_conv, *wavenet.blocks, wavenet.head, wavenet.output_dense]

    def call(self, codes):
        return self._wavenet(codes)


def _litert_sequence(tflite):
    return lambda codes: next(iter(tflite({next(iter(tflite.runner.get_input_details())): codes}).values()))


def _generators(model, directory, cfg):
    """`{(runtime, method): (generate(n, seed) -> codes)}` and the step file's path."""
    rf = model.receptive_field
    step = model.step_model()
    keras_step = tf.function(step)
    spec = [tf.TensorSpec([1, rf], tf.int32, name="samples")]
    keras_window = tf.function(lambda codes: model(codes), input_signature=spec)
    step_path = export_tflite(step, os.path.join(directory, f"wavenet_rf{rf}_step.tflite"))
    codes = keras.Input((rf,), batch_size=1, dtype="int32", name="samples")
    sequence_path = export_tflite(keras.Model(codes, _Sequence(model)(codes)),
                                  os.path.join(directory, f"wavenet_rf{rf}_sequence.tflite"))
    lite_step = TFLiteModel(step_path, num_threads=1)
    lite_window = _litert_sequence(TFLiteModel(sequence_path, num_threads=1))
    return {
        ("keras", "fast"): lambda n, seed: generate_cached(keras_step, n, model.queues(), seed=seed),
        ("keras", "naive"): lambda n, seed: generate_naive(_PaddedWindow(keras_window, rf), n, rf, seed=seed),
        ("litert", "fast"): lambda n, seed: generate_cached(lite_step, n, model.queues(), seed=seed),
        ("litert", "naive"): lambda n, seed: generate_naive(_PaddedWindow(lite_window, rf), n, rf, seed=seed),
    }, step_path, sequence_path


def check_identical(model, generators, samples, seed=0):
    """Fast generation (Keras, LiteRT) against the unpadded naive generation (Keras), one seed."""
    sequence = tf.function(model, reduce_retracing=True)
    naive = generate_naive(sequence, samples, context=model.receptive_field, seed=seed)
    found = {}
    for runtime in ("keras", "litert"):
        fast = generators[(runtime, "fast")](samples, seed)
        found[runtime] = {"identical": fast == naive,
                          "agreeing_samples": int(sum(a == b for a, b in zip(fast, naive)))}
    return {"samples": samples, "seed": seed, "naive": naive, **found}


def generation(cfg, directory):
    """Section 1 and 2: rows per receptive field."""
    rows, generators, checks = [], {}, {}
    for rf in cfg["receptive_fields"]:
        print(f"receptive field {rf}: building and exporting", flush=True)
        keras.utils.set_random_seed(rf)
        model = wavenet_for(rf, cfg["channels"])
        gens, step_path, sequence_path = _generators(model, directory, cfg)
        generators[rf] = gens
        checks[rf] = check_identical(model, gens, cfg["check_samples"])
        step_file = TFLiteModel(step_path, num_threads=1)
        rows.append({"receptive_field": rf, "num_layers": model.num_layers, "params": int(model.count_params()),
                     "step_file_bytes": os.path.getsize(step_path),
                     "sequence_file_bytes": os.path.getsize(sequence_path),
                     "litert_step_latency_us": 1e6 * step_file.median_latency(step_file.zero_inputs(),
                                                                              runs=cfg["latency_runs"]),
                     "identical": {runtime: checks[rf][runtime] for runtime in ("keras", "litert")},
                     "rounds": {f"{runtime}_{method}": [] for runtime, method in gens}})
        for gen in gens.values():  # warm-up: traces, XNNPACK set-up
            gen(2, 0)
    for index in range(cfg["rounds"]):
        for row in rows:
            rf = row["receptive_field"]
            for (runtime, method), gen in generators[rf].items():
                n = cfg["fast_samples"] if method == "fast" else cfg["naive_samples"][rf]
                start = time.perf_counter()
                gen(n, index)
                row["rounds"][f"{runtime}_{method}"].append(n / (time.perf_counter() - start))
        print(f"generation round {index + 1}/{cfg['rounds']} done", flush=True)
    for row in rows:
        row["samples_per_second"] = {name: statistics.median(values) for name, values in row["rounds"].items()}
        speed = row["samples_per_second"]
        row["speedup"] = {runtime: speed[f"{runtime}_fast"] / speed[f"{runtime}_naive"]
                          for runtime in ("keras", "litert")}
    return rows


def _unigram_bits(train_codes, eval_codes):
    counts = np.bincount(train_codes.ravel(), minlength=256) + 1.0
    return float(-np.mean(np.log2((counts / counts.sum())[eval_codes.ravel()])))


def compare(cfg, directory, audio, seed=0):
    """Section 3: WaveNet vs WaveRNN on the same mu-law audio (`"sines"` or `"speech"`)."""
    c = cfg["compare"]
    train, _ = audio_windows(audio, c["train_windows"], c["window"], seed=seed)
    held_out, _ = audio_windows(audio, c["held_out_windows"], c["window"], seed=seed + 1)
    train_codes, held_codes = (mu_law_encode(pcm16_to_float(x)) for x in (train, held_out))
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    result = {"audio": audio, "window": c["window"], "steps": c["steps"], "batch_size": c["batch_size"],
              "unigram_bits_per_sample": _unigram_bits(train_codes[:, 1:], held_codes[:, 1:])}

    print(f"training WaveNet on {audio}", flush=True)
    keras.utils.set_random_seed(seed)
    wavenet = WaveNet(**c["wavenet"])
    wavenet.compile(keras.optimizers.Adam(3e-3), loss, metrics=[BitsPerCharacter(name="bits_per_sample")])
    start = time.perf_counter()
    wavenet.fit(mu_law_dataset(train, c["batch_size"], seed=seed), steps_per_epoch=c["steps"], shuffle=False, verbose=0)
    seconds = time.perf_counter() - start
    scores = wavenet.evaluate(mu_law_dataset(held_out, 100, shuffle=False, repeat=False), return_dict=True, verbose=0)
    path = export_tflite(wavenet.step_model(), os.path.join(directory, f"compare_{audio}_wavenet_step.tflite"))
    step = TFLiteModel(path, num_threads=1)
    invoke_us = 1e6 * step.median_latency(step.zero_inputs(), runs=cfg["latency_runs"])
    result["wavenet"] = {"config": c["wavenet"], "receptive_field": wavenet.receptive_field,
                         "params": int(wavenet.count_params()), "bits_per_sample": float(scores["bits_per_sample"]),
                         "train_seconds": seconds, "invokes_per_sample": 1, "invoke_latency_us": invoke_us,
                         "step_latency_us": invoke_us, "step_file_bytes": os.path.getsize(path)}

    print(f"training WaveRNN on {audio}", flush=True)
    keras.utils.set_random_seed(seed)
    wavernn = WaveRNN(units=c["wavernn_units"])
    wavernn.compile(keras.optimizers.Adam(3e-3), loss={"coarse": loss, "fine": loss},
                    metrics={"coarse": [BitsPerCharacter()], "fine": [BitsPerCharacter()]})
    # The mu-law code as the coarse byte: the coarse softmax predicts what WaveNet's softmax predicts.
    start = time.perf_counter()
    wavernn.fit(dual_softmax_dataset(train_codes * 256, c["batch_size"], seed=seed), steps_per_epoch=c["steps"],
                shuffle=False, verbose=0)
    seconds = time.perf_counter() - start
    scores = wavernn.evaluate(dual_softmax_dataset(held_codes * 256, 100, shuffle=False, repeat=False),
                              return_dict=True, verbose=0)
    path = export_tflite(wavernn.step_model(), os.path.join(directory, f"compare_{audio}_wavernn_step.tflite"))
    step = TFLiteModel(path, num_threads=1)
    invoke_us = 1e6 * step.median_latency(step.zero_inputs(), runs=cfg["latency_runs"])
    result["wavernn"] = {"units": c["wavernn_units"], "params": int(wavernn.count_params()),
                         "coarse_bits": float(scores["coarse_bpc"]), "fine_bits": float(scores["fine_bpc"]),
                         "bits_per_sample": float(scores["coarse_bpc"] + scores["fine_bpc"]),
                         "train_seconds": seconds, "invokes_per_sample": 2, "invoke_latency_us": invoke_us,
                         "step_latency_us": 2 * invoke_us, "step_file_bytes": os.path.getsize(path)}
    return result


def table(result):
    lines = ["| receptive field | blocks | runtime | fast samples/s | naive samples/s | fast / naive | "
             "fast == naive | LiteRT step invoke |", "|---|---|---|---|---|---|---|---|"]
    for row in result["generation"]:
        for runtime in ("keras", "litert"):
            speed = row["samples_per_second"]
            lines.append(f"| {row['receptive_field']} | {row['num_layers']} | {runtime} | "
                         f"{speed[f'{runtime}_fast']:.0f} | {speed[f'{runtime}_naive']:.1f} | "
                         f"{row['speedup'][runtime]:.1f}x | {row['identical'][runtime]['identical']} | "
                         f"{row['litert_step_latency_us']:.1f} us |")
    lines += ["", "| audio (mu-law) | model | params | held-out bits/sample | LiteRT step latency per sample |",
              "|---|---|---|---|---|"]
    for audio, c in result["comparison"].items():
        for name in ("wavenet", "wavernn"):
            m = c[name]
            lines.append(f"| {audio} | {name} | {m['params']:,} | {m['bits_per_sample']:.2f} | "
                         f"{m['step_latency_us']:.1f} us ({m['invokes_per_sample']} "
                         f"invoke{'s' if m['invokes_per_sample'] > 1 else ''}) |")
        lines.append(f"| {audio} | unigram (train codes) | 256 | {c['unigram_bits_per_sample']:.2f} | |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="receptive fields 32 and 1024, narrow models, few samples")
    parser.add_argument("--out", default="wavenet_out", help="output directory")
    args = parser.parse_args(argv)
    _checks.writable_directory("--out", args.out)
    cfg = QUICK if args.quick else FULL
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as directory:
        rows = generation(cfg, directory)
        comparison = {audio: compare(cfg, directory, audio) for audio in AUDIO_SOURCES}
    config = {k: (list(v) if isinstance(v, tuple) else v) for k, v in cfg.items() if k != "naive_samples"}
    config["naive_samples"] = {str(k): v for k, v in cfg["naive_samples"].items()}
    result = {"mode": "quick" if args.quick else "full", "config": config, "generation": rows,
              "comparison": comparison, "seconds": time.perf_counter() - start}
    largest = rows[-1]
    result["targets"] = {"largest_receptive_field": largest["receptive_field"],
                         "fast_vs_naive": largest["speedup"], "target": 50.0,
                         "met": {runtime: value >= 50.0 for runtime, value in largest["speedup"].items()}}
    print(table(result))
    write_text(os.path.join(args.out, "wavenet.json"), json.dumps(result, indent=2))
    print(f"wrote {args.out}/wavenet.json")
    return result


if __name__ == "__main__":
    main()
