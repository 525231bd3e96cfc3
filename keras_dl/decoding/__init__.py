"""Decoding: one loop for beam search, greedy search and sampling (temperature, top-k, top-p) over any step function."""

from keras_dl.decoding.pixels import sample_pixels
from keras_dl.decoding.queues import ConvQueues
from keras_dl.decoding.sampling import GENERATOR
from keras_dl.decoding.sampling import SAMPLING_ALGORITHM
from keras_dl.decoding.sampling import SplitMix64
from keras_dl.decoding.sampling import generate
from keras_dl.decoding.sampling import generate_cached
from keras_dl.decoding.sampling import generate_dual_softmax
from keras_dl.decoding.sampling import generate_naive
from keras_dl.decoding.sampling import sample_categorical
from keras_dl.decoding.sampling import sample_from_logits
from keras_dl.decoding.sampling import stream_tokens
from keras_dl.decoding.sampling import strict_exp
from keras_dl.decoding.search import beam_search
from keras_dl.decoding.search import coverage_penalty
from keras_dl.decoding.search import filter_logits
from keras_dl.decoding.search import greedy_search
from keras_dl.decoding.search import length_penalty
from keras_dl.decoding.search import sample
from keras_dl.decoding.search import tile_for_beams
