"""The layer contract for keras_dl's models (the cases are in tests/test_contract.py; a file of its own runs on
the other xdist worker)."""

import pytest
from contract import run_contract
from test_contract import CASES
from test_contract import MODELS
from test_contract import contract_params


def test_the_models_are_the_cases_without_a_wrapping_model():
    assert {"Seq2Seq", "TransformerLM", "RNNLanguageModel", "WaveRNN"} <= MODELS < set(CASES)


@pytest.mark.parametrize("name,check", contract_params(MODELS))
def test_model_contract(name, check, tmp_path):
    run_contract(CASES[name], check, tmp_path)
