"""`fit` that a killed run continues: Keras' BackupAndRestore, the same batches, the whole learning curve.

Run the same command again after a crash (or SIGKILL) and training continues from the
last finished epoch. Keras' `BackupAndRestore` restores the weights, optimizer state and
any pruning masks and steps (they are weights); this adds what it does not restore:

- the data: an epoch's batches depend only on the epoch, because the training stream is
  deterministic and a resumed run skips the batches of the epochs already done;
- the learning curve: every finished epoch's logs are in a CSV file (Keras' `CSVLogger`,
  appending), and the history returned covers all epochs, not only the resumed ones.

So a resumed run ends with the metrics of an uninterrupted one, within float noise.
"""

import csv
import json
import os
import shutil

import keras

from keras_dl.export import write_text

# Keras' BackupAndRestore records the next epoch to run here and the weights there; with
# double_checkpoint it copies both to `.bkp` before writing them (keras/callbacks/backup_and_restore.py).
_METADATA = "training_metadata.json"
_WEIGHTS = "latest.weights.h5"
_PREVIOUS = ".bkp"


def _read_epoch(path):
    try:
        with open(path) as f:
            return int(json.load(f)["epoch"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _resumed_epoch(backup_dir):
    """The epoch the backup in `backup_dir` resumes at (0: none).

    A run killed while Keras wrote the metadata leaves it empty after complete weights of the next
    epoch; Keras would then fail to parse it. The previous backup (weights and metadata) takes its place,
    as Keras itself does for corrupt weights.
    """
    metadata = os.path.join(backup_dir, _METADATA)
    epoch = _read_epoch(metadata)
    if epoch is not None or not os.path.exists(metadata):
        return epoch or 0
    previous = _read_epoch(metadata + _PREVIOUS)
    if previous is None:
        return 0
    weights = os.path.join(backup_dir, _WEIGHTS)
    shutil.copy(weights + _PREVIOUS, weights + ".tmp")
    os.replace(weights + ".tmp", weights)
    shutil.copy(metadata + _PREVIOUS, metadata + ".tmp")
    os.replace(metadata + ".tmp", metadata)
    return previous


def _read_log(path, epochs):
    """The CSV log's rows for epochs `< epochs`, the last row of each epoch winning (a run killed between
    writing the row and the backup repeats that epoch)."""
    if not os.path.exists(path):
        return {}
    rows = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            if int(row["epoch"]) < epochs:
                rows[int(row["epoch"])] = row
    history = {}
    for epoch in sorted(rows):
        for key, value in rows[epoch].items():
            if key != "epoch" and value != "NA":  # CSVLogger writes NA for val_* columns without validation.
                history.setdefault(key, []).append(float(value))
    return history


def resumable_fit(model, train, name, out, epochs, steps_per_epoch, callbacks=(), **fit_kwargs):
    """`model.fit(train, ...)` that continues a killed run of the same command; returns the whole history.

    Args:
        model: a built, compiled model.
        train: a deterministic, repeating `tf.data` stream of batches (the same seed each run), made
            for this call: a seeded shuffle that reshuffles each pass orders a dataset's later iterators by
            how many came before, so a dataset reused across phases would differ in a resumed run.
        name: the training phase's name (its backup is `out/backup_<name>`, its log `out/<name>_log.csv`).
        out: the run's output directory.
        epochs, steps_per_epoch: as in `fit`.
        callbacks: more callbacks.
        **fit_kwargs: passed to `fit` (validation data, verbosity, ...).

    Returns:
        `{metric: [one value per epoch]}` over all epochs, the resumed run's and the killed ones'.
    """
    backup = os.path.join(out, f"backup_{name}")
    log = os.path.join(out, f"{name}_log.csv")
    done = _resumed_epoch(backup)
    if done == 0:
        if os.path.exists(log):
            os.remove(log)  # A log without a backup is from an older, finished or unrelated run.
        # BackupAndRestore sets the model's start epoch only from this file, and an earlier phase's
        # BackupAndRestore leaves its own on the model: without the file a new phase would start there.
        os.makedirs(backup, exist_ok=True)
        with open(os.path.join(backup, _METADATA), "w") as f:
            json.dump({"epoch": 0, "batch": 0}, f)
    earlier = _read_log(log, done)
    if done:
        print(f"{name}: resuming after epoch {done} of {epochs} from {backup}", flush=True)
        _rewrite_log(log, earlier)
    try:
        history = _fit(model, train, backup, log, done, epochs, steps_per_epoch, callbacks, fit_kwargs)
    except ValueError as error:
        if not done or "could not be loaded" not in str(error):
            raise
        raise ValueError(f"`--out`: the backup in {backup} (after epoch {done}) was written by another model; resume "
                         f"with the interrupted run's flags, or delete {backup} to start over. "
                         f"({str(error).splitlines()[0]})") from None
    for key, values in history.items():
        earlier.setdefault(key, [])
        earlier[key] = earlier[key][:done] + [float(v) for v in values]
    return earlier


def _fit(model, train, backup, log, done, epochs, steps_per_epoch, callbacks, fit_kwargs):
    return model.fit(
        train.skip(done * steps_per_epoch),  # The batches the killed run had already used.
        epochs=epochs,
        steps_per_epoch=steps_per_epoch,
        # Kept after fit (`finish` removes them): a run killed in a later phase resumes this one at its end.
        # double_checkpoint: Keras writes the weights file in place, so a kill mid-write leaves it corrupt;
        # it then falls back to the previous backup and its epoch.
        callbacks=[keras.callbacks.BackupAndRestore(backup, delete_checkpoint=False, double_checkpoint=True),
                   keras.callbacks.CSVLogger(log, append=True),
                   keras.callbacks.TerminateOnNaN(), *callbacks],
        **fit_kwargs,
    ).history


def _rewrite_log(path, history):
    """Drops rows of epochs the resumed run will redo, so the log holds each epoch once."""
    keys = sorted(history)
    tmp = f"{path}.tmp"
    with open(tmp, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["epoch", *keys])
        for epoch in range(len(history[keys[0]]) if keys else 0):
            writer.writerow([epoch, *(history[key][epoch] for key in keys)])
    os.replace(tmp, path)


def write_metrics(out, metrics):
    """Writes `out/metrics.json` atomically."""
    write_text(os.path.join(out, "metrics.json"), json.dumps(metrics, indent=2))


def finish(out, metrics):
    """Writes the run's final `metrics.json`, then removes its backups and logs."""
    write_metrics(out, metrics)
    for entry in os.listdir(out):
        path = os.path.join(out, entry)
        if entry.startswith("backup_") and os.path.isdir(path):
            shutil.rmtree(path)
        elif entry.endswith("_log.csv"):
            os.remove(path)


def main(run, parser, argv=None):
    """A recipe's command line: runs it, prints its metrics (without the per-epoch history)."""
    metrics = run(parser.parse_args(argv))
    print(json.dumps({k: v for k, v in metrics.items() if k != "history"}, indent=2))
