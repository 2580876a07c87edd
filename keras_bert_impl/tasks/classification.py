"""Sequence classification: one label per text or text pair (`BertClassifier`).

Data: .tsv/.csv/.jsonl files, "tfds:NAME" or "embedded" (see
`data.sources.classification_examples`); metrics: accuracy, mean loss and
per-class precision/recall/F1. The task interface is in `tasks/__init__.py`.

Long texts: with `--stride` a text longer than `seq_len` is read in
overlapping windows of `seq_len - 2` tokens (`text.windows`), at most
`--max-windows` of them, and its logits are the mean (or max) of its
windows' logits (`BertClassifier(window_pooling=...)`), in training and at
inference. The stride and window cap are part of the classifier's config
(`BertClassifier(window_stride=..., max_windows=...)`, saved in its .keras
file), and `window_settings_of` is the one place their defaults live, so
`evaluate`, `predict`, `classify` and the export's raw-text signature window
texts alike (`TextWindows`). Text pairs are never windowed: `finetune` and
`evaluate` reject `--stride` with them, and `classify` and the export's
`serving_pair` read a pair as one truncated window.

Example:

>>> windows = TextWindows(model, tokenizer, seq_len=128)  # the model's stride and cap  # doctest: +SKIP
>>> windows.logits(tf.constant(["a very long review ..."])).shape  # doctest: +SKIP
TensorShape([1, 2])
"""

import numpy as np
import tensorflow as tf

from keras_bert_impl.choices import DEFAULT_MAX_WINDOWS
from keras_bert_impl.data import pipelines, sources
from keras_bert_impl.layers import WindowPooling
from keras_bert_impl.models import BertClassifier
from keras_bert_impl.models.classifier import check_window_settings
from keras_bert_impl.tasks import TaskData, training_data
from keras_bert_impl.tasks.precision_recall import precision_recall_f1
from keras_bert_impl.text.packing import trim_padding
from keras_bert_impl.text.windows import default_stride, pack_windows
from keras_bert_impl.training.finite_data import expected_end_of_data

NAME = "classification"
MODEL = BertClassifier


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
    windows = window_settings(args)
    window_config = {} if windows is None else dict(
        window_pooling=getattr(args, "window_pooling", None) or "mean", window_stride=windows[0], max_windows=windows[1]
    )
    pooling = getattr(args, "pooling", None) or "pooled"
    return BertClassifier(backbone, num_classes=max(len(label_names), 2), pooling=pooling, **window_config)


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


def window_settings_of(model, seq_len, stride=None, max_windows=None):
    """`(stride, max_windows)` a classifier reads texts with, or None (truncated).

    Every path (`evaluate`, `classify`, `predict`, the export) asks this, so
    they agree. A windowed classifier's own `window_stride`/`max_windows`
    apply, else half a window of `seq_len` and `DEFAULT_MAX_WINDOWS`;
    `stride`/`max_windows` given override them. A classifier trained
    without windows reads them only when `stride` is given.

    Raises:
        ValueError: a value below 1, or `max_windows` alone for a classifier
            trained without windows.
    """
    check_window_settings("window settings", stride=stride, max_windows=max_windows)
    if stride is None and model.window_pooling is None:
        if max_windows is not None:
            raise ValueError(f"max_windows={max_windows} needs a stride: the classifier was trained without windows.")
        return None
    return _window_settings_or_defaults(model, seq_len, stride, max_windows)


def _window_settings_or_defaults(model, seq_len, stride, max_windows):
    stride = _first_given(stride, model.window_stride, default_stride(seq_len))
    return stride, _first_given(max_windows, model.max_windows, DEFAULT_MAX_WINDOWS)


def _first_given(*values):
    return next(value for value in values if value is not None)


