"""The char-RNN recipe with pruning on two worker processes (MultiWorkerMirroredStrategy over loopback)."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from keras_dl.data import load_builder

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY = ["--hidden", "32", "--embedding", "16", "--seq-len", "20", "--batch-size", "16", "--epochs", "3",
        "--steps-per-epoch", "6", "--validation-steps", "2", "--prune-to", "0.5", "--prune-steps", "8",
        "--sample-length", "10", "--verbose", "0"]


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _start(out, data_dir, strategy, tf_config=None):
    command = [sys.executable, "-m", "recipes.char_rnn", "--out", str(out), "--data-dir", data_dir,
               "--strategy", strategy, *TINY]
    env = dict(os.environ, TF_CONFIG=json.dumps(tf_config)) if tf_config else None
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _start_workers(out, data_dir):
    workers = [f"localhost:{port}" for port in _free_ports(2)]
    return [_start(out, data_dir, "multiworker", {"cluster": {"worker": workers}, "task": {"type": "worker", "index": i}})
            for i in range(2)]


def _wait(processes):
    for process in processes:
        assert process.wait(timeout=600) == 0, process.stderr.read()[-3000:]


def _metrics(out):
    return json.loads((out / "metrics.json").read_text())


def _assert_same_training(a, b):
    for key, values in a["history"].items():
        assert values == pytest.approx(b["history"][key], abs=1e-4), key
    for key in ("val_bpc", "train_bpc"):
        assert a[key] == pytest.approx(b[key], abs=1e-4), key
    assert a["sparse"]["val_bpc"] == pytest.approx(b["sparse"]["val_bpc"], abs=1e-4)
    assert a["sparse"]["sparsity"] == b["sparse"]["sparsity"]


@pytest.fixture(scope="module")
def one_process(data_dir, tmp_path_factory):
    """The reference: one process, the same global batch. `mirrored` (one CPU replica), not `default`:
    Keras 3.15's fit under any explicit strategy builds the model on one batch it then skips."""
    load_builder("python_source", data_dir)  # Prepared once here, not by two workers at the same time.
    out = tmp_path_factory.mktemp("one_process")
    _wait([_start(out, data_dir, "mirrored")])
    return _metrics(out)


@pytest.mark.slow
def test_two_workers_one_killed_mid_training_and_restarted_train_and_prune_as_one_process_does(
        one_process, data_dir, tmp_path):
    # One run for both claims (CI time): an uninterrupted two-worker run is the restarted run's last epochs.
    workers = _start_workers(tmp_path, data_dir)
    metadata = tmp_path / "worker_1" / "backup_train" / "training_metadata.json"
    deadline = time.time() + 600
    while time.time() < deadline and workers[1].poll() is None:
        if metadata.exists() and json.loads(metadata.read_text() or "{}").get("epoch", 0) >= 1:
            os.kill(workers[1].pid, signal.SIGKILL)
            break
        time.sleep(0.05)
    assert workers[1].wait() == -signal.SIGKILL, "worker 1 ended before it could be killed"
    # The chief notices the lost peer (its collectives fail) and stops; nothing is finished yet.
    assert workers[0].wait(timeout=300) != 0
    assert not (tmp_path / "metrics.json").exists()
    assert json.loads((tmp_path / "backup_train" / "training_metadata.json").read_text())["epoch"] < 3
    # A scheduler restarts the whole cluster with the same command; both workers resume from their backups.
    _wait(_start_workers(tmp_path, data_dir))
    _assert_same_training(one_process, _metrics(tmp_path))
    assert one_process["sparse"]["sparsity"]["gru/gru_cell/kernel"] == 0.5
    # Only the chief writes to --out; the other worker writes its copy to --out/worker_1.
    assert _metrics(tmp_path / "worker_1")["val_bpc"] == pytest.approx(_metrics(tmp_path)["val_bpc"], abs=1e-6)
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith("backup_")]
