"""BERT extractive question answerer: backbone + span head on every token."""

import keras

from keras_bert_impl.layers import SpanHead
from keras_bert_impl.models.backbone import INPUT_NAMES
from keras_bert_impl.models.task import BertTask, sparse_cross_entropy

OUTPUT_NAMES = ("start_logits", "end_logits")


@keras.saving.register_keras_serializable(package="keras_bert_impl")
class BertQuestionAnswerer(BertTask):
    """Scores every token as the start and the end of the answer.

    Takes the backbone's inputs (`[CLS] question [SEP] context [SEP]`) and
    returns `{"start_logits", "end_logits"}`, each `[batch, seq]` float32.
    Labels are dicts of the same names holding token positions (0, the
    [CLS], for "no answer here"); `compile()` defaults to BERT's SQuAD loss,
    (CE(start) + CE(end)) / 2, and start/end accuracy.

    Args:
        backbone: a `BertBackbone`.

    Example:

    >>> answerer = BertQuestionAnswerer(bert_backbone("bert_tiny"))
    >>> answerer.compile(optimizer="adam")
    """

    def __init__(self, backbone, **kwargs):
        inputs = {
            name: keras.Input(shape=(None,), dtype="int32", name=name)
            for name in INPUT_NAMES
        }
        sequence = backbone(inputs)["sequence_output"]
        logits = SpanHead(
            initializer_range=backbone.config.initializer_range,
            dtype=backbone.dtype_policy,
            name="span_head",
        )(sequence)
        outputs = {
            name: keras.layers.Identity(name=name, dtype="float32")(logits[name])
            for name in OUTPUT_NAMES
        }
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        self.backbone = backbone

    def compile(self, optimizer="adam", loss="auto", metrics="auto", **kwargs):
        """Compiles with the mean of start and end cross-entropy unless given others."""
        if loss == "auto":
            loss = {name: sparse_cross_entropy() for name in OUTPUT_NAMES}
            kwargs.setdefault("loss_weights", {name: 0.5 for name in OUTPUT_NAMES})
        if metrics == "auto":
            metrics = {
                name: [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
                for name in OUTPUT_NAMES
            }
        # Span accuracy is per example, so no weighted metrics by default.
        kwargs.setdefault("weighted_metrics", None)
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)

    def task_config(self):
        return {}
