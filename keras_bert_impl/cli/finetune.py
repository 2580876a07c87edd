"""`train_tf.py finetune`: fine-tune a task model on labelled data through `model.fit`.

The task (`keras_bert_impl.tasks`) supplies the data, the model and the metrics.
TensorFlow-side modules are imported in the functions that run the command,
so that `finetune --help` answers at once.
"""

import os

from keras_bert_impl import tasks
from keras_bert_impl.cli import common
from keras_bert_impl.config import PRESETS, BertConfig
from keras_bert_impl.tasks.arguments import add_task_arguments, reject_other_tasks_flags


def register(subparsers):
    parser = subparsers.add_parser(
        "finetune",
        help="fine-tune a task model (classifier, ...) on labelled data",
        description=(
            "Fine-tune BERT for a task. Classification data: .tsv/.csv (header "
            "row), .jsonl, 'tfds:NAME' (e.g. tfds:glue/sst2) or 'embedded'. Prints "
            "eval metrics and writes metrics.json to --output."
        ),
    )
    parser.add_argument("--train", default="embedded", help="training data (default embedded)")
    parser.add_argument(
        "--eval", help="evaluation data (default: the validation split of tfds/embedded "
        "training data; required for files)",
    )
    parser.add_argument(
        "--init",
        help="start from a pretrain output dir, a .keras file (with vocab.txt beside "
        "it), or a local Hugging Face BERT folder; default: random init from --preset",
    )
    parser.add_argument("--preset", choices=PRESETS, default="bert_tiny", help="model size without --init")
    parser.add_argument("--vocab", help="vocab.txt, needed without --init")
    parser.add_argument("--cased", dest="lowercase", action="store_false", help="cased vocabulary (without --init)")
    add_task_arguments(parser)
    parser.add_argument("--epochs", type=int, default=3, help="passes over the training data (default 3)")
    common.add_optimizer_arguments(parser, "5e-5")
    common.add_dropout_argument(parser, "the --init model's, else the --preset's")
    parser.add_argument("--output", required=True, help="output model directory")
    common.add_run_arguments(parser, seq_len=128, batch_size=32)
    parser.set_defaults(run=run)


def run(args):
    return common.run_training(finetune, args)


def load_initial_backbone(init, preset, vocab, lowercase):
    """Returns `(backbone, vocab_file, lowercase)` for `--init`; call in scope."""
    import keras

    from keras_bert_impl.convert.huggingface import load_huggingface
    from keras_bert_impl.convert.task_heads import has_huggingface_task_head, load_huggingface_task
    from keras_bert_impl.model_dir import VOCAB_FILE, is_model_dir, load_model_dir, read_lowercase
    from keras_bert_impl.models import bert_backbone
    from keras_bert_impl.text import Tokenizer

    if init is None:
        if not vocab:
            raise ValueError("finetune without --init needs --vocab (a vocab.txt).")
        tokenizer = Tokenizer(vocab, lowercase=lowercase)
        config = BertConfig.preset(preset, vocab_size=tokenizer.vocab_size)
        return bert_backbone(config), vocab, lowercase
    if os.path.isdir(init) and is_model_dir(init):
        loaded = load_model_dir(init, compile=False)
        return loaded.model.backbone, loaded.vocab_file, loaded.lowercase
    if os.path.isdir(init):
        vocab_file = os.path.join(init, VOCAB_FILE)
        if not os.path.exists(vocab_file):
            raise FileNotFoundError(f"{init}: no {VOCAB_FILE} in the Hugging Face folder.")
        # A fine-tuned folder (BertForQuestionAnswering has no pooler) gives its encoder.
        if has_huggingface_task_head(init):
            backbone = load_huggingface_task(init).backbone
        else:
            backbone = load_huggingface(init)
        return backbone, vocab_file, read_lowercase(init)
    if init.endswith(".keras"):
        if not os.path.isfile(init):
            raise FileNotFoundError(f"--init file not found: {init}")
        folder = os.path.dirname(os.path.abspath(init))
        vocab_file = os.path.join(folder, VOCAB_FILE)
        if not os.path.exists(vocab_file):
            raise FileNotFoundError(f"{init}: expected {VOCAB_FILE} beside it in {folder}.")
        model = keras.saving.load_model(init, compile=False)
        return getattr(model, "backbone", model), vocab_file, read_lowercase(folder)
    raise FileNotFoundError(
        f"--init {init!r} is neither a model directory, a .keras file nor a Hugging "
        "Face folder."
    )


