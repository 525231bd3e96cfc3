"""Models: each a `keras.Model` subclass."""

from keras_dl.models.echo_state import EchoStateNetwork
from keras_dl.models.language_model import RNNLanguageModel
from keras_dl.models.recurrent import RecurrentNetwork
from keras_dl.models.seq2seq import ScheduledSampling
from keras_dl.models.seq2seq import Seq2Seq
from keras_dl.models.sparse_rnn import SparseRNNLanguageModel
from keras_dl.models.sparse_rnn import WaveRNN
from keras_dl.models.transformer import TransformerLM
from keras_dl.models.transformer import TransformerSeq2Seq
from keras_dl.models.vae import VAE
