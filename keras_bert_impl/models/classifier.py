"""BERT sequence classifier: backbone + classification head on the pooled output."""

import numbers

import keras

from keras_bert_impl.layers import WindowPooling, WindowRows
from keras_bert_impl.models.backbone import INPUT_NAMES, backbone_inputs, model_inputs
from keras_bert_impl.models.task import BertTask, classification_head


@keras.saving.register_keras_serializable(package="keras_bert_impl")
class BertClassifier(BertTask):
    """Classifies a text (or text pair) from BERT's pooled [CLS] output.

    Takes the backbone's inputs and returns `[batch, num_classes]` float32
    logits; packed rows (`cls_positions` given) give `[batch, examples,
    num_classes]`, one row per example. `compile()` defaults to sparse
    cross-entropy from logits and accuracy, both weighted by the sample
    weights when there are any (packed rows weigh their empty slots 0).

    With `window_pooling`, a text is read in windows: each input is
    `[batch, windows, seq]` (a text's overlapping windows, padding windows
    all-zero in `padding_mask`), every window is classified on its own and
    the text's logits are the mean or max of its windows' logits, so the loss
    is on one pooled row per text. See `tasks.classification` for making
    the windows. How texts are cut into windows is part of the config too
    (`window_stride`, `max_windows`), so a saved model reads texts in
    `evaluate`, `classify` and the export as it did in training
    (`tasks.classification.window_settings_of`).

    Args:
        backbone: a `BertBackbone`.
        num_classes: number of labels.
        dropout: dropout before the output layer; defaults to the backbone's
            `hidden_dropout`, as in BERT's fine-tuning recipe.
        window_pooling: None (one row per text), "mean" or "max".
        window_stride: with `window_pooling`: tokens between window starts
            (None: half a window of the sequence length used).
        max_windows: with `window_pooling`: windows read per text, the
            rest of a longer text is cut (None: `choices.DEFAULT_MAX_WINDOWS`).

    Example:

    >>> classifier = BertClassifier(bert_backbone("bert_tiny"), num_classes=2)
    >>> classifier.compile(optimizer="adam")
    >>> long_texts = BertClassifier(bert_backbone("bert_tiny"), 2, window_pooling="mean",
    ...                             window_stride=64, max_windows=8)
    """

    def __init__(self, backbone, num_classes, dropout=None, window_pooling=None,
                 window_stride=None, max_windows=None, **kwargs):
        if not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(
                f"BertClassifier needs num_classes >= 2, got {num_classes!r}."
            )
        check_window_settings("BertClassifier", window_stride=window_stride, max_windows=max_windows)
        if window_pooling is None and (window_stride, max_windows) != (None, None):
            raise ValueError(
                f"BertClassifier: window_stride={window_stride!r}, max_windows={max_windows!r} "
                "need window_pooling (a classifier without it truncates texts)."
            )
        head, dropout = classification_head(
            backbone, num_classes, dropout, name="classification_head"
        )
        if window_pooling is None:
            inputs = model_inputs()
            logits = head(backbone(backbone_inputs(inputs))["pooled_output"])
        else:
            inputs, logits = _windowed_graph(backbone, head, WindowPooling(window_pooling, name="window_pooling"))
        super().__init__(inputs=inputs, outputs=logits, **kwargs)
        self.backbone = backbone
        self.num_classes = num_classes
        self.dropout = dropout
        self.window_pooling = window_pooling
        self.window_stride = None if window_stride is None else int(window_stride)
        self.max_windows = None if max_windows is None else int(max_windows)

    def logits(self, inputs):
        """Inference logits of `[batch, seq]` rows, one row per text (per window
        for a windowed classifier, whose `self(...)` pools them), from
        `BertBackbone.pooled_output` (the last block at [CLS] only)."""
        pooled = self.backbone.pooled_output(inputs)
        return self.get_layer("classification_head")(pooled, training=False)

    def task_config(self):
        return {
            "num_classes": self.num_classes,
            "dropout": self.dropout,
            "window_pooling": self.window_pooling,
            "window_stride": self.window_stride,
            "max_windows": self.max_windows,
        }


def check_window_settings(where, **settings):
    """Raises a ValueError naming `where` and the setting unless each one given
    (not None) is an integer of at least 1."""
    for name, value in settings.items():
        if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1):
            raise ValueError(f"{where}: {name}={value!r}; expected an integer of at least 1.")


def _windowed_graph(backbone, head, pooling):
    """`[batch, windows, seq]` inputs -> per-window logits -> pooled `[batch, classes]`."""
    inputs = {name: keras.Input(shape=(None, None), dtype="int32", name=name) for name in INPUT_NAMES}
    rows = WindowRows(name="window_rows")
    window_logits = head(backbone({name: rows(inputs[name]) for name in INPUT_NAMES})["pooled_output"])
    # A window's [CLS] is real; a padding window's mask is all zero.
    return inputs, pooling(window_logits, inputs["padding_mask"][:, :, 0])
