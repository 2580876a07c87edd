"""Multi-head self-attention with one fused QKV projection."""

import keras
import tensorflow as tf
from keras import ops

from keras_bert_impl.layers.dense import project


@keras.saving.register_keras_serializable(package="keras_bert_impl")
class BertSelfAttention(keras.layers.Layer):
    """BERT's multi-head self-attention.

    One matmul projects the input to queries, keys and values at once; one
    transpose puts them in the `[batch, heads, seq, head_size]` layout the
    batched matmuls want, and one transpose brings the context back before the
    output projection (a single `[heads * head_size, hidden]` matmul). The
    softmax runs in float32 under mixed precision; padded keys get a large
    negative bias, so their probabilities are exactly 0.

    Why not `keras.ops.dot_product_attention` or einsums: on the TensorFlow
    CPU backend, einsums of this shape transpose their operands on every
    call, slicing q/k/v out of the fused projection costs three zero-padded
    `StridedSliceGrad`s in the backward pass, and `dot_product_attention` has
    no dropout on the probabilities, which BERT trains with (so training
    needed a second path). One path for training and inference measured
    11% (float32) and 27% (mixed_bfloat16) less time for a bert_small block's
    forward + backward and 6% less for its inference (docs/PERFORMANCE.md).

    Args:
        num_heads: number of attention heads.
        head_size: width of each head.
        dropout: dropout rate on the attention probabilities.
        initializer_range: stddev of the truncated-normal initialiser.

    Call args:
        x: `[batch, seq, hidden]`.
        padding_mask: `[batch, seq]`, 1 for real tokens, 0 for padding; padded
            keys get no attention.
        query_positions: optional int `[batch, queries]`: compute the output
            only at these positions (keys and values still cover every
            token), `[batch, queries, hidden]`. A last block whose only
            consumer is the pooled [CLS] output needs no other query.
        example_ids: optional `[batch, seq]` for packed rows (several
            examples per row): which example (1, 2, ...) each token belongs
            to, 0 for padding. A token then attends only to the tokens of its
            own example (block-diagonal attention); `padding_mask` is implied.

    Example:

    >>> layer = BertSelfAttention(num_heads=2, head_size=4)
    >>> layer(ops.ones((1, 3, 8)), ops.ones((1, 3), "int32")).shape
    (1, 3, 8)
    """

    def __init__(
        self, num_heads, head_size, dropout=0.0, initializer_range=0.02, **kwargs
    ):
        super().__init__(**kwargs)
        self.num_heads = num_heads
        self.head_size = head_size
        self.dropout = dropout
        self.initializer_range = initializer_range
        self.dropout_layer = keras.layers.Dropout(
            dropout, dtype=self.dtype_policy, name="probs_dropout"
        )

    def build(self, x_shape, padding_mask_shape=None, example_ids_shape=None):
        hidden_size = x_shape[-1]
        initializer = keras.initializers.TruncatedNormal(
            stddev=self.initializer_range
        )
        # kernel[:, 0], [:, 1], [:, 2] are the query, key and value projections.
        self.qkv_kernel = self.add_weight(
            name="qkv_kernel",
            shape=(hidden_size, 3, self.num_heads, self.head_size),
            initializer=initializer,
        )
        self.qkv_bias = self.add_weight(
            name="qkv_bias",
            shape=(3, self.num_heads, self.head_size),
            initializer="zeros",
        )
        self.output_kernel = self.add_weight(
            name="output_kernel",
            shape=(self.num_heads, self.head_size, hidden_size),
            initializer=initializer,
        )
        self.output_bias = self.add_weight(
            name="output_bias", shape=(hidden_size,), initializer="zeros"
        )
        self.built = True

    def call(self, x, padding_mask, example_ids=None, training=None, query_positions=None):
        hidden = self.num_heads * self.head_size
        batch, seq = ops.shape(x)[0], ops.shape(x)[1]
        # Variables are [hidden, 3, heads, head_size] for checkpoint interop;
        # the reshapes are free and make both projections plain (fusable)
        # matmuls.
        qkv = project(
            x,
            ops.reshape(self.qkv_kernel, (x.shape[-1], 3 * hidden)),
            ops.reshape(self.qkv_bias, (3 * hidden,)),
        )
        qkv = ops.reshape(qkv, (batch, seq, 3, self.num_heads, self.head_size))
        # Unstacking the leading axis copies contiguous blocks, and its
        # gradient is one stack.
        query, key, value = ops.unstack(ops.transpose(qkv, (2, 0, 3, 1, 4)), 3, axis=0)
        if query_positions is not None:
            # Projecting every query and keeping a few keeps the one fused
            # matmul; the dropped queries cost 2 hidden^2 FLOPs per token.
            query = take_positions(query, query_positions, axis=2)
        # Scaling the queries is exact for a power-of-two head size and
        # touches seq*head_size instead of seq*seq values.
        query = query * ops.cast(self.head_size**-0.5, query.dtype)
        logits = ops.cast(ops.matmul(query, ops.swapaxes(key, -1, -2)), "float32")
        bias = _attention_bias(padding_mask, example_ids)
        if query_positions is not None and example_ids is not None:
            bias = take_positions(bias, query_positions, axis=2)
        probs = ops.softmax(logits + bias, axis=-1)
        probs = self.dropout_layer(ops.cast(probs, self.compute_dtype), training=training)
        context = ops.transpose(ops.matmul(probs, value), (0, 2, 1, 3))
        context = ops.reshape(context, (batch, -1, hidden))
        output_kernel = ops.reshape(self.output_kernel, (hidden, self.output_bias.shape[0]))
        return project(context, output_kernel, self.output_bias)

    def compute_output_shape(self, x_shape, padding_mask_shape=None, example_ids_shape=None):
        return x_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            num_heads=self.num_heads,
            head_size=self.head_size,
            dropout=self.dropout,
            initializer_range=self.initializer_range,
        )
        return config


def take_positions(x, positions, axis):
    """`x`'s entries at `positions` along `axis`, per batch row.

    A batched `tf.gather`: `ops.take_along_axis` broadcasts the indices to
    `x`'s shape and transposes, which cost about 0.2 ms per call at batch 1
    and 128 tokens, a tenth of a serving call's non-matmul time.

    Args:
        x: tensor `[batch, ...]` of rank 3 or more.
        positions: int `[batch, count]`, indices along `axis` (0 < axis < rank - 1).
        axis: the axis to index.

    Returns:
        `x` with `axis` of size `count`.
    """
    return tf.gather(x, positions, axis=axis, batch_dims=1)


def _attention_bias(padding_mask, example_ids):
    """0 where a query may attend to a key, -1e9 elsewhere, float32.

    Unpacked rows get `[batch, 1, 1, keys]` (only padded keys are hidden);
    packed rows get the block-diagonal `[batch, 1, queries, keys]`, which
    costs a seq x seq comparison, so it is built only when asked for.
    """
    if example_ids is None:
        allowed = ops.cast(padding_mask, "bool")[:, None, None, :]
    else:
        same_example = example_ids[:, :, None] == example_ids[:, None, :]
        allowed = ops.logical_and(same_example, example_ids[:, None, :] > 0)[:, None]
    return ops.where(allowed, 0.0, -1e9)
