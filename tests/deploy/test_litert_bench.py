"""export/litert_bench (LiteRT's benchmark_model in Python) and keras_dl.export.benchmark, on tiny files."""

import json

import keras
import numpy as np
import pytest
from ai_edge_litert import interpreter as litert

from export import litert_bench
from keras_dl.export import _litert_timer
from keras_dl.export import benchmark
from keras_dl.export import export_tflite
from keras_dl.export import median_invoke_seconds
from keras_dl.export.benchmark import benchmark_tflite
from keras_dl.sparsity import LITERT_INT8_BLOCK
from keras_dl.sparsity import magnitude_mask

ORDER = ("min_us", "p50_us", "p90_us", "p99_us", "max_us")


@pytest.fixture(scope="module")
def dense_file(tmp_path_factory):
    model = keras.Sequential([keras.Input((16,), name="x"), keras.layers.Dense(32, activation="relu"), keras.layers.Dense(4)])
    return export_tflite(model, str(tmp_path_factory.mktemp("dense") / "dense.tflite"))


@pytest.fixture(scope="module")
def sparse_file(tmp_path_factory):
    dense = keras.layers.Dense(32)
    model = keras.Sequential([keras.Input((64,)), dense])
    dense.kernel.assign(dense.kernel * magnitude_mask(dense.kernel, 0.75, LITERT_INT8_BLOCK))
    return export_tflite(model, str(tmp_path_factory.mktemp("sparse") / "sparse.tflite"),
                         quantization="dynamic_int8", sparse=True)


