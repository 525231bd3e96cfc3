import os

import keras
import numpy as np
import pytest

from keras_dl.export import TFLiteModel
from keras_dl.export import export_tflite
from keras_dl.sparsity import LITERT_FLOAT_BLOCK
from keras_dl.sparsity import LITERT_INT8_BLOCK
from keras_dl.sparsity import magnitude_mask

D_IN, HIDDEN, D_OUT = 64, 128, 16


def pruned_mlp(block, sparsity=0.8):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((D_IN,)), keras.layers.Dense(HIDDEN, activation="relu"), keras.layers.Dense(D_OUT)])
    for layer in model.layers:
        layer.kernel.assign(layer.kernel * magnitude_mask(layer.kernel, sparsity, block))
    return model


def inputs(n=200, seed=0):
    return np.random.default_rng(seed).normal(size=(n, 1, D_IN)).astype(np.float32)


def run(tflite, xs):
    name = tflite.input_names[0]
    return np.concatenate([next(iter(tflite({name: x}).values())) for x in xs])


def representative():
    return ([x] for x in inputs(50, seed=1))


VARIANTS = [
    # quantization, sparse, block in Keras axes, expected LiteRT block width, max abs error as a fraction of the
    # largest |output|. Each is 2.5-3x the error measured here on 2026-12-07 (relative: 9.2e-8, 2.0e-7, 3.4e-4,
    # 9.3e-3, 2.6e-2); float32's 5e-7 is a few float32 roundings, whatever kernels the CPU picks.
    ("float32", False, (1, 1), None, 5e-7),
    ("float32", True, LITERT_FLOAT_BLOCK, 4, 5e-7),
    ("float16", False, (1, 1), None, 1e-3),
    ("dynamic_int8", True, LITERT_INT8_BLOCK, 16, 2.5e-2),
    ("int8", True, LITERT_INT8_BLOCK, 16, 6e-2),
]


@pytest.mark.parametrize("quantization, sparse, block, litert_block, tolerance", VARIANTS)
def test_variant_matches_keras_and_holds_the_expected_sparse_blocks(quantization, sparse, block, litert_block, tolerance,
                                                                   tmp_path):
    model = pruned_mlp(block)
    path = export_tflite(model, str(tmp_path / "m.tflite"), quantization=quantization, sparse=sparse,
                         representative_dataset=representative if quantization == "int8" else None)
    tflite = TFLiteModel(path)
    assert "DENSIFY" not in tflite.op_names
    if sparse:
        assert [t["block"] for t in tflite.sparse_tensors] == [litert_block] * 2
        assert not tflite.default_delegates  # Sparse models run on LiteRT's built-in kernels.
    else:
        assert tflite.sparse_tensors == [] and tflite.default_delegates
    xs = inputs()
    expected = np.asarray(model(xs[:, 0]))
    got = run(tflite, xs)
    scale = np.abs(expected).max()
    assert np.abs(got - expected).max() <= tolerance * scale
    # Float exports agree on every argmax; int8 flipped at most 1 of 200 near-ties (measured), 4 allowed.
    assert np.mean(got.argmax(-1) == expected.argmax(-1)) >= (1.0 if tolerance <= 1e-3 else 0.98)


def test_sparse_files_are_smaller_and_int8_smaller_still(tmp_path):
    model = pruned_mlp(LITERT_INT8_BLOCK, sparsity=0.9)
    sizes = {}
    for quantization, sparse in [("float32", False), ("float32", True), ("dynamic_int8", True)]:
        path = export_tflite(model, str(tmp_path / f"{quantization}_{sparse}.tflite"), quantization=quantization, sparse=sparse)
        sizes[(quantization, sparse)] = os.path.getsize(path)
    assert sizes[("float32", True)] < 0.4 * sizes[("float32", False)]
    # On a model this small the file's fixed overhead (graph, biases, indices) dominates, so
    # only the order is asserted here; the ratios at scale belong to the sparse-RNN benchmark.
    assert sizes[("dynamic_int8", True)] < sizes[("float32", True)]


def test_int8_with_float_blocks_falls_back_to_element_sparsity_and_densify(tmp_path):
    # The converter keeps int8 blocks only in LiteRT's 1x16 shape: (4, 1) blocks are stored
    # element by element and densified at run time, the slow path.
    path = export_tflite(pruned_mlp(LITERT_FLOAT_BLOCK), str(tmp_path / "m.tflite"), quantization="dynamic_int8", sparse=True)
    tflite = TFLiteModel(path)
    assert "DENSIFY" in tflite.op_names
    assert [t["block"] for t in tflite.sparse_tensors] == [1, 1]


def test_bad_variants_are_named(tmp_path):
    model = pruned_mlp((1, 1))
    with pytest.raises(ValueError, match="`quantization`"):
        export_tflite(model, str(tmp_path / "m.tflite"), quantization="int4")
    with pytest.raises(ValueError, match="`representative_dataset`"):
        export_tflite(model, str(tmp_path / "m.tflite"), quantization="int8")
    with pytest.raises(ValueError, match="`representative_dataset`"):
        export_tflite(model, str(tmp_path / "m.tflite"), representative_dataset=representative)
    with pytest.raises(ValueError, match="quantization='float16' with sparse=True gives NaN"):
        export_tflite(model, str(tmp_path / "m.tflite"), quantization="float16", sparse=True)
