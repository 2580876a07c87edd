"""`train_tf.py finetune`: train a classifier on labelled text through `model.fit`."""

import os

import keras

from keras_bert_impl.cli import common
from keras_bert_impl.config import PRESETS, BertConfig
from keras_bert_impl.convert.huggingface import load_huggingface
from keras_bert_impl.data import pipelines, sources
from keras_bert_impl.model_dir import (
    VOCAB_FILE,
    is_model_dir,
    load_model_dir,
    read_lowercase,
)
from keras_bert_impl.models import BertClassifier, bert_backbone
from keras_bert_impl.text import Tokenizer
from keras_bert_impl.training.evaluation import evaluate_classifier
from keras_bert_impl.training.optimization import OPTIMIZERS, create_optimizer
from keras_bert_impl.training.strategy import shard_by_data


def add_data_arguments(parser):
    """Column flags shared with `evaluate`."""
    parser.add_argument("--text-column", default="text", help="column/key/feature of the text (default text)")
    parser.add_argument(
        "--text-b-column", help="column of the second text, for sentence-pair tasks"
    )
    parser.add_argument("--label-column", default="label", help="column of the label (default label)")


def register(subparsers):
    parser = subparsers.add_parser(
        "finetune",
        help="fine-tune a classifier on labelled text",
        description=(
            "Fine-tune BERT for sequence classification. Data: .tsv/.csv (header "
            "row), .jsonl, 'tfds:NAME' (e.g. tfds:glue/sst2) or 'embedded'. Prints "
            "eval accuracy and writes metrics.json to --output."
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
    add_data_arguments(parser)
    parser.add_argument("--epochs", type=int, default=3, help="passes over the training data (default 3)")
    parser.add_argument("--learning-rate", type=float, default=5e-5, help="peak learning rate (default 5e-5)")
    parser.add_argument("--warmup-ratio", type=float, default=0.1, help="fraction of steps warming up (default 0.1)")
    parser.add_argument("--optimizer", choices=OPTIMIZERS, default="adamw", help="adamw or lamb")
    parser.add_argument(
        "--bucket-by-length", action="store_true",
        help="pad each batch only to its length bucket (faster; not for TPU)",
    )
    parser.add_argument("--output", required=True, help="output model directory")
    common.add_run_arguments(parser, seq_len=128, batch_size=32)
    parser.set_defaults(run=run)


def run(args):
    return common.run_training(finetune, args)


def load_initial_backbone(init, preset, vocab, lowercase):
    """Returns `(backbone, vocab_file, lowercase)` for `--init`; call in scope."""
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
        return load_huggingface(init), vocab_file, read_lowercase(init)
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


def classification_data(args, tokenizer, source, label_names, split, shuffle):
    examples, label_names = sources.classification_examples(
        source,
        text_column=args.text_column,
        text_b_column=args.text_b_column,
        label_column=args.label_column,
        label_names=label_names,
        split=split,
    )
    dataset = pipelines.classification_dataset(
        examples,
        tokenizer,
        seq_len=args.seq_len,
        batch_size=args.batch_size,
        shuffle=shuffle,
        seed=args.seed,
        bucket_by_length=getattr(args, "bucket_by_length", False),
    )
    return dataset, label_names


def _eval_source(args):
    if args.eval:
        return args.eval, "train"
    if args.train == sources.EMBEDDED_SOURCE or args.train.startswith(sources.TFDS_PREFIX):
        return args.train, "validation"
    raise ValueError("--eval is required when --train is a file.")


def finetune(args):
    """Runs a fine-tuning job; returns `(metrics, output_dir)`."""
    common.check_positive(args, "epochs", "learning_rate")
    strategy = common.set_up_run(args)
    output_dir = common.output_dir_for(args)
    with strategy.scope():
        backbone, vocab_file, lowercase = load_initial_backbone(
            args.init, args.preset, args.vocab, args.lowercase
        )
    common.check_seq_len(args.seq_len, backbone.config)
    tokenizer = Tokenizer(vocab_file, lowercase=lowercase)
    train_data, label_names = classification_data(args, tokenizer, args.train, None, "train", True)
    train_data = shard_by_data(train_data)
    eval_source, eval_split = _eval_source(args)
    eval_data, _ = classification_data(args, tokenizer, eval_source, label_names, eval_split, False)
    steps_per_epoch = int(train_data.cardinality())
    if steps_per_epoch < 0:
        steps_per_epoch = int(train_data.reduce(0, lambda n, _: n + 1))
    with strategy.scope():
        classifier = BertClassifier(backbone, num_classes=max(len(label_names), 2))
        classifier.compile(
            optimizer=create_optimizer(
                args.learning_rate, steps_per_epoch * args.epochs, args.warmup_ratio, args.optimizer
            ),
            jit_compile=args.jit_compile,
        )
    print(
        f"fine-tuning on {len(label_names)} labels {label_names} for {args.epochs} "
        f"epoch(s) of {steps_per_epoch} steps"
    )
    history, backup_dir = common.fit_resumably(
        classifier,
        train_data,
        args,
        strategy,
        output_dir,
        validation_data=eval_data,
        epochs=args.epochs,
    )
    metrics = evaluate_classifier(classifier, eval_data, label_names)
    common.save_run(
        classifier, strategy, output_dir, history, backup_dir, vocab_file, lowercase,
        seq_len=args.seq_len, label_names=label_names, json_files={"metrics.json": metrics},
    )
    print_metrics(metrics)
    print(f"model directory: {output_dir}")
    return metrics, output_dir


def print_metrics(metrics):
    print(
        f"eval accuracy {metrics['accuracy']:.4f}  loss {metrics['loss']:.4f}  "
        f"macro F1 {metrics['macro_f1']:.4f}  ({metrics['examples']} examples)"
    )
    for name, values in metrics["per_class"].items():
        print(f"  {name:>20}: F1 {values['f1']:.4f}  (support {values['support']})")
