import json

import pytest

from recipes import char_rnn


@pytest.mark.slow
def test_char_rnn_beats_the_unigram_baseline_by_a_bit_per_char(data_dir, tmp_path):
    args = char_rnn.build_parser().parse_args(
        ["--out", str(tmp_path), "--data-dir", data_dir, "--hidden", "64", "--embedding", "16",
         "--seq-len", "64", "--batch-size", "32", "--epochs", "3", "--steps-per-epoch", "100",
         "--validation-steps", "10", "--prune-to", "0.75", "--prune-steps", "40",
         "--sample-length", "40", "--verbose", "0"]
    )
    metrics = char_rnn.run(args)
    # The unigram cross-entropy of Python source is about 4.7 bits; context must buy at least 1 bit.
    assert 4.0 < metrics["unigram_bpc"] < 5.5
    assert metrics["val_bpc"] < metrics["unigram_bpc"] - 1.0
    assert json.loads((tmp_path / "metrics.json").read_text()) == metrics
    assert metrics["clipping"] == {}
    assert (tmp_path / "model.keras").stat().st_size > 0
    assert (tmp_path / "learning_curve.png").stat().st_size > 0
    assert len(metrics["history"]["val_bpc"]) == 3
    assert metrics["history"]["val_bpc"][-1] < metrics["history"]["val_bpc"][0]
    samples = (tmp_path / "samples.txt").read_text()
    assert samples.count("--- temperature") == 2
    # The pruned copy: GRU matrices at 75% in 16x1 blocks (rounded per gate), the rest dense.
    sparse = metrics["sparse"]
    assert sparse["sparsity"]["gru/gru_cell/kernel"] == 0.75 and sparse["sparsity"]["gru/gru_cell/recurrent_kernel"] == 0.75
    assert sparse["sparsity"]["embedding/embeddings"] == 0.0
    assert sparse["val_bpc"] < metrics["unigram_bpc"] - 0.5
    assert (tmp_path / "sparse_model.keras").stat().st_size > 0
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith("backup_")]  # Removed after a finished run.


@pytest.mark.parametrize(
    "argv, match",
    [
        (["--hidden", "0"], "--hidden"),
        (["--seq-len", "-5"], "--seq-len"),
        (["--learning-rate", "0"], "--learning-rate"),
        (["--validation-steps", "0"], "--validation-steps"),
        (["--prune-to", "1.0"], "--prune-to"),
        (["--dataset", "no_such_corpus"], "`dataset`='no_such_corpus'"),
        (["--clipnorm", "0"], "`--clipnorm` must be > 0"),
        (["--clipnorm", "1", "--clipvalue", "1"], "at most one of --clipnorm"),
    ],
)
def test_bad_recipe_arguments_are_named(data_dir, tmp_path, argv, match):
    args = char_rnn.build_parser().parse_args(["--out", str(tmp_path), "--data-dir", data_dir] + argv)
    with pytest.raises(ValueError, match=match):
        char_rnn.run(args)


@pytest.mark.parametrize("flag, attribute", [("--clipnorm", "clipnorm"), ("--clipvalue", "clipvalue"),
                                             ("--global-clipnorm", "global_clipnorm")])
def test_clipping_flags_reach_the_keras_optimizer(tmp_path, flag, attribute):
    from recipes import _clipping

    args = char_rnn.build_parser().parse_args(["--out", str(tmp_path), flag, "0.5"])
    model = char_rnn.RNNLanguageModel(units=8, embedding_dim=4)
    char_rnn._compile(model, 1e-3, _clipping.optimizer_options(args))
    assert getattr(model.optimizer, attribute) == 0.5
    assert [name for name in ("clipnorm", "clipvalue", "global_clipnorm") if getattr(model.optimizer, name)] == [attribute]


def test_global_clipnorm_changes_adam_on_embedding_rows_a_batch_does_not_touch():
    """The README's caveat: a never-reached global norm still densifies the Embedding's sparse gradient."""
    import keras
    import numpy as np

    def embeddings_after_two_batches(**clipping):
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((3,), dtype="int32"), keras.layers.Embedding(10, 4),
                                  keras.layers.Flatten(), keras.layers.Dense(1)])
        model.compile(keras.optimizers.Adam(0.1, **clipping), "mse")
        before = model.layers[0].embeddings.numpy()
        for rows in ([1, 2, 3], [4, 5, 6]):
            model.fit(np.array([rows] * 4), np.ones((4, 1)), batch_size=4, verbose=0)
        return before, model.layers[0].embeddings.numpy()

    before, plain = embeddings_after_two_batches()
    _, clipped = embeddings_after_two_batches(global_clipnorm=1e9)
    # Every row a batch touched ends elsewhere (Adam's moments and step differ on a dense gradient) ...
    assert np.abs(clipped - plain)[1:7].min() > 0.05
    np.testing.assert_array_equal(clipped[7:], before[7:])  # ... and rows never touched stay put in both
    np.testing.assert_array_equal(plain[7:], before[7:])


TINY = ["--hidden", "16", "--embedding", "16", "--seq-len", "32", "--batch-size", "8", "--epochs", "3",
        "--steps-per-epoch", "40", "--validation-steps", "2", "--prune-to", "0.5", "--prune-steps", "40",
        "--sample-length", "10", "--verbose", "0"]


def _run_until(out, data_dir, backup=None, epoch=None):
    """Runs the recipe in a fresh process; with `backup`, SIGKILLs it once that phase has backed up `epoch`."""
    import os
    import signal
    import subprocess
    import sys
    import time

    command = [sys.executable, "-m", "recipes.char_rnn", "--out", str(out), "--data-dir", data_dir, *TINY]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if backup is None:
        assert process.wait(timeout=600) == 0, process.stderr.read()[-3000:]
        return
    metadata = out / f"backup_{backup}" / "training_metadata.json"
    deadline = time.time() + 600
    while time.time() < deadline and process.poll() is None:
        if metadata.exists() and json.loads(metadata.read_text() or "{}").get("epoch", 0) >= epoch:
            os.kill(process.pid, signal.SIGKILL)  # Mid-epoch: the next epoch has started.
            break
        time.sleep(0.05)
    assert process.wait() == -signal.SIGKILL, "the run ended before it could be killed"


@pytest.mark.slow
def test_a_run_killed_twice_with_sigkill_resumes_to_the_metrics_of_an_uninterrupted_run(data_dir, tmp_path):
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    _run_until(straight, data_dir)
    _run_until(killed, data_dir, backup="train", epoch=1)
    assert not (killed / "metrics.json").exists()
    _run_until(killed, data_dir, backup="prune", epoch=2)  # Resumes training, then is killed while pruning.
    assert (killed / "metrics.json").exists()  # Training's results were written before pruning started.
    _run_until(killed, data_dir)
    a, b = (json.loads((path / "metrics.json").read_text()) for path in (straight, killed))
    for key, values in a["history"].items():
        assert values == pytest.approx(b["history"][key], abs=1e-4), key
    for key in ("val_bpc", "train_bpc"):
        assert a[key] == pytest.approx(b[key], abs=1e-4), key
    assert a["sparse"]["val_bpc"] == pytest.approx(b["sparse"]["val_bpc"], abs=1e-4)
    assert a["sparse"]["sparsity"] == b["sparse"]["sparsity"]
    assert len(b["history"]["val_bpc"]) == 3  # The learning curve holds the killed run's epochs too.
    assert not [p.name for p in killed.iterdir() if p.name.startswith("backup_") or p.name.endswith(".csv")]
