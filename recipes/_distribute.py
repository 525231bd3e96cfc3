"""`--strategy` flags shared by the recipes: the `tf.distribute` strategy that `fit` runs under."""

import os

from keras_dl.distribute import STRATEGIES
from keras_dl.distribute import get_strategy
from keras_dl.distribute import is_chief


def add_arguments(parser):
    group = parser.add_argument_group("distributed training (tf.distribute; --batch-size is the global batch)")
    group.add_argument("--strategy", default="default", choices=STRATEGIES,
                       help="default: one device; mirrored: all local GPUs; multiworker: the cluster in "
                       "TF_CONFIG (run the same command on every worker); tpu: TPUStrategy")
    group.add_argument("--tpu", default=None, help="with --strategy tpu: the TPU's name or grpc:// address")


def setup(args):
    """The strategy `args` name. Call before any TensorFlow op runs (multiworker configures collectives).

    Every worker runs the whole recipe; only the chief writes to `--out`. The others write theirs
    (backups included, so each restarts from its own) to `--out/worker_<index>`.
    """
    strategy = get_strategy(args.strategy, args.tpu)
    if not is_chief(strategy):
        args.out = os.path.join(args.out, f"worker_{strategy.cluster_resolver.task_id}")
    return strategy
