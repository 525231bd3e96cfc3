"""TensorFlow Serving repositories: signatures, warm-up records, configs, atomic versions, the check, the tool."""

import concurrent.futures
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request

import grpc
import keras
import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import text_format
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.apis import prediction_service_pb2_grpc
from tensorflow_serving.config import model_server_config_pb2

from export import serving as serving_tool
from keras_dl.data import python_source_files
from keras_dl.data.datasets import split_of
from keras_dl.export import serving
from keras_dl.models import RNNLanguageModel

UNITS = 16


def _classifier(seed=0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((6,), name="features")
    hidden = keras.layers.Dense(8, activation="relu", name="hidden")(inputs)
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax", name="scores")(hidden))


def _language_model():
    keras.utils.set_random_seed(1)
    model = RNNLanguageModel(embedding_dim=8, units=UNITS)
    model.build((None, None))
    return model


def _text_rows():
    return np.frombuffer(b"def main(argv):\n    return len(argv)\n\n", np.uint8).reshape(2, -1).astype(np.int64)


@pytest.fixture(scope="module")
def repository(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("repository"))
    classifier, lm = _classifier(), _language_model()
    examples = np.random.default_rng(0).normal(size=(5, 6)).astype(np.float32)
    reports = {"classifier": serving.publish_serving_version(classifier, root, "classifier", examples),
               "char_rnn": serving.publish_serving_version(lm, root, "char_rnn", _text_rows())}
    return root, {"classifier": classifier, "char_rnn": lm}, reports, examples


def test_a_classifier_version_has_named_signatures_and_matches_keras(repository):
    root, models, reports, examples = repository
    report = reports["classifier"]
    assert report["path"] == os.path.join(root, "classifier", "1")
    assert report["signatures"] == {"serving_default": {
        "method_name": "tensorflow/serving/predict",
        "inputs": {"features": {"dtype": "float32", "shape": [-1, 6]}},
        "outputs": {"scores": {"dtype": "float32", "shape": [-1, 3]}}}}
    loaded = tf.saved_model.load(report["path"])
    answer = loaded.signatures["serving_default"](features=tf.constant(examples))["scores"].numpy()
    np.testing.assert_allclose(answer, models["classifier"](examples), atol=1e-6)
    assert report["max_abs_diff"] <= 1e-6


def test_warmup_records_parse_with_servings_protos_and_replay_to_keras(repository):
    root, models, reports, examples = repository
    logs = serving.read_warmup_requests(reports["classifier"]["path"])
    # The whole batch and its first row: both batch shapes are compiled before the first user request.
    assert [tf.make_ndarray(log.predict_log.request.inputs["features"]).shape for log in logs] == [(5, 6), (1, 6)]
    assert all(log.predict_log.request.model_spec.name == "classifier" for log in logs)
    np.testing.assert_array_equal(tf.make_ndarray(logs[0].predict_log.request.inputs["features"]), examples)
    lm_logs = serving.read_warmup_requests(reports["char_rnn"]["path"])
    assert sorted({log.predict_log.request.model_spec.signature_name for log in lm_logs}) == ["serving_default", "step"]
    assert reports["char_rnn"]["warmup_records"] == len(lm_logs) == 4


def test_the_language_model_serves_int64_tokens_and_its_streaming_step(repository):
    root, models, reports, _ = repository
    signatures = reports["char_rnn"]["signatures"]
    assert signatures["serving_default"]["inputs"] == {"tokens": {"dtype": "int64", "shape": [-1, -1]}}
    assert signatures["serving_default"]["outputs"] == {"logits": {"dtype": "float32", "shape": [-1, -1, 256]}}
    assert sorted(signatures["step"]["inputs"]) == ["state", "token"]
    assert signatures["step"]["inputs"]["token"]["dtype"] == "int64"
    loaded = tf.saved_model.load(reports["char_rnn"]["path"])
    tokens = _text_rows()
    state = np.zeros((2, UNITS), np.float32)
    keras_step = models["char_rnn"].step_model(batch_size=None)
    for t in range(3):  # the step signature streams: its state carries the sequence
        out = loaded.signatures["step"](token=tf.constant(tokens[:, t]), state=tf.constant(state))
        expected = keras_step({"token": tokens[:, t].astype(np.int32), "state": state})
        np.testing.assert_allclose(out["logits"].numpy(), expected["logits"], atol=1e-5)
        state = out["state"].numpy()
    whole = loaded.signatures["serving_default"](tokens=tf.constant(tokens[:, :3]))["logits"].numpy()
    np.testing.assert_allclose(whole[:, -1], out["logits"].numpy(), atol=1e-5)


def test_models_config_parses_as_servings_proto_with_policy_and_labels(repository, tmp_path):
    root, models, _, examples = repository
    copy = str(tmp_path / "repo")
    shutil.copytree(root, copy)
    serving.publish_serving_version(models["classifier"], copy, "classifier", examples, version_policy="specific",
                                    specific_versions=[1, 2], labels={"stable": 1, "canary": 2})
    config = model_server_config_pb2.ModelServerConfig()
    with open(os.path.join(copy, "models.config")) as f:
        text_format.Parse(f.read(), config)
    entries = {c.name: c for c in config.model_config_list.config}
    assert sorted(entries) == ["char_rnn", "classifier"]
    assert entries["char_rnn"].model_version_policy.WhichOneof("policy_choice") == "latest"
    assert entries["classifier"].base_path == "/models/classifier"
    assert list(entries["classifier"].model_version_policy.specific.versions) == [1, 2]
    assert dict(entries["classifier"].version_labels) == {"stable": 1, "canary": 2}
    assert serving.versions(os.path.join(copy, "classifier")) == [1, 2]
    with open(os.path.join(copy, "batching_parameters.txt")) as f:
        batching = f.read()
    assert "max_batch_size { value: 32 }" in batching and "pad_variable_length_inputs: true" in batching


def test_bad_policies_and_labels_are_refused_before_anything_is_written(repository, tmp_path):
    root, models, _, examples = repository
    with pytest.raises(ValueError, match="`labels`: 'stable' -> 7"):
        serving.update_models_config(root, "classifier", "/models/classifier", labels={"stable": 7})
    with pytest.raises(ValueError, match="`specific_versions` must list"):
        serving.publish_serving_version(models["classifier"], str(tmp_path), "c", examples, version_policy="specific")
    with pytest.raises(ValueError, match="`version_policy` must be one of"):
        serving.publish_serving_version(models["classifier"], str(tmp_path), "c", examples, version_policy="newest")
    with pytest.raises(ValueError, match="`name` must be a model name"):
        serving.publish_serving_version(models["classifier"], str(tmp_path), "a b", examples)
    assert os.listdir(tmp_path) == []


def test_versions_are_immutable_and_appear_only_when_complete(repository, tmp_path, monkeypatch):
    root, models, _, examples = repository
    base = str(tmp_path / "classifier")
    assert serving.export_serving_version(models["classifier"], base, examples).endswith("/1")
    with pytest.raises(FileExistsError, match="immutable"):
        serving.export_serving_version(models["classifier"], base, examples, version=1)

    def crash(path, signatures):  # the SavedModel is half-written when the process dies
        os.makedirs(os.path.join(path, "variables"))
        raise KeyboardInterrupt

    monkeypatch.setattr(serving, "_write_archive", crash)
    with pytest.raises(KeyboardInterrupt):
        serving.export_serving_version(models["classifier"], base, examples)
    assert os.listdir(base) == ["1"]  # no version 2, no temporary left for Serving to trip on


def test_bad_examples_are_named(repository, tmp_path):
    _, models, _, _ = repository
    base = str(tmp_path / "m")
    with pytest.raises(ValueError, match="input 'features' of signature 'serving_default' must have shape"):
        serving.export_serving_version(models["classifier"], base, np.zeros((2, 5), np.float32))
    with pytest.raises(TypeError, match="input 'tokens' .* must be int64, got float32"):
        serving.export_serving_version(models["char_rnn"], base, np.zeros((2, 5), np.float32))
    with pytest.raises(ValueError, match="`integer_dtype` must be one of"):
        serving.export_serving_version(models["char_rnn"], base, _text_rows(), integer_dtype="int8")
    assert not os.path.exists(base)


class TwoInputs(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(2)

    def call(self, inputs):
        return self.dense(inputs["x"] * 2.0) + keras.ops.cast(inputs["n"], "float32")[:, None]


def test_a_subclassed_model_takes_its_signature_from_examples(tmp_path):
    model = TwoInputs(name="two_inputs")
    examples = {"x": np.ones((3, 4), np.float32), "n": np.arange(3)}
    model(examples)
    with pytest.raises(ValueError, match="`examples` are needed for TwoInputs"):
        serving.serving_signatures(model)
    path = serving.export_serving_version(model, str(tmp_path / "sub"), examples)
    report = serving.check_serving_version(path, model)
    assert report["signatures"]["serving_default"]["inputs"] == {
        "n": {"dtype": "int64", "shape": [-1]}, "x": {"dtype": "float32", "shape": [-1, 4]}}
    assert report["max_abs_diff"] <= 1e-6


def test_the_check_catches_a_model_that_is_not_the_one_exported(repository, tmp_path):
    root, models, reports, _ = repository
    with pytest.raises(ValueError, match="differs from Keras"):
        serving.check_serving_version(reports["classifier"]["path"], _classifier(seed=5))
    # A warm-up record for another model name: the server would fail to load the version.
    copy = str(tmp_path / "other" / "1")
    shutil.copytree(reports["classifier"]["path"], copy)
    with pytest.raises(ValueError, match="is for model 'classifier', not 'other'"):
        serving.check_serving_version(copy, models["classifier"])
    with pytest.raises(ValueError, match="version directory"):
        serving.check_serving_version(str(tmp_path), models["classifier"])


class _SavedModelServicer(prediction_service_pb2_grpc.PredictionServiceServicer):
    """Serving's gRPC Predict over a loaded SavedModel, to run the printed client code against (not Serving itself)."""

    def __init__(self, path):
        self.loaded = tf.saved_model.load(path)

    def Predict(self, request, context):
        fn = self.loaded.signatures[request.model_spec.signature_name or "serving_default"]
        outputs = fn(**{k: tf.constant(tf.make_ndarray(v)) for k, v in request.inputs.items()})
        response = predict_pb2.PredictResponse()
        for key, value in outputs.items():
            response.outputs[key].CopyFrom(tf.make_tensor_proto(value.numpy()))
        return response


def test_the_printed_requests_are_well_formed_and_the_grpc_client_runs(repository):
    root, models, reports, examples = repository
    requests = reports["classifier"]["requests"]
    for form, key in (("rest_instances", "instances"), ("rest_inputs", "inputs")):
        body = json.loads(requests[form].split(" -d '", 1)[1].rstrip("'"))
        assert body["signature_name"] == "serving_default" and key in body
    assert "http://localhost:8501/v1/models/classifier:predict" in requests["rest_inputs"]
    server = grpc.server(concurrent.futures.ThreadPoolExecutor(max_workers=1))
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
        _SavedModelServicer(reports["classifier"]["path"]), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    namespace = {}
    try:
        exec(requests["grpc"].replace("localhost:8500", f"127.0.0.1:{port}"), namespace)
    finally:
        server.stop(None)
    scores = tf.make_ndarray(namespace["response"].outputs["scores"])
    np.testing.assert_allclose(scores, models["classifier"](examples[:1]), atol=1e-6)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(shutil.which("tensorflow_model_server") is None,
                    reason="tensorflow_model_server is not installed (not on PyPI; no apt repository or Docker here)")
def test_tensorflow_model_server_answers_rest_and_grpc_like_keras(repository):
    root, models, reports, examples = repository
    rest, grpc_port = _free_port(), _free_port()
    command = ["tensorflow_model_server", f"--port={grpc_port}", f"--rest_api_port={rest}",
               "--model_name=classifier", f"--model_base_path={os.path.join(root, 'classifier')}"]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{rest}/v1/models/classifier"
        for _ in range(120):
            try:
                if "AVAILABLE" in urllib.request.urlopen(url, timeout=1).read().decode():
                    break
            except OSError:
                time.sleep(0.5)
        body = json.dumps({"instances": [{"features": row.tolist()} for row in examples]}).encode()
        answer = json.loads(urllib.request.urlopen(url + ":predict", body, timeout=10).read())
        np.testing.assert_allclose(answer["predictions"], models["classifier"](examples), atol=1e-5)
        stub = prediction_service_pb2_grpc.PredictionServiceStub(grpc.insecure_channel(f"127.0.0.1:{grpc_port}"))
        request = predict_pb2.PredictRequest()
        request.model_spec.name = "classifier"
        request.inputs["features"].CopyFrom(tf.make_tensor_proto(examples))
        scores = tf.make_ndarray(stub.Predict(request, timeout=10).outputs["scores"])
        np.testing.assert_allclose(scores, models["classifier"](examples), atol=1e-5)
    finally:
        server.terminate()
        server.wait()


def test_the_tool_publishes_a_trained_language_model_and_a_classifier(tmp_path, capsys):
    lm_file, clf_file = str(tmp_path / "lm.keras"), str(tmp_path / "clf.keras")
    _language_model().save(lm_file)
    _classifier().save(clf_file)
    root = str(tmp_path / "repo")
    report = serving_tool.run(serving_tool.build_parser().parse_args(
        [lm_file, "--repository", root, "--name", "char_rnn", "--label", "stable=1"]))
    assert report["version"] == 1 and report["max_abs_diff"] <= 1e-5
    # Real text: the warm-up rows are bytes of the standard library's source.
    tokens = tf.make_ndarray(serving.read_warmup_requests(report["path"])[0].predict_log.request.inputs["tokens"])
    assert tokens.shape == (serving_tool.LM_EXAMPLES, serving_tool.LM_EXAMPLE_BYTES)
    first = next(open(path, "rb").read(serving_tool.LM_EXAMPLE_BYTES) for relative, path in python_source_files()
                 if split_of(relative) == "test" and os.path.getsize(path) >= serving_tool.LM_EXAMPLE_BYTES)
    assert bytes(tokens[0].astype(np.uint8)) == first
    printed = capsys.readouterr().out
    assert "docker run" in printed and "tensorflow/serving" in printed and "/v1/models/char_rnn:predict" in printed
    np.savez(tmp_path / "examples.npz", features=np.ones((2, 6), np.float32))
    report = serving_tool.run(serving_tool.build_parser().parse_args(
        [clf_file, "--repository", root, "--name", "classifier", "--examples", str(tmp_path / "examples.npz")]))
    assert report["signatures"]["serving_default"]["outputs"] == {"scores": {"dtype": "float32", "shape": [-1, 3]}}
    assert sorted(os.listdir(root)) == ["batching_parameters.txt", "char_rnn", "classifier", "models.config"]


@pytest.mark.parametrize("argv, error, match", [
    (["--name", "c"], ValueError, "`--examples` is needed for a Functional"),
    (["--name", "c", "--examples", "missing.npz"], FileNotFoundError, "`--examples`: no file"),
    (["--name", "c", "--label", "stable"], ValueError, "`--label` must be LABEL=VERSION"),
    (["--name", "c", "--versions", "1,x", "--version-policy", "specific"], ValueError, "`--versions` must be"),
    (["--name", "c", "--version", "0"], ValueError, "`--version` must be a positive int"),
])
def test_the_tool_names_bad_arguments(tmp_path, argv, error, match):
    clf_file = str(tmp_path / "clf.keras")
    _classifier().save(clf_file)
    with pytest.raises(error, match=match):
        serving_tool.run(serving_tool.build_parser().parse_args([clf_file, "--repository", str(tmp_path / "r"), *argv]))


def test_cli_export_saved_model_keeps_the_models_names(tmp_path, capsys):
    from keras_dl import cli

    clf_file = str(tmp_path / "clf.keras")
    _classifier().save(clf_file)
    cli.main(["export", clf_file, "--format", "saved_model"])
    path = json.loads(capsys.readouterr().out)["path"]
    assert path == str(tmp_path / "clf_saved_model")
    signature = serving.saved_model_signatures(path)["serving_default"]
    assert (list(signature["inputs"]), list(signature["outputs"])) == (["features"], ["scores"])


def test_a_failed_publish_leaves_the_repository_as_it_was(repository, tmp_path, monkeypatch):
    root, models, _, examples = repository
    copy = str(tmp_path / "repo")
    shutil.copytree(root, copy)
    with open(os.path.join(copy, "models.config")) as f:
        config = f.read()
    for labels in ({"stable": 9}, {"stable": "1"}, {"bad label": 1}):
        with pytest.raises((ValueError, TypeError), match="labels"):
            serving.publish_serving_version(models["classifier"], copy, "classifier", examples, labels=labels)
    with pytest.raises(ValueError, match="`specific_versions`: \\[3\\] not in"):
        serving.publish_serving_version(models["classifier"], copy, "classifier", examples,
                                        version_policy="specific", specific_versions=[1, 3])

    def failing_check(*args, **kwargs):
        raise ValueError("the check failed")

    monkeypatch.setattr(serving, "_check_version", failing_check)
    with pytest.raises(ValueError, match="the check failed"):
        serving.publish_serving_version(models["classifier"], copy, "classifier", examples)
    assert os.listdir(os.path.join(copy, "classifier")) == ["1"]
    with open(os.path.join(copy, "models.config")) as f:
        assert f.read() == config


def test_a_new_version_keeps_the_policy_and_labels_unless_told(repository, tmp_path):
    root, models, _, examples = repository
    copy = str(tmp_path / "repo")
    shutil.copytree(root, copy)

    def entry():
        config = model_server_config_pb2.ModelServerConfig()
        with open(os.path.join(copy, "models.config")) as f:
            text_format.Parse(f.read(), config)
        (found,) = [c for c in config.model_config_list.config if c.name == "classifier"]
        return found.model_version_policy.WhichOneof("policy_choice"), dict(found.version_labels)

    serving.update_models_config(copy, "classifier", "/models/classifier", "all", labels={"stable": 1})
    serving.publish_serving_version(models["classifier"], copy, "classifier", examples)
    assert entry() == ("all", {"stable": 1})
    serving.publish_serving_version(models["classifier"], copy, "classifier", examples, labels={"canary": 3})
    assert entry() == ("all", {"stable": 1, "canary": 3})
    # Under "latest" only version 4 would be loaded: a label on version 1 is refused, as Serving would.
    with pytest.raises(ValueError, match="serves \\[4\\]"):
        serving.publish_serving_version(models["classifier"], copy, "classifier", examples, version_policy="latest")
    assert serving.versions(os.path.join(copy, "classifier")) == [1, 2, 3]


def test_string_inputs_publish_and_replay(tmp_path):
    text = keras.Input((1,), dtype="string", name="text")
    ids = keras.layers.StringLookup(vocabulary=["a", "b", "c"], name="lookup")(text)
    model = keras.Model(text, keras.layers.Dense(2, name="scores")(keras.ops.cast(ids, "float32")))
    report = serving.publish_serving_version(model, str(tmp_path), "strings", np.array([["a"], ["b"], ["zz"]]))
    assert report["signatures"]["serving_default"]["inputs"] == {"text": {"dtype": "string", "shape": [-1, 1]}}
    assert report["max_abs_diff"] <= 1e-6
    assert json.loads(report["requests"]["rest_inputs"].split(" -d ", 1)[1].strip("'"))["inputs"] == {"text": [["a"]]}


@pytest.mark.parametrize("examples, error, match", [
    ({"ids": np.zeros((4, 3), np.int64), "feats": np.zeros((2, 5), np.float32)}, ValueError, "same number of rows"),
    ({"ids": np.zeros((0, 3), np.int64), "feats": np.zeros((0, 5), np.float32)}, ValueError, "non-empty batch"),
    ({"ids": np.full((2, 3), 50), "feats": np.zeros((2, 5), np.float32)}, ValueError, "the model fails on the examples"),
    (np.zeros((2, 5), np.float32), ValueError, "one array per input"),
])
def test_bad_example_batches_are_named_before_anything_is_written(tmp_path, examples, error, match):
    ids, feats = keras.Input((3,), dtype="int32", name="ids"), keras.Input((5,), name="feats")
    pooled = keras.ops.mean(keras.layers.Embedding(10, 4)(ids), axis=1)
    model = keras.Model({"ids": ids, "feats": feats}, keras.layers.Dense(1, name="y")(
        keras.layers.Concatenate()([pooled, feats])))
    with pytest.raises(error, match=match):
        serving.export_serving_version(model, str(tmp_path / "m"), examples)
    assert not os.path.exists(tmp_path / "m")


def test_a_name_no_signature_can_carry_is_named(tmp_path):
    inputs = keras.Input((2,), name="my feature")
    model = keras.Model(inputs, keras.layers.Dense(1, name="y")(inputs))
    with pytest.raises(ValueError, match="input name 'my feature' cannot be a SavedModel signature key"):
        serving.export_serving_version(model, str(tmp_path / "m"), np.zeros((2, 2), np.float32))


def test_damaged_versions_get_a_value_error(repository, tmp_path):
    root, models, reports, _ = repository
    for damage, match in (("contract", "not a readable serving contract"), ("warmup", "not a TFRecord file"),
                          ("saved_model", "not a readable SavedModel")):
        copy = str(tmp_path / damage / "classifier" / "1")
        shutil.copytree(reports["classifier"]["path"], copy)
        target = {"contract": serving.CONTRACT_FILE, "warmup": serving.WARMUP_FILE, "saved_model": "saved_model.pb"}
        with open(os.path.join(copy, target[damage]), "r+b") as f:
            f.truncate(os.path.getsize(os.path.join(copy, target[damage])) // 2)
        with pytest.raises(ValueError, match=match):
            serving.check_serving_version(copy, models["classifier"])
    with pytest.raises(ValueError, match="`atol` must be"):
        serving.check_serving_version(reports["classifier"]["path"], models["classifier"], atol=float("nan"))
