"""`train_tf.py evaluate`: metrics of a fine-tuned task model on labelled data."""

import os

from keras_bert_impl import tasks
from keras_bert_impl.cli import common
from keras_bert_impl.tasks.arguments import add_task_arguments, reject_other_tasks_flags


def register(subparsers):
    parser = subparsers.add_parser(
        "evaluate",
        help="evaluate a fine-tuned task model on labelled data",
        description=(
            "The task's metrics (classification: accuracy, loss and per-class F1) of a "
            "fine-tuned model directory on a labelled file or tfds split; labels must "
            "be among the model's labels. Task flags left out (classification --stride/"
            "--max-windows, token classification --stride, QA --doc-stride and the other "
            "window settings) take the values "
            "stored with the model, so it is scored as it was trained and is served."
        ),
    )
    parser.add_argument("--model", required=True, help="fine-tuned model directory")
    parser.add_argument("--data", required=True, help="labelled .tsv/.csv/.jsonl, tfds:NAME or embedded")
    parser.add_argument("--split", default="validation", help="tfds/embedded split (default validation)")
    add_task_arguments(parser)
    parser.add_argument("--output", help="also write metrics.json here (a file path)")
    common.add_run_arguments(parser, seq_len=None, batch_size=32)
    parser.set_defaults(run=run)


def run(args):
    from keras_bert_impl.model_dir import load_model_dir

    strategy = common.set_up_run(args)
    with strategy.scope():
        loaded = load_model_dir(args.model, compile=False)
    task = tasks.for_model(loaded.model)
    if args.task is not None and args.task != task.NAME:
        raise ValueError(f"{args.model} is a {task.NAME} model, not {args.task}.")
    reject_other_tasks_flags(args, task.NAME)
    if args.seq_len is None:
        args.seq_len = loaded.seq_len
    common.check_seq_len(args.seq_len, loaded.config)
    if hasattr(task, "use_saved_settings"):  # read texts as in training and serving
        task.use_saved_settings(args, args.model, loaded.model)
    data = task.load_data(
        args, loaded.tokenizer, args.data, loaded.label_names, args.split, training=False
    )
    # QA scores at the no-answer threshold stored with the model.
    options = task.evaluate_options(args.model, loaded.seq_len) if hasattr(task, "evaluate_options") else {}
    metrics = task.evaluate(loaded.model, data, **options)
    task.print_metrics(metrics)
    if args.output:
        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
        common.write_json(args.output, metrics)
    return 0
