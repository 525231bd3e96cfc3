"""Metrics: bits per character / perplexity for language models."""

from keras_dl.metrics.language import BitsPerCharacter
from keras_dl.metrics.language import bits_per_character
from keras_dl.metrics.language import streamed_bits_per_character
from keras_dl.metrics.language import unigram_bits_per_character
