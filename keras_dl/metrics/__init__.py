"""Metrics and losses: bits per character / perplexity for language models; sequence loss and exact match."""

from keras_dl.metrics.language import BitsPerCharacter
from keras_dl.metrics.language import bits_per_character
from keras_dl.metrics.language import streamed_bits_per_character
from keras_dl.metrics.language import unigram_bits_per_character
from keras_dl.metrics.memory_tasks import BitsWrongPerSequence
from keras_dl.metrics.memory_tasks import bits_wrong
from keras_dl.metrics.memory_tasks import bits_wrong_per_sequence
from keras_dl.metrics.sequence import ExactMatch
from keras_dl.metrics.sequence import SequenceLoss
from keras_dl.metrics.sequence import exact_match
from keras_dl.metrics.sequence import sequence_loss
