"""Seq2Seq: teacher forcing and decode_step agree, scheduled sampling follows its schedule, source reversal."""

import math

import keras
import numpy as np
import pytest

from keras_dl.metrics import SequenceLoss
from keras_dl.models import ScheduledSampling
from keras_dl.models import Seq2Seq

V = 12


def batch(rng, size=8, length=5):
    source = rng.integers(3, V, (size, length))
    source[1, 3:] = 0  # padding
    target = source[:, ::-1]
    target_in = np.concatenate([np.ones((size, 1), int), target], 1)
    target_out = np.concatenate([target, np.full((size, 1), 2)], 1)
    return {"source": source, "target_in": target_in}, target_out


def model(**kwargs):
    keras.utils.set_random_seed(0)
    return Seq2Seq(V, V, embedding_dim=6, units=8, **kwargs)


@pytest.mark.parametrize("kwargs", [dict(), dict(attention="bahdanau", cell="gru"), dict(attention=None),
                                    dict(bidirectional=True, encoder_layers=2)])
def test_decode_step_reproduces_teacher_forcing(kwargs):
    inputs, _ = batch(np.random.default_rng(0))
    m = model(**kwargs)
    logits = np.asarray(m(inputs))
    states = m.initial_state(inputs["source"])
    for t in range(inputs["target_in"].shape[1]):
        step_logits, states = m.decode_step(inputs["target_in"][:, t], states)
        np.testing.assert_allclose(step_logits, logits[:, t], atol=1e-5)


def test_greedy_generate_is_the_argmax_of_each_step():
    inputs, _ = batch(np.random.default_rng(1))
    m = model()
    tokens = np.asarray(m.generate(inputs["source"], max_length=6)["tokens"])[:, 0]
    states, previous = m.initial_state(inputs["source"]), np.ones(len(tokens), "int32")
    for t in range(6):
        logits, states = m.decode_step(previous, states)
        previous = np.argmax(logits, -1)
        finished = (tokens[:, :t] == 2).any(1)
        np.testing.assert_array_equal(tokens[~finished, t], previous[~finished])


def test_reversed_source_equals_the_reversed_sequence_unpadded():
    m = model(reverse_source=True)
    plain = model()
    source = np.array([[5, 6, 7, 0, 0]])
    target_in = np.array([[1, 4, 9]])
    m({"source": source, "target_in": target_in})
    plain({"source": source, "target_in": target_in})
    plain.set_weights(m.get_weights())
    np.testing.assert_allclose(m({"source": source, "target_in": target_in}),
                               plain({"source": np.array([[7, 6, 5]]), "target_in": target_in}), atol=1e-5)


@pytest.mark.parametrize("schedule, kwargs, reference", [
    ("linear", dict(k=1.0, c=0.01, minimum=0.2), lambda i: max(0.2, 1.0 - 0.01 * i)),
    ("exponential", dict(k=0.99), lambda i: 0.99 ** i),
    ("inverse_sigmoid", dict(k=50.0), lambda i: 50.0 / (50.0 + math.exp(i / 50.0))),
    ("constant", dict(k=0.3), lambda i: 0.3)])
def test_schedules_follow_their_formulas(schedule, kwargs, reference):
    s = ScheduledSampling(schedule, **kwargs)
    for i in (0, 1, 10, 80, 500):
        assert float(s(i)) == pytest.approx(reference(i), abs=1e-6)
    assert ScheduledSampling.from_config(s.get_config()).get_config() == s.get_config()


def test_training_follows_the_schedule_and_all_teacher_equals_teacher_forcing():
    inputs, target = batch(np.random.default_rng(2), size=16)
    m = model(scheduled_sampling=ScheduledSampling("linear", k=1.0, c=0.1, minimum=0.0))
    m.compile("adam", SequenceLoss())
    seen = []
    record = keras.callbacks.LambdaCallback(on_train_batch_end=lambda b, logs: seen.append(float(m.teacher_forcing)))
    m.fit(inputs, target, batch_size=4, epochs=2, verbose=0, callbacks=[record])
    np.testing.assert_allclose(seen, [max(0.0, 1.0 - 0.1 * i) for i in range(8)], atol=1e-6)

    # Probability 1 of the true token: the sampled decoder is the teacher-forced one.
    for variant in ("embedding", "output"):
        always = model(scheduled_sampling=ScheduledSampling("constant", k=1.0, variant=variant))
        np.testing.assert_allclose(always(inputs, training=True), always(inputs, training=False), atol=1e-5)


