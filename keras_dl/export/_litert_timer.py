"""The timing core of keras_dl's LiteRT benchmarks; it imports numpy and `ai_edge_litert` only.

`median_invoke_seconds` (in `tflite.py`) and `benchmark_tflite` (in `benchmark.py`) both time
`interpreter.invoke()` with `invoke_seconds`. Run as a script (`benchmark_tflite` starts it
in a fresh process) it benchmarks one `.tflite` file, so that the peak memory it reports
is the model's and LiteRT's, not TensorFlow's or Keras'.
"""

import json
import resource
import sys
import time

import numpy as np
from ai_edge_litert import interpreter as litert


def set_inputs(interpreter, inputs, signature=None):
    """Resizes `interpreter`'s inputs to `inputs` (name -> array) where needed, allocates its tensors and sets them.

    Inputs are matched by name through `signature` (the only one by default).
    """
    signatures = interpreter.get_signature_list()
    details = interpreter.get_signature_runner(signature or next(iter(signatures))).get_input_details()
    for name, value in inputs.items():
        if tuple(details[name]["shape"]) != np.shape(value):
            interpreter.resize_tensor_input(details[name]["index"], np.shape(value))
    interpreter.allocate_tensors()
    for name, value in inputs.items():
        interpreter.set_tensor(details[name]["index"], np.asarray(value, details[name]["dtype"]))


def invoke_seconds(interpreter, runs, progress=None, out=None):
    """Wall time in seconds of each of `runs` consecutive `interpreter.invoke()` calls, as a numpy array.

    Only the `invoke()` itself is inside each timed span, as in LiteRT's `benchmark_model`.
    `progress(done, runs)`, if given, is called about every 5 seconds (between timed spans).
    `out`: a float array of `runs` values to write the times to (and return), else a new one.
    """
    times = np.empty(runs) if out is None else out
    next_report = time.perf_counter() + 5.0
    for i in range(runs):
        start = time.perf_counter()
        interpreter.invoke()
        times[i] = time.perf_counter() - start
        if progress is not None and i % 64 == 63 and time.perf_counter() > next_report:
            progress(i + 1, runs)
            next_report = time.perf_counter() + 5.0
    return times


def _peak_rss_bytes():
    """Peak resident set size of this process so far."""
    # Linux: VmHWM, the peak of this process' own address space. getrusage's ru_maxrss is not used
    # there, as it keeps the high-water mark of the parent that started this process (across exec).
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return peak if sys.platform == "darwin" else peak * 1024


def benchmark(spec):
    """Benchmarks the file described by `spec` (a dict, see `benchmark.benchmark_tflite`) in this process."""
    resolver = (litert.OpResolverType.AUTO if spec["default_delegates"]
                else litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    with np.load(spec["inputs_path"]) as saved:
        inputs = {name: saved[name] for name in saved.files}
    # The benchmark's own arrays exist (and are written, so resident) before the baseline: the memory
    # figures are the model's and LiteRT's alone.
    times = np.full(spec["runs"], np.nan)
    chunk = np.full(16, np.nan)
    baseline = _peak_rss_bytes()

    # Init as benchmark_model counts it: reading the file, building the interpreter, applying the
    # default delegate (LiteRT applies it lazily, on the first allocation) and allocating tensors.
    start = time.perf_counter()
    interpreter = litert.Interpreter(model_path=spec["model_path"], num_threads=spec["num_threads"],
                                     experimental_op_resolver_type=resolver)
    set_inputs(interpreter, inputs, spec["signature"])
    init_seconds = time.perf_counter() - start
    init_peak = _peak_rss_bytes()

    def progress(done, runs):
        print(f"litert_timer: {done}/{runs} runs", file=sys.stderr, flush=True)

    first = invoke_seconds(interpreter, 1)[0]
    # At least `warmup_runs` and `warmup_seconds` (benchmark_model's --warmup_min_secs): a core that was idle
    # runs the first fraction of a second measurably slower.
    warmup_runs, warmup_total = 0, 0.0
    deadline = time.perf_counter() + spec["warmup_seconds"]
    while warmup_runs < spec["warmup_runs"] or time.perf_counter() < deadline:
        left = spec["warmup_runs"] - warmup_runs
        n = min(16, left) if left > 0 else 16
        warmup_total += float(invoke_seconds(interpreter, n, out=chunk[:n]).sum())
        warmup_runs += n
    invoke_seconds(interpreter, spec["runs"], progress if spec.get("progress") else None, out=times)
    overall_peak = _peak_rss_bytes()
    nodes = [details["op_name"] for details in interpreter._get_ops_details()]
    return {
        "times_s": times.tolist(),
        "init_s": init_seconds,
        "first_invoke_s": float(first),
        "warmup_runs": warmup_runs,
        "warmup_mean_s": warmup_total / warmup_runs if warmup_runs else None,
        "nodes": nodes,
        "memory_baseline_bytes": baseline,
        "memory_init_peak_bytes": init_peak,
        "memory_overall_peak_bytes": overall_peak,
        "tensorflow_imported": "tensorflow" in sys.modules,
    }


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as f:
        spec = json.load(f)
    result = benchmark(spec)
    with open(spec["result_path"], "w", encoding="utf-8") as f:
        json.dump(result, f)
