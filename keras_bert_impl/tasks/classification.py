"""Sequence classification: one label per text or text pair (`BertClassifier`).

Data: .tsv/.csv/.jsonl files, "tfds:NAME" or "embedded" (see
`data.sources.classification_examples`); metrics: accuracy, mean loss and
per-class precision/recall/F1. The task interface is in `tasks/__init__.py`.

Long texts: with `--stride` a text longer than `seq_len` is read in
overlapping windows of `seq_len - 2` tokens (`text.windows`), at most
`--max-windows` of them, and its logits are the mean (or max) of its
windows' logits (`BertClassifier(window_pooling=...)`), in training and at
inference. The stride and window cap are stored beside the model as
`classification.json`, so `evaluate`, `predict`, `classify` and the export's
raw-text signature window texts alike (`TextWindows`). Text pairs are never
windowed: they are truncated as without `--stride`.

Example:

>>> windows = TextWindows(model, tokenizer, seq_len=128, stride=64, max_windows=8)  # doctest: +SKIP
>>> windows.logits(tf.constant(["a very long review ..."])).shape  # doctest: +SKIP
TensorShape([1, 2])
"""

import json
import os

import numpy as np
import tensorflow as tf

from keras_bert_impl.choices import DEFAULT_MAX_WINDOWS
from keras_bert_impl.data import pipelines, sources
from keras_bert_impl.layers import WindowPooling
from keras_bert_impl.models import BertClassifier
from keras_bert_impl.tasks import TaskData, training_data
from keras_bert_impl.tasks.precision_recall import precision_recall_f1
from keras_bert_impl.text.packing import trim_padding
from keras_bert_impl.text.windows import default_stride, pack_windows
from keras_bert_impl.training.finite_data import expected_end_of_data

NAME = "classification"
MODEL = BertClassifier
# The window settings used in training (absent: texts are truncated).
SETTINGS_FILE = "classification.json"


def claims_data(source):
    """The default task: it claims nothing, and takes what no other task claims."""
    return False


def window_settings(args):
    """`(stride, max_windows)` of --stride/--max-windows, or None without --stride.

    Raises:
        ValueError: a value out of range, or a windows flag without --stride.
    """
    stride, max_windows = args.stride, getattr(args, "max_windows", None)
    if stride is None:
        for flag, value in (("--max-windows", max_windows), ("--window-pooling", getattr(args, "window_pooling", None))):
            if value is not None:
                raise ValueError(f"{flag} needs --stride (classification reads long texts in windows only with it).")
        return None
    window = args.seq_len - 2
    if not 1 <= stride < window:
        raise ValueError(
            f"--stride {stride}: expected 1 to {window - 1}, so that windows of --seq-len "
            f"{args.seq_len} less [CLS] and [SEP] ({window} tokens) overlap."
        )
    max_windows = DEFAULT_MAX_WINDOWS if max_windows is None else max_windows
    if max_windows < 1:
        raise ValueError(f"--max-windows must be at least 1, got {max_windows}.")
    if getattr(args, "text_b_column", None):
        raise ValueError("--stride windows single texts; text pairs (--text-b-column) are truncated: drop one of them.")
    return stride, max_windows


def check_arguments(args):
    """`finetune`: bad window flags fail before the checkpoint loads."""
    window_settings(args)


def load_data(args, tokenizer, source, label_names, split, training):
    """`(x, label)` batches; for training shuffled by (seed, pass) and, with --pack, packed
    rows (with --stride: windows, never packed)."""
    windows = window_settings(args)
    examples, label_names = sources.classification_examples(
        source,
        text_column=args.text_column,
        text_b_column=args.text_b_column,
        label_column=args.label_column,
        label_names=label_names,
        split=split,
    )

    def batches(epochs=1, start_batch=0):
        return pipelines.classification_dataset(
            examples,
            tokenizer,
            seq_len=args.seq_len,
            batch_size=args.batch_size,
            shuffle=training,
            seed=args.seed,
            epochs=epochs,
            start_batch=start_batch,
            bucket_by_length=getattr(args, "bucket_by_length", False),
            pack=training and getattr(args, "pack", False) and windows is None,
            **({"stride": windows[0], "max_windows": windows[1]} if windows else {}),
        )

    return training_data(batches, label_names) if training else TaskData(batches(), label_names)


def build_model(backbone, label_names, args):
    pooling = (getattr(args, "window_pooling", None) or "mean") if window_settings(args) else None
    return BertClassifier(backbone, num_classes=max(len(label_names), 2), window_pooling=pooling)


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


def model_files(metrics, args):
    """The window settings saved beside a model trained with --stride."""
    windows = window_settings(args)
    if windows is None:
        return {}
    return {SETTINGS_FILE: {"stride": windows[0], "max_windows": windows[1]}}


def read_window_settings(model_dir):
    """`(stride, max_windows)` a model directory was trained with, or None."""
    path = os.path.join(model_dir, SETTINGS_FILE)
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as file:
        saved = json.load(file)
    return int(saved["stride"]), int(saved["max_windows"])


def use_saved_settings(args, model_dir, model):
    """`evaluate` windows as training did: --stride/--max-windows default to
    the stored settings (flags given override them)."""
    saved = read_window_settings(model_dir)
    if model.window_pooling is None:
        if args.stride is not None:
            raise ValueError(f"--stride: {model_dir} was trained without windows; it reads truncated texts only.")
        return
    stride, max_windows = saved or (default_stride(args.seq_len), DEFAULT_MAX_WINDOWS)
    args.stride = stride if args.stride is None else args.stride
    args.max_windows = max_windows if args.max_windows is None else args.max_windows


class TextWindows:
    """Raw texts in, logits pooled over each text's windows out, in TensorFlow ops.

    `classify`, `predict` and the export's `serving_default` call this, so
    they agree. Only real windows run through the model (no padding
    windows), each padded to the longest window of the call, with the last
    block at [CLS] only (`BertClassifier.logits`).

    Args:
        model: a `BertClassifier`; its `window_pooling` (mean for a model
            trained without windows) pools the windows.
        tokenizer: its `Tokenizer`.
        seq_len: window length, [CLS] and [SEP] included.
        stride: tokens between window starts (default half a window).
        max_windows: windows kept per text (default all: nothing is cut).
    """

    def __init__(self, model, tokenizer, seq_len, stride=None, max_windows=None):
        self.model = model
        self.tokenizer = tokenizer
        self.seq_len = int(seq_len)
        self.stride = int(stride or default_stride(seq_len))
        self.max_windows = max_windows
        self.pooling = WindowPooling(model.window_pooling or "mean")

    def logits(self, text):
        """float32 [batch, num_classes] logits of string [batch] texts."""
        token_ids = self.tokenizer(text)
        windows, inputs = pack_windows(self.tokenizer, token_ids, self.seq_len, self.stride, self.max_windows)
        window_logits = tf.cast(self.model.logits(trim_padding(inputs)), tf.float32)
        per_text = tf.RaggedTensor.from_value_rowids(window_logits, windows.example_index, nrows=token_ids.nrows())
        return self.pooling(per_text.to_tensor(), tf.sequence_mask(per_text.row_lengths()))


def text_windows(model_dir, model, tokenizer, seq_len):
    """The `TextWindows` a model directory's texts are read with, or None (truncated)."""
    saved = read_window_settings(model_dir)
    if saved is None and model.window_pooling is None:
        return None
    stride, max_windows = saved or (None, None)
    return TextWindows(model, tokenizer, seq_len, stride, max_windows)