def _nodes(path, default_delegates):
    """The node names LiteRT's interpreter itself reports after allocation (delegates apply then)."""
    resolver = (litert.OpResolverType.AUTO if default_delegates
                else litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    interpreter = litert.Interpreter(model_path=path, num_threads=1, experimental_op_resolver_type=resolver)
    interpreter.allocate_tensors()
    return [d["op_name"] for d in interpreter._get_ops_details()]


def _args(*argv):
    return litert_bench.build_parser().parse_args([str(a) for a in argv])


def test_the_tool_writes_every_configuration_to_json_with_ordered_statistics(dense_file, tmp_path, capsys):
    out = tmp_path / "bench.json"
    report = litert_bench.run(_args(dense_file, "--num_runs", 300, "--warmup_runs", 5, "--warmup_min_secs", 0,
                                    "--num_threads", "1,2", "--use_xnnpack", "both", "--json", out))
    assert json.loads(out.read_text()) == report
    assert report["model"] == dense_file and not report["sparse"] and report["op_names"] == ["FULLY_CONNECTED"]
    assert report["inputs"] == {"x": {"shape": [1, 16], "dtype": "float32"}}
    assert report["input_fill"] == "zeros"
    results = report["results"]
    assert [(r["num_threads"], r["default_delegates"]) for r in results] == [(1, False), (1, True), (2, False),
                                                                            (2, True)]
    for r in results:
        assert r["runs"] == 300 and r["warmup_runs"] == 5
        assert [r[k] for k in ORDER] == sorted(r[k] for k in ORDER) and r["min_us"] > 0
        assert r["min_us"] <= r["mean_us"] <= r["max_us"] and r["std_us"] >= 0
        assert r["init_ms"] > 0 and r["first_invoke_us"] > 0 and r["warmup_mean_us"] > 0
        # The measuring process holds LiteRT and numpy only: a baseline far below TensorFlow's several hundred MB.
        assert not r["tensorflow_imported"] and r["memory_baseline_mb"] < 200
        assert 0 <= r["memory_init_mb"] <= r["memory_overall_mb"]
        assert r["peak_rss_mb"] == pytest.approx(r["memory_baseline_mb"] + r["memory_overall_mb"])
    table = capsys.readouterr().out
    assert table.count("\n") >= 6 and "p99 us" in table and f"{results[0]['p50_us']:.1f}" in table


def test_default_delegates_on_and_off_are_what_the_interpreter_runs(dense_file, sparse_file):
    off = benchmark_tflite(dense_file, runs=50, default_delegates=False, warmup_seconds=0)
    on = benchmark_tflite(dense_file, runs=50, default_delegates=True, warmup_seconds=0)
    assert off["nodes"] == _nodes(dense_file, False) == ["FULLY_CONNECTED"] * 2 and not off["delegated"]
    assert on["nodes"] == _nodes(dense_file, True) and on["nodes"].count("DELEGATE") == 1 and on["delegated"]
    # By default as TFLiteModel: XNNPACK on for a dense file, off for one with sparse tensors.
    assert benchmark_tflite(dense_file, runs=10, warmup_seconds=0)["delegated"]
    sparse = benchmark_tflite(sparse_file, runs=10, warmup_seconds=0)
    assert sparse["sparse"] and not sparse["default_delegates"] and "DELEGATE" not in sparse["nodes"]
    assert benchmark_tflite(sparse_file, runs=10, default_delegates=True, warmup_seconds=0)["delegated"]


def test_p50_agrees_with_median_invoke_seconds_side_by_side(dense_file):
    # Interleaved rounds; the tolerance is the spread median_invoke_seconds shows against itself here. A tool
    # that timed the signature runner (about 9 us of binding per call) instead of invoke() (about 1 us for this
    # file), or got its units wrong, would be far outside it.
    inputs = {"x": np.zeros((1, 16), np.float32)}
    reference, measured = [], []
    for _ in range(3):
        interpreter = litert.Interpreter(model_path=dense_file, num_threads=1)
        reference.append(median_invoke_seconds(interpreter, inputs, runs=2000, warmup=50) * 1e6)
        measured.append(benchmark_tflite(dense_file, runs=2000, warmup_runs=50)["p50_us"])
    spread = max(reference) / min(reference)
    tolerance = 1.5 * spread
    ratio = np.median(measured) / np.median(reference)
    assert 1 / tolerance <= ratio <= tolerance, (measured, reference)


def test_given_and_random_inputs_are_the_ones_set(dense_file):
    given = benchmark_tflite(dense_file, inputs={"x": np.ones((1, 16))}, runs=10, warmup_seconds=0)  # float64 -> float32
    assert given["input_fill"] == "given" and given["inputs"]["x"] == {"shape": [1, 16], "dtype": "float32"}
    assert benchmark_tflite(dense_file, inputs="random", runs=10, warmup_seconds=0)["input_fill"] == "random"
    assert benchmark._inputs(benchmark.TFLiteModel(dense_file), "random", 0)[0]["x"].std() > 0.3


def test_the_warm_up_lasts_at_least_warmup_seconds(dense_file):
    # About a microsecond per run: 0.2 s of warm-up is far more than the 5 runs asked for.
    result = benchmark_tflite(dense_file, runs=10, warmup_runs=5, warmup_seconds=0.2)
    assert result["warmup_runs"] > 1000
    assert benchmark_tflite(dense_file, runs=10, warmup_runs=5, warmup_seconds=0)["warmup_runs"] == 5


def test_long_runs_report_progress_about_every_5_seconds(dense_file, monkeypatch):
    clock = iter(range(10**6))  # one second per reading of the clock
    monkeypatch.setattr(_litert_timer.time, "perf_counter", lambda: float(next(clock)))
    reports = []
    interpreter = litert.Interpreter(model_path=dense_file)
    interpreter.allocate_tensors()
    times = _litert_timer.invoke_seconds(interpreter, 128, progress=lambda done, runs: reports.append((done, runs)))
    assert reports == [(64, 128), (128, 128)] and np.all(times == 1.0)


def test_a_variable_length_file_runs_at_the_given_length(tmp_path):
    model = keras.Sequential([keras.Input((None, 4), name="x"), keras.layers.GRU(16)])
    path = export_tflite(model, str(tmp_path / "gru.tflite"))  # any length: a WHILE loop over time
    short, long = (benchmark_tflite(path, inputs={"x": np.zeros((1, t, 4), np.float32)}, runs=200, warmup_seconds=0)
                   for t in (2, 64))
    assert short["inputs"]["x"]["shape"] == [1, 2, 4] and long["inputs"]["x"]["shape"] == [1, 64, 4]
    assert long["p50_us"] > 4 * short["p50_us"]  # 32 times the loop iterations


@pytest.mark.parametrize("kwargs, error, match", [
    ({"runs": 0}, ValueError, "`runs` must be a positive int"),
    ({"runs": 2.5}, TypeError, "`runs` must be a positive int"),
    ({"warmup_runs": -1}, ValueError, "`warmup_runs`"),
    ({"num_threads": 0}, ValueError, "`num_threads`"),
    ({"seed": -1}, ValueError, "`seed`"),
    ({"warmup_seconds": -0.1}, ValueError, "`warmup_seconds`"),
    ({"warmup_seconds": float("inf")}, ValueError, "`warmup_seconds` must be a finite number >= 0"),
    ({"warmup_seconds": float("nan")}, ValueError, "`warmup_seconds` must be a finite number >= 0"),
    ({"default_delegates": "yes"}, TypeError, "`default_delegates` must be True, False or None"),
    ({"inputs": "ones"}, ValueError, r"`inputs` must be .* \('zeros', 'random'\)"),
    ({"inputs": {"y": np.zeros((1, 16))}}, ValueError, "`inputs` must have the keys"),
    ({"inputs": {"x": np.zeros((1, 15))}}, ValueError, "must have shape"),
    ({"signature": "decode"}, ValueError, "`signature`='decode' is not in the model"),
])
def test_bad_arguments_fail_before_the_measuring_process_starts(dense_file, monkeypatch, kwargs, error, match):
    monkeypatch.setattr(benchmark.subprocess, "Popen", _no_process)
    with pytest.raises(error, match=match):
        benchmark_tflite(dense_file, **kwargs)


def _no_process(*args, **kwargs):
    raise AssertionError("a process was started")


def test_bad_files_fail_with_the_argument_named(tmp_path, monkeypatch):
    monkeypatch.setattr(benchmark.subprocess, "Popen", _no_process)
    with pytest.raises(FileNotFoundError, match="`model`: no .tflite file at"):
        benchmark_tflite(str(tmp_path / "missing.tflite"))
    (tmp_path / "model.keras").write_bytes(b"PK")
    with pytest.raises(ValueError, match="`model` must be a path ending in '.tflite'"):
        benchmark_tflite(str(tmp_path / "model.keras"))
    (tmp_path / "junk.tflite").write_bytes(b"not a flatbuffer at all")
    with pytest.raises(ValueError, match="not a TFLite file"):
        benchmark_tflite(str(tmp_path / "junk.tflite"))
    with pytest.raises(TypeError, match="`model` must be the path of a .tflite file, got bytes"):
        benchmark_tflite(b"TFL3")


@pytest.mark.parametrize("argv, match", [
    ([], "give the .tflite file once"),
    (["{f}", "--graph", "{f}"], "give the .tflite file once"),
    (["{f}", "--num_threads", "1,x"], "`--num_threads` must be a positive int or a comma-separated list"),
    (["{f}", "--num_threads", "1,0"], "`--num_threads` must be a positive int, got 0"),
    (["--graph", "{f}", "--num_runs", "0"], "`--num_runs` must be a positive int"),
    (["{f}", "--warmup_min_secs", "-1"], "`--warmup_min_secs` must be a finite number >= 0, got -1"),
    (["{f}", "--warmup_min_secs", "inf"], "`--warmup_min_secs` must be a finite number >= 0, got inf"),
    (["{f}", "--warmup_min_secs", "nan"], "`--warmup_min_secs` must be a finite number >= 0, got nan"),
    (["{f}", "--json", "{d}"], "`--json` must be a file path, got the directory"),
    (["{f}", "--json", "/proc/no/such/dir/out.json"], "`--json` must be a writable directory"),
])
def test_the_tool_rejects_bad_flags_with_exit_status_2(dense_file, tmp_path, monkeypatch, capsys, argv, match):
    monkeypatch.setattr(benchmark.subprocess, "Popen", _no_process)
    with pytest.raises(SystemExit) as exit_info:
        litert_bench.main([a.format(f=dense_file, d=tmp_path) for a in argv])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert match in err
    assert "warm-up" not in err  # rejected before any progress line


@pytest.mark.parametrize("content, match", [
    (None, "`model`: no .tflite file at"),
    (b"not a flatbuffer at all", "not a TFLite file"),
    ("truncated", "not a readable TFLite file (truncated or corrupt?)"),
])
def test_the_tool_rejects_bad_files_before_any_progress(dense_file, tmp_path, monkeypatch, capsys, content, match):
    monkeypatch.setattr(benchmark.subprocess, "Popen", _no_process)
    path = tmp_path / "model.tflite"
    if content == "truncated":
        content = open(dense_file, "rb").read()[:200]
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(SystemExit) as exit_info:
        litert_bench.main([str(path)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert match in err and str(path) in err
    assert "[1/1]" not in err
