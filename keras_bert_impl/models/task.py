"""Base class of the models that put heads on a `BertBackbone`."""

import keras


class BertTask(keras.Model):
    """A functional model that owns a backbone and rebuilds itself from config.

    Subclasses build their graph in `__init__(backbone, ...)` and list their
    own constructor arguments in `task_config()`. Saving as `.keras` then
    stores the backbone once, and loading restores the compiled state,
    including the optimizer, because `compile()` (with this package's default
    losses) is replayed from the saved compile config.
    """

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
