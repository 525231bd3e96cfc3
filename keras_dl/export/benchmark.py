"""LiteRT's `benchmark_model` in Python: latency percentiles, init time and peak memory of a `.tflite` file.

The benchmark script `ai_edge_litert` ships (`ai_edge_litert/tools/benchmark_litert_model.py`) is not
used: it times `CompiledModel.run_by_name` with its buffer copies, always on XNNPACK (no switch to
the built-in kernels, which sparse files need), rounds to 10 us and reports no memory. keras_dl's
figures are `Interpreter.invoke()` times, as `benchmark_model` and `TFLiteModel.median_latency` take.
"""

import json
import os
import subprocess
import sys
import tempfile

import numpy as np

from keras_dl import _checks
from keras_dl.export import _litert_timer
from keras_dl.export.tflite import TFLiteModel

INPUT_FILLS = ("zeros", "random")
PERCENTILES = (50, 90, 99)

# Runs the timer file by path, not as `keras_dl.export._litert_timer`: importing the package would
# load TensorFlow into the process whose memory is measured. `runpy.run_path` leaves sys.path alone,
# so no module of keras_dl/export/ can shadow one that numpy or LiteRT import.
_CHILD = "import runpy, sys; sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')"


def check_model_path(model):
    """Returns `model` as a path if it names an existing `.tflite` file, else raises naming `model`."""
    if not isinstance(model, (str, os.PathLike)):
        raise TypeError(f"`model` must be the path of a .tflite file, got {type(model).__name__}.")
    path = os.fspath(model)
    if not path.endswith(".tflite"):
        raise ValueError(f"`model` must be a path ending in '.tflite', got {path!r}.")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"`model`: no .tflite file at {path!r}.")
    return path


def _inputs(runner, inputs, seed):
    """The arrays to set (name -> array of the model's dtype) and how they were made."""
    details = runner.runner.get_input_details()
    if inputs is None or (isinstance(inputs, str) and inputs == "zeros"):
        return runner.zero_inputs(), "zeros"
    if isinstance(inputs, str):
        if inputs != "random":
            raise ValueError(f"`inputs` must be a dict name -> array or one of {INPUT_FILLS}, got {inputs!r}.")
        rng = np.random.default_rng(seed)
        arrays = {}
        for name, detail in details.items():
            dtype = np.dtype(detail["dtype"])
            if np.issubdtype(dtype, np.floating):
                arrays[name] = rng.uniform(-1.0, 1.0, detail["shape"]).astype(dtype)
            else:
                # Integer inputs are mostly indices (tokens, positions): random values would fall out of range.
                arrays[name] = np.zeros(detail["shape"], dtype)
        return arrays, "random"
    runner._check_inputs(inputs)
    return {name: np.asarray(value).astype(details[name]["dtype"], copy=False)
            for name, value in inputs.items()}, "given"


def _stats(times_s):
    """Order statistics, in microseconds, of per-run times in seconds."""
    times = np.asarray(times_s) * 1e6
    stats = {f"p{q}_us": float(np.percentile(times, q)) for q in PERCENTILES}
    stats.update(mean_us=float(times.mean()), std_us=float(times.std()), min_us=float(times.min()),
                 max_us=float(times.max()))
    return stats


