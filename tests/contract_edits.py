"""Edits to a model contract (`keras_dl.export.contract`) that the Python checks and the app's Java both reject."""

import json

# Edits to a step model's contract that the app's Java ModelContract rejects (or that contradict the file): the
# SHA-256 stays right, so only the section checks can catch them. (path, value, words the message must hold).
APP_REJECTED_EDITS = [
    (("tokenizer", "vocab_size"), 100, "tokenizer.vocab_size"),
    (("tokenizer", "vocab_size"), 300, "tokenizer.vocab_size"),
    (("sampling", "algorithm"), "keras_dl.categorical/2", "sampling.algorithm"),
    (("sampling", "temperature"), "hot", "sampling.temperature"),
    (("state", 0, "input"), "hidden", "state[0].input"),
    (("state", 0, "shape"), [1, 64], "state[0].shape"),
    (("sampling", "token_input"), "tok", "sampling.token_input"),
    (("sampling", "logits_output"), "token", "sampling.logits_output"),
    (("sampling", "top_k"), -3, "sampling.top_k"),
    (("sampling", "seed"), 1.5, "sampling.seed"),
    (("state", 0, "initial"), "random", "state[0].initial"),
    (("model", "sha256"), None, "model.sha256"),
    (("inputs", 0, "shape"), [1, "a"], "shape"),
    (("version",), True, "version"),
]


def edited(contract, path, value):
    contract = json.loads(json.dumps(contract))
    target = contract
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return contract
