import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_dl import export
from keras_dl.data import mu_law_dataset
from keras_dl.data import mu_law_encode
from keras_dl.data import pcm16_to_float
from keras_dl.data import sum_of_sines
from keras_dl.decoding import generate_cached
from keras_dl.decoding import generate_naive
from keras_dl.layers import DiscretizedLogisticLikelihood
from keras_dl.metrics import BitsPerCharacter
from keras_dl.models import WaveNet

TINY = dict(residual_channels=6, skip_channels=6, head_channels=8, num_layers=4, dilation_cycle=3)


def _codes(length, seed=0):
    return mu_law_encode(pcm16_to_float(sum_of_sines(1, length, seed=seed)))


@pytest.fixture(scope="module")
def trained():
    """WaveNet with 6 blocks (dilations 1..32, receptive field 65) trained 200 steps on mu-law sums of sines."""
    keras.utils.set_random_seed(0)
    model = WaveNet(residual_channels=16, skip_channels=16, head_channels=32, num_layers=6, dilation_cycle=6)
    model.compile(keras.optimizers.Adam(3e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=[BitsPerCharacter(name="bits_per_sample")])
    train = sum_of_sines(2000, 129, seed=0)
    model.fit(mu_law_dataset(train, 16, seed=0), steps_per_epoch=200, shuffle=False, verbose=0)
    return model, train


@pytest.fixture(scope="module")
def step_files(trained, tmp_path_factory):
    """The trained model's step model, traced once (eager Keras steps are slow), and its LiteRT file."""
    model, _ = trained
    step = model.step_model()
    path = export.export_tflite(step, str(tmp_path_factory.mktemp("wavenet") / "wavenet.tflite"))
    return tf.function(step), export.TFLiteModel(path)


def test_trained_wavenet_beats_the_unigram_by_two_bits_per_sample(trained):
    model, train = trained
    held_out = sum_of_sines(200, 129, seed=1)
    scores = model.evaluate(mu_law_dataset(held_out, 100, shuffle=False, repeat=False), return_dict=True, verbose=0)
    counts = np.bincount(mu_law_encode(pcm16_to_float(train[:, 1:])).ravel(), minlength=256) + 1.0
    unigram = -np.mean(np.log2((counts / counts.sum())[mu_law_encode(pcm16_to_float(held_out[:, 1:])).ravel()]))
    # Measured: 4.1 bits per sample against the unigram's 7.3.
    assert scores["bits_per_sample"] < unigram - 2.0


def test_each_output_reads_exactly_its_receptive_field():
    keras.utils.set_random_seed(1)
    model = WaveNet(**TINY)  # dilations 1, 2, 4, 1: receptive field 1 + (1 + 8) = 10
    assert model.receptive_field == 10
    codes = np.arange(40, dtype=np.int32)[None]  # one code per position: a row of the embedding is a position
    model(codes)
    for t in (0, 6, 25, 39):
        with tf.GradientTape() as tape:
            logits = model(codes)
            projected = tf.reduce_sum(logits[:, t] * np.random.default_rng(t).normal(size=256))
        gradient = tf.convert_to_tensor(tape.gradient(projected, model.embedding.embeddings)).numpy()
        depends = set(np.flatnonzero(np.abs(gradient).sum(-1)).tolist())
        assert depends == set(range(max(0, t - 9), t + 1))


def test_step_model_equals_the_sequence_model_over_500_steps_in_keras_and_litert(trained, step_files):
    model, _ = trained
    step, tflite = step_files
    codes = _codes(501, seed=7)[:, :500]
    expected = np.asarray(model(codes))[0]
    assert not [op for op in tflite.op_names if op.startswith("Flex") or op == "CUSTOM"], tflite.op_names
    # The file's inputs do not grow with the receptive field: a sample and k - 1 taps per convolution.
    assert tflite.zero_inputs()["taps"].shape == (1, model.num_layers + 1, 1, 16)
    keras_queues, litert_queues = model.queues(), model.queues()
    keras_worst = litert_worst = 0.0
    for t in range(500):
        sample = codes[:, t]
        out = step({"sample": sample, "taps": keras_queues.taps()})
        lite = tflite({"sample": sample, "taps": litert_queues.taps()})
        keras_queues.push(np.asarray(out["pushed"]))
        litert_queues.push(lite["pushed"])
        keras_worst = max(keras_worst, float(np.max(np.abs(np.asarray(out["logits"])[0] - expected[t]))))
        litert_worst = max(litert_worst, float(np.max(np.abs(lite["logits"][0] - expected[t]))))
    assert keras_worst < 1e-4 and litert_worst < 1e-4, (keras_worst, litert_worst)


def test_fast_generation_equals_naive_generation_sample_for_sample(trained, step_files):
    model, _ = trained
    step, tflite = step_files
    # 100 samples: more than the receptive field (65), so the naive window slides and the rings wrap.
    sequence = tf.function(model, reduce_retracing=True)
    naive = generate_naive(sequence, 100, context=model.receptive_field, seed=3)
    assert generate_cached(step, 100, model.queues(), seed=3) == naive
    assert generate_cached(tflite, 100, model.queues(), seed=3) == naive
    assert generate_cached(step, 100, model.queues(), seed=4) != naive  # drawn from the seed, not fixed
    # The queues (and a generator passed as the seed) carry on: 60 samples then 40 more are the 100.
    queues, rng = model.queues(), np.random.default_rng(3)
    first = generate_cached(tflite, 60, queues, seed=rng)
    assert first == naive[:60] and queues.time == 60
    assert generate_cached(tflite, 40, queues, first_sample=first[-1], seed=rng) == naive[60:]
    # Fewer past samples than the receptive field is another model: the window must cover it.
    assert generate_naive(sequence, 100, context=model.receptive_field // 4, seed=3) != naive


def test_int8_and_sparse_step_files_follow_the_float_model(trained, tmp_path):
    model, _ = trained
    twin = WaveNet.from_config(model.get_config())
    twin.build((None, None))
    twin.set_weights(model.get_weights())
    # 75% of each 1x1 layer's (16, 1) blocks (along the input axis) zeroed, LiteRT's int8 sparse block.
    for dense in [twin.head, twin.output_dense] + [block.skip_dense for block in twin.blocks]:
        kernel = np.asarray(dense.kernel)
        blocks = kernel.reshape(kernel.shape[0] // 16, 16, kernel.shape[1])
        norms = np.abs(blocks).sum(1)
        blocks[:, :, :] *= (norms >= np.quantile(norms, 0.75))[:, None, :]
        dense.kernel.assign(blocks.reshape(kernel.shape))
    step = twin.step_model()
    dense_int8 = export.export_tflite(step, str(tmp_path / "int8.tflite"), quantization="dynamic_int8")
    sparse_int8 = export.export_tflite(step, str(tmp_path / "sparse.tflite"), quantization="dynamic_int8",
                                       sparse=True)
    assert export.TFLiteModel(sparse_int8).sparse_tensors
    for path in (dense_int8, sparse_int8):
        report = export.verify_tflite(step, path)
        # Int8 weights: logits within a few tenths, the most likely code mostly kept.
        assert report["max_abs_diff"] < 0.5 and report["argmax_agreement"] >= 0.9, (path, report)


def test_logistic_mixture_output_is_the_tfp_likelihood_over_codes(tmp_path):
    keras.utils.set_random_seed(2)
    model = WaveNet(**TINY, output="logistic_mixture", num_mixtures=3)
    codes = _codes(30)
    log_probs = np.asarray(model(codes))
    np.testing.assert_allclose(np.exp(log_probs).sum(-1), 1.0, atol=1e-4)  # a distribution over the 256 codes
    params = model.output_dense(model.head(keras.ops.relu(_skip_sum(model, codes))))
    likelihood = DiscretizedLogisticLikelihood(256, 3)
    values = np.random.default_rng(0).integers(0, 256, (1, 30)).astype(np.float32)
    # The likelihood's log p of a whole sequence (data in [0, 1]) is the sum of the per-step code log-probs.
    expected = float(likelihood.log_prob(values[..., None] / 255.0, params)[0])
    picked = np.take_along_axis(log_probs, values.astype(np.int64)[..., None], -1).sum()
    assert picked == pytest.approx(expected, rel=1e-4)
    report = export.verify_tflite(model.step_model(), export.export_tflite(model.step_model(),
                                                                           str(tmp_path / "mix.tflite")))
    assert report["max_abs_diff"] < 1e-3


def _skip_sum(model, codes):
    x = model.input_conv(model.embedding(codes))
    total = 0
    for block in model.blocks:
        out = block(x)
        x, skip = out if block.residual else (x, out)
        total = total + skip
    return total


def test_global_and_local_conditions_drive_the_sequence_and_the_step(tmp_path):
    keras.utils.set_random_seed(3)
    model = WaveNet(**TINY, global_condition_dim=2, local_condition_dim=3, hop_length=4)
    rng = np.random.default_rng(0)
    codes = _codes(24)
    speaker = rng.normal(size=(1, 2)).astype(np.float32)
    frames = rng.normal(size=(1, 6, 3)).astype(np.float32)
    expected = np.asarray(model({"samples": codes, "global_condition": speaker, "local_condition": frames}))
    other_speaker = np.asarray(model({"samples": codes, "global_condition": -speaker, "local_condition": frames}))
    assert np.abs(expected - other_speaker).max(-1).min() > 0  # every step hears the speaker
    moved = frames.copy()
    moved[:, 3] += 1.0  # frame 3 conditions steps 12..15 in every block
    changed = np.abs(expected - np.asarray(model(
        {"samples": codes, "global_condition": speaker, "local_condition": moved}))).max(-1)[0]
    # ... and the blocks after the first carry it on as far as their dilations (2 + 4 + 1) reach.
    assert np.flatnonzero(changed).tolist() == list(range(12, 16 + 7))
    step = model.step_model()
    path = export.export_tflite(step, str(tmp_path / "conditioned.tflite"))
    tflite = export.TFLiteModel(path)
    queues, lite_queues = model.queues(), model.queues()
    for t in range(24):
        inputs = {"sample": codes[:, t], "global_condition": speaker, "local_condition": frames[:, t // 4]}
        out = step({**inputs, "taps": queues.taps()})
        lite = tflite({**inputs, "taps": lite_queues.taps()})
        queues.push(np.asarray(out["pushed"]))
        lite_queues.push(lite["pushed"])
        np.testing.assert_allclose(np.asarray(out["logits"])[0], expected[0, t], atol=1e-5)
        np.testing.assert_allclose(lite["logits"][0], expected[0, t], atol=1e-4)
    model.save(str(tmp_path / "conditioned.keras"))
    loaded = keras.models.load_model(str(tmp_path / "conditioned.keras"))
    np.testing.assert_array_equal(
        np.asarray(loaded({"samples": codes, "global_condition": speaker, "local_condition": frames})), expected)


def test_transposed_upsampling_and_conditioned_fast_generation(tmp_path):
    keras.utils.set_random_seed(4)
    model = WaveNet(**TINY, global_condition_dim=2, local_condition_dim=3, hop_length=4, upsampling="transposed")
    rng = np.random.default_rng(1)
    speaker = rng.normal(size=(1, 2)).astype(np.float32)
    frames = rng.normal(size=(1, 8, 3)).astype(np.float32)
    rows = np.asarray(model.upsample_local_condition(frames, 30))
    assert rows.shape == (1, 30, 3)
    moved = frames.copy()
    moved[:, 3] += 1.0
    changed = np.flatnonzero(np.abs(rows - np.asarray(model.upsample_local_condition(moved, 30))).max(-1)[0])
    # A kernel of 2 hops at stride 1 hop: frame 3 reaches the samples of frames 2.5 .. 4.5 (steps 10 .. 17).
    assert changed.tolist() == list(range(10, 18))
    # Greedy fast generation with both conditions: each code is the argmax of the sequence model's logits.
    codes = generate_cached(tf.function(model.step_model()), 30, model.queues(), temperature=0.0,
                            global_condition=speaker, local_condition=rows)
    inputs = np.array([[128] + codes[:-1]], np.int32)
    logits = np.asarray(model({"samples": inputs, "global_condition": speaker, "local_condition": frames}))
    assert codes == np.argmax(logits[0], -1).tolist()
    # The Keras step model itself (whose inputs generate_cached checks against the conditions given).
    assert generate_cached(model.step_model(), 3, model.queues(), temperature=0.0, global_condition=speaker,
                           local_condition=rows) == codes[:3]
    model.save(str(tmp_path / "transposed.keras"))
    loaded = keras.models.load_model(str(tmp_path / "transposed.keras"))
    assert loaded.upsampling == "transposed"
    np.testing.assert_array_equal(np.asarray(loaded.upsample_local_condition(frames, 30)), rows)
    with pytest.raises(ValueError, match="`local_condition`"):
        generate_cached(model.step_model(), 30, model.queues(), global_condition=speaker, local_condition=rows[:, :5])


def test_bad_arguments_are_named(tmp_path):
    with pytest.raises(ValueError, match="`kernel_size`"):
        WaveNet(kernel_size=1)
    with pytest.raises(ValueError, match="`output`"):
        WaveNet(output="gaussian")
    with pytest.raises(ValueError, match="`upsampling`"):
        WaveNet(upsampling="linear")
    with pytest.raises(ValueError, match="`levels`"):
        WaveNet(levels=1)
    conditioned = WaveNet(**TINY, local_condition_dim=2, hop_length=4)
    frames = np.zeros((1, 3, 2), np.float32)
    with pytest.raises(ValueError, match=r"`local_condition` has 3 frames of 4 samples .* too few for 13"):
        conditioned({"samples": np.zeros((1, 13), np.int32), "local_condition": frames})
    with pytest.raises(ValueError, match="`local_condition` must have 2 channels"):
        conditioned.upsample_local_condition(np.zeros((1, 3, 5), np.float32), 12)
    with pytest.raises(ValueError, match="`queues` must have batch_size 1"):
        generate_cached(None, 5, WaveNet(**TINY).queues(batch_size=2))
    plain = WaveNet(**TINY)
    for step in (plain.step_model(), export.TFLiteModel(export.export_tflite(plain.step_model(), tmp_path / "step.tflite"))):
        with pytest.raises(ValueError, match=r"`first_sample` must be a code in \[0, 256\)"):
            generate_cached(step, 5, plain.queues(), first_sample=256)
        with pytest.raises(ValueError, match="`global_condition` must be given exactly when .* is given"):
            generate_cached(step, 5, plain.queues(), global_condition=np.zeros((1, 2), np.float32))
    with pytest.raises(ValueError, match="`local_condition` must be given exactly when .* is missing"):
        generate_cached(conditioned.step_model(), 5, conditioned.queues())
    with pytest.raises(ValueError, match="global_condition"):
        WaveNet(**TINY, global_condition_dim=2)(np.zeros((1, 5), np.int32))
    with pytest.raises(ValueError, match="`samples`"):
        WaveNet(**TINY)(np.zeros((1, 5), np.float32))
    with pytest.raises(ValueError, match="`context`"):
        generate_naive(None, 5, context=0)
