"""Atomic writes: an export is either complete at its path or absent, never half-written."""

import contextlib
import os
import shutil
import uuid


@contextlib.contextmanager
def atomic_path(path):
    """Yields a temporary sibling of `path` to write a file or directory at; moves it to `path` on success.

    The temporary name keeps `path`'s suffix (Keras checks `.keras` and `.tflite`).
    On an exception the temporary is removed and `path` is left as it was. A directory
    that already exists at `path` is replaced only after the new one is complete.

    Example:
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> with atomic_path("model.keras") as tmp:  # model.keras appears whole, or not at all
    ...     model.save(tmp)
    """
    path = os.fspath(path)
    parent, name = os.path.split(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    stem, suffix = os.path.splitext(name)
    tmp = os.path.join(parent, f".{stem}.tmp-{uuid.uuid4().hex[:8]}{suffix}")
    try:
        yield tmp
        if not os.path.exists(tmp):
            raise RuntimeError(f"nothing was written to the temporary path {tmp!r} for {path!r}.")
        if os.path.isdir(tmp) and os.path.exists(path):
            # os.replace cannot replace a non-empty directory: swap, then delete the old one.
            old = os.path.join(parent, f".{stem}.old-{uuid.uuid4().hex[:8]}{suffix}")
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old) if os.path.isdir(old) else os.remove(old)
        else:
            os.replace(tmp, path)
    finally:
        if os.path.isdir(tmp):
            shutil.rmtree(tmp)
        elif os.path.exists(tmp):
            os.remove(tmp)


def write_text(path, text):
    """Writes `text` to `path` atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
