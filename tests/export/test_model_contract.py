"""keras_dl.export.contract: the JSON beside every .tflite, and the checks that catch a model/app mismatch early."""

import hashlib
import json
import os
import re
import shutil

import keras
import numpy as np
import pytest
import tensorflow as tf
from contract_edits import APP_REJECTED_EDITS
from contract_edits import edited

from keras_dl.export import TFLiteModel
from keras_dl.export import export_lm_tflite
from keras_dl.export import export_tflite
from keras_dl.export import streaming_model
from keras_dl.export.contract import AS_GIVEN
from keras_dl.export.contract import RAW_BYTES
from keras_dl.export.contract import check_contract
from keras_dl.export.contract import contract_path
from keras_dl.export.contract import model_contract
from keras_dl.export.contract import read_contract
from keras_dl.export.contract import write_contract
from keras_dl.models import RNNLanguageModel


@pytest.fixture(scope="module")
def lm_file(tmp_path_factory):
    keras.utils.set_random_seed(0)
    model = RNNLanguageModel(embedding_dim=8, units=16)
    return export_lm_tflite(model, str(tmp_path_factory.mktemp("lm") / "step.tflite"), sampling={"top_k": 40})


def dense(units=2, features=3):
    return keras.Sequential([keras.Input((features,), name="x"), keras.layers.Dense(units)])


def test_a_language_models_contract_says_everything_the_app_needs(lm_file):
    contract = read_contract(lm_file)
    assert os.path.basename(contract_path(lm_file)) == "step.contract.json"
    assert contract["format"] == "keras_dl.model_contract" and contract["version"] == 1
    with open(lm_file, "rb") as f:
        content = f.read()
    assert contract["model"] == {"file": "step.tflite", "sha256": hashlib.sha256(content).hexdigest(),
                                 "bytes": len(content)}
    inputs = {t["name"]: t for t in contract["inputs"]}
    assert (inputs["token"]["dtype"], inputs["token"]["shape"], inputs["token"]["bytes"]) == ("int32", [1], 4)
    assert (inputs["state"]["dtype"], inputs["state"]["shape"], inputs["state"]["bytes"]) == ("float32", [1, 16], 64)
    assert inputs["token"]["normalization"] == RAW_BYTES
    outputs = {t["name"]: t for t in contract["outputs"]}
    assert outputs["logits"]["shape"] == [1, 256] and outputs["logits"]["bytes"] == 1024
    assert contract["state"] == [{"input": "state", "output": "state", "dtype": "float32", "shape": [1, 16],
                                  "bytes": 64, "initial": "zeros"}]
    assert contract["tokenizer"] == {"type": "bytes", "vocab_size": 256}
    assert contract["sampling"] == {"algorithm": "keras_dl.categorical/1", "generator": "splitmix64",
                                    "temperature": 0.8, "top_k": 40, "seed": 0, "token_input": "token",
                                    "logits_output": "logits"}
    # The LiteRT runner found and checked it.
    assert TFLiteModel(lm_file).contract == contract


def test_every_export_tflite_writes_a_generic_contract(tmp_path):
    path = export_tflite(dense(), str(tmp_path / "dense.tflite"))
    assert sorted(os.listdir(tmp_path)) == ["dense.contract.json", "dense.tflite"]
    contract = read_contract(path)
    assert contract["inputs"] == [{"name": "x", "dtype": "float32", "shape": [1, 3], "shape_signature": [1, 3],
                                   "bytes": 12, "normalization": AS_GIVEN}]
    assert [o["bytes"] for o in contract["outputs"]] == [8]
    assert contract["state"] == [] and contract["tokenizer"] is None and contract["sampling"] is None


def test_a_streaming_models_state_is_found_by_name(tmp_path):
    inputs = keras.Input((None,), dtype="int32", name="tokens")
    h = keras.layers.GRU(6, return_sequences=True, name="gru")(keras.layers.Embedding(11, 4)(inputs))
    step = streaming_model(keras.Model(inputs, keras.layers.Dense(11)(h)), batch_size=1)
    contract = read_contract(export_tflite(step, str(tmp_path / "step.tflite")))
    assert [(s["input"], s["output"], s["shape"]) for s in contract["state"]] == [("gru_state_0", "gru_state_0", [1, 6])]


def test_quantized_inputs_carry_their_scale_and_zero_point(tmp_path):
    data = lambda: ({"x": np.random.default_rng(i).normal(size=(1, 3)).astype(np.float32)} for i in range(8))  # noqa: E731
    path = export_tflite(dense(), str(tmp_path / "int8.tflite"), quantization="int8", representative_dataset=data,
                         inference_input_type=tf.int8, inference_output_type=tf.int8)
    (x,) = read_contract(path)["inputs"]
    assert x["dtype"] == "int8" and x["bytes"] == 3
    assert len(x["quantization"]["scale"]) == 1 and x["quantization"]["scale"][0] > 0
    assert -128 <= x["quantization"]["zero_point"][0] <= 127


