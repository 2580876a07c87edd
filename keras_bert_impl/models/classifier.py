"""BERT sequence classifier: backbone + classification head on a text vector ([CLS] or mean)."""

import numbers

import keras

from keras_bert_impl.choices import TEXT_POOLINGS
from keras_bert_impl.layers import MeanPooler, WindowPooling, WindowRows
from keras_bert_impl.models.backbone import INPUT_NAMES, backbone_inputs, model_inputs
from keras_bert_impl.models.task import BertTask, classification_head


@keras.saving.register_keras_serializable(package="keras_bert_impl")
class BertClassifier(BertTask):
    """Classifies a text (or text pair) from BERT's pooled [CLS] output or its tokens' mean.

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
        pooling: the text's vector the head reads: "pooled" (BERT's
            `pooled_output`, dense + tanh on [CLS]) or "mean" (`MeanPooler`:
            the mean of its final token vectors; the backbone's pooler is
            then unused).
        window_pooling: None (one row per text), "mean" or "max".
        window_stride: with `window_pooling`: tokens between window starts
            (None: half a window of the sequence length used).
        max_windows: with `window_pooling`: windows read per text, the
            rest of a longer text is cut (None: `choices.DEFAULT_MAX_WINDOWS`).

    Example:

    >>> classifier = BertClassifier(bert_backbone("bert_tiny"), num_classes=2)
    >>> classifier.compile(optimizer="adam")
    >>> by_mean = BertClassifier(bert_backbone("bert_tiny"), num_classes=2, pooling="mean")
    >>> long_texts = BertClassifier(bert_backbone("bert_tiny"), 2, window_pooling="mean",
    ...                             window_stride=64, max_windows=8)
    """

    def __init__(self, backbone, num_classes, dropout=None, pooling="pooled", window_pooling=None,
                 window_stride=None, max_windows=None, **kwargs):
        if not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(
                f"BertClassifier needs num_classes >= 2, got {num_classes!r}."
            )
        if pooling not in TEXT_POOLINGS:
            raise ValueError(f"BertClassifier: pooling={pooling!r}; expected one of {TEXT_POOLINGS}.")
        check_window_settings("BertClassifier", window_stride=window_stride, max_windows=max_windows)
        if window_pooling is None and (window_stride, max_windows) != (None, None):
            raise ValueError(
                f"BertClassifier: window_stride={window_stride!r}, max_windows={max_windows!r} "
                "need window_pooling (a classifier without it truncates texts)."
            )
        head, dropout = classification_head(
            backbone, num_classes, dropout, name="classification_head"
        )
        text_vectors = _TextVectors(pooling, backbone.dtype_policy)
        if window_pooling is None:
            inputs = model_inputs()
            logits = head(text_vectors(backbone(backbone_inputs(inputs)), inputs))
        else:
            window_pooler = WindowPooling(window_pooling, name="window_pooling")
            inputs, logits = _windowed_graph(backbone, head, text_vectors, window_pooler)
        super().__init__(inputs=inputs, outputs=logits, **kwargs)
        self.backbone = backbone
        self.num_classes = num_classes
        self.dropout = dropout
        self.pooling = pooling
        self._text_vectors = text_vectors
        self.window_pooling = window_pooling
        self.window_stride = None if window_stride is None else int(window_stride)
        self.max_windows = None if max_windows is None else int(max_windows)

    def logits(self, inputs):
        """Inference logits of `[batch, seq]` rows, one row per text (per window
        for a windowed classifier, whose `self(...)` pools them); a classifier
        of the pooled output reads `BertBackbone.pooled_output` (the last
        block at [CLS] only)."""
        if self.pooling == "pooled":
            return self.logits_of_encoded({"pooled_output": self.backbone.pooled_output(inputs)}, inputs)
        return self.logits_of_encoded(self.backbone(inputs, training=False), inputs)

    def logits_of_encoded(self, encoded, inputs):
        """Inference logits from the backbone's outputs `encoded` for plain
        `[batch, seq]` rows `inputs` (a dict holding at least `padding_mask`)."""
        vectors = self._text_vectors(encoded, inputs)
        return self.get_layer("classification_head")(vectors, training=False)

    def task_config(self):
        return {
            "num_classes": self.num_classes,
            "dropout": self.dropout,
            "pooling": self.pooling,
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


def _windowed_graph(backbone, head, text_vectors, window_pooler):
    """`[batch, windows, seq]` inputs -> per-window logits -> pooled `[batch, classes]`."""
    inputs = {name: keras.Input(shape=(None, None), dtype="int32", name=name) for name in INPUT_NAMES}
    rows = WindowRows(name="window_rows")
    window_inputs = {name: rows(inputs[name]) for name in INPUT_NAMES}
    window_logits = head(text_vectors(backbone(window_inputs), window_inputs))
    # A window's [CLS] is real; a padding window's mask is all zero.
    return inputs, window_pooler(window_logits, inputs["padding_mask"][:, :, 0])


class _TextVectors:
    """The vector per text (per packed example) that the head reads, by `pooling`."""

    def __init__(self, pooling, dtype):
        self.mean_pooler = MeanPooler(dtype=dtype, name="mean_pooler") if pooling == "mean" else None

    def __call__(self, encoded, inputs):
        if self.mean_pooler is None:
            return encoded["pooled_output"]
        packed = {name: inputs.get(name) for name in ("example_ids", "cls_positions")}
        return self.mean_pooler(encoded["sequence_output"], inputs["padding_mask"], **packed)
