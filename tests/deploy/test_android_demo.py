"""android_demo: its JVM core's JUnit tests, golden vectors proving Java samples Python's tokens, and export/android.

The JVM tests need `javac` and JUnit 4 (`apt-get install junit4 default-jdk-headless`; .ci/run installs them):
without them these tests fail rather than skip, so CI cannot pass without running the Java.
Regenerate the committed golden vectors with KERAS_DL_REGENERATE_GOLDEN=1 (after a change to the sampler spec).
"""

import base64
import json
import os
import shutil
import subprocess

import keras
import numpy as np
import pytest
from contract_edits import APP_REJECTED_EDITS
from contract_edits import edited

from export import android
from keras_dl.decoding import SplitMix64
from keras_dl.decoding import sample_categorical
from keras_dl.decoding import stream_tokens
from keras_dl.decoding import strict_exp
from keras_dl.export import TFLiteModel
from keras_dl.export import export_lm_tflite
from keras_dl.export import export_tflite
from keras_dl.export.contract import check_contract
from keras_dl.export.contract import read_contract
from keras_dl.models import RNNLanguageModel
from keras_dl.sparsity import LITERT_INT8_BLOCK
from keras_dl.sparsity import magnitude_mask

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORE = os.path.join(ROOT, "android_demo", "core")
GOLDEN = os.path.join(CORE, "src", "test", "resources", "golden")
JARS = ("/usr/share/java/junit4.jar", "/usr/share/java/hamcrest-core.jar")
TEST_CLASSES = ("SplitMix64Test", "SamplerTest", "JsonTest", "ByteTokenizerTest", "ModelContractTest",
                "StreamingSessionTest", "GoldenVectorsTest")


def tiny_sparse_step(path, seed):
    """A 75%-block-sparse (LiteRT's int8 blocks) byte-level GRU language model's dynamic-int8 step model at `path`."""
    keras.utils.set_random_seed(seed)
    model = RNNLanguageModel(vocabulary_size=256, embedding_dim=16, units=32)
    model.build((None, None))
    cell = model.rnn.cell
    for kernel in (cell.kernel, cell.recurrent_kernel):
        kernel.assign(kernel * magnitude_mask(kernel, 0.75, LITERT_INT8_BLOCK, groups=3))
    # Untrained, its logits are nearly uniform; larger embeddings and readout make a peaked distribution, like a
    # trained model's (perplexity about 100 of 256), so that top-k and temperature change the tokens drawn.
    model.embedding.embeddings.assign(model.embedding.embeddings * 30.0)
    model.head.kernel.assign(model.head.kernel * 30.0)
    return export_lm_tflite(model, str(path), quantization="dynamic_int8", sparse=True)


@pytest.fixture(scope="module")
def step_file(tmp_path_factory):
    return tiny_sparse_step(tmp_path_factory.mktemp("model") / "sparse_step.tflite", seed=123)