@pytest.mark.parametrize("variant", ["embedding", "output"])
def test_never_teacher_ignores_the_true_tokens_after_the_first(variant):
    inputs, _ = batch(np.random.default_rng(3))
    m, twin = (model(scheduled_sampling=ScheduledSampling("constant", k=0.0, variant=variant), seed=4)
               for _ in range(2))
    other = dict(inputs, target_in=np.where(np.arange(6) > 0, 3, inputs["target_in"]))
    first = np.asarray(m(inputs, training=True))
    second = np.asarray(twin(other, training=True))  # the same weights and draws, other true tokens
    np.testing.assert_allclose(first, second, atol=1e-5)
    teacher = np.asarray(m(inputs, training=False))
    assert np.abs(first[:, 1:] - teacher[:, 1:]).max() > 1e-3


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="attention"):
        Seq2Seq(5, 5, attention="dot")
    with pytest.raises(ValueError, match="cell"):
        Seq2Seq(5, 5, cell="rnn")
    with pytest.raises(ValueError, match="end_token"):
        Seq2Seq(5, 5, end_token=5)
    with pytest.raises(ValueError, match="padding"):
        Seq2Seq(5, 5, start_token=0)
    with pytest.raises(ValueError, match="schedule"):
        ScheduledSampling("cosine")
    with pytest.raises(ValueError, match="k"):
        ScheduledSampling("exponential", k=1.5)
    m = model()
    with pytest.raises(ValueError, match="target_in"):
        m({"source": np.ones((2, 3), int)})
    with pytest.raises(ValueError, match="source"):
        m({"source": np.ones((2, 3), "float32"), "target_in": np.ones((2, 3), int)})
    with pytest.raises(ValueError, match="beam_width"):
        m.generate(np.ones((2, 3), int), max_length=3, beam_width=0)
    with pytest.raises(ValueError, match="max_length"):
        m.generate(np.ones((2, 3), int), max_length=0)
    with pytest.raises(ValueError, match="method"):
        m.generate(np.ones((2, 3), int), max_length=3, method="nucleus")
    with pytest.raises(ValueError, match=r"\['top_k'\] do not apply to method='beam'"):
        m.generate(np.ones((2, 3), int), max_length=3, beam_width=2, top_k=3)
    with pytest.raises(ValueError, match=r"\['alpha', 'beam_width'\] do not apply"):
        m.generate(np.ones((2, 3), int), max_length=3, method="sample", beam_width=4, alpha=0.6)
    with pytest.raises(ValueError, match=r"`source` holds ids in \[3, 99\], outside the vocabulary \[0, 12\)"):
        m.generate(np.array([[3, 99]]), max_length=3)
    with pytest.raises(ValueError, match=r"`target_in` holds ids in \[-7, 4\]"):
        m({"source": np.ones((1, 3), int), "target_in": np.array([[1, 4, -7]])})
    with pytest.raises(ValueError, match="at least one step"):
        m.generate(np.zeros((2, 0), "int32"), max_length=3)


def test_attention_maps_are_the_decode_steps_alignments_in_source_order():
    inputs, _ = batch(np.random.default_rng(6))
    for reverse in (False, True):
        m = model(reverse_source=reverse)
        maps = np.asarray(m.attention_maps(inputs["source"], inputs["target_in"][:, 1:]))
        assert maps.shape == (8, 5, 5)
        np.testing.assert_allclose(maps.sum(-1), 1.0, atol=1e-5)
        assert np.all(maps[1, :, 3:] == 0)  # the padded source positions of row 1
    with pytest.raises(ValueError, match="attention"):
        model(attention=None).attention_maps(inputs["source"], inputs["target_in"])


@pytest.mark.parametrize("kwargs", [dict(), dict(bidirectional=True, encoder_layers=2, cell="gru",
                                                  attention="bahdanau", reverse_source=True), dict(attention=None)])
def test_litert_greedy_decoding_equals_keras_token_for_token(tmp_path, kwargs):
    from keras import ops

    from keras_dl.decoding import greedy_search
    from keras_dl.export import TFLiteModel
    from keras_dl.export import export_tflite

    m = model(**kwargs)
    rng = np.random.default_rng(7)
    for w in m.weights:  # random weights large enough that decoding varies with the source
        if w.trainable:
            w.assign(rng.normal(0, 0.5, w.shape).astype(np.float32))
    source = rng.integers(3, V, (4, 6)).astype(np.int32)
    source[1, 4:] = 0
    encoder = TFLiteModel(export_tflite(m.encoder_model(6), str(tmp_path / "encoder.tflite")))
    step = TFLiteModel(export_tflite(m.decoder_step_model(6), str(tmp_path / "step.tflite")))
    assert not any(op.startswith("Flex") for op in encoder.op_names + step.op_names)
    expected = np.asarray(m.generate(source, max_length=8)["tokens"])[:, 0]
    assert len({tuple(row) for row in expected}) > 1

    def lite_step(tokens, states):
        out = step({"token": np.asarray(tokens, np.int32), **{k: np.asarray(v) for k, v in states.items()}})
        return ops.convert_to_tensor(out.pop("logits")), {k: ops.convert_to_tensor(v) for k, v in out.items()}

    for row in range(len(source)):
        states = {k: ops.convert_to_tensor(v) for k, v in encoder({"source": source[row:row + 1]}).items()}
        tokens = greedy_search(lite_step, states, np.ones(1, "int32"), 2, 8)["tokens"]
        np.testing.assert_array_equal(np.asarray(tokens)[0], expected[row])


def test_coverage_penalty_ignores_source_padding():
    m = model()
    alone = m.generate(np.array([[5, 7]]), max_length=6, beam_width=2, beta=0.5)
    padded = m.generate(np.array([[5, 7, 0, 0, 0], [4, 8, 9, 10, 3]]), max_length=6, beam_width=2, beta=0.5)
    np.testing.assert_allclose(np.asarray(padded["scores"])[0], np.asarray(alone["scores"])[0], atol=1e-4)
    np.testing.assert_array_equal(np.asarray(padded["tokens"])[0], np.asarray(alone["tokens"])[0])


def test_scheduled_sampling_resumes_from_a_saved_model_as_if_never_stopped(tmp_path):
    inputs, target = batch(np.random.default_rng(8), size=16)

    def trained(epochs, start=None):
        m = start or model(scheduled_sampling=ScheduledSampling("constant", k=0.5), seed=3)
        if start is None:
            m.compile("adam", SequenceLoss())
        m.fit(inputs, target, batch_size=4, epochs=epochs, shuffle=False, verbose=0)
        return m

    straight = trained(2)
    first = trained(1)
    first.save(str(tmp_path / "mid.keras"))
    resumed = trained(1, keras.models.load_model(str(tmp_path / "mid.keras")))
    for a, b in zip(straight.weights, resumed.weights):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-6, err_msg=a.path)
