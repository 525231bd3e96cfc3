"""Decoding throughput of keras_dl's beam search, greedy search and sampling, next to keras-hub's samplers.

    python -m benchmarks.decoding [--quick] [--out decoding_out] [--threads N]

One seeded `keras_dl.models.TransformerLM` (random weights) is decoded by every decoder, through
its own key/value cache (`initial_cache` / `decode_step`, one position's work per step):

- keras_dl `beam_search` with GNMT's length penalty on (alpha = 0.6) and off (alpha = 0),
  `greedy_search`, and `sample` with top-p;
- keras-hub's `BeamSampler`, `GreedySampler` and `TopPSampler` (the `bench` extra) driving the
  same model's weights and the same cache through an adapter: keras-hub's
  `next(prompt, cache, index)` feeds `prompt[:, index - 1]` to `decode_step` and hands its state
  back as the cache, which keras-hub tiles and reorders per beam as keras_dl does.

There is no end token (keras_dl: `end_token=None`; keras-hub: `stop_token_ids=None`), so every
decoder generates exactly `new_tokens` tokens per row and tokens/s = batch * new_tokens / the
median seconds of one call. With equal lengths the length penalty cannot reorder beams, but its
arithmetic runs every step, so the alpha = 0.6 rows time it. Every decoder is a `tf.function`,
with and without XLA (`jit_compile`); the first call (tracing, compilation, one run) is
reported apart as warm-up. Decoders are timed in interleaved rounds (alternating order), so drift
of a noisy machine hits them alike. keras-hub has no length penalty: the top beams are checked
equal at alpha = 0 (greedy tokens too), and the result records it. Without keras-hub the
keras_dl rows still run and the result says why keras-hub's are missing.
Writes `decoding.json` and `decoding.md`.
"""

import argparse
import importlib
import json
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_dl.decoding import beam_search  # noqa: E402
from keras_dl.decoding import greedy_search  # noqa: E402
from keras_dl.decoding import sample  # noqa: E402
from keras_dl.export import write_text  # noqa: E402
from keras_dl.models import TransformerLM  # noqa: E402

FULL = {"model": {"vocabulary_size": 1000, "max_length": 64, "num_layers": 2, "num_heads": 4, "key_dim": 32,
                  "ff_dim": 512},
        "batch": 8, "new_tokens": 64, "beams": (4, 8), "xla": (False, True), "rounds": 9,
        "alpha": 0.6, "top_p": 0.9}
QUICK = {"model": {"vocabulary_size": 200, "max_length": 12, "num_layers": 1, "num_heads": 2, "key_dim": 8,
                   "ff_dim": 32},
         "batch": 2, "new_tokens": 12, "beams": (3,), "xla": (False, True), "rounds": 3,
         "alpha": 0.6, "top_p": 0.9}

BEAM, GREEDY, SAMPLE = "beam", "greedy", "sample"
HUB = {BEAM: "keras-hub BeamSampler", GREEDY: "keras-hub GreedySampler", SAMPLE: "keras-hub TopPSampler"}


def load_keras_hub():
    """`(keras_hub, None)`, or `(None, reason)` when it cannot be imported (it is in the `bench` extra only)."""
    try:
        return importlib.import_module("keras_hub"), None
    except ImportError as error:
        return None, f"keras-hub is not importable ({error}); install the `bench` extra for its rows"


def build_model(config):
    keras.utils.set_random_seed(0)
    model = TransformerLM(**config["model"])
    model(np.zeros((1, config["model"]["max_length"]), "int32"))
    return model


def keras_dl_decoders(model, config):
    """`{(decoder, beams): fn(start_tokens [batch]) -> top tokens [batch, new_tokens]}` for keras_dl."""
    n = config["new_tokens"]

    def beam(k, alpha):
        def fn(start):
            best = beam_search(model.decode_step, model.initial_cache(ops_batch(start)), start, end_token=None,
                               beam_width=k, max_length=n, alpha=alpha)
            return best["tokens"][:, 0]
        return fn

    def greedy(start):
        return greedy_search(model.decode_step, model.initial_cache(ops_batch(start)), start, end_token=None,
                             max_length=n)["tokens"]

    def top_p(start):
        return sample(model.decode_step, model.initial_cache(ops_batch(start)), start, end_token=None, max_length=n,
                      top_p=config["top_p"], seed=0)["tokens"]

    decoders = {}
    for k in config["beams"]:
        decoders[(f"keras_dl beam_search (alpha={config['alpha']})", k)] = (BEAM, beam(k, config["alpha"]))
        decoders[("keras_dl beam_search (alpha=0)", k)] = (BEAM, beam(k, 0.0))
    decoders[("keras_dl greedy_search", 1)] = (GREEDY, greedy)
    decoders[(f"keras_dl sample (top_p={config['top_p']})", 1)] = (SAMPLE, top_p)
    return decoders


