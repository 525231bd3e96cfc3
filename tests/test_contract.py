"""Every public class of keras_dl, held to the layer contract (`tests/contract.py`)."""

import inspect

import keras
import numpy as np
import pytest
from contract import CHECKS
from contract import PAD
from contract import B
from contract import Case
from contract import D
from contract import T
from contract import in_model
from contract import in_rnn
from contract import run_contract
from contract import sequence_inputs

import keras_dl
from keras_dl import export
from keras_dl import layers
from keras_dl import models
from keras_dl import sparsity

VOCAB = 11


def tokens(rng, steps=T):
    return rng.integers(0, VOCAB, (B, steps)).astype(np.int32)


def with_readout(cell, masking=False):
    """A cell in `RNN` with a trainable readout (a reservoir has no trainable weights of its own)."""
    inputs = keras.Input((None, D))
    h = keras.layers.RNN(cell, return_sequences=True)(keras.layers.Masking(PAD)(inputs) if masking else inputs)
    return keras.Model(inputs, keras.layers.Dense(2, kernel_initializer="ones")(h))  # The same in every copy.


def streaming_lm(batch_size=B):
    inputs = keras.Input((None,), dtype="int32", name="tokens")
    h = keras.layers.Embedding(VOCAB, 4)(inputs)
    h = keras.layers.GRU(6, return_sequences=True, dropout=0.2, name="gru")(h)
    return export.streaming_model(keras.Model(inputs, keras.layers.Dense(VOCAB)(h)), batch_size=batch_size)


def streaming_inputs(rng):
    return {"tokens": rng.integers(0, VOCAB, (B,)).astype(np.int32),
            "gru_state_0": rng.normal(size=(B, 6)).astype(np.float32)}


def attention_model(mechanism, masking=False):
    """A mechanism attending over `[batch, T, D]` memory with its mean (over unmasked steps) as the query."""
    inputs = keras.Input((None, D))
    memory = keras.layers.Masking(PAD)(inputs) if masking else inputs
    return keras.Model(inputs, mechanism([keras.layers.GlobalAveragePooling1D()(memory), memory]))


@keras.saving.register_keras_serializable(package="keras_dl_tests")
class SelfAttendingDecoder(keras.layers.Layer):
    """An `AttentionDecoderCell` in `RNN` over a sequence that is also its memory (the cell needs a layer or a
    subclassed model around it: its memory states are computed from the memory tensor)."""

    def __init__(self, cell, **kwargs):
        super().__init__(**kwargs)
        self.cell = cell
        self.rnn = keras.layers.RNN(cell, return_sequences=True)
        self.supports_masking = True

    def build(self, input_shape):
        self.rnn.build(input_shape)

    def call(self, sequence, mask=None):
        states = self.cell.get_initial_state(memory=sequence, memory_mask=mask)
        return self.rnn(sequence, initial_state=states, mask=mask)

    def get_config(self):
        return {**super().get_config(), "cell": keras.saving.serialize_keras_object(self.cell)}

    @classmethod
    def from_config(cls, config):
        return cls(**{**config, "cell": keras.saving.deserialize_keras_object(config["cell"])})


def seq2seq_inputs(rng):
    source = rng.integers(3, VOCAB, (B, T)).astype(np.int32)
    source[1, 3:] = 0
    target_in = rng.integers(1, VOCAB, (B, T - 1)).astype(np.int32)
    target_in[0, -1] = 0
    return {"source": source, "target_in": target_in}


def layer_with_readout(layer, masking=False):
    """A weightless layer followed by a trainable readout (so the contract's training step has weights)."""
    inputs = keras.Input((None, D))
    h = layer(keras.layers.Masking(PAD)(inputs) if masking else inputs)
    return keras.Model(inputs, keras.layers.Dense(2, kernel_initializer="ones")(h))


def transformer_seq2seq_inputs(rng):
    source = rng.integers(1, VOCAB, (B, 6)).astype(np.int32)
    source[1, 4:] = 0
    return {"source": source, "target_in": tokens(rng)}


def sampler_model(sampler, masking=False):
    """Mean and log-variance heads over `[batch, T, D]` sequences, then the sampling layer."""
    inputs = keras.Input((None, D))
    return keras.Model(inputs, sampler([keras.layers.Dense(4)(inputs), keras.layers.Dense(4)(inputs)]))


