"""Base class of the models that put heads on a `BertBackbone`."""

import keras

from keras_bert_impl.models.backbone import with_packed_inputs


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
