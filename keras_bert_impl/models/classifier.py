"""BERT sequence classifier: backbone + classification head on the pooled output."""

import keras

from keras_bert_impl.models.backbone import backbone_inputs, model_inputs
from keras_bert_impl.models.task import BertTask, classification_head


@keras.saving.register_keras_serializable(package="keras_bert_impl")
class BertClassifier(BertTask):
    """Classifies a text (or text pair) from BERT's pooled [CLS] output.

    Takes the backbone's inputs and returns `[batch, num_classes]` float32
    logits; packed rows (`cls_positions` given) give `[batch, examples,
    num_classes]`, one row per example. `compile()` defaults to sparse
    cross-entropy from logits and accuracy, both weighted by the sample
    weights when there are any (packed rows weigh their empty slots 0).

    Args:
        backbone: a `BertBackbone`.
        num_classes: number of labels.
        dropout: dropout before the output layer; defaults to the backbone's
            `hidden_dropout`, as in BERT's fine-tuning recipe.

    Example:

    >>> classifier = BertClassifier(bert_backbone("bert_tiny"), num_classes=2)
    >>> classifier.compile(optimizer="adam")
    """

    def __init__(self, backbone, num_classes, dropout=None, **kwargs):
        if not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(
                f"BertClassifier needs num_classes >= 2, got {num_classes!r}."
            )
        head, dropout = classification_head(
            backbone, num_classes, dropout, name="classification_head"
        )
        inputs = model_inputs()
        logits = head(backbone(backbone_inputs(inputs))["pooled_output"])
        super().__init__(inputs=inputs, outputs=logits, **kwargs)
        self.backbone = backbone
        self.num_classes = num_classes
        self.dropout = dropout

    def logits(self, inputs):
        """Inference logits, equal to `self(inputs, training=False)`, from
        `BertBackbone.pooled_output` (the last block at [CLS] only)."""
        pooled = self.backbone.pooled_output(inputs)
        return self.get_layer("classification_head")(pooled, training=False)

    def task_config(self):
        return {"num_classes": self.num_classes, "dropout": self.dropout}
