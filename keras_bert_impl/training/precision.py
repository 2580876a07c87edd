"""Precision policies a run may use."""

import keras

from keras_bert_impl.choices import PRECISIONS


def set_precision(name):
    """Sets Keras' global dtype policy; must run before the model is built.

    Under the mixed policies variables, LayerNorms, the attention softmax and
    the logits stay float32; `mixed_float16` also gets dynamic loss scaling
    (Keras wraps the optimizer in a `LossScaleOptimizer` at compile).
    """
    if name not in PRECISIONS:
        raise ValueError(f"Unknown precision {name!r}; expected one of {PRECISIONS}.")
    keras.mixed_precision.set_global_policy(name)