@pytest.fixture(scope="module")
def java_classes(tmp_path_factory):
    javac = shutil.which("javac")
    assert javac, "javac is missing: apt-get install default-jdk-headless (.ci/run does)"
    for jar in JARS:
        assert os.path.isfile(jar), f"{jar} is missing: apt-get install junit4 (.ci/run does)"
    out = tmp_path_factory.mktemp("classes")
    sources = [os.path.join(d, f) for sub in ("main", "test") for d, _, files in os.walk(os.path.join(CORE, "src", sub))
               for f in files if f.endswith(".java")]
    result = subprocess.run([javac, "-Xlint:all", "-Werror", "-d", str(out), "-cp", ":".join(JARS), *sources],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    return str(out)


def junit(classes, tests=TEST_CLASSES, golden_dir=None):
    classpath = ":".join([classes, os.path.join(CORE, "src", "test", "resources"), *JARS])
    properties = [f"-Dgolden.dir={golden_dir}"] if golden_dir else []
    result = subprocess.run(["java", *properties, "-cp", classpath, "org.junit.runner.JUnitCore",
                             *[f"org.kerasdl.core.{name}" for name in tests]], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    return result.stdout


def test_every_junit_test_passes_on_the_committed_golden_vectors(java_classes):
    classes_on_disk = sorted(f[:-5] for f in os.listdir(os.path.join(CORE, "src", "test", "java", "org", "kerasdl", "core"))
                             if f.endswith("Test.java"))
    assert classes_on_disk == sorted(TEST_CLASSES)  # a new test class must be run here too
    annotated = sum(open(os.path.join(d, f)).read().count("@Test") for d, _, files in os.walk(os.path.join(CORE, "src", "test"))
                    for f in files if f.endswith(".java"))
    output = junit(java_classes)
    assert f"OK ({annotated} tests)" in output and annotated >= 25


def test_java_samples_the_tokens_python_samples_from_a_fresh_model(java_classes, step_file, tmp_path):
    cases_path = android.write_golden(step_file, tmp_path / "golden")
    cases = json.loads(open(cases_path).read())["cases"]
    # Not degenerate: the sampled cases differ from the greedy one, and top-k=5 stays inside the top 5.
    assert cases[0]["tokens"] != cases[1]["tokens"]
    for case in cases:
        if case["top_k"]:
            for row, token in zip(case["logits_base64"], case["tokens"]):
                logits = np.frombuffer(base64.b64decode(row), "<f4")
                assert token in np.argsort(-logits, kind="stable")[: case["top_k"]]
    junit(java_classes, ["GoldenVectorsTest"], golden_dir=tmp_path / "golden")
    # And the harness can fail: one changed token makes the Java test fail.
    document = json.loads(open(cases_path).read())
    document["cases"][1]["tokens"][3] = (document["cases"][1]["tokens"][3] + 1) % 256
    with open(cases_path, "w") as f:
        json.dump(document, f)
    with pytest.raises(AssertionError, match="sampled token 3"):
        junit(java_classes, ["GoldenVectorsTest"], golden_dir=tmp_path / "golden")


def test_the_committed_golden_vectors_still_match_python(tmp_path):
    if os.environ.get("KERAS_DL_REGENERATE_GOLDEN"):
        android.write_golden(tiny_sparse_step(tmp_path / "sparse_step.tflite", seed=0), GOLDEN)
    document = json.loads(open(os.path.join(GOLDEN, "cases.json")).read())
    model = os.path.join(GOLDEN, android.ASSET_MODEL)
    contract = check_contract(model, read_contract(os.path.join(GOLDEN, android.ASSET_CONTRACT)))
    assert document["sampling"] == contract["sampling"]["algorithm"] == "keras_dl.categorical/1"
    assert os.path.getsize(model) + len(json.dumps(document)) < 150_000  # committed: keep it small
    step = TFLiteModel(model)
    zero = np.zeros(contract["state"][0]["shape"], np.float32)
    for case in document["cases"]:
        logits = np.stack([np.frombuffer(base64.b64decode(row), "<f4") for row in case["logits_base64"]])
        # Python's sampler, on the committed logits, picks the committed tokens.
        rng = SplitMix64(case["seed"])
        assert [sample_categorical(row, case["temperature"], case["top_k"], rng) for row in logits] == case["tokens"]
        # And LiteRT on the committed model still gives those logits and tokens.
        tokens, fresh = stream_tokens(step, zero, case["prompt"], case["length"], temperature=case["temperature"],
                                      top_k=case["top_k"], seed=case["seed"], trace=True)
        np.testing.assert_allclose(fresh, logits, atol=1e-4)  # other CPUs: a few ulps apart at most
        assert tokens == case["tokens"], case["name"]
    for x, y in document["exp"]:
        assert strict_exp(float.fromhex(_double(x))) == float.fromhex(_double(y))


def _double(bits):
    return np.uint64(int(bits, 16)).view(np.float64).hex()


def test_package_writes_the_two_assets_the_app_reads(step_file, tmp_path):
    result = android.run(android.build_parser().parse_args([os.path.dirname(step_file), "--out", str(tmp_path)]))
    assert sorted(os.listdir(tmp_path)) == ["model.contract.json", "model.tflite"]
    with open(step_file, "rb") as a, open(tmp_path / "model.tflite", "rb") as b:
        assert a.read() == b.read()
    contract = check_contract(str(tmp_path / "model.tflite"))
    assert contract["model"]["file"] == "model.tflite"
    assert result["sha256"] == contract["model"]["sha256"] == read_contract(step_file)["model"]["sha256"]
    assert result["source"] == step_file and result["state"] == [{"input": "state", "shape": [1, 32]}]
    assert result["sampling"] == {"algorithm": "keras_dl.categorical/1", "temperature": 0.8, "top_k": None, "seed": 0}
    assert TFLiteModel(str(tmp_path / "model.tflite")).contract == contract


def test_package_rejects_what_the_app_could_not_run(step_file, tmp_path, capsys):
    def error(*argv):
        with pytest.raises(SystemExit) as exited:
            android.main([*argv, "--out", str(tmp_path / "assets")])
        assert exited.value.code == 2
        return capsys.readouterr().err

    assert "no file or directory" in error(str(tmp_path / "missing.tflite"))
    assert "holds none of sparse_step.tflite, step.tflite" in error(str(tmp_path))
    # A .tflite without its contract.
    lonely = tmp_path / "lonely.tflite"
    shutil.copyfile(step_file, lonely)
    assert "no model contract beside" in error(str(lonely))
    # Not a step model: a Dense model's generic contract has no state, tokenizer or sampling.
    dense = export_tflite(keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]), str(tmp_path / "dense.tflite"))
    assert "its contract has no state tensors, no tokenizer, no sampling section" in error(dense)
    # A contract that says the token is int64 (8 bytes) beside a model that takes int32: the #43965 mismatch.
    contract = read_contract(step_file)
    token = next(t for t in contract["inputs"] if t["name"] == "token")
    token.update(dtype="int64", bytes=8)
    with open(tmp_path / "wrong.json", "w") as f:
        json.dump(contract, f)
    message = error(step_file, "--contract", str(tmp_path / "wrong.json"))
    assert "input 'token': the contract says int64 [1] (8 bytes)" in message and "int32 [1] (4 bytes)" in message
    assert not os.path.exists(tmp_path / "assets" / "model.tflite")


