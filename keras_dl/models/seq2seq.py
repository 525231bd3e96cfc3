"""An RNN encoder-decoder with attention, teacher forcing and scheduled sampling (the tfa.seq2seq set-up)."""

import keras
import tensorflow as tf
from keras import ops

from keras_dl import _checks
from keras_dl.decoding import search
from keras_dl.layers.attention import BahdanauAttention
from keras_dl.layers.attention import LuongAttention
from keras_dl.layers.decoder import AttentionDecoderCell

_SCHEDULES = ("constant", "linear", "exponential", "inverse_sigmoid")
_VARIANTS = ("embedding", "output")
_ATTENTIONS = {"luong": lambda units: LuongAttention("general"), "bahdanau": BahdanauAttention, None: None}
_CELLS = {"lstm": keras.layers.LSTMCell, "gru": keras.layers.GRUCell}
_LAYERS = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU}


@keras.saving.register_keras_serializable(package="keras_dl")
class ScheduledSampling:
    """Scheduled sampling (Bengio et al. 2015): the probability of feeding the true previous token at training step i.

    `"linear"`: `max(minimum, k - c i)`; `"exponential"`: `k ** i` (k < 1); `"inverse_sigmoid"`:
    `k / (k + exp(i / k))` (k >= 1); `"constant"`: `k`. Otherwise the decoder is fed its own
    prediction: a token drawn from its output distribution (`variant="embedding"`, tfa's
    `ScheduledEmbeddingTrainingSampler`) or the expected embedding under it (`variant="output"`,
    differentiable, after tfa's `ScheduledOutputTrainingSampler`).

    Args:
        schedule: one of `"constant"`, `"linear"`, `"exponential"`, `"inverse_sigmoid"`.
        k, c, minimum: the schedule's constants (`c` and `minimum` only for `"linear"`).
        variant: `"embedding"` or `"output"`.

    Example:
    >>> schedule = ScheduledSampling("inverse_sigmoid", k=100.0)
    >>> [round(float(schedule(i)), 3) for i in (0, 500, 1000)]
    [0.99, 0.403, 0.005]
    """

    def __init__(self, schedule="inverse_sigmoid", k=1000.0, c=0.0, minimum=0.0, variant="embedding"):
        if schedule not in _SCHEDULES:
            raise ValueError(f"`schedule` must be one of {_SCHEDULES}, got {schedule!r}.")
        if variant not in _VARIANTS:
            raise ValueError(f"`variant` must be one of {_VARIANTS}, got {variant!r}.")
        self.schedule, self.variant = schedule, variant
        self.k = _checks.non_negative_float("k", k)
        self.c = _checks.non_negative_float("c", c)
        self.minimum = _checks.non_negative_float("minimum", minimum, below=1.0 + 1e-9)
        if schedule == "exponential" and not self.k < 1.0:
            raise ValueError(f"`k` must be < 1 for the exponential schedule, got {k}.")
        if schedule == "inverse_sigmoid" and self.k < 1.0:
            raise ValueError(f"`k` must be >= 1 for the inverse-sigmoid schedule, got {k}.")
        if schedule == "constant" and self.k > 1.0:
            raise ValueError(f"`k` must be a probability for the constant schedule, got {k}.")

    def __call__(self, step):
        i = ops.cast(step, "float32")
        if self.schedule == "constant":
            p = ops.full_like(i, self.k)
        elif self.schedule == "linear":
            p = ops.maximum(self.minimum, self.k - self.c * i)
        elif self.schedule == "exponential":
            p = ops.power(self.k, i)
        else:
            p = self.k / (self.k + ops.exp(ops.minimum(i / self.k, 80.0)))
        return ops.clip(p, 0.0, 1.0)

    def get_config(self):
        return {"schedule": self.schedule, "k": self.k, "c": self.c, "minimum": self.minimum, "variant": self.variant}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@keras.saving.register_keras_serializable(package="keras_dl")