def _eval_source(args):
    from keras_bert_impl.data import sources

    if args.eval:
        return args.eval, "train"
    if args.train == sources.EMBEDDED_SOURCE or args.train.startswith(sources.TFDS_PREFIX):
        return args.train, "validation"
    raise ValueError("--eval is required when --train is a file.")


def _task_files(task, metrics, args):
    """Files a task keeps beside its model (QA: windowing and no-answer threshold)."""
    return task.model_files(metrics, args) if hasattr(task, "model_files") else {}


def finetune(args):
    """Runs a fine-tuning job; returns `(metrics, output_dir)`."""
    from keras_bert_impl.data.packing import packing_efficiency
    from keras_bert_impl.models import rebuild_backbone
    from keras_bert_impl.text import Tokenizer
    from keras_bert_impl.training.callbacks import backup_batches
    from keras_bert_impl.training.strategy import shard_by_data

    common.check_positive(args, "epochs")
    common.check_optimizer_arguments(args)
    common.check_dropout(args)
    task = tasks.resolve(args.task, args.train)
    reject_other_tasks_flags(args, task.NAME)
    if hasattr(task, "check_arguments"):  # before a large checkpoint is loaded
        task.check_arguments(args)
    strategy = common.set_up_run(args)
    output_dir = common.output_dir_for(args)
    with strategy.scope():
        backbone, vocab_file, lowercase = load_initial_backbone(
            args.init, args.preset, args.vocab, args.lowercase
        )
        # A saved backbone keeps the policy it was pretrained in; the run's --precision wins.
        if args.dropout is not None or backbone.dtype_policy.name != args.precision:
            backbone = rebuild_backbone(backbone, dropout=args.dropout, dtype=args.precision)
    common.check_seq_len(args.seq_len, backbone.config)
    tokenizer = Tokenizer(vocab_file, lowercase=lowercase)
    train = task.load_data(args, tokenizer, args.train, None, "train", training=True)
    eval_source, eval_split = _eval_source(args)
    evaluation = task.load_data(args, tokenizer, eval_source, train.label_names, eval_split, training=False)
    efficiency, steps_per_epoch = packing_efficiency(train.dataset)
    print(f"training rows of {args.seq_len} tokens: {efficiency:.0%} of the tokens are real text")
    # Under multi_worker the workers agree here on the backup they all have.
    start_batch = backup_batches(
        common.backup_dir_for(output_dir, strategy), steps_per_epoch, strategy
    )
    with strategy.scope():
        model = task.build_model(backbone, train.label_names, args)
        model.compile(
            optimizer=common.create_optimizer_for(args, steps_per_epoch * args.epochs),
            jit_compile=args.jit_compile,
        )
    labels = f" on {len(train.label_names)} labels {train.label_names}" if train.label_names else ""
    print(f"fine-tuning for {task.NAME}{labels} for {args.epochs} epoch(s) of {steps_per_epoch} steps")
    common.start_output(output_dir)
    history, backup_dir = common.fit_resumably(
        model,
        # Every pass, from the first batch the backup has not trained on: a
        # resumed run sees exactly the batches of the uninterrupted one.
        shard_by_data(train.stream(start_batch)),
        args,
        strategy,
        output_dir,
        restore_batches=start_batch,
        validation_data=evaluation.dataset,
        epochs=args.epochs,
        # Packed passes differ slightly in their number of rows; a fixed step
        # count per epoch over the endless stream keeps Keras' epochs (and the
        # learning-rate schedule) exact.
        steps_per_epoch=steps_per_epoch,
    )
    metrics = task.evaluate(model, evaluation)
    common.save_run(
        model, strategy, output_dir, history, backup_dir, vocab_file, lowercase,
        seq_len=args.seq_len, label_names=train.label_names,
        json_files={"metrics.json": metrics, **_task_files(task, metrics, args)},
    )
    task.print_metrics(metrics)
    print(f"model directory: {output_dir}")
    return metrics, output_dir