def ops_batch(start):
    return tf.shape(start)[0]


def hub_next(model):
    """keras-hub's `next(prompt, cache, index)` over the model's cached step: the cache is `decode_step`'s state.

    keras-hub writes the token of position `index` of `prompt`; the step reads the token before it,
    at the cache's own position `index - 1` (`state["index"]`, which keras-hub tiles and reorders
    with the rest of the cache).
    """
    def next_fn(prompt, cache, index):
        logits, cache = model.decode_step(prompt[:, index - 1], cache)
        return logits, None, cache
    return next_fn


def keras_hub_decoders(keras_hub, model, config):
    """keras-hub's samplers on the same model: prompt = start token then `new_tokens` slots, decoded from index 1."""
    n = config["new_tokens"]
    next_fn = hub_next(model)

    def run(sampler):
        def fn(start):
            prompt = tf.concat([start[:, None], tf.zeros((tf.shape(start)[0], n), start.dtype)], axis=1)
            out = sampler(next_fn, prompt, cache=model.initial_cache(ops_batch(start)), index=1)
            return out[:, 1:]
        return fn

    decoders = {}
    for k in config["beams"]:
        decoders[(HUB[BEAM], k)] = (BEAM, run(keras_hub.samplers.BeamSampler(num_beams=k)))
    decoders[(HUB[GREEDY], 1)] = (GREEDY, run(keras_hub.samplers.GreedySampler()))
    decoders[(HUB[SAMPLE], 1)] = (SAMPLE, run(keras_hub.samplers.TopPSampler(p=config["top_p"], seed=0)))
    return decoders


def measure(functions, start, rounds):
    """First-call seconds (warm-up) and the median seconds of one call over interleaved rounds, per function."""
    warmup, outputs = {}, {}
    for key, fn in functions.items():
        begin = time.perf_counter()
        outputs[key] = np.asarray(fn(start))
        warmup[key] = time.perf_counter() - begin
        fn(start)  # A second call: lazily allocated buffers and caches out of the timed rounds.
    samples = {key: [] for key in functions}
    order = list(functions)
    for round_index in range(rounds):
        for key in order if round_index % 2 == 0 else reversed(order):
            begin = time.perf_counter()
            np.asarray(functions[key](start))
            samples[key].append(time.perf_counter() - begin)
        print(f"  round {round_index + 1}/{rounds} done", flush=True)
    return warmup, {key: statistics.median(values) for key, values in samples.items()}, outputs


