"""BERT token classifier: backbone + a classification head on every position."""

import keras

from keras_bert_impl.models.backbone import INPUT_NAMES
from keras_bert_impl.models.task import BertTask, classification_head


@keras.saving.register_keras_serializable(package="keras_bert_impl")
class BertTokenClassifier(BertTask):
    """Tags every token (named entities, parts of speech) from BERT's sequence output.

    Takes the backbone's inputs and returns `[batch, seq, num_classes]`
    float32 logits (also under mixed precision). Positions that carry no
    label ([CLS], [SEP], padding, a word's later pieces) are left out of the
    loss and the accuracy through sample weights of 0, which `fit` takes as
    the third element of each batch; `compile()` uses sparse cross-entropy
    from logits, averaged over the labelled positions only, and weighted
    accuracy by default. The layout matches Hugging
    Face's `BertForTokenClassification` (dropout, then one dense layer).

    Args:
        backbone: a `BertBackbone`.
        num_classes: number of tags.
        dropout: dropout before the output layer; defaults to the backbone's
            `hidden_dropout`.

    Example:

    >>> tagger = BertTokenClassifier(bert_backbone("bert_tiny"), num_classes=5)
    >>> tagger.compile(optimizer="adam")
    """

    def __init__(self, backbone, num_classes, dropout=None, **kwargs):
        if not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(f"BertTokenClassifier needs num_classes >= 1, got {num_classes!r}.")
        head, dropout = classification_head(
            backbone, num_classes, dropout, name="token_classification_head"
        )
        inputs = {
            name: keras.Input(shape=(None,), dtype="int32", name=name)
            for name in INPUT_NAMES
        }
        logits = head(backbone(inputs)["sequence_output"])
        super().__init__(inputs=inputs, outputs=logits, **kwargs)
        self.backbone = backbone
        self.num_classes = num_classes
        self.dropout = dropout

    def task_config(self):
        return {"num_classes": self.num_classes, "dropout": self.dropout}
