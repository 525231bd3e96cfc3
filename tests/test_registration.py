import subprocess
import sys
import textwrap


def test_import_keras_dl_alone_lets_load_model_open_every_keras_dl_model(tmp_path):
    # A fresh process: nothing but `import keras_dl` may be needed to load the file.
    path = tmp_path / "lm.keras"
    save = f"""
        import keras
        from keras_dl.models import RNNLanguageModel
        model = RNNLanguageModel(vocabulary_size=11, embedding_dim=4, units=6)
        model.build((None, None))
        model.save({str(path)!r})
    """
    load = f"""
        import keras, numpy as np
        import keras_dl
        model = keras.models.load_model({str(path)!r})
        assert type(model).__name__ == "RNNLanguageModel", type(model)
        print(model(np.zeros((1, 3), "int32")).shape)
    """
    for code in (save, load):
        result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "(1, 3, 11)"
