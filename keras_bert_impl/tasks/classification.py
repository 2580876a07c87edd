"""Sequence classification: one label per text or text pair (`BertClassifier`).

Data: .tsv/.csv/.jsonl files, "tfds:NAME" or "embedded" (see
`data.sources.classification_examples`); metrics: accuracy, mean loss and
per-class precision/recall/F1. The task interface is in `tasks/__init__.py`.
"""

import argparse

import numpy as np

from keras_bert_impl.data import pipelines, sources
from keras_bert_impl.models import BertClassifier
from keras_bert_impl.tasks import TaskData
from keras_bert_impl.tasks.precision_recall import precision_recall_f1
from keras_bert_impl.training.finite_data import expected_end_of_data

NAME = "classification"
MODEL = BertClassifier


def claims_data(source):
    """The default task: it claims nothing, and takes what no other task claims."""
    return False


def add_arguments(parser):
    parser.add_argument("--text-column", default="text", help="column/key/feature of the text (default text)")
    parser.add_argument(
        "--text-b-column", help="column of the second text, for sentence-pair tasks"
    )
    parser.add_argument("--label-column", default="label", help="column of the label (default label)")
    parser.add_argument(
        "--pack", action=argparse.BooleanOptionalAction, default=True,
        help="classification: train on rows that pack several short examples each, so "
        "little compute goes to padding (default on; static shapes, fine on TPU)",
    )
    parser.add_argument(
        "--bucket-by-length", action=argparse.BooleanOptionalAction, default=True,
        help="classification: pad each evaluation batch (and training batch with --no-pack) "
        "only to its power-of-two length bucket (default on; turn off on TPU, which wants one shape)",
    )


def load_data(args, tokenizer, source, label_names, split, training):
    """`(x, label)` batches; for training shuffled and, with --pack, packed rows."""
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
        shuffle=training,
        seed=args.seed,
        bucket_by_length=getattr(args, "bucket_by_length", False),
        pack=training and getattr(args, "pack", False),
    )
    return TaskData(dataset, label_names)


def build_model(backbone, label_names, args):
    return BertClassifier(backbone, num_classes=max(len(label_names), 2))


def evaluate(model, data):
    """Accuracy, mean loss and per-class precision/recall/F1.

    Args:
        model: a `BertClassifier`.
        data: `TaskData` whose batches are `(inputs, label_ids)`.

    Returns:
        A JSON-ready dict: `accuracy`, `loss` (mean cross-entropy), `examples`,
        `macro_f1`, `per_class` {name: {precision, recall, f1, support}} and
        `confusion_matrix` (row: true label id, column: predicted label id).
    """
    labels = [np.asarray(batch_labels) for _, batch_labels in data.dataset]
    if not labels:
        raise ValueError("The evaluation data is empty.")
    labels = np.concatenate(labels)
    # One predict call, not predict_on_batch per batch: under MirroredStrategy
    # only predict splits and gathers the batches correctly.
    with expected_end_of_data():
        logits = np.asarray(
            model.predict(data.dataset.map(lambda inputs, _: inputs), verbose=0),
            dtype="float64",
        )
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    predictions = logits.argmax(axis=-1)
    per_class = {
        name: _class_scores(predictions == index, labels == index)
        for index, name in enumerate(data.label_names)
    }
    return {
        "accuracy": float(np.mean(predictions == labels)),
        "loss": float(-np.mean(log_probs[np.arange(len(labels)), labels])),
        "examples": int(len(labels)),
        "macro_f1": float(np.mean([c["f1"] for c in per_class.values()])),
        "per_class": per_class,
        "confusion_matrix": _confusion_matrix(labels, predictions, logits.shape[-1]).tolist(),
    }


def _confusion_matrix(labels, predictions, num_classes):
    counts = np.zeros((num_classes, num_classes), dtype="int64")
    np.add.at(counts, (labels, predictions), 1)
    return counts


def _class_scores(predicted, actual):
    return precision_recall_f1(int(np.sum(predicted & actual)), int(predicted.sum()), int(actual.sum()))


def print_metrics(metrics):
    print(
        f"eval accuracy {metrics['accuracy']:.4f}  loss {metrics['loss']:.4f}  "
        f"macro F1 {metrics['macro_f1']:.4f}  ({metrics['examples']} examples)"
    )
    for name, values in metrics["per_class"].items():
        print(f"  {name:>20}: F1 {values['f1']:.4f}  (support {values['support']})")