class Seq2Seq(keras.Model):
    """Encoder-decoder over token ids: an RNN encoder (stacked, optionally bidirectional), an attention decoder.

    Training feeds the decoder the true previous tokens (teacher forcing) or, with
    `scheduled_sampling`, its own predictions with a probability that grows with the
    training step. `generate` decodes greedily, by sampling or by beam search with the
    library's decode loop; `decode_step` is the one-token step those loops (and LiteRT) run.
    Token ids: `0` padding, `start_token` starts every decoder input, `end_token` ends targets.

    Args:
        source_vocabulary_size, target_vocabulary_size: numbers of token ids.
        embedding_dim: size of both embeddings.
        units: encoder units per direction (the decoder has `units`, doubled when bidirectional).
        encoder_layers: stacked encoder RNN layers.
        bidirectional: bidirectional encoder layers.
        cell: `"lstm"` or `"gru"`.
        attention: `"luong"` (general score), `"bahdanau"` or `None` (a plain encoder-decoder:
            the encoder's final state is all the decoder sees).
        reverse_source: feed the source reversed (Sutskever et al. 2014).
        scheduled_sampling: a `ScheduledSampling`, or `None` for teacher forcing.
        start_token, end_token: ids starting decoder inputs and ending targets.
        seed: seed of scheduled sampling's draws.

    Call arguments:
        inputs: `{"source": int [batch, S], "target_in": int [batch, U]}` (0-padded; `target_in`
            starts with `start_token`).
        training: scheduled sampling only applies in training.

    Returns logits `[batch, U, target_vocabulary_size]`, masked where `target_in` is padding (so
    `keras_dl.metrics.SequenceLoss` averages over real tokens only).

    Example:
    >>> model = Seq2Seq(13, 13, embedding_dim=8, units=16)
    >>> inputs = {"source": np.array([[5, 6, 7, 0]]), "target_in": np.array([[1, 7, 6, 5]])}
    >>> model(inputs).shape
    TensorShape([1, 4, 13])
    >>> model.generate(inputs["source"], max_length=6, beam_width=3)["tokens"].shape
    TensorShape([1, 3, 6])
    """

    def __init__(self, source_vocabulary_size, target_vocabulary_size, embedding_dim=64, units=128,
                 encoder_layers=1, bidirectional=False, cell="lstm", attention="luong", reverse_source=False,
                 scheduled_sampling=None, start_token=1, end_token=2, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.source_vocabulary_size = _checks.positive_int("source_vocabulary_size", source_vocabulary_size)
        self.target_vocabulary_size = _checks.positive_int("target_vocabulary_size", target_vocabulary_size)
        self.embedding_dim = _checks.positive_int("embedding_dim", embedding_dim)
        self.units = _checks.positive_int("units", units)
        self.encoder_layers = _checks.positive_int("encoder_layers", encoder_layers)
        if cell not in _CELLS:
            raise ValueError(f"`cell` must be one of {sorted(_CELLS)}, got {cell!r}.")
        if attention not in _ATTENTIONS:
            raise ValueError(f"`attention` must be 'luong', 'bahdanau' or None, got {attention!r}.")
        if isinstance(scheduled_sampling, dict):
            scheduled_sampling = ScheduledSampling.from_config(scheduled_sampling)
        if scheduled_sampling is not None and not isinstance(scheduled_sampling, ScheduledSampling):
            raise TypeError(f"`scheduled_sampling` must be a ScheduledSampling or None, got {scheduled_sampling!r}.")
        self.bidirectional, self.cell, self.attention = bool(bidirectional), cell, attention
        self.reverse_source, self.scheduled_sampling, self.seed = bool(reverse_source), scheduled_sampling, seed
        self.start_token = _checks.non_negative_int("start_token", start_token, below=target_vocabulary_size)
        self.end_token = _checks.non_negative_int("end_token", end_token, below=target_vocabulary_size)
        if 0 in (self.start_token, self.end_token):
            raise ValueError("`start_token` and `end_token` must not be 0, the padding id.")

        self.source_embedding = keras.layers.Embedding(source_vocabulary_size, embedding_dim, mask_zero=True,
                                                       name="source_embedding")
        self.target_embedding = keras.layers.Embedding(target_vocabulary_size, embedding_dim, mask_zero=True,
                                                       name="target_embedding")
        self.encoder = []
        for i in range(encoder_layers):
            layer = _LAYERS[cell](units, return_sequences=True, return_state=True, name=f"encoder_{i}")
            self.encoder.append(keras.layers.Bidirectional(layer, name=f"encoder_{i}") if bidirectional else layer)
        decoder_units = units * (2 if bidirectional else 1)
        decoder_cell = _CELLS[cell](decoder_units, name="decoder_cell")
        if attention is None:
            self.decoder_cell = decoder_cell
        else:
            self.decoder_cell = AttentionDecoderCell(decoder_cell, _ATTENTIONS[attention](decoder_units),
                                                     attention_layer_size=decoder_units, memory_depth=decoder_units,
                                                     name="attention_decoder")
        self.decoder = keras.layers.RNN(self.decoder_cell, return_sequences=True, name="decoder")
        self.output_layer = keras.layers.Dense(target_vocabulary_size, name="logits")
        # Scheduled sampling's current probability of teacher forcing, set from the step by train_step.
        first = 1.0 if scheduled_sampling is None else float(scheduled_sampling(0))
        self.teacher_forcing = self.add_weight(name="teacher_forcing", shape=(), trainable=False, dtype="float32",
                                               initializer=keras.initializers.Constant(first))
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, input_shape=None):
        # Every sublayer's shape follows from the vocabulary sizes and units: one call on a 1-token batch builds them.
        ones = ops.ones((1, 2), "int32")
        self.call({"source": ones, "target_in": ones})
        self.built = True

    def _check_tokens(self, name, tokens, vocabulary_size):
        if not isinstance(tokens, keras.KerasTensor):
            tokens = ops.convert_to_tensor(tokens)
        _checks.token_ids(name, tokens)
        if 0 in tokens.shape:
            raise ValueError(f"`{name}` must hold at least one sequence of at least one step, got shape "
                             f"{tuple(tokens.shape)}.")
        if tf.executing_eagerly() and not isinstance(tokens, keras.KerasTensor):
            # Concrete ids only (a traced graph cannot raise here): Embedding would wrap negative ids silently.
            low, high = int(ops.min(tokens)), int(ops.max(tokens))
            if low < 0 or high >= vocabulary_size:
                raise ValueError(f"`{name}` holds ids in [{low}, {high}], outside the vocabulary [0, "
                                 f"{vocabulary_size}).")
        return tokens

    def encode(self, source, training=False):
        """`(memory [batch, S, units], memory_mask [batch, S], final encoder states)` of a source batch."""
        source = self._check_tokens("source", source, self.source_vocabulary_size)
        if self.reverse_source:
            source = ops.flip(source, axis=1)  # Padding moves to the front, where the mask skips it.
        mask = ops.not_equal(source, 0)
        h = self.source_embedding(source)
        for layer in self.encoder:
            h, *states = layer(h, mask=mask, training=training)
        if self.bidirectional:  # [forward states..., backward states...] -> each pair concatenated
            half = len(states) // 2
            states = [ops.concatenate([f, b], axis=-1) for f, b in zip(states[:half], states[half:])]
        return h, mask, states

    def initial_state(self, source, training=False):
        """The decoder's states after reading `source` (the state `decode_step` and `keras_dl.decoding` take)."""
        memory, mask, states = self.encode(source, training=training)
        if self.attention is None:
            return states
        return self.decoder_cell.get_initial_state(memory=memory, memory_mask=mask, cell_state=states)

    def decode_step(self, tokens, states, return_alignments=False):
        """One decoder step: previous tokens `[n]` and states -> next-token logits `[n, vocabulary]` and states.

        With `return_alignments`, also the step's attention over the source (beam search's coverage penalty).
        """
        if not self.built:
            self.build()
        # The table itself: Embedding would attach a padding mask, which a lone cell step does not take.
        x = ops.take(self.target_embedding.embeddings, ops.cast(tokens, "int32"), axis=0)
        output, states = self.decoder_cell(x, list(states))
        logits = self.output_layer(output)
        if return_alignments:
            if self.attention is None:
                raise ValueError("`return_alignments` needs an attention decoder (`attention` is None).")
            return logits, states, states[-4]
        return logits, states

    def call(self, inputs, training=False):
        if not isinstance(inputs, dict) or set(inputs) != {"source", "target_in"}:
            raise ValueError(f"Seq2Seq takes {{'source': ..., 'target_in': ...}}, got "
                             f"{sorted(inputs) if isinstance(inputs, dict) else type(inputs).__name__}.")
        target_in = self._check_tokens("target_in", inputs["target_in"], self.target_vocabulary_size)
        states = self.initial_state(inputs["source"], training=training)
        if training and self.scheduled_sampling is not None:
            return self._scheduled_sampling(target_in, states)
        outputs = self.decoder(self.target_embedding(target_in), initial_state=states, training=training)
        return self.output_layer(outputs)

    def _scheduled_sampling(self, target_in, states):
        """The decoder fed, at each step after the first, the true token with probability `teacher_forcing`."""
        batch, length = ops.shape(target_in)[0], ops.shape(target_in)[1]
        vocabulary = self.target_vocabulary_size
        teacher = (keras.random.uniform((length, batch), dtype="float32", seed=self.seed_generator)
                   < ops.cast(self.teacher_forcing, "float32"))
        # Gumbel noise drawn before the loop, so the loop itself is deterministic: argmax(logits + g) ~ softmax.
        uniform = keras.random.uniform((length, batch, vocabulary), 1e-9, 1.0, "float32", seed=self.seed_generator)
        gumbel = -ops.log(-ops.log(uniform))
        true_x = ops.transpose(ops.cast(self.target_embedding(target_in), "float32"), (1, 0, 2))  # [length, batch, E]
        sequence = ops.concatenate([true_x, ops.cast(teacher, "float32")[..., None], gumbel], axis=-1)
        table = self.target_embedding.embeddings
        width = self.embedding_dim

        # Memory, keys and mask stay out of the scan's carry: Keras' TF scan stacks its outputs in the carry's
        # structure, so the carry is also the per-step output, and it should hold only what changes.
        constant = 3 if self.attention is not None else 0
        fixed = list(states[len(states) - constant:])

        def step(carry, inputs):
            previous_logits, first, *changing = carry
            true_x, use_truth, noise = inputs[:, :width], inputs[:, width], inputs[:, width + 1:]
            use_truth = ops.logical_or(use_truth > 0.5, first)[:, None]
            true_x = ops.cast(true_x, self.compute_dtype)
            if self.scheduled_sampling.variant == "embedding":
                sampled = ops.argmax(ops.cast(previous_logits, "float32") + noise, axis=-1)
                model_x = ops.cast(ops.take(table, sampled, axis=0), true_x.dtype)
            else:
                probabilities = ops.softmax(ops.cast(previous_logits, "float32"), axis=-1)
                model_x = ops.cast(ops.matmul(probabilities, ops.cast(table, "float32")), true_x.dtype)
            output, states = self.decoder_cell(ops.where(use_truth, true_x, model_x), changing + fixed, training=True)
            carry = [self.output_layer(output), ops.zeros_like(first), *states[:len(states) - constant]]
            return carry, carry

        first_logits = ops.zeros((batch, vocabulary), self.compute_dtype)
        init = [first_logits, ops.ones((batch,), "bool"), *states[:len(states) - constant]]
        _, outputs = ops.scan(step, init, sequence)
        return ops.transpose(outputs[0], (1, 0, 2))

    def compute_mask(self, inputs, previous_mask=None):
        return ops.not_equal(inputs["target_in"], 0)

    def train_step(self, data):
        if self.scheduled_sampling is not None:
            step = self.optimizer.iterations
            self.teacher_forcing.assign(self.scheduled_sampling(step))
            # The draws of step i follow from the seed and i, not from a generator state that `.keras` files and
            # BackupAndRestore do not keep: a resumed run draws what the uninterrupted one did (two draws a step).
            state = self.seed_generator.state
            state.assign(ops.stack([state[0], ops.cast(step, state.dtype) * 2]))
        return super().train_step(data)

    def generate(self, source, max_length, beam_width=1, alpha=0.0, beta=0.0, method="beam", temperature=1.0,
                 top_k=None, top_p=None, seed=None):
        """Decodes a source batch with `keras_dl.decoding`: beam search (greedy at width 1) or sampling.

        Args:
            source: int `[batch, S]`.
            max_length: most tokens generated.
            beam_width, alpha, beta: beam search's (`method="beam"`): see `keras_dl.decoding.beam_search`;
                the coverage penalty (`beta`) counts real source positions only.
            method: `"beam"` or `"sample"`.
            temperature, top_k, top_p, seed: sampling's (`method="sample"`): see `keras_dl.decoding.sample`.

        Returns:
            the decoding function's dict: with `"beam"`, `beam_search`'s (`"tokens"` `[batch, beam_width,
            max_length]`, best first, scores); with `"sample"`, `sample`'s (`"tokens"` `[batch, max_length]`).
        """
        if method not in ("beam", "sample"):
            raise ValueError(f"`method` must be 'beam' or 'sample', got {method!r}.")
        ignored = ({"temperature": temperature != 1.0, "top_k": top_k is not None, "top_p": top_p is not None,
                    "seed": seed is not None} if method == "beam"
                   else {"beam_width": beam_width != 1, "alpha": bool(alpha), "beta": bool(beta)})
        if any(ignored.values()):
            raise ValueError(f"{sorted(k for k, v in ignored.items() if v)} do not apply to method={method!r}.")
        states = self.initial_state(source)
        start = ops.full((ops.shape(states[0])[0],), self.start_token, "int32")
        if method == "sample":
            return search.sample(self.decode_step, states, start, self.end_token, max_length,
                                 temperature=temperature, top_k=top_k, top_p=top_p, seed=seed)
        step = self.decode_step
        if beta:
            def step(tokens, states):
                logits, states, alignments = self.decode_step(tokens, states, return_alignments=True)
                # Padding counts as covered: only real source positions are penalised.
                return logits, states, alignments + (1.0 - states[-1])
        return search.beam_search(step, states, start, self.end_token, beam_width, max_length, alpha=alpha, beta=beta)

    def attention_maps(self, source, tokens):
        """The decoder's alignments `[batch, len(tokens[0]), S]` while it reads `tokens` (e.g. its own output).

        Args:
            source: int `[batch, S]`.
            tokens: int `[batch, U]`, the tokens fed after the start token (the last is not fed).
        """
        if self.attention is None:
            raise ValueError("`attention_maps` needs an attention decoder (`attention` is None).")
        tokens = ops.convert_to_tensor(tokens, "int32")
        fed = ops.concatenate([ops.full((ops.shape(tokens)[0], 1), self.start_token, "int32"), tokens[:, :-1]], 1)
        states, maps = self.initial_state(source), []
        for t in range(tokens.shape[1]):
            _, states, alignments = self.decode_step(fed[:, t], states, return_alignments=True)
            maps.append(alignments)
        alignments = ops.stack(maps, axis=1)
        return ops.flip(alignments, axis=2) if self.reverse_source else alignments  # in the source's own order

    def encoder_model(self, source_length, batch_size=1):
        """A functional model over this model's layers: `{"source": int [batch, source_length]}` -> the decoder's
        first states `{"state_0", ...}` (the on-device encoder; sources are 0-padded to `source_length`)."""
        if not self.built:
            self.build()
        source_length = _checks.positive_int("source_length", source_length)
        source = keras.Input((source_length,), batch_size=batch_size, dtype="int32", name="source")
        memory, mask, states = self.encode(source)
        if self.attention is not None:
            states = self.decoder_cell._memory_states(memory, mask, states)
        return keras.Model({"source": source}, {f"state_{i}": s for i, s in enumerate(states)}, name="encoder")

    def decoder_step_model(self, source_length, batch_size=1):
        """A functional model over this model's layers: `{"token": int [batch], "state_0", ...}` -> `{"logits",
        "state_0", ...}`, one decoder step (the on-device decoder, driven by `keras_dl.decoding`)."""
        encoder = self.encoder_model(source_length, batch_size)
        token = keras.Input((), batch_size=batch_size, dtype="int32", name="token")
        states = {name: keras.Input(spec.shape[1:], batch_size=batch_size, dtype=spec.dtype, name=name)
                  for name, spec in encoder.output.items()}
        logits, new_states = self.decode_step(token, [states[f"state_{i}"] for i in range(len(states))])
        outputs = {"logits": logits, **{f"state_{i}": s for i, s in enumerate(new_states)}}
        return keras.Model({"token": token, **states}, outputs, name="decoder_step")

    def get_config(self):
        return {**super().get_config(), "source_vocabulary_size": self.source_vocabulary_size,
                "target_vocabulary_size": self.target_vocabulary_size, "embedding_dim": self.embedding_dim,
                "units": self.units, "encoder_layers": self.encoder_layers, "bidirectional": self.bidirectional,
                "cell": self.cell, "attention": self.attention, "reverse_source": self.reverse_source,
                "scheduled_sampling": (None if self.scheduled_sampling is None
                                       else self.scheduled_sampling.get_config()),
                "start_token": self.start_token, "end_token": self.end_token, "seed": self.seed}
