"""`train_tf.py pretrain`: masked-LM (+ NSP) pretraining through `model.fit`.

TensorFlow-side modules are imported in the functions that run the command,
so that `pretrain --help` answers at once.
"""

import argparse
import functools
import math
import os
import warnings

from keras_bert_impl.choices import ATTENTION_INITS, DEFAULT_MASK_RATE
from keras_bert_impl.cli import common
from keras_bert_impl.config import PRESETS, BertConfig


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
        "--data",
        help="a folder of TFRecord shards written by `train_tf.py prepare` (instead of "
        "--corpus; its vocab.txt, --seq-len and --nsp are the ones the shards were made with). "
        "Workers of a multi_worker run read disjoint shards",
    )
    parser.add_argument(
        "--corpus", nargs="+",
        help="text files in the BERT convention (one sentence per line, blank line "
        "between documents; globs allowed), 'tfds:NAME' (e.g. "
        "tfds:wikipedia/20230601.en), or 'embedded' (default: Python standard-library "
        "docstrings, offline); tokenized on the fly",
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
    parser.add_argument(
        "--num-layers", type=int,
        help="transformer blocks (default: the preset's or --config's; width and heads stay "
        "theirs), e.g. --preset bert_mini --num-layers 2: bert_mini's width at bert_tiny's depth",
    )
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
        "--pack", action=argparse.BooleanOptionalAction, default=True,
        help="pack several short segments into each --seq-len row, so little compute goes to "
        "padding (default on; static shapes, fine on TPU; --corpus input only, prepared "
        "--data shards are read one example per row)",
    )
    parser.add_argument(
        "--mask-rate", type=float, default=DEFAULT_MASK_RATE,
        help=f"share of tokens masked for the masked LM to predict, up to --max-predictions "
        f"(default {DEFAULT_MASK_RATE}, as BERT; more masks give more to learn from per step: "
        "Wettig et al. 2023 found 0.4 better for BERT-large, and the main job uses it)",
    )
    parser.add_argument(
        "--max-predictions", type=int,
        help="masked tokens per sequence (default: --mask-rate of --seq-len, rounded up)",
    )
    parser.add_argument(
        "--attention-init", choices=ATTENTION_INITS, default="bert",
        help="starting weights: bert (random, as BERT) or local (sinusoidal position "
        "embeddings and mimetic attention, so attention starts out on nearby tokens: a small "
        "model pretrained for minutes learns to use context; still a standard BERT)",
    )
    common.add_optimizer_arguments(parser, "1e-4")
    common.add_dropout_argument(
        parser, "the preset's or --config's, 0.1 in BERT; the main job pretrains with 0"
    )
    parser.add_argument("--output", required=True, help="output model directory")
    common.add_run_arguments(parser, seq_len=128, batch_size=32)
    parser.set_defaults(run=run)


def run(args):
    return common.run_training(pretrain, args)


def pretrain(args):
    """Runs a pretraining job; returns `(history, output_dir)`."""
    _check_arguments(args)
    strategy = common.set_up_run(args)
    output_dir = common.output_dir_for(args)
    data, vocab_file = _pretraining_data(args, strategy, output_dir)
    return _pretrain_on(data, vocab_file, args, strategy, output_dir)


def _pretrain_on(data, vocab_file, args, strategy, output_dir):
    """Builds, trains and saves the pretrainer on `data`; returns `(history, output_dir)`.

    `vocab_file` is None for a vocabulary learned by this run: it is written
    into `--output` once that exists, as training starts.
    """
    from keras_bert_impl.training.callbacks import backup_batches

    config = _model_config(args, data.tokenizer)
    steps_per_epoch, epochs = _schedule(args, data)
    # Under multi_worker the workers agree here on the backup they all have.
    start_batch = backup_batches(
        common.backup_dir_for(output_dir, strategy), steps_per_epoch, strategy
    )
    pretrainer = _compiled_pretrainer(
        config, args, strategy, steps_per_epoch * epochs, resuming=start_batch > 0
    )
    _print_plan(args, data, config, strategy, steps_per_epoch, epochs)
    common.start_output(output_dir)
    if vocab_file is None:
        vocab_file = _keep_vocab(data.tokenizer, output_dir)
    history, backup_dir = common.fit_resumably(
        pretrainer,
        data.stream(start_batch),
        args,
        strategy,
        output_dir,
        restore_batches=start_batch,
        epochs=epochs,
        steps_per_epoch=steps_per_epoch,
    )
    common.save_run(
        pretrainer, strategy, output_dir, history, backup_dir, vocab_file, args.lowercase,
        seq_len=args.seq_len,
    )
    print(f"model directory: {output_dir}")
    return history, output_dir