def test_the_byte_size_mismatch_of_issue_43965_is_named(lm_file, tmp_path):
    contract = read_contract(lm_file)
    token = next(t for t in contract["inputs"] if t["name"] == "token")
    token.update(dtype="int64", bytes=8)  # what an app sending a Java long[] would send
    message = (r"input 'token': the contract says int64 \[1\] \(8 bytes\), '.*step.tflite' has int32 \[1\] \(4 bytes\).*"
               "Cannot copy to a TensorFlowLite tensor with 4 bytes from a Java Buffer with 8 bytes")
    with pytest.raises(ValueError, match=message):
        check_contract(lm_file, contract)


def test_a_stale_contract_is_caught_by_the_runner(lm_file, tmp_path):
    # A model re-exported with 32 units, with the 16-unit model's contract copied beside it.
    other = export_lm_tflite(RNNLanguageModel(embedding_dim=8, units=32), str(tmp_path / "step.tflite"))
    shutil.copyfile(contract_path(lm_file), contract_path(other))
    with pytest.raises(ValueError, match="written for another file"):
        TFLiteModel(other)
    contract = read_contract(other)
    contract["model"] = model_contract(other)["model"]  # the right hash, the wrong tensors
    write_contract(other, contract=contract)
    with pytest.raises(ValueError, match=r"input 'state': the contract says float32 \[1, 16\] \(64 bytes\), .* has "
                                         r"float32 \[1, 32\] \(128 bytes\)"):
        TFLiteModel(other)
    TFLiteModel(open(other, "rb").read())  # bytes have no contract beside them: nothing to check


def test_read_contract_rejects_missing_corrupt_and_other_versions(lm_file, tmp_path):
    with pytest.raises(FileNotFoundError, match="no model contract at"):
        read_contract(tmp_path / "none.contract.json")
    (tmp_path / "bad.contract.json").write_text('{"format": "keras_dl.model_contract", "vers')
    with pytest.raises(ValueError, match="is not valid JSON"):
        read_contract(tmp_path / "bad.contract.json")
    contract = read_contract(lm_file)
    for change, match in (({"version": 2}, "version 2; this keras_dl reads version 1"),
                          ({"format": "onnx"}, "is not a keras_dl model contract"),
                          ({"inputs": {}}, "'inputs' must be a list")):
        (tmp_path / "c.contract.json").write_text(json.dumps({**contract, **change}))
        with pytest.raises(ValueError, match=match):
            read_contract(tmp_path / "c.contract.json")
    contract["outputs"][0]["bytes"] = 4
    (tmp_path / "c.contract.json").write_text(json.dumps(contract))
    with pytest.raises(ValueError, match=r"'logits' has 4 bytes in the contract, but float32 \[1, 256\] is 1024 bytes"):
        read_contract(tmp_path / "c.contract.json")


def test_model_contract_rejects_bad_options(lm_file):
    with pytest.raises(ValueError, match="`tokenizer` must be a dict"):
        model_contract(lm_file, tokenizer={"type": "wordpiece", "vocab_size": 10})
    with pytest.raises(ValueError, match=r"`sampling\['logits_output'\]` must name a float32 output"):
        model_contract(lm_file, sampling={"logits_output": "probs"})
    with pytest.raises(ValueError, match=r"`sampling\['temperature'\]`"):
        model_contract(lm_file, sampling={"temperature": -1.0})
    with pytest.raises(ValueError, match="`sampling` must be a dict with keys among"):
        model_contract(lm_file, sampling={"top_p": 0.9})
    with pytest.raises(ValueError, match="`state` must list"):
        model_contract(lm_file, state=[("state", "nope")])
    with pytest.raises(ValueError, match="`normalization` names"):
        model_contract(lm_file, normalization={"pixels": "/ 255"})
    with pytest.raises(FileNotFoundError, match="`tflite`: no .tflite file"):
        model_contract("missing.tflite")
    assert model_contract(lm_file, normalization={"token": "ids of my vocabulary"})["inputs"][1]["normalization"] == (
        "ids of my vocabulary")


@pytest.mark.parametrize("path, value, match", APP_REJECTED_EDITS, ids=lambda v: repr(v) if not isinstance(v, str) else v)
def test_read_contract_rejects_every_section_the_app_rejects(lm_file, tmp_path, path, value, match):
    contract = read_contract(lm_file)
    (tmp_path / "ok.contract.json").write_text(json.dumps(contract))
    assert read_contract(tmp_path / "ok.contract.json") == contract  # the unedited contract reads
    (tmp_path / "c.contract.json").write_text(json.dumps(edited(contract, path, value)))
    with pytest.raises(ValueError, match=re.escape(match)):
        read_contract(tmp_path / "c.contract.json")


def test_check_contract_compares_the_files_size(lm_file):
    contract = read_contract(lm_file)
    contract["model"]["bytes"] = 5
    with pytest.raises(ValueError, match=r"model\.bytes.* 5 .*the file has \d+ bytes"):
        check_contract(lm_file, contract)


def test_a_corrupt_tflite_file_is_named(lm_file, tmp_path):
    corrupt = tmp_path / "corrupt.tflite"
    corrupt.write_bytes(open(lm_file, "rb").read()[:200])
    with pytest.raises(ValueError, match=re.escape(repr(str(corrupt))) + ".*not a valid TFLite"):
        check_contract(str(corrupt), read_contract(lm_file))
