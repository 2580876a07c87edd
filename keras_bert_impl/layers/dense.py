"""Dense projections in the form grappler fuses into one oneDNN matmul on CPU.

TensorFlow's graph optimizer (the remapper) rewrites `MatMul -> BiasAdd ->
activation` into a single `_FusedMatMul` (oneDNN `_MklNativeFusedMatMul` on
CPU) when the matmul is 2-D and the bias is added by `BiasAdd`. Keras'
`Dense` gives neither on a `[batch, seq, hidden]` input: its `ops.matmul`
becomes a `tensordot` (a dozen shape ops around a reshaped matmul) and its
bias an `AddV2`, so the bias and the exact-erf GELU run as separate passes
over the activations. At batch 1 those small ops are a visible share of a
BERT block's time, which is why the projections here flatten to 2-D and add
the bias with `tf.nn.bias_add` (written by hand: Keras has no fusable form).
The results are those of the unfused ops to float32 rounding.
"""

import keras
import tensorflow as tf
from keras import ops


def project(x, kernel, bias, activation=None):
    """`activation(x @ kernel + bias)` over the last axis of `x`, of any rank.

    Args:
        x: `[..., in]` with a static `in`.
        kernel: `[in, out]` with a static `out`.
        bias: `[out]`.
        activation: optional elementwise function.

    Returns:
        `[..., out]`.

    Example:

    >>> project(ops.ones((2, 3, 4)), ops.ones((4, 5)), ops.zeros((5,))).shape
    TensorShape([2, 3, 5])
    """
    flat = ops.reshape(x, (-1, x.shape[-1]))
    y = tf.nn.bias_add(ops.matmul(flat, kernel), ops.cast(bias, flat.dtype))
    if activation is not None:
        y = activation(y)
    leading = ops.shape(x)[:-1]
    return ops.reshape(y, (*leading, kernel.shape[-1]))


@keras.saving.register_keras_serializable(package="keras_bert_impl")
class FusableDense(keras.layers.Dense):
    """A `keras.layers.Dense` (with bias) whose call is `project`, so grappler fuses it.

    Same weights, names and config as `Dense`; LoRA and quantized modes of
    `Dense` are not supported.

    Example:

    >>> layer = FusableDense(5, activation="relu")
    >>> layer(ops.ones((2, 3, 4))).shape
    TensorShape([2, 3, 5])
    """

    def __init__(self, units, **kwargs):
        if kwargs.get("use_bias") is False:
            raise ValueError("FusableDense needs a bias (use_bias=True).")
        super().__init__(units, **kwargs)

    def call(self, inputs, training=None):
        return project(inputs, self.kernel, self.bias, self.activation)