def _pretraining_data(args, strategy, output_dir):
    """`(data, vocab_file)`: prepared shards (`--data`) or a corpus, learning
    its vocabulary if needed (`vocab_file` None: learned, in `data.tokenizer`)."""
    from keras_bert_impl.data import sources
    from keras_bert_impl.text import Tokenizer

    if args.data:
        data = _ShardData(args, strategy)
        return data, data.vocab_file
    documents = sources.pretraining_documents(
        args.corpus if len(args.corpus) > 1 else args.corpus[0],
        text_feature=args.text_feature,
        split=args.split,
    )
    vocab = args.vocab or _resumed_vocab(output_dir) or _learn_vocab(documents, args)
    vocab_file = vocab if isinstance(vocab, str) else None
    return _CorpusData(documents, Tokenizer(vocab, lowercase=args.lowercase), args), vocab_file


def _print_plan(args, data, config, strategy, steps_per_epoch, epochs):
    print(data.describe_rows(args.seq_len))
    print(
        f"pretraining {config.num_layers} layer{'' if config.num_layers == 1 else 's'} / "
        f"hidden {config.hidden_size} / vocab {config.vocab_size} for {steps_per_epoch * epochs} "
        f"steps of {args.batch_size} sequences ({strategy.num_replicas_in_sync} replica(s), "
        f"{args.precision})"
    )
    print(
        f"masked LM on {args.mask_rate:.0%} of the tokens (at most {_max_predictions(args)} per row"
        f"{', whole words' if args.whole_word_masking else ''}), {args.attention_init} starting weights"
    )
    if args.steps is not None and epochs > 1:
        print(
            f"Keras counts them as {epochs} epochs of {steps_per_epoch} steps: one backup "
            "per epoch (--checkpoint-every), so a killed run resumes from the last one"
        )


def _check_arguments(args):
    from keras_bert_impl.data import sources

    common.check_positive(args, "steps", "epochs", "checkpoint_every", "max_predictions", "vocab_size", "num_layers")
    common.check_dropout(args)
    common.check_optimizer_arguments(args)
    if not 0 < args.mask_rate < 1:
        raise ValueError(f"--mask-rate {args.mask_rate}: expected a share between 0 and 1, e.g. 0.15.")
    if args.steps is None and args.epochs is None:
        args.steps = 1000
    if args.data and (args.corpus or args.vocab):
        raise ValueError(
            f"--data {args.data} holds tokenized text and its vocabulary; drop "
            f"{'--corpus' if args.corpus else '--vocab'}."
        )
    args.corpus = args.corpus or [sources.EMBEDDED_SOURCE]


def _model_config(args, tokenizer):
    config = BertConfig.from_json_file(args.config) if args.config else BertConfig.preset(args.preset)
    config = config.replace(vocab_size=tokenizer.vocab_size)
    if args.num_layers is not None:
        config = config.replace(num_layers=args.num_layers)
    if args.dropout is not None:
        config = config.replace(hidden_dropout=args.dropout, attention_dropout=args.dropout)
    common.check_seq_len(args.seq_len, config)
    return config


