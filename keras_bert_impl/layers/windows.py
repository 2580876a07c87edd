"""Layers that let a per-window model classify whole texts: one row per window in,
one pooled row per text out.

A text longer than the model is cut into `windows` overlapping windows
(`text.windows`), so its inputs are `[batch, windows, seq]`. `WindowRows`
merges the first two dimensions for the backbone, and `WindowPooling` pools
the per-window logits back to one row per text, skipping the padding windows
of texts with fewer windows than the batch's most. Shapes stay static when
`windows` is (TPU).

Example:

>>> ids = ops.ones((2, 3, 8), "int32")        # 2 texts, 3 windows of 8 tokens
>>> WindowRows()(ids).shape
(6, 8)
>>> logits = ops.ones((6, 4))                  # per-window logits
>>> present = ops.convert_to_tensor([[1, 1, 0], [1, 0, 0]])
>>> WindowPooling("mean")(logits, present).shape
(2, 4)
"""

import keras
from keras import ops

from keras_bert_impl.choices import WINDOW_POOLINGS


@keras.saving.register_keras_serializable(package="keras_bert_impl")
class WindowRows(keras.layers.Layer):
    """`[batch, windows, ...]` -> `[batch * windows, ...]`: one row per window."""

    def call(self, windows):
        shape = ops.shape(windows)
        return ops.reshape(windows, (-1, *shape[2:]))

    def compute_output_shape(self, windows_shape):
        batch, count = windows_shape[:2]
        rows = None if batch is None or count is None else batch * count
        return (rows, *windows_shape[2:])


@keras.saving.register_keras_serializable(package="keras_bert_impl")
class WindowPooling(keras.layers.Layer):
    """The mean or max of each text's window logits, over its real windows only.

    Args:
        pooling: "mean" (default: every window votes alike) or "max" (the
            strongest evidence of any window wins, per class).

    Call args:
        window_logits: float `[batch, windows, classes]`, or the same rows
            merged as `[batch * windows, classes]` (what a backbone run on
            `WindowRows` gives).
        window_mask: `[batch, windows]`, nonzero for a real window, 0 for a
            padding one.

    Returns:
        float32 `[batch, classes]`; 0 for a text with no real window.
    """

    def __init__(self, pooling="mean", **kwargs):
        # float32 under any global policy: logits leave the model in float32,
        # and bfloat16 would round them (0.21104744 -> 0.2109375).
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        if pooling not in WINDOW_POOLINGS:
            raise ValueError(f"pooling={pooling!r}; expected one of {WINDOW_POOLINGS}.")
        self.pooling = pooling

    def call(self, window_logits, window_mask):
        mask_shape = ops.shape(window_mask)
        logits = ops.reshape(ops.cast(window_logits, "float32"), (mask_shape[0], mask_shape[1], -1))
        present = ops.cast(window_mask, "bool")[:, :, None]
        count = ops.sum(ops.cast(present, "float32"), axis=1)
        if self.pooling == "mean":
            pooled = ops.sum(ops.where(present, logits, 0.0), axis=1) / ops.maximum(count, 1.0)
        else:
            # -inf for padding windows can never win; a text without windows gets 0, not -inf.
            pooled = ops.where(count > 0, ops.max(ops.where(present, logits, float("-inf")), axis=1), 0.0)
        return pooled

    def compute_output_shape(self, window_logits_shape, window_mask_shape):
        return (window_mask_shape[0], window_logits_shape[-1])

    def compute_output_spec(self, window_logits, window_mask):
        return keras.KerasTensor(self.compute_output_shape(window_logits.shape, window_mask.shape), "float32")

    def get_config(self):
        config = super().get_config()
        config.update(pooling=self.pooling)
        return config
