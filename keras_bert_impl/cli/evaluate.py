"""`train_tf.py evaluate`: metrics of a fine-tuned classifier on labelled data."""

import os

from keras_bert_impl.cli import common
from keras_bert_impl.cli.finetune import add_data_arguments, classification_data, print_metrics
from keras_bert_impl.model_dir import load_model_dir
from keras_bert_impl.training.evaluation import evaluate_classifier


def register(subparsers):
    parser = subparsers.add_parser(
        "evaluate",
        help="evaluate a fine-tuned classifier on labelled data",
        description=(
            "Accuracy, loss and per-class F1 of a fine-tuned model directory on a "
            "labelled file or tfds split; labels must be among the model's labels."
        ),
    )
    parser.add_argument("--model", required=True, help="fine-tuned model directory")
    parser.add_argument("--data", required=True, help="labelled .tsv/.csv/.jsonl, tfds:NAME or embedded")
    parser.add_argument("--split", default="validation", help="tfds/embedded split (default validation)")
    add_data_arguments(parser)
    parser.add_argument("--output", help="also write metrics.json here (a file path)")
    common.add_run_arguments(parser, seq_len=None, batch_size=32)
    parser.set_defaults(run=run)


def run(args):
    strategy = common.set_up_run(args)
    with strategy.scope():
        loaded = load_model_dir(args.model, compile=False)
    if loaded.label_names is None:
        raise ValueError(f"{args.model} is not a classifier (no labels.json).")
    if args.seq_len is None:
        args.seq_len = loaded.seq_len
    common.check_seq_len(args.seq_len, loaded.config)
    dataset, _ = classification_data(
        args, loaded.tokenizer, args.data, loaded.label_names, args.split, shuffle=False
    )
    metrics = evaluate_classifier(loaded.model, dataset, loaded.label_names)
    print_metrics(metrics)
    if args.output:
        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
        common.write_json(args.output, metrics)
    return 0