class _CorpusData:
    """The run's batch stream from a corpus tokenized on the fly: one seeded
    function of the corpus, opened at any batch."""

    def __init__(self, documents, tokenizer, args):
        from keras_bert_impl.data import pipelines

        self.tokenizer = tokenizer
        self._build = functools.partial(
            pipelines.pretraining_dataset,
            documents,
            tokenizer,
            seq_len=args.seq_len,
            batch_size=args.batch_size,
            max_predictions=_max_predictions(args),
            nsp=args.nsp,
            whole_word_masking=args.whole_word_masking,
            mask_rate=args.mask_rate,
            seed=args.seed,
            pack=args.pack,
        )
        self._pack = args.pack
        self._corpus = " ".join(args.corpus)

    @functools.cached_property
    def _one_pass(self):
        # Built once, unmasked: the checks and the plan each read this same
        # pass, and only count its batches and padding; tracing the tokenizing
        # step takes seconds, the masking step as long again.
        return self._build(epochs=1, masked=False)

    def describe_rows(self, seq_len):
        """How much of each row is text, measured on the first batches."""
        from keras_bert_impl.data.packing import packing_efficiency

        efficiency, _ = packing_efficiency(self._one_pass, max_batches=20)
        layout = "packed" if self._pack else "one example each"
        return f"rows of {seq_len} tokens ({layout}): {efficiency:.0%} of the tokens are real text"

    def batches_per_pass(self):
        """Batches in one pass over the corpus (it is read once to count them)."""
        count = int(self._one_pass.reduce(0, lambda n, _: n + 1))
        if count == 0:
            raise ValueError(
                f"--corpus {self._corpus} gives no full batch; lower --batch-size or add text."
            )
        return count

    def check_not_empty(self):
        if not any(True for _ in self._one_pass.take(1)):
            raise ValueError(
                f"--corpus {self._corpus} gives no training example: it has no "
                "text (only blank lines?)."
            )

    def stream(self, start_batch):
        """Every pass, one after another, from batch `start_batch` on.

        Under multi_worker every worker builds this same stream and keeps its
        rows of each global batch: together they train on what one process
        would.
        """
        from keras_bert_impl.training.strategy import shard_by_data

        # The checks are done: free the cache of their pass (the whole corpus,
        # tokenized, after `batches_per_pass`) before training fills its own.
        self.__dict__.pop("_one_pass", None)
        return shard_by_data(self._build(epochs=None, start_batch=start_batch))


class _ShardData:
    """The run's batch stream from prepared shards, split by file across workers.

    Each input pipeline (one per worker or TPU host) reads its own shard
    files with its own seeds and yields per-replica batches; its stream is a
    seeded function of its files, opened at any batch.
    """

    def __init__(self, args, strategy):
        from keras_bert_impl.data import shards
        from keras_bert_impl.model_dir import VOCAB_FILE
        from keras_bert_impl.text import Tokenizer

        self.metadata = shards.load_shards_metadata(args.data)
        for flag, name in (("--seq-len", "seq_len"), ("--nsp", "nsp")):
            if getattr(args, name) != self.metadata[name]:
                raise ValueError(
                    f"--data {args.data} was prepared with {name}={self.metadata[name]}, but "
                    f"this run has {flag} {getattr(args, name)}; rerun prepare or match it."
                )
        self.vocab_file = os.path.join(args.data, VOCAB_FILE)
        args.lowercase = self.metadata["lowercase"]
        self.tokenizer = Tokenizer(self.vocab_file, lowercase=args.lowercase)
        self._args = args
        self._strategy = strategy

    def batches_per_pass(self):
        count = self.metadata["examples"] // self._args.batch_size
        if count == 0:
            raise ValueError(
                f"--data {self._args.data} has {self.metadata['examples']} examples, less "
                f"than one batch; lower --batch-size."
            )
        return count

    def check_not_empty(self):
        self.batches_per_pass()

    def describe_rows(self, seq_len):
        return f"rows of {seq_len} tokens, one prepared example each"

    def stream(self, start_batch):
        from keras_bert_impl.data import pipelines, shards

        args = self._args

        def pipeline(input_context):
            batch_size = input_context.get_per_replica_batch_size(args.batch_size)
            # Each step takes one batch per replica of this pipeline.
            replicas = input_context.num_replicas_in_sync // input_context.num_input_pipelines
            seeds = pipelines.PretrainingSeeds([args.seed, input_context.input_pipeline_id])
            rows = pipelines.pretraining_row_batches(
                shards.read_pretraining_shards(
                    args.data, input_context=input_context, batch_size=batch_size
                ),
                self.tokenizer,
                seq_len=args.seq_len,
                batch_size=batch_size,
                nsp=args.nsp,
                seeds=seeds,
                epochs=None,
            )
            return pipelines.mask_pretraining_batches(
                rows,
                self.tokenizer,
                max_predictions=_max_predictions(args),
                nsp=args.nsp,
                seeds=seeds,
                whole_word_masking=args.whole_word_masking,
                mask_rate=args.mask_rate,
                start_batch=start_batch * replicas,
            )

        return self._strategy.distribute_datasets_from_function(pipeline)