def flow_model(flow, masking=False):
    """An inverse autoregressive flow over `[batch, 6]` latents with a context computed from them."""
    inputs = keras.Input((6,))
    return keras.Model(inputs, flow([inputs, keras.layers.Dense(3)(inputs)]))


def likelihood_mean_model(layer, masking=False):
    """Mixture-of-logistics parameters (2 components: 6 per channel) from a Dense layer, then their mean."""
    inputs = keras.Input((None, D))
    return keras.Model(inputs, layer(keras.layers.Dense(6)(inputs)))


def small_vae(**kwargs):
    encoder = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(4)])
    decoder = keras.Sequential([keras.Input((2,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(6)])
    return models.VAE(encoder, decoder, **kwargs)


def binary_inputs(rng):
    return rng.integers(0, 2, (B, 6)).astype(np.float32)


def gan_latents(dim):
    return lambda rng: rng.normal(size=(B, dim)).astype(np.float32)


def gan_images(rng, batch=4, shape=(8, 8, 1)):
    return rng.uniform(-1, 1, (batch, *shape)).astype(np.float32)


def gan_case(make, inputs, output_shapes, train_data):
    return Case(make=make, inputs=inputs, output_shapes=output_shapes, compile=compile_gan, train_data=train_data,
                phone=True, tflite_model=export.generator_model)


def compile_gan(model):
    model.compile(keras.optimizers.Adam(0.01))


def attention_case(make):
    return Case(make=make, model=attention_model, inputs=sequence_inputs, output_shapes=(B, T), mask=True, phone=True)


def cell_case(make, state_width=4, model=in_rnn):
    return Case(make=make, model=model, inputs=sequence_inputs, output_shapes=(B, T, state_width), mask=True,
                phone=True)


def lm_case(make, **kwargs):
    return Case(make=make, inputs=tokens, output_shapes=(B, T, VOCAB), phone=True,
                tflite_model=lambda model: model.step_model(), **kwargs)


def image_inputs(rng, channels=2):
    return rng.random((B, 6, 6, channels)).astype(np.float32)


def image_model(layer, masking=False):
    """A layer over `[batch, 6, 6, 2]` images (a gated block gets the image as both its stacks)."""
    inputs = keras.Input((6, 6, 2))
    return keras.Model(inputs, layer([inputs, inputs]) if isinstance(layer, layers.GatedPixelCNNBlock) else layer(inputs))


def compile_pixelcnn(model):
    model.compile(keras.optimizers.Adam(0.01))


SCHEDULE = sparsity.PolynomialDecay(0.0, 0.5, begin_step=0, end_step=4, frequency=1)

CASES = {
    # Cells, each in keras.layers.RNN (dropout where the cell has it, so seeds cover the masks).
    "ElmanCell": cell_case(lambda: layers.ElmanCell(4, dropout=0.2, recurrent_dropout=0.2)),
    "LSTMCell": cell_case(lambda: layers.LSTMCell(4, peepholes=True, layer_norm=True, dropout=0.2)),
    "GRUCell": cell_case(lambda: layers.GRUCell(4, reset_after=False, recurrent_dropout=0.2)),
    "CoarseFineGRUCell": cell_case(lambda: layers.CoarseFineGRUCell(4)),
    "LeakyCell": cell_case(lambda: layers.LeakyCell(4, time_constants=(1, 10), learn_time_constants=True)),
    "ClockworkCell": cell_case(lambda: layers.ClockworkCell(4, periods=(1, 2))),
    "OrthogonalCell": cell_case(lambda: layers.OrthogonalCell(4, negative_eigenvalues=1, dropout=0.2)),
    "DelayCell": cell_case(lambda: layers.DelayCell(4, delays=(1, 3))),
    "EchoStateCell": cell_case(lambda: layers.EchoStateCell(8, spectral_radius=0.9, connectivity=0.5),
                               state_width=2, model=with_readout),
    "NTMCell": cell_case(lambda: layers.NTMCell(4, output_dim=4, memory_size=5, memory_width=3)),
    # Attention mechanisms, each over a memory with a query from it.
    "BahdanauAttention": attention_case(lambda: layers.BahdanauAttention(5, normalize=True)),
    "LuongAttention": attention_case(lambda: layers.LuongAttention("general", use_scale=True)),
    "BahdanauMonotonicAttention": attention_case(lambda: layers.BahdanauMonotonicAttention(
        5, mode="parallel", sigmoid_noise=1.0, score_bias_init=-1.0)),
    "LuongMonotonicAttention": attention_case(lambda: layers.LuongMonotonicAttention(
        "general", use_scale=True, mode="recursive", sigmoid_noise=0.5)),
    "AttentionDecoderCell": Case(
        make=lambda: layers.AttentionDecoderCell(layers.LSTMCell(4), layers.LuongAttention("general"),
                                                 attention_layer_size=4, memory_depth=D),
        model=lambda cell, masking=False: in_model(SelfAttendingDecoder(cell), masking), inputs=sequence_inputs,
        output_shapes=(B, T, 4), mask=True, phone=True),
    # Whole-sequence layers.
    "SinusoidalPositionEncoding": Case(make=lambda: layers.SinusoidalPositionEncoding(max_length=16),
                                       model=layer_with_readout, inputs=sequence_inputs, output_shapes=(B, T, 2),
                                       random_init=False),
    "TransformerEncoderBlock": Case(make=lambda: layers.TransformerEncoderBlock(2, 4, 8, dropout=0.2), model=in_model,
                                    inputs=sequence_inputs, output_shapes=(B, T, D), mask=True),
    "TransformerDecoderBlock": Case(make=lambda: layers.TransformerDecoderBlock(2, 4, 8, dropout=0.2, norm_first=True),
                                    model=in_model, inputs=sequence_inputs, output_shapes=(B, T, D), mask=True),
    "LSTM": Case(make=lambda: layers.LSTM(4, return_sequences=True, dropout=0.2), model=in_model,
                 inputs=sequence_inputs, output_shapes=(B, T, 4), mask=True, phone=True),
    "GRU": Case(make=lambda: layers.GRU(4, return_sequences=True, recurrent_dropout=0.2), model=in_model,
                inputs=sequence_inputs, output_shapes=(B, T, 4), mask=True, phone=True),
    # Causal convolutions (WaveNet).
    "CausalConv1D": Case(make=lambda: layers.CausalConv1D(4, 3, dilation_rate=2), model=in_model,
                         inputs=sequence_inputs, output_shapes=(B, T, 4), phone=True),
    "WaveNetBlock": Case(make=lambda: layers.WaveNetBlock(D, 4, dilation_rate=2), model=in_model,
                         inputs=sequence_inputs, output_shapes=((B, T, D), (B, T, 4)), phone=True),
    # PixelCNN layers, over images.
    "MaskedConv2D": Case(make=lambda: layers.MaskedConv2D(4, 3, mask_type="A", channel_groups=2), model=image_model,
                         inputs=image_inputs, output_shapes=(B, 6, 6, 4), phone=True),
    "GatedPixelCNNBlock": Case(make=lambda: layers.GatedPixelCNNBlock(4, mask_type="A"), model=image_model,
                               inputs=image_inputs, output_shapes=[(B, 6, 6, 4), (B, 6, 6, 4)], phone=True),
    # Latent variables and likelihoods.
    "GaussianSample": Case(make=layers.GaussianSample, model=sampler_model, inputs=sequence_inputs,
                           output_shapes=(B, T, 4), phone=True),
    "InverseAutoregressiveFlow": Case(make=lambda: layers.InverseAutoregressiveFlow(2, 8), model=flow_model,
                                      inputs=lambda rng: rng.normal(size=(B, 6)).astype(np.float32),
                                      output_shapes=((B, 6), (B,))),
    "LikelihoodMean": Case(make=lambda: layers.LikelihoodMean(layers.DiscretizedLogisticLikelihood(num_mixtures=2)),
                           model=likelihood_mean_model, inputs=sequence_inputs, output_shapes=(B, T, 1), phone=True),
    # Models.
    "VAE": Case(make=lambda: small_vae(beta=0.5), inputs=binary_inputs, output_shapes=(B, 6), phone=True,
                tflite_model=lambda model: model.decoder_model()),
    "RNNLanguageModel": lm_case(lambda: models.RNNLanguageModel(VOCAB, embedding_dim=4, units=6, dropout=0.2)),
    "SparseRNNLanguageModel": lm_case(lambda: models.SparseRNNLanguageModel(
        VOCAB, embedding_dim=16, units=16, schedule=SCHEDULE)),
    "WaveRNN": Case(make=lambda: models.WaveRNN(units=32, schedule=SCHEDULE),
                    inputs=lambda rng: rng.integers(0, 65536, (B, T + 1)).astype(np.int32),
                    output_shapes={"coarse": (B, T, 256), "fine": (B, T, 256)}, phone=True,
                    tflite_model=lambda model: model.step_model()),
    "WaveNet": Case(make=lambda: models.WaveNet(VOCAB, residual_channels=4, skip_channels=4, head_channels=4,
                                                num_layers=3, dilation_cycle=2),
                    inputs=tokens, output_shapes=(B, T, VOCAB), phone=True,
                    tflite_model=lambda model: model.step_model()),
    "PixelCNN": Case(make=lambda: models.PixelCNN((6, 6, 2), levels=4, filters=4, num_layers=2, gated=True,
                                                  first_kernel_size=3),
                     inputs=image_inputs, output_shapes=(B, 6, 6, 8), compile=compile_pixelcnn,
                     train_data=lambda rng: np.round(image_inputs(rng) * 3) / 3),
    "Seq2Seq": Case(make=lambda: models.Seq2Seq(VOCAB, VOCAB, embedding_dim=4, units=4, bidirectional=True,
                                                 scheduled_sampling=models.ScheduledSampling("constant", k=0.5)),
                    inputs=seq2seq_inputs, output_shapes=(B, T - 1, VOCAB), phone=True,
                    tflite_model=lambda model: model.decoder_step_model(source_length=T)),
    "TransformerLM": Case(make=lambda: models.TransformerLM(VOCAB, 8, num_layers=2, num_heads=2, key_dim=2, ff_dim=8,
                                                            dropout=0.2),
                          inputs=tokens, output_shapes=(B, T, VOCAB)),
    "TransformerSeq2Seq": Case(make=lambda: models.TransformerSeq2Seq(VOCAB, VOCAB, 8, 8, num_layers=1, num_heads=2,
                                                                      key_dim=2, ff_dim=8, dropout=0.2,
                                                                      norm_first=True),
                               inputs=transformer_seq2seq_inputs, output_shapes=(B, T, VOCAB)),
    "RecurrentNetwork": Case(make=lambda: models.RecurrentNetwork(layers.ElmanCell(4), output_dim=2, return_sequences=True,
                                                                  omega_weight=0.5),
                             inputs=sequence_inputs, output_shapes=(B, T, 2)),
    "EchoStateNetwork": Case(make=lambda: models.EchoStateNetwork(8, 2, connectivity=0.5), inputs=sequence_inputs,
                             output_shapes=(B, T, 2)),
    # GANs: their own compile (two optimizers) and training data (real examples, not latents); the generator
    # (CycleGAN's A -> B) goes to LiteRT.
    "GAN": gan_case(lambda: models.GAN(models.mlp_generator(3, 2, units=8, num_layers=2),
                                       models.mlp_discriminator(2, units=8, num_layers=2), latent_dim=3,
                                       loss="minimax", n_critic=2, gradient_penalty_weight=1.0),
                    gan_latents(3), (B, 2), lambda rng: rng.normal(size=(4, 2)).astype(np.float32)),
    "DCGAN": gan_case(lambda: models.DCGAN((8, 8, 1), latent_dim=4, filters=4), gan_latents(4), (B, 8, 8, 1),
                      gan_images),
    "ConditionalGAN": gan_case(lambda: models.ConditionalGAN(
        models.dcgan_generator(4, (8, 8, 1), filters=4, num_labels=3),
        models.dcgan_discriminator((8, 8, 1), filters=4, num_labels=3), latent_dim=4, loss="least_squares"),
        lambda rng: [gan_latents(4)(rng), rng.integers(0, 3, B).astype(np.int32)], (B, 8, 8, 1),
        lambda rng: (gan_images(rng), rng.integers(0, 3, 4).astype(np.int32))),
    "WGANGP": gan_case(lambda: models.WGANGP(
        models.dcgan_generator(4, (16, 16, 1), filters=4),
        models.dcgan_discriminator((16, 16, 1), filters=4, normalization="layer", logit_bias=False),
        latent_dim=4, n_critic=2), gan_latents(4), (B, 16, 16, 1), lambda rng: gan_images(rng, shape=(16, 16, 1))),
    "CycleGAN": gan_case(lambda: models.CycleGAN(
        *[models.cyclegan_generator((8, 8, 1), filters=2, residual_blocks=1, downsamplings=1) for _ in range(2)],
        *[models.cyclegan_discriminator((8, 8, 1), filters=2, num_layers=2) for _ in range(2)]),
        lambda rng: gan_images(rng, B), (B, 8, 8, 1), lambda rng: (gan_images(rng), gan_images(rng))),
    # The streaming step of any causal model (a GRU language model here).
    "StreamingStep": Case(make=streaming_lm, inputs=streaming_inputs,
                          output_shapes={"outputs": (B, VOCAB), "gru_state_0": (B, 6)}, phone=True,
                          tflite_model=lambda model: streaming_lm(batch_size=1)),
}

# Public classes that are not layers, cells or models, and where their behaviour is tested.
NOT_LAYERS = {
    "AttentionMechanism": "abstract base of the attention mechanisms above; every subclass has a case",
    "RecurrentCell": "abstract base of the cells above; every subclass has a case",
    "MagnitudePruning": "a weight constraint, a Layer only so Keras saves its mask and step with the pruned layer; "
                        "tests/sparsity/test_pruning_state.py saves it mid-ramp and resumes in a fresh process, and "
                        "the SparseRNNLanguageModel and WaveRNN cases save it mid-training",
    "UnitInterval": "a constraint: serialisation below",
    "ConstantSparsity": "a pruning schedule: serialisation below, values against tfmot in tests/sparsity",
    "PolynomialDecay": "a pruning schedule: serialisation below, values against tfmot in tests/sparsity",
    "PruningSchedule": "abstract base of the schedules",
    "PrunableWeight": "a declaration record (tests/sparsity/test_pruning_state.py)",
    "SparsitySummaries": "a callback (tests/sparsity/test_pruning.py)",
    "BitsPerCharacter": "a metric: serialisation below, values in tests/metrics",
    "ExactMatch": "a metric: serialisation below, values in tests/metrics",
    "SequenceLoss": "a loss: serialisation below, values against tfa's formulas in tests/metrics",
    "GradientFlowMonitor": "a callback (tests/diagnostics)",
    "TFLiteModel": "a LiteRT runner (tests/export)",
    "ConvQueues": "NumPy ring buffers of a step model's past inputs (tests/decoding/test_queues.py, "
                  "tests/layers/test_causal_conv.py, tests/models/test_wavenet.py)",
    "SplitMix64": "a random number generator: reference outputs in tests/decoding/test_portable_sampling.py",
    "MultiWorkerMirroredStrategy": "a tf.distribute strategy (tests/recipes/test_distributed.py trains on two workers)",
    "SequenceTask": "a TFDS builder base (tests/data)",
    "SequenceTaskConfig": "a TFDS builder config (tests/data)",
    "AddingProblem": "a TFDS builder (tests/data)",
    "CopyMemory": "a TFDS builder (tests/data)",
    "Parity": "a TFDS builder (tests/data)",
    "PythonSource": "a TFDS builder (tests/data)",
    "ScheduledSampling": "a schedule: serialisation below, values against its formulas in tests/models/test_seq2seq.py",
    "Seq2SeqTask": "a TFDS builder base (tests/data)",
    "Seq2SeqTaskConfig": "a TFDS builder config (tests/data)",
    "DateNormalizationConfig": "a TFDS builder config (tests/data)",
    "TextAdditionConfig": "a TFDS builder config (tests/data)",
    "SymbolSequenceConfig": "a TFDS builder config (tests/data)",
    "DateNormalization": "a TFDS builder (tests/data)",
    "TextAddition": "a TFDS builder (tests/data)",
    "SequenceReversal": "a TFDS builder (tests/data)",
    "SequenceSorting": "a TFDS builder (tests/data)",
    "Seq2SeqVocabulary": "a character vocabulary (tests/data/test_seq2seq_data.py)",
    "NTMCopy": "a TFDS builder (tests/data/test_ntm_tasks.py)",
    "NTMCopyConfig": "a TFDS builder config (tests/data/test_ntm_tasks.py)",
    "AssociativeRecall": "a TFDS builder (tests/data/test_ntm_tasks.py)",
    "AssociativeRecallConfig": "a TFDS builder config (tests/data/test_ntm_tasks.py)",
    "BitsWrongPerSequence": "a metric: serialisation below, values in tests/metrics/test_memory_tasks.py",
    "Digits": "a TFDS builder (tests/data/test_generative_data.py)",
    "GaussianMixture2D": "a TFDS builder (tests/data/test_generative_data.py)",
    "GaussianMixture2DConfig": "a TFDS builder config (tests/data/test_generative_data.py)",
    "ShapePairs": "a TFDS builder (tests/data/test_generative_data.py)",
    "ShapePairsConfig": "a TFDS builder config (tests/data/test_generative_data.py)",
    "Likelihood": "abstract base of the likelihoods",
    "BernoulliLikelihood": "a distribution family: serialisation and log-probabilities in tests/layers/test_latent.py",
    "GaussianLikelihood": "a distribution family: serialisation and log-probabilities in tests/layers/test_latent.py",
    "CategoricalLikelihood": "a distribution family: serialisation and log-probabilities in tests/layers/test_latent.py",
    "DiscretizedLogisticLikelihood": "a distribution family: serialisation and log-probabilities in "
                                     "tests/layers/test_latent.py",
}


def public_classes():
    found = {}
    for name in keras_dl.__all__:
        module = getattr(keras_dl, name)
        for attribute in dir(module):
            value = getattr(module, attribute)
            if not attribute.startswith("_") and inspect.isclass(value) and value.__module__.startswith("keras_dl."):
                found[attribute] = value
    return found


def test_every_public_class_has_a_contract_case():
    classes = public_classes()
    layer_classes = {name for name, cls in classes.items() if issubclass(cls, keras.layers.Layer)}
    assert layer_classes - set(NOT_LAYERS) - set(CASES) == set(), "public layers without a contract case"
    assert set(classes) - set(CASES) - set(NOT_LAYERS) == set(), "public classes neither in CASES nor NOT_LAYERS"
    assert set(CASES) | set(NOT_LAYERS) <= set(classes), "cases for classes that are not public"


def _applicable(case, check):
    return not ((check == "masking" and not case.mask) or (check == "tflite" and not case.phone))


# Models run from tests/test_contract_models.py: `--dist loadfile` gives each file one worker, and one file
# holding every case was the suite's longest by far.
MODELS = {name for name, case in CASES.items() if case.model is None or name == "StreamingStep"}


def contract_params(names):
    return [(name, check) for name in sorted(names) for check in CHECKS if _applicable(CASES[name], check)]


@pytest.mark.parametrize("name,check", contract_params(set(CASES) - MODELS))
def test_contract(name, check, tmp_path):
    run_contract(CASES[name], check, tmp_path)


@pytest.mark.parametrize("obj", [layers.UnitInterval(0.01), SCHEDULE, sparsity.ConstantSparsity(0.5, 3, 9, 2),
                                 keras_dl.metrics.BitsPerCharacter(), keras_dl.metrics.ExactMatch(padding_token=0),
                                 keras_dl.metrics.SequenceLoss(average_across_timesteps=True, sum_over_timesteps=False,
                                                               average_across_batch=True, sum_over_batch=False),
                                 models.ScheduledSampling("linear", k=1.0, c=0.01, minimum=0.1, variant="output"),
                                 keras_dl.metrics.BitsWrongPerSequence()],
                         ids=type)
def test_serialisable_objects_round_trip(obj):
    copy = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(obj))
    assert type(copy) is type(obj) and copy.get_config() == obj.get_config()


# One name per idea across keras_dl (Keras' and keras-hub's names): a new class may not bring a synonym.
SYNONYMS = {"vocab_size": "vocabulary_size", "outputs": "output_dim", "num_classes": "output_dim",
            "hidden_size": "units", "num_units": "units", "hidden_dim": "units", "embed_dim": "embedding_dim"}


def test_one_name_per_idea_in_constructor_arguments():
    used = {(name, parameter) for name, cls in public_classes().items()
            for parameter in inspect.signature(cls.__init__).parameters if parameter in SYNONYMS}
    assert not used, [f"{name}({parameter}=...): call it {SYNONYMS[parameter]}" for name, parameter in sorted(used)]
