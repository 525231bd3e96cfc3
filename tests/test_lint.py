import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
# Private Keras imports that have no public equivalent, each with why.
PRIVATE_KERAS = {
    "keras_dl/layers/cells.py": "DropoutRNNCell, Keras' per-sequence dropout-mask mixin that keras.layers.RNN looks "
                                "for, is not exported under keras.layers",
}


def test_ruff_finds_nothing():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", str(ROOT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]


def test_no_private_keras_imports_where_a_public_api_exists():
    found = {str(path.relative_to(ROOT)) for folder in ("keras_dl", "recipes", "benchmarks")
             for path in (ROOT / folder).rglob("*.py")
             if re.search(r"^\s*(from|import) keras\.src", path.read_text(), re.MULTILINE)}
    assert found == set(PRIVATE_KERAS)