def _max_predictions(args):
    return args.max_predictions or math.ceil(args.mask_rate * args.seq_len)


def _schedule(args, data):
    """(steps per epoch, epochs): a Keras epoch is --checkpoint-every steps with
    --steps (a backup lands at each epoch end), one pass over the corpus with --epochs."""
    if args.steps is None:
        return data.batches_per_pass(), args.epochs
    data.check_not_empty()
    steps_per_epoch = min(args.checkpoint_every, args.steps)
    return steps_per_epoch, math.ceil(args.steps / steps_per_epoch)


def _compiled_pretrainer(config, args, strategy, total_steps, resuming):
    from keras_bert_impl.models import BertPretrainer, bert_backbone
    from keras_bert_impl.training.local_attention_init import init_local_attention

    with strategy.scope():
        pretrainer = BertPretrainer(bert_backbone(config), nsp=args.nsp)
        if args.attention_init == "local" and not resuming:
            # A resumed run restores every weight from its backup, so it skips the
            # SVDs (minutes for bert_large) whose results would be overwritten.
            init_local_attention(pretrainer.backbone, seed=args.seed)
        pretrainer.compile(
            optimizer=common.create_optimizer_for(args, total_steps),
            jit_compile=args.jit_compile,
        )
    if not args.nsp:
        # Without NSP the pooler takes no part in the loss; that is expected.
        warnings.filterwarnings(
            "ignore", message=r"Gradients do not exist for variables \['pooler/"
        )
    return pretrainer


def _resumed_vocab(output_dir):
    """The vocabulary file of the run `output_dir` has a backup of, else None.

    A resumed run must keep the vocabulary its backup was trained with; a
    finished model without a backup is trained over, on a new vocabulary.
    """
    from keras_bert_impl.model_dir import VOCAB_FILE

    vocab_file = os.path.join(output_dir, VOCAB_FILE)
    if os.path.isdir(os.path.join(output_dir, "backup")) and os.path.exists(vocab_file):
        return vocab_file
    return None


def _learn_vocab(documents, args):
    """The tokens of a vocabulary learned from the corpus.

    They stay in memory until `--output` exists (`_keep_vocab` writes them
    there as training starts), so a run that fails before leaves nothing.
    """
    from keras_bert_impl.text import learn_vocab

    print(f"learning a {args.vocab_size}-token WordPiece vocabulary from the corpus", flush=True)
    try:
        return learn_vocab(
            documents, args.vocab_size, lowercase=args.lowercase,
            progress=lambda line: print(line, flush=True),
        )
    except ValueError as e:
        raise ValueError(f"--corpus {' '.join(args.corpus)}: {e}") from None


def _keep_vocab(tokenizer, output_dir):
    """Writes a learned vocabulary into `--output`; returns its path there."""
    from keras_bert_impl.model_dir import VOCAB_FILE
    from keras_bert_impl.text import save_vocab

    kept = os.path.join(output_dir, VOCAB_FILE)
    save_vocab(tokenizer.vocabulary, kept)
    return kept
