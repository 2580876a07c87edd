"""`train_tf.py pretrain`: masked-LM (+ NSP) pretraining through `model.fit`."""

import math
import os
import warnings

from keras_bert_impl.cli import common
from keras_bert_impl.config import PRESETS, BertConfig
from keras_bert_impl.data import pipelines, sources
from keras_bert_impl.model_dir import VOCAB_FILE
from keras_bert_impl.models import BertPretrainer, bert_backbone
from keras_bert_impl.text import Tokenizer, learn_vocab
from keras_bert_impl.training.optimization import OPTIMIZERS, create_optimizer
from keras_bert_impl.training.strategy import shard_by_data


def register(subparsers):
    parser = subparsers.add_parser(
        "pretrain",
        help="pretrain a BERT with masked LM (and optionally NSP)",
        description=(
            "Pretrain BERT from scratch on a text corpus. A killed or preempted "
            "run restarts from its last backup when rerun with the same --output."
        ),
    )
    parser.add_argument(
        "--corpus", nargs="+", default=["embedded"],
        help="text files in the BERT convention (one sentence per line, blank line "
        "between documents; globs allowed), 'tfds:NAME' (e.g. "
        "tfds:wikipedia/20230601.en), or 'embedded' (default: Python standard-library "
        "docstrings, offline)",
    )
    parser.add_argument(
        "--text-feature", default="text", help="text feature of a tfds corpus (default text)"
    )
    parser.add_argument("--split", default="train", help="tfds split (default train)")
    vocab = parser.add_mutually_exclusive_group()
    vocab.add_argument("--vocab", help="an existing vocab.txt to use")
    vocab.add_argument(
        "--vocab-size", type=int, default=4000,
        help="learn a WordPiece vocabulary of about this size from the corpus "
        "(default 4000; used when --vocab is not given)",
    )
    parser.add_argument(
        "--cased", dest="lowercase", action="store_false",
        help="keep case and accents (default: uncased, as bert-base-uncased)",
    )
    model = parser.add_mutually_exclusive_group()
    model.add_argument(
        "--preset", choices=PRESETS, default="bert_tiny",
        help="model size (default bert_tiny: 2 layers, hidden 128)",
    )
    model.add_argument("--config", help="a BERT config.json instead of --preset")
    length = parser.add_mutually_exclusive_group()
    length.add_argument("--steps", type=int, help="train this many steps (data repeats)")
    length.add_argument("--epochs", type=int, help="train this many passes over the corpus")
    parser.add_argument(
        "--checkpoint-every", type=int, default=100,
        help="with --steps: back up the training state every N steps (default 100)",
    )
    parser.add_argument("--nsp", action="store_true", help="add next-sentence prediction")
    parser.add_argument(
        "--whole-word-masking", action="store_true",
        help="mask all WordPieces of a word together",
    )
    parser.add_argument(
        "--max-predictions", type=int,
        help="masked tokens per sequence (default: 15%% of --seq-len, rounded up)",
    )
    parser.add_argument("--learning-rate", type=float, default=1e-4, help="peak learning rate (default 1e-4)")
    parser.add_argument("--warmup-ratio", type=float, default=0.1, help="fraction of steps warming up (default 0.1)")
    parser.add_argument("--optimizer", choices=OPTIMIZERS, default="adamw", help="adamw (BERT) or lamb (large batches)")
    parser.add_argument("--output", required=True, help="output model directory")
    common.add_run_arguments(parser, seq_len=128, batch_size=32)
    parser.set_defaults(run=run)


def run(args):
    return common.run_training(pretrain, args)


def pretrain(args):
    """Runs a pretraining job; returns `(history, output_dir)`."""
    common.check_positive(args, "steps", "epochs", "checkpoint_every", "max_predictions", "vocab_size")
    if args.steps is None and args.epochs is None:
        args.steps = 1000
    strategy = common.set_up_run(args)
    output_dir = common.output_dir_for(args)
    documents = sources.pretraining_documents(
        args.corpus if len(args.corpus) > 1 else args.corpus[0],
        text_feature=args.text_feature,
        split=args.split,
    )
    vocab_file = args.vocab or _learn_vocab(documents, args, output_dir)
    tokenizer = Tokenizer(vocab_file, lowercase=args.lowercase)
    config = BertConfig.from_json_file(args.config) if args.config else BertConfig.preset(args.preset)
    config = config.replace(vocab_size=tokenizer.vocab_size)
    common.check_seq_len(args.seq_len, config)
    max_predictions = args.max_predictions or math.ceil(0.15 * args.seq_len)
    dataset = pipelines.pretraining_dataset(
        documents,
        tokenizer,
        seq_len=args.seq_len,
        batch_size=args.batch_size,
        max_predictions=max_predictions,
        nsp=args.nsp,
        whole_word_masking=args.whole_word_masking,
        seed=args.seed,
        repeat=args.steps is not None,
    )
    # Under multi_worker, every worker builds the same seeded batch stream
    # and keeps its rows: together they train on what one process would.
    dataset = shard_by_data(dataset)
    if args.steps is not None:
        if not any(True for _ in dataset.take(1)):
            raise ValueError(
                f"--corpus {' '.join(args.corpus)} gives no training example: it has no "
                "text (only blank lines?)."
            )
        steps_per_epoch = min(args.checkpoint_every, args.steps)
        epochs = math.ceil(args.steps / steps_per_epoch)
    else:
        steps_per_epoch = _count_batches(dataset)
        epochs = args.epochs
    total_steps = steps_per_epoch * epochs
    with strategy.scope():
        pretrainer = BertPretrainer(bert_backbone(config), nsp=args.nsp)
        pretrainer.compile(
            optimizer=create_optimizer(
                args.learning_rate, total_steps, args.warmup_ratio, args.optimizer
            ),
            jit_compile=args.jit_compile,
        )
    print(
        f"pretraining {config.num_layers} layers / hidden {config.hidden_size} / vocab "
        f"{config.vocab_size} for {total_steps} steps of {args.batch_size} sequences "
        f"({strategy.num_replicas_in_sync} replica(s), {args.precision})"
    )
    if not args.nsp:
        # Without NSP the pooler takes no part in the loss; that is expected.
        warnings.filterwarnings(
            "ignore", message=r"Gradients do not exist for variables \['pooler/"
        )
    history, backup_dir = common.fit_resumably(
        pretrainer,
        dataset,
        args,
        strategy,
        output_dir,
        epochs=epochs,
        steps_per_epoch=steps_per_epoch if args.steps is not None else None,
    )
    common.save_run(
        pretrainer, strategy, output_dir, history, backup_dir, vocab_file, args.lowercase,
        seq_len=args.seq_len,
    )
    print(f"model directory: {output_dir}")
    return history, output_dir


def _learn_vocab(documents, args, output_dir):
    vocab_file = os.path.join(output_dir, VOCAB_FILE)
    if os.path.exists(vocab_file):
        # A resumed run must keep the vocabulary its backup was trained with.
        return vocab_file
    print(f"learning a {args.vocab_size}-token WordPiece vocabulary from the corpus")
    try:
        learn_vocab(documents, args.vocab_size, lowercase=args.lowercase, output_path=vocab_file)
    except ValueError as e:
        raise ValueError(f"--corpus {' '.join(args.corpus)}: {e}") from None
    return vocab_file


def _count_batches(dataset):
    count = int(dataset.reduce(0, lambda n, _: n + 1))
    if count == 0:
        raise ValueError(
            "The corpus gives no full batch; lower --batch-size or add text."
        )
    return count
