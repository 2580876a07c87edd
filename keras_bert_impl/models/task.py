"""Base class of the models that put heads on a `BertBackbone`."""

import warnings

import keras

from keras_bert_impl.layers import ClassificationHead
from keras_bert_impl.models.backbone import with_packed_inputs

# Heads on the sequence output (token classifier, QA, a mean-pooling
# classifier) leave the backbone's pooler without gradients by design; Keras'
# warning about it ("did you forget to provide a loss?") would only mislead
# on every fine-tuning run.
warnings.filterwarnings("ignore", message=r"Gradients do not exist for variables \['pooler/dense/kernel', 'pooler/dense/bias'\]")


class BertTask(keras.Model):
    """A functional model that owns a backbone and rebuilds itself from config.

    Subclasses build their graph in `__init__(backbone, ...)` and list their
    own constructor arguments in `task_config()`. Saving as `.keras` then
    stores the backbone once, and loading restores the compiled state,
    including the optimizer, because `compile()` (with this package's default
    losses) is replayed from the saved compile config.
    """

    def __call__(self, inputs, *args, **kwargs):
        # Unpacked batches leave out the packed inputs (see BertBackbone).
        return super().__call__(with_packed_inputs(self, inputs), *args, **kwargs)

    def compile(self, optimizer="adam", loss="auto", weighted_metrics="auto", **kwargs):
        """Compiles with cross-entropy and accuracy unless given others.

        Both are weighted by the sample weights when there are any, and the
        loss is divided by the weights' sum (see `sparse_cross_entropy`).
        """
        if loss == "auto":
            loss = sparse_cross_entropy()
        if weighted_metrics == "auto":
            weighted_metrics = [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
        super().compile(
            optimizer=optimizer, loss=loss, weighted_metrics=weighted_metrics, **kwargs
        )

    def task_config(self):
        """Returns the constructor arguments other than the backbone."""
        raise NotImplementedError

    def get_config(self):
        return {
            "backbone": keras.saving.serialize_keras_object(self.backbone),
            "name": self.name,
            "trainable": self.trainable,
            **self.task_config(),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["backbone"] = keras.saving.deserialize_keras_object(config["backbone"])
        return cls(**config)

    def compile_from_config(self, config):
        self.compile(**keras.saving.deserialize_keras_object(config))
        if self.built:
            self.optimizer.build(self.trainable_variables)


def sparse_cross_entropy():
    """Cross-entropy from logits, averaged over the sample weights' sum.

    Dividing by the sum of the weights, not the number of slots, means padded
    mask positions and empty slots of packed rows neither add loss nor dilute
    it; without weights it is the plain mean.
    """
    return keras.losses.SparseCategoricalCrossentropy(
        from_logits=True, reduction="mean_with_sample_weight"
    )


def classification_head(backbone, num_classes, dropout, name):
    """The dense output layer of the classifiers, initialised as the backbone's.

    Args:
        backbone: the `BertBackbone` whose features the head reads.
        num_classes: number of classes.
        dropout: dropout before the layer; `None` takes the backbone's
            `hidden_dropout`, as in BERT's fine-tuning recipe.
        name: the layer's name.

    Returns:
        `(head, dropout)`: the `ClassificationHead` and the dropout it uses.
    """
    config = backbone.config
    dropout = config.hidden_dropout if dropout is None else dropout
    head = ClassificationHead(
        num_classes,
        dropout=dropout,
        initializer_range=config.initializer_range,
        dtype=backbone.dtype_policy,
        name=name,
    )
    return head, dropout