def use_saved_settings(args, model_dir, model):
    """`evaluate` windows as training did: --stride/--max-windows default to
    the model's (flags given override them); --window-pooling and --pooling must match it."""
    _refuse_a_flag_unlike_the_model(
        "--pooling", getattr(args, "pooling", None), model.pooling, model_dir,
        f"was fine-tuned with --pooling {model.pooling}",
    )
    if model.window_pooling is None:
        for flag in ("stride", "max_windows", "window_pooling"):
            if getattr(args, flag, None) is not None:
                raise ValueError(
                    f"--{flag.replace('_', '-')}: {model_dir} was trained without windows; it reads truncated texts only."
                )
        return
    _refuse_a_flag_unlike_the_model(
        "--window-pooling", getattr(args, "window_pooling", None), model.window_pooling, model_dir,
        f"pools its windows by the {model.window_pooling}",
    )
    if args.stride is None:
        _check_stored_stride(args, model_dir, model)
    args.stride, args.max_windows = window_settings_of(model, args.seq_len, args.stride, args.max_windows)


def _refuse_a_flag_unlike_the_model(flag, given, stored, model_dir, stored_as):
    """A flag given (not None) must equal the setting the model stores: `stored_as` says how."""
    if given not in (None, stored):
        raise ValueError(f"{flag} {given}: {model_dir} {stored_as} (part of the model); drop the flag.")


def _check_stored_stride(args, model_dir, model):
    """Errors about the stored stride name it as stored, not as a flag the user never gave."""
    stride = window_settings_of(model, args.seq_len)[0]
    trained = f"{model_dir} was trained with windows (stride {stride}, stored with the model)"
    if getattr(args, "text_b_column", None):
        raise ValueError(f"--text-b-column: {trained}, which read single texts, not pairs.")
    if stride >= args.seq_len - 2:
        raise ValueError(
            f"--seq-len {args.seq_len}: {trained}; its windows need --seq-len of at least {stride + 3} "
            "(or give a smaller --stride)."
        )


class TextWindows:
    """Raw texts in, logits pooled over each text's windows out, in TensorFlow ops.

    `classify`, `predict` and the export's `serving_default` call this, so
    they agree. Only real windows run through the model (no padding
    windows), each padded to the longest window of the call, through
    `BertClassifier.logits` (the last block at [CLS] only for a classifier of
    the pooled output).

    Args:
        model: a `BertClassifier`; its `window_pooling` (mean for a model
            trained without windows) pools the windows.
        tokenizer: its `Tokenizer`.
        seq_len: window length, [CLS] and [SEP] included.
        stride: tokens between window starts; max_windows: windows kept per
            text. Defaults: the model's (`window_settings_of`).
    """

    def __init__(self, model, tokenizer, seq_len, stride=None, max_windows=None):
        check_window_settings("TextWindows", stride=stride, max_windows=max_windows)
        self.model = model
        self.tokenizer = tokenizer
        self.seq_len = int(seq_len)
        self.stride, self.max_windows = _window_settings_or_defaults(model, self.seq_len, stride, max_windows)
        self.window_pooler = WindowPooling(model.window_pooling or "mean")

    def logits(self, text):
        """float32 [batch, num_classes] logits of string [batch] texts."""
        token_ids = self.tokenizer(text)
        windows, inputs = pack_windows(self.tokenizer, token_ids, self.seq_len, self.stride, self.max_windows)
        window_logits = tf.cast(self.model.logits(trim_padding(inputs)), tf.float32)
        per_text = tf.RaggedTensor.from_value_rowids(window_logits, windows.example_index, nrows=token_ids.nrows())
        return self.window_pooler(per_text.to_tensor(), tf.sequence_mask(per_text.row_lengths()))


def text_windows(model, tokenizer, seq_len, stride=None, max_windows=None):
    """The `TextWindows` a classifier reads single texts with (`window_settings_of`), or None (truncated)."""
    settings = window_settings_of(model, seq_len, stride, max_windows)
    return None if settings is None else TextWindows(model, tokenizer, seq_len, *settings)