def run(config):
    keras_hub, hub_reason = load_keras_hub()
    model = build_model(config)
    batch, n = config["batch"], config["new_tokens"]
    start = tf.constant(np.random.default_rng(0).integers(0, config["model"]["vocabulary_size"], batch), "int32")

    decoders = keras_dl_decoders(model, config)
    if keras_hub is not None:
        decoders.update(keras_hub_decoders(keras_hub, model, config))
    functions, kinds = {}, {}
    for (name, beams), (kind, fn) in decoders.items():
        for xla in config["xla"]:
            functions[(name, beams, xla)] = tf.function(fn, jit_compile=xla)
            kinds[(name, beams, xla)] = kind
    print(f"{len(functions)} decoders, batch {batch}, {n} new tokens, model {config['model']}", flush=True)
    warmup, seconds, outputs = measure(functions, start, config["rounds"])

    rows = []
    for (name, beams, xla), fn_seconds in seconds.items():
        rows.append({"decoder": name, "kind": kinds[(name, beams, xla)], "beams": beams, "batch": batch,
                     "new_tokens": n, "xla": xla, "seconds": fn_seconds, "tokens_per_second": batch * n / fn_seconds,
                     "warmup_seconds": warmup[(name, beams, xla)],
                     # 1: every timed call ran the warm-up's graph (no retracing inside the rounds).
                     "traces": functions[(name, beams, xla)].experimental_get_tracing_count()})
    peers = {(r["kind"], r["beams"], r["xla"]): r for r in rows if r["decoder"].startswith("keras-hub")}
    for r in rows:
        peer = peers.get((r["kind"], r["beams"], r["xla"]))
        r["vs_keras_hub"] = (r["tokens_per_second"] / peer["tokens_per_second"]
                             if peer is not None and not r["decoder"].startswith("keras-hub") else None)

    equality = []
    if keras_hub is not None:
        pairs = [("keras_dl beam_search (alpha=0)", HUB[BEAM], k) for k in config["beams"]]
        pairs.append(("keras_dl greedy_search", HUB[GREEDY], 1))
        for ours, theirs, beams in pairs:
            for xla in config["xla"]:
                a, b = outputs[(ours, beams, xla)], outputs[(theirs, beams, xla)]
                equality.append({"keras_dl": ours, "keras_hub": theirs, "beams": beams, "xla": xla,
                                 "equal": bool(np.array_equal(a, b)),
                                 "rows_differing": int(np.sum(np.any(a != b, axis=-1))), "rows": int(a.shape[0])})
    targets = {}
    for r in rows:
        if r["kind"] == BEAM and r["decoder"].startswith("keras_dl") and r["vs_keras_hub"] is not None:
            key = f"{r['decoder']}, beams={r['beams']}, xla={r['xla']}"
            targets[key] = {"vs_keras_hub": r["vs_keras_hub"], "meets_1x": r["vs_keras_hub"] >= 1.0}
    return {"config": {**config, "beams": list(config["beams"]), "xla": list(config["xla"]), "end_token": None,
                       "threads": tf.config.threading.get_intra_op_parallelism_threads() or os.cpu_count()},
            "keras_hub": {"available": keras_hub is not None,
                          "version": getattr(keras_hub, "__version__", None), "reason": hub_reason,
                          "adapter": "cached: keras-hub's next() calls TransformerLM.decode_step on the model's "
                                     "key/value cache, the same step keras_dl's decoders call"},
            "versions": {"keras": keras.__version__, "tensorflow": tf.__version__},
            "rows": rows, "equality": equality, "targets": targets}


def markdown(result):
    lines = ["| decoder | beams | batch | new tokens | XLA | tokens/s | warm-up (s) | vs keras-hub |",
             "|---|---|---|---|---|---|---|---|"]
    for r in result["rows"]:
        ratio = f"{r['vs_keras_hub']:.2f}x" if r["vs_keras_hub"] is not None else "-"
        lines.append(f"| {r['decoder']} | {r['beams']} | {r['batch']} | {r['new_tokens']} | "
                     f"{'yes' if r['xla'] else 'no'} | {r['tokens_per_second']:.0f} | {r['warmup_seconds']:.1f} | "
                     f"{ratio} |")
    hub = result["keras_hub"]
    if not hub["available"]:
        lines += ["", f"keras-hub rows missing: {hub['reason']}."]
    for e in result["equality"]:
        lines.append(("" if e is not result["equality"][0] else "\n") +
                     f"- {e['keras_dl']} vs {e['keras_hub']}, beams={e['beams']}, XLA {'on' if e['xla'] else 'off'}:"
                     f" top tokens {'equal' if e['equal'] else 'DIFFER'} ({e['rows_differing']}/{e['rows']} rows differ)")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a tiny model and few rounds (a smoke run, not figures)")
    parser.add_argument("--out", default="decoding_out", help="output directory")
    parser.add_argument("--threads", type=int, default=0, help="TensorFlow CPU threads (0: TensorFlow's default)")
    args = parser.parse_args(argv)
    if args.threads < 0:
        parser.error(f"--threads must be >= 0, got {args.threads}")
    if args.threads:  # Before any TensorFlow op runs: thread pools are fixed at first use.
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    result = run(QUICK if args.quick else FULL)
    result["config"]["quick"] = args.quick
    table = markdown(result)
    print(table)
    write_text(os.path.join(args.out, "decoding.md"), table)
    write_text(os.path.join(args.out, "decoding.json"), json.dumps(result, indent=2))
    print(f"wrote {args.out}/decoding.json, decoding.md")
    return result


if __name__ == "__main__":
    main()
