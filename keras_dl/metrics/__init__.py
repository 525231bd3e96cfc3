"""Metrics and losses: bits per character / perplexity for language models; sequence loss and exact match;
sample quality of generative models (Fréchet/kernel distances, classifier FID/KID, mode coverage, density ratios)."""

from keras_dl.metrics.generative import build_digit_classifier
from keras_dl.metrics.generative import classifier_features
from keras_dl.metrics.generative import classifier_fid
from keras_dl.metrics.generative import classifier_kid
from keras_dl.metrics.generative import density_ratio
from keras_dl.metrics.generative import density_ratio_error
from keras_dl.metrics.generative import digit_classifier
from keras_dl.metrics.generative import frechet_distance
from keras_dl.metrics.generative import kernel_distance
from keras_dl.metrics.generative import label_accuracy
from keras_dl.metrics.generative import mode_coverage
from keras_dl.metrics.generative import train_digit_classifier
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