def benchmark_tflite(model, inputs=None, runs=1000, warmup_runs=50, warmup_seconds=0.5, num_threads=1,
                     default_delegates=None, signature=None, seed=0, verbose=False):
    """Benchmarks one `.tflite` file on LiteRT's CPU runtime, as LiteRT's `benchmark_model` tool does.

    The measurement runs in a fresh Python process that imports only numpy and `ai_edge_litert`
    (never TensorFlow or Keras). With `time.perf_counter` it times init (reading the file,
    building the interpreter, applying the default delegate, allocating tensors), the first
    `invoke()`, at least `warmup_runs` more `invoke()`s for at least `warmup_seconds` (their
    mean is reported), then `runs` timed
    `invoke()`s with fixed inputs, whose percentiles, mean, standard deviation, minimum and
    maximum are reported in microseconds. Only `invoke()` is inside a timed span: setting inputs
    and reading outputs through the Python signature runner adds about 9 us per call on this
    project's machine. The same timing core as `median_invoke_seconds`, so `p50_us` is that
    function's median, measured in another process.

    Memory is the peak resident set size of that process (Linux: `VmHWM`; elsewhere `getrusage`),
    as `benchmark_model`'s "memory footprint delta from the start of the tool": its growth during
    init (`memory_init_mb`) and by the end of the runs (`memory_overall_mb`) over the peak after
    importing numpy and LiteRT (`memory_baseline_mb`), and the absolute peak (`peak_rss_mb`).
    The growth is what running the model costs in RAM: the pages of the mapped file that were
    read, the tensor arena, weights XNNPACK repacks, and LiteRT's own code paged in on first use
    (about 4 MB for any model). MB: 2**20 bytes.

    Args:
        model: path of a `.tflite` file.
        inputs: dict input name -> array (shapes may differ from the file's where it allows
            it, e.g. a sequence length: the file is resized to them), `"zeros"` (the default,
            also `None`) or `"random"` (floats uniform in [-1, 1); integer inputs stay 0, since
            they are mostly indices that random values would push out of range).
        runs: number of timed `invoke()`s.
        warmup_runs: the least number of `invoke()`s after the first one and before the timed ones.
        warmup_seconds: the least time the warm-up lasts, as `benchmark_model`'s `--warmup_min_secs`
            (0.5 s there too): a core that was idle runs the first fraction of a second slower.
        num_threads: CPU threads of the interpreter.
        default_delegates: whether LiteRT applies its default delegate (XNNPACK); by default,
            as `TFLiteModel`: on for dense files, off for files with sparse tensors.
        signature: signature key; defaults to the only one.
        seed: seed of the `"random"` inputs.
        verbose: print progress to stderr about every 5 seconds of a long run.

    Returns:
        A JSON-serialisable dict: `model`, `size_bytes`, `signature`, `runs`, `warmup_runs` (as run),
        `num_threads`, `default_delegates`, `sparse`, `inputs` (name -> `{"shape", "dtype"}` as
        set), `input_fill` (`"zeros"`, `"random"` or `"given"`), `init_ms`, `first_invoke_us`,
        `warmup_mean_us`, `p50_us`, `p90_us`, `p99_us`, `mean_us`, `std_us`, `min_us`, `max_us`,
        `op_names` (operators in the file), `nodes` (the interpreter's nodes after delegation:
        one `DELEGATE` node per partition the default delegate took over, the ops it replaced
        still listed), `delegated` (whether there is one), `memory_baseline_mb`,
        `memory_init_mb`, `memory_overall_mb`, `peak_rss_mb`, and `tensorflow_imported`
        (false: the measuring process did not load TensorFlow).

    Example:
    >>> from keras_dl.export import export_tflite
    >>> path = export_tflite(keras.Sequential([keras.Input((16,)), keras.layers.Dense(4)]), "dense.tflite")
    >>> result = benchmark_tflite(path, runs=200, num_threads=1)
    >>> result["p50_us"] <= result["p90_us"] <= result["p99_us"] <= result["max_us"]
    True
    >>> result["default_delegates"], result["delegated"]   # a dense file: XNNPACK on
    (True, True)
    """
    # Every argument is checked before the child process starts.
    path = check_model_path(model)
    runs = _checks.positive_int("runs", runs)
    warmup_runs = _checks.non_negative_int("warmup_runs", warmup_runs)
    warmup_seconds = _checks.non_negative_float("warmup_seconds", warmup_seconds, finite=True)
    num_threads = _checks.positive_int("num_threads", num_threads)
    _checks.non_negative_int("seed", seed)
    if default_delegates is not None and not isinstance(default_delegates, (bool, np.bool_)):
        raise TypeError(f"`default_delegates` must be True, False or None (automatic), got {default_delegates!r}.")
    runner = TFLiteModel(path, num_threads=num_threads, default_delegates=default_delegates, signature=signature)
    arrays, fill = _inputs(runner, inputs, seed)

    with tempfile.TemporaryDirectory(prefix="litert_bench_") as directory:
        spec = {
            "model_path": os.path.abspath(path), "num_threads": num_threads,
            "default_delegates": runner.default_delegates, "signature": runner.signature,
            "runs": runs, "warmup_runs": warmup_runs, "warmup_seconds": warmup_seconds, "progress": bool(verbose),
            "inputs_path": os.path.join(directory, "inputs.npz"),
            "result_path": os.path.join(directory, "result.json"),
        }
        np.savez(spec["inputs_path"], **arrays)
        spec_path = os.path.join(directory, "spec.json")
        with open(spec_path, "w", encoding="utf-8") as f:
            json.dump(spec, f)
        measured = _run_child(spec_path, spec["result_path"], directory, verbose)

    mb = 2.0 ** 20
    baseline = measured["memory_baseline_bytes"]
    return {
        "model": path,
        "size_bytes": os.path.getsize(path),
        "signature": runner.signature,
        "runs": runs,
        "warmup_runs": measured["warmup_runs"],
        "num_threads": num_threads,
        "default_delegates": runner.default_delegates,
        "sparse": bool(runner.sparse_tensors),
        "inputs": {name: {"shape": list(np.shape(value)), "dtype": np.asarray(value).dtype.name}
                   for name, value in sorted(arrays.items())},
        "input_fill": fill,
        "init_ms": measured["init_s"] * 1e3,
        "first_invoke_us": measured["first_invoke_s"] * 1e6,
        "warmup_mean_us": None if measured["warmup_mean_s"] is None else measured["warmup_mean_s"] * 1e6,
        **_stats(measured["times_s"]),
        "op_names": runner.op_names,
        "nodes": measured["nodes"],
        "delegated": "DELEGATE" in measured["nodes"],
        "memory_baseline_mb": baseline / mb,
        "memory_init_mb": (measured["memory_init_peak_bytes"] - baseline) / mb,
        "memory_overall_mb": (measured["memory_overall_peak_bytes"] - baseline) / mb,
        "peak_rss_mb": measured["memory_overall_peak_bytes"] / mb,
        "tensorflow_imported": measured["tensorflow_imported"],
    }


def _run_child(spec_path, result_path, directory, verbose):
    """Runs the timer in a fresh process; relays its progress lines when `verbose`, raises with its error."""
    command = [sys.executable, "-c", _CHILD, os.path.abspath(_litert_timer.__file__), spec_path]
    process = subprocess.Popen(command, cwd=directory, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    tail = []
    for line in process.stderr:
        if verbose and line.startswith("litert_timer:"):
            print(line.rstrip(), file=sys.stderr, flush=True)
        tail = (tail + [line])[-20:]
    if process.wait() != 0 or not os.path.exists(result_path):
        raise RuntimeError(f"the LiteRT benchmark process failed (exit code {process.returncode}):\n" + "".join(tail))
    with open(result_path, encoding="utf-8") as f:
        return json.load(f)