@pytest.mark.parametrize("path, value, match", APP_REJECTED_EDITS + [(("model", "bytes"), 5, "model.bytes")],
                         ids=lambda v: repr(v) if not isinstance(v, str) else v)
def test_package_rejects_contracts_the_app_would_reject(step_file, tmp_path, capsys, path, value, match):
    contract = edited(read_contract(step_file), path, value)
    with open(tmp_path / "edited.json", "w") as f:
        json.dump(contract, f)
    with pytest.raises(SystemExit) as exited:
        android.main([step_file, "--contract", str(tmp_path / "edited.json"), "--out", str(tmp_path / "assets")])
    assert exited.value.code == 2
    assert match in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "assets" / "model.tflite")


def test_package_names_a_corrupt_tflite_file(step_file, tmp_path, capsys):
    corrupt = tmp_path / "step.tflite"
    with open(step_file, "rb") as f:
        corrupt.write_bytes(f.read()[:300])  # truncated, its 'TFL3' identifier intact
    shutil.copyfile(step_file[: -len(".tflite")] + ".contract.json", tmp_path / "step.contract.json")
    with pytest.raises(SystemExit) as exited:
        android.main([str(corrupt), "--out", str(tmp_path / "assets")])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert str(corrupt) in err and "not a valid TFLite" in err
